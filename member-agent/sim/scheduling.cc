#include "member-agent/sim/scheduling.h"

#include <algorithm>
#include <map>

#include "member-agent/readiness.h"
#include "placement/taints.h"
#include "workspace/catalog.h"

namespace berth::agent::sim {

using nlohmann::json;

Node NodeFromFleet(const placement::GpuNode& n, const std::set<std::string>& cached_images) {
  Node node;
  node.spec = n;
  node.gfd_product = n.gpu_product;
  if (auto gpu = workspace::Catalog::BuiltIn().FindGpu(n.gpu_product); gpu.ok()) {
    node.gfd_product = gpu->gfd_product;
  }
  node.product_label = node.gfd_product;
  node.resource = "nvidia.com/gpu";
  if (!n.mig_profile.empty()) {
    node.product_label += "-MIG-" + n.mig_profile;
    node.resource = "nvidia.com/mig-" + n.mig_profile;
  }
  node.other_used = std::max(0, n.units - n.free_units);
  node.images = cached_images;
  node.labels = n.labels;  // the fleet file pool's labels; the scheduler matches them
  node.labels["nvidia.com/gpu.product"] = node.product_label;
  node.labels["kubernetes.io/hostname"] = n.name;
  node.labels["berth.dev/pool"] = n.pool;
  return node;
}

namespace {

bool MatchesExpression(const std::map<std::string, std::string>& labels, const json& expr) {
  std::string key = expr.value("key", "");
  std::string op = expr.value("operator", "");
  auto it = labels.find(key);
  std::vector<std::string> values = expr.value("values", std::vector<std::string>());
  bool in =
      it != labels.end() && std::find(values.begin(), values.end(), it->second) != values.end();
  if (op == "In") return in;
  if (op == "NotIn") return !in;
  if (op == "Exists") return it != labels.end();
  if (op == "DoesNotExist") return it == labels.end();
  return false;
}

// Another pod of the same StatefulSet already on `node` (required anti-affinity on the hostname).
bool SiblingOnNode(const Node& node, const Pod& pod, const Pods& pods) {
  for (const auto& [k, other] : pods) {
    if (other.node == node.spec.name && other.statefulset == pod.statefulset &&
        other.ns == pod.ns && other.name != pod.name) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool MatchesNodeSelectorTerms(const std::map<std::string, std::string>& labels,
                              const json& terms) {
  if (!terms.is_array() || terms.empty()) return true;
  for (const auto& term : terms) {
    bool all = true;
    for (const auto& expr : term.value("matchExpressions", json::array())) {
      all = all && MatchesExpression(labels, expr);
    }
    if (all) return true;
  }
  return false;
}

int UsedUnits(const Node& node, const Pods& pods) {
  int used = 0;
  for (const auto& [k, p] : pods) {
    if (p.node == node.spec.name && p.resource == node.resource) used += p.units;
  }
  return used;
}

int FreeUnits(const Node& node, const Pods& pods) {
  return node.spec.units - node.lost - node.other_used - UsedUnits(node, pods);
}

bool NodeTakesPod(const Node& node, const Pod& pod, const Pods& pods) {
  if (node.down || pod.resource != node.resource) return false;
  if (placement::FirstUntoleratedTaint(node.spec.taints, pod.tolerations)) return false;
  if (!MatchesNodeSelectorTerms(node.labels, pod.node_affinity_terms)) return false;
  if (pod.anti_affinity && SiblingOnNode(node, pod, pods)) return false;
  return FreeUnits(node, pods) >= pod.units;
}

const Node* ChooseNode(const std::vector<Node>& nodes, const Pod& pod, const Pods& pods) {
  const Node* best = nullptr;
  int best_free = 0;
  for (const auto& node : nodes) {
    if (!NodeTakesPod(node, pod, pods)) continue;
    int free = FreeUnits(node, pods);
    if (!best || free < best_free) {  // best fit keeps large nodes whole for big replicas
      best = &node;
      best_free = free;
    }
  }
  return best;
}

std::string UnschedulableMessage(const std::vector<Node>& nodes, const Pod& pod,
                                 const Pods& pods) {
  std::map<std::string, int> why;  // the scheduler's phrase → nodes
  for (const auto& node : nodes) {
    if (node.down) {
      ++why["node(s) were not ready"];
    } else if (const placement::Taint* t =
                   placement::FirstUntoleratedTaint(node.spec.taints, pod.tolerations)) {
      ++why["node(s) had untolerated taint {" + t->key + ": " + t->value + "}"];
    } else if (!MatchesNodeSelectorTerms(node.labels, pod.node_affinity_terms)) {
      ++why["node(s) didn't match Pod's node affinity/selector"];
    } else if (pod.resource != node.resource || FreeUnits(node, pods) < pod.units) {
      ++why["Insufficient " + pod.resource];
    } else if (pod.anti_affinity) {
      ++why["node(s) didn't match pod anti-affinity rules"];
    }
  }
  // Sorted as kube-scheduler sorts them: by the whole "<count> <phrase>" text.
  std::vector<std::string> counted;
  for (const auto& [phrase, n] : why) counted.push_back(std::to_string(n) + " " + phrase);
  std::sort(counted.begin(), counted.end());
  std::string out = "0/" + std::to_string(nodes.size()) + " nodes are available";
  std::string sep = ": ";
  for (const auto& c : counted) {
    out += sep + c;
    sep = ", ";
  }
  return out + " (simulated cluster)";
}

PodState PendingPodState(const Pod& pod, const std::string& unschedulable_message) {
  PodState s = PodStateOf(pod);
  s.reason = !pod.displaced.empty()                                 ? pod.displaced
             : SchedulerMessageIsGpuShortage(unschedulable_message) ? "InsufficientGPU"
                                                                    : "Unschedulable";
  s.message = (pod.displaced == "NodeLost"   ? "its node went down; "
               : pod.displaced == "GPUsLost" ? "GPUs of its node failed; "
                                             : "") +
              unschedulable_message;
  return s;
}

}  // namespace berth::agent::sim
