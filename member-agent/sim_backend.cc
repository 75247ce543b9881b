#include "member-agent/sim_backend.h"

#include "workspace/text_match.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "api/yaml_json.h"
#include "member-agent/reconciler.h"
#include "placement/fleet_file.h"
#include "placement/taints.h"
#include "workspace/catalog.h"
#include "workspace/text_match.h"

namespace berth::agent {

using nlohmann::json;

StatusOr<SimSettings> ParseSimSettings(const json& sim, const std::string& path, SimSettings s) {
  if (sim.is_null()) return s;
  if (!sim.is_object())
    return Status::Invalid(path + ": must be an object", {{path, "must be an object"}});
  std::vector<FieldCause> causes;
  auto positive = [&](const char* key, double* out) {
    auto it = sim.find(key);
    if (it == sim.end()) return;
    if (!it->is_number() || it->get<double>() <= 0) {
      causes.push_back({path + "." + key, "must be a number > 0"});
      return;
    }
    *out = it->get<double>();
  };
  positive("imagePullMiBps", &s.image_pull_mib_per_s);
  positive("defaultImageGiB", &s.default_image_gib);
  positive("weightLoadGiBps", &s.weight_load_gib_per_s);
  positive("cachedWeightLoadGiBps", &s.cached_weight_load_gib_per_s);
  if (auto it = sim.find("imageSizesGiB"); it != sim.end()) {
    if (!it->is_object()) {
      causes.push_back({path + ".imageSizesGiB", "must map image names to GiB"});
    } else {
      for (const auto& [image, size] : it->items()) {
        if (!size.is_number() || size.get<double>() < 0) {
          causes.push_back({path + ".imageSizesGiB." + image, "must be a number ≥ 0"});
        } else {
          s.image_sizes_gib[image] = size.get<double>();
        }
      }
    }
  }
  for (const auto& [key, v] : sim.items()) {
    static const std::set<std::string> known = {"imagePullMiBps", "defaultImageGiB",
                                                "imageSizesGiB", "weightLoadGiBps",
                                                "cachedWeightLoadGiBps"};
    if (!known.count(key)) causes.push_back({path + "." + key, "unknown field"});
  }
  if (!causes.empty()) {
    std::string msg = causes[0].field + ": " + causes[0].message;
    return Status::Invalid(msg, causes);
  }
  return s;
}

StatusOr<std::unique_ptr<SimCluster>> SimCluster::FromFleetYaml(std::string_view yaml,
                                                                const std::string& cluster_name,
                                                                SimSettings defaults,
                                                                const Clock* clock) {
  auto fleet = placement::ParseFleetYaml(yaml);
  if (!fleet.ok()) return fleet.status().WithContext("fleet file");
  auto doc = api::YamlToJson(yaml);
  if (!doc.ok()) return doc.status().WithContext("fleet file");
  std::string names;
  for (const auto& c : fleet->clusters) {
    if (c.name != cluster_name) {
      names += (names.empty() ? "" : ", ") + c.name;
      continue;
    }
    json sim_block;
    for (const auto& entry : doc->value("clusters", json::array())) {
      if (entry.value("name", "") == cluster_name) sim_block = entry.value("sim", json());
    }
    auto settings = ParseSimSettings(sim_block, "clusters[" + cluster_name + "].sim", defaults);
    if (!settings.ok()) return settings.status();
    return std::make_unique<SimCluster>(c, *settings, clock);
  }
  return Status::NotFound("--fleet-cluster \"" + cluster_name +
                          "\": no such cluster in the fleet file (it has: " + names + ")");
}

SimCluster::SimCluster(placement::ClusterInventory cluster, SimSettings settings,
                       const Clock* clock)
    : cluster_(std::move(cluster)), settings_(std::move(settings)), clock_(clock) {
  const auto& catalog = workspace::Catalog::BuiltIn();
  for (const auto& n : cluster_.nodes) {
    SimNode node;
    node.spec = n;
    node.gfd_product = n.gpu_product;
    if (auto gpu = catalog.FindGpu(n.gpu_product); gpu.ok()) node.gfd_product = gpu->gfd_product;
    node.product_label = node.gfd_product;
    node.resource = "nvidia.com/gpu";
    if (!n.mig_profile.empty()) {
      node.product_label += "-MIG-" + n.mig_profile;
      node.resource = "nvidia.com/mig-" + n.mig_profile;
    }
    node.other_used = std::max(0, n.units - n.free_units);
    node.images = cluster_.cached_images;
    node.labels = n.labels;  // the fleet file pool's labels; the scheduler matches them
    node.labels["nvidia.com/gpu.product"] = node.product_label;
    node.labels["kubernetes.io/hostname"] = n.name;
    node.labels["berth.dev/pool"] = n.pool;
    nodes_.push_back(std::move(node));
  }
}

Clock::Duration SimCluster::Scaled(double seconds) const {
  return Clock::Duration(
      static_cast<int64_t>(std::llround(seconds * 1000.0 * settings_.time_scale)));
}

namespace {

std::string LabelOf(const json& obj, const char* key) {
  const json* labels = nullptr;
  if (auto m = obj.find("metadata"); m != obj.end()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  if (!labels) return "";
  auto it = labels->find(key);
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

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

// Required node affinity terms: ORed, the expressions of one term ANDed. Empty = any node.
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

// spec.updateStrategy.rollingUpdate.maxUnavailable of a StatefulSet: an integer or a
// percentage of the replicas (rounded up, as Kubernetes does), at least 1; default 1.
int MaxUnavailable(const json& sts_spec, int replicas) {
  const json v =
      sts_spec.value("/updateStrategy/rollingUpdate/maxUnavailable"_json_pointer, json(1));
  int n = 1;
  if (v.is_number_integer()) {
    n = v.get<int>();
  } else if (v.is_string()) {
    const std::string text = v.get<std::string>();
    n = std::atoi(text.c_str());
    if (!text.empty() && text.back() == '%') n = (n * replicas + 99) / 100;
  }
  return std::max(1, n);
}

// The image a pre-pull DaemonSet warms: its first init container's (else first container's).
std::string PrePullImage(const json& ds) {
  const json pod_spec = ds.value("/spec/template/spec"_json_pointer, json::object());
  json containers = pod_spec.value("initContainers", json::array());
  if (containers.empty()) containers = pod_spec.value("containers", json::array());
  return containers.empty() ? "" : containers[0].value("image", "");
}

}  // namespace

Status SimCluster::Apply(const json& object) {
  ObjectKey key = KeyOf(object);
  if (key.kind != "StatefulSet" && key.kind != "Service" && key.kind != "ConfigMap" &&
      key.kind != "DaemonSet" && key.kind != "Secret") {
    return Status::Invalid("sim cluster: cannot apply kind " + key.kind);
  }
  if (key.name.empty() || key.namespace_.empty()) {
    return Status::Invalid("sim cluster: object needs metadata.name and metadata.namespace");
  }
  std::lock_guard<std::mutex> lock(mu_);
  objects_[key] = object;
  StepLocked();
  return Status::Ok();
}

Status SimCluster::Delete(const ObjectKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(key);
  StepLocked();
  return Status::Ok();
}

StatusOr<std::vector<ManagedObject>> SimCluster::ListManaged(const std::string& ns,
                                                             const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ManagedObject> out;
  for (const auto& [key, obj] : objects_) {
    if (LabelOf(obj, kManagedByLabel) != kManagedByValue) continue;
    std::string ws = LabelOf(obj, kWorkspaceLabel);
    if (!ns.empty() && key.namespace_ != ns) continue;
    if (!workspace.empty() && ws != workspace) continue;
    std::string hash = obj.value("/metadata/annotations"_json_pointer, json::object())
                           .value(kAppliedHashAnnotation, std::string());
    out.push_back({key, ws, hash, LabelOf(obj, kRevisionLabel)});
  }
  return out;
}

SimCluster::SimPod SimCluster::NewPodLocked(const ObjectKey& sts_key, const json& sts,
                                            int ordinal) const {
  const json spec = sts.value("spec", json::object());
  const json tmpl = spec.value("template", json::object());
  const json pod_spec = tmpl.value("spec", json::object());
  const json containers = pod_spec.value("containers", json::array());
  const json container = containers.empty() ? json::object() : containers[0];
  SimPod pod;
  pod.ns = sts_key.namespace_;
  pod.name = sts_key.name + "-" + std::to_string(ordinal);
  pod.statefulset = sts_key.name;
  pod.workspace = LabelOf(sts, kWorkspaceLabel);
  pod.template_hash = ObjectHash(tmpl);
  pod.revision = LabelOf(tmpl, kRevisionLabel);
  pod.ordinal = ordinal;
  pod.image = container.value("image", "");
  const json limits = container.value("/resources/limits"_json_pointer, json::object());
  for (const auto& [res, q] : limits.items()) {
    if (res == "nvidia.com/gpu" || res.starts_with("nvidia.com/mig-")) {
      pod.resource = res;
      pod.units = q.is_string() ? std::atoi(q.get<std::string>().c_str()) : q.get<int>();
    }
  }
  pod.node_affinity_terms = pod_spec.value(
      "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
      json::array());
  pod.anti_affinity = pod_spec.contains("/affinity/podAntiAffinity"_json_pointer);
  pod.tolerations = placement::ParsePodTolerations(pod_spec.value("tolerations", json::array()));
  const json ann = sts.value("/metadata/annotations"_json_pointer, json::object());
  pod.weights_gib = std::atof(ann.value(kWeightsGibAnnotation, "0").c_str());
  pod.model = ann.value(kModelAnnotation, "");
  pod.needs = workspace::PodSpecReferences(pod_spec);
  return pod;
}

// Creates the pod's containers once its image is pulled and every Secret / ConfigMap it reads
// exists; while one is missing the start is held (and the load time starts after it).
void SimCluster::CreateContainersLocked(SimPod& pod, Clock::TimePoint now) {
  if (pod.created || pod.node.empty() || pod.pull_failed || now < pod.pull_done) return;
  for (const auto& need : pod.needs) {
    if (objects_.count(ObjectKey{"v1", need.kind, pod.ns, need.name}) == 0) {
      if (pod.config_error.empty()) pod.blocked_since = now;
      pod.config_error = workspace::ToLower(need.kind) + " \"" + need.name + "\" not found";
      return;
    }
  }
  if (!pod.config_error.empty()) pod.ready_at += now - pod.blocked_since;
  pod.config_error.clear();
  pod.created = true;
}

bool SimCluster::PodReadyLocked(const SimPod& pod) const {
  return !pod.node.empty() && !pod.pull_failed && pod.created && clock_->Now() >= pod.ready_at;
}

void SimCluster::SyncPodsLocked() {
  std::set<std::string> wanted;
  for (const auto& [key, sts] : objects_) {
    if (key.kind != "StatefulSet") continue;
    const json spec = sts.value("spec", json::object());
    const std::string template_hash = ObjectHash(spec.value("template", json::object()));
    const int replicas = spec.value("replicas", 1);
    std::vector<SimPod*> old;  // pods of another template, by ordinal
    int unavailable = 0;
    for (int i = 0; i < replicas; ++i) {
      std::string pod_key = key.namespace_ + "/" + key.name + "-" + std::to_string(i);
      wanted.insert(pod_key);
      auto it = pods_.find(pod_key);
      if (it == pods_.end()) {  // missing pods are created from the current template
        it = pods_.emplace(pod_key, NewPodLocked(key, sts, i)).first;
      }
      if (!PodReadyLocked(it->second)) ++unavailable;
      if (it->second.template_hash != template_hash) old.push_back(&it->second);
    }
    if (spec.value("/updateStrategy/type"_json_pointer, std::string()) == "OnDelete") continue;
    // Rolling update, highest ordinal first. A pod of another template that does not serve
    // is replaced at once (that costs no availability, and a pod stuck on a bad revision
    // must not block the way back); Ready ones only while fewer than maxUnavailable pods
    // are unavailable, so a new pod that never becomes Ready (ImagePullBackOff) stops it.
    const int max_unavailable = MaxUnavailable(spec, replicas);
    std::reverse(old.begin(), old.end());
    for (SimPod* pod : old) {
      if (!PodReadyLocked(*pod)) *pod = NewPodLocked(key, sts, pod->ordinal);
    }
    for (SimPod* pod : old) {
      if (pod->template_hash == template_hash || unavailable >= max_unavailable) continue;
      *pod = NewPodLocked(key, sts, pod->ordinal);
      ++unavailable;
    }
  }
  for (auto it = pods_.begin(); it != pods_.end();) {
    it = wanted.count(it->first) ? std::next(it) : pods_.erase(it);
  }
}

void SimCluster::SyncPrePullsLocked() {
  const auto now = clock_->Now();
  std::set<std::string> seen;
  for (const auto& [key, ds] : objects_) {
    if (key.kind != "DaemonSet") continue;
    const json pod_spec = ds.value("/spec/template/spec"_json_pointer, json::object());
    const std::string image = PrePullImage(ds);
    if (image.empty()) continue;
    const json ann = ds.value("/metadata/annotations"_json_pointer, json::object());
    const std::string model = ann.value(kModelAnnotation, "");
    const double weights_gib = std::atof(ann.value(kWeightsGibAnnotation, "0").c_str());
    const json selector = pod_spec.value("nodeSelector", json::object());
    const json terms = pod_spec.value(
        "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
        json::array());
    const auto tolerations = placement::ParsePodTolerations(pod_spec.value("tolerations", json::array()));
    for (auto& node : nodes_) {
      if (node.down) continue;  // a DaemonSet pod on a lost node starts over when it returns
      // The DaemonSet controller keeps its pods off nodes whose NoSchedule taints they do not tolerate.
      if (placement::FirstUntoleratedTaint(node.spec.taints, tolerations)) continue;
      bool match = MatchesNodeSelectorTerms(node.labels, terms);
      for (const auto& [k, v] : selector.items()) {
        auto l = node.labels.find(k);
        match = match && l != node.labels.end() && v.is_string() && l->second == v;
      }
      if (!match) continue;
      // A new image or model is a new pull on the node (the image may already be there).
      const std::string id =
          key.ToString() + " on " + node.spec.name + " image " + image + " model " + model;
      seen.insert(id);
      auto [it, fresh] = prepulls_.try_emplace(id);
      SimPrePull& p = it->second;
      const bool failing = failing_images_.count(image) > 0;
      if (fresh || (p.pull_failed && !failing)) {
        p = SimPrePull{key.ToString(), node.spec.name, image, model};
        double pull_s = 0;
        if (!node.images.count(image)) {
          auto size = settings_.image_sizes_gib.find(image);
          double gib = size != settings_.image_sizes_gib.end() ? size->second
                                                               : settings_.default_image_gib;
          pull_s = gib * 1024.0 / settings_.image_pull_mib_per_s;
        }
        bool cached = model.empty() || cluster_.cached_models.count(model) ||
                      loaded_models_.count(model);
        double weights_s = cached ? 0 : weights_gib / settings_.weight_load_gib_per_s;
        p.image_done = now + Scaled(pull_s);
        p.weights_done = p.image_done + Scaled(weights_s);
      }
      if (!p.pull_failed && failing && now < p.image_done) p.pull_failed = true;
      if (p.pull_failed) continue;
      if (now >= p.image_done) node.images.insert(image);
      if (now >= p.weights_done && !model.empty()) loaded_models_.insert(model);
    }
  }
  for (auto it = prepulls_.begin(); it != prepulls_.end();) {
    it = seen.count(it->first) ? std::next(it) : prepulls_.erase(it);
  }
}

int SimCluster::UsedLocked(const SimNode& node) const {
  int used = 0;
  for (const auto& [k, p] : pods_) {
    if (p.node == node.spec.name && p.resource == node.resource) used += p.units;
  }
  return used;
}

bool SimCluster::NodeMatchesLocked(const SimNode& node, const SimPod& pod) const {
  if (node.down || pod.resource != node.resource) return false;
  if (placement::FirstUntoleratedTaint(node.spec.taints, pod.tolerations)) return false;
  if (!MatchesNodeSelectorTerms(node.labels, pod.node_affinity_terms)) return false;
  if (pod.anti_affinity) {
    for (const auto& [k, other] : pods_) {
      if (other.node == node.spec.name && other.statefulset == pod.statefulset &&
          other.ns == pod.ns && other.name != pod.name) {
        return false;
      }
    }
  }
  int capacity = node.spec.units - node.lost - node.other_used;
  return capacity - UsedLocked(node) >= pod.units;
}

std::string SimCluster::UnschedulableMessageLocked(const SimPod& pod) const {
  std::map<std::string, int> why;  // the scheduler's phrase → nodes
  for (const auto& node : nodes_) {
    if (node.down) {
      ++why["node(s) were not ready"];
    } else if (const placement::Taint* t = placement::FirstUntoleratedTaint(node.spec.taints, pod.tolerations)) {
      ++why["node(s) had untolerated taint {" + t->key + ": " + t->value + "}"];
    } else if (!MatchesNodeSelectorTerms(node.labels, pod.node_affinity_terms)) {
      ++why["node(s) didn't match Pod's node affinity/selector"];
    } else if (pod.resource != node.resource ||
               node.spec.units - node.lost - node.other_used - UsedLocked(node) < pod.units) {
      ++why["Insufficient " + pod.resource];
    } else if (pod.anti_affinity) {
      ++why["node(s) didn't match pod anti-affinity rules"];
    }
  }
  // Sorted as kube-scheduler sorts them: by the whole "<count> <phrase>" text.
  std::vector<std::string> counted;
  for (const auto& [phrase, n] : why) counted.push_back(std::to_string(n) + " " + phrase);
  std::sort(counted.begin(), counted.end());
  std::string out = "0/" + std::to_string(nodes_.size()) + " nodes are available";
  std::string sep = ": ";
  for (const auto& c : counted) {
    out += sep + c;
    sep = ", ";
  }
  return out + " (simulated cluster)";
}

void SimCluster::StartPullLocked(SimPod& pod, SimNode& node) {
  auto now = clock_->Now();
  double pull_s = 0;
  if (!node.images.count(pod.image)) {
    auto it = settings_.image_sizes_gib.find(pod.image);
    double gib = it != settings_.image_sizes_gib.end() ? it->second : settings_.default_image_gib;
    pull_s = gib * 1024.0 / settings_.image_pull_mib_per_s;
  }
  bool cached_model = cluster_.cached_models.count(pod.model) || loaded_models_.count(pod.model);
  double load_s = pod.weights_gib / (cached_model ? settings_.cached_weight_load_gib_per_s
                                                  : settings_.weight_load_gib_per_s);
  pod.pull_failed = false;
  pod.pull_done = now + Scaled(pull_s);
  pod.ready_at = pod.pull_done + Scaled(load_s);
}

void SimCluster::ScheduleLocked(SimPod& pod) {
  SimNode* best = nullptr;
  int best_free = 0;
  for (auto& node : nodes_) {
    if (!NodeMatchesLocked(node, pod)) continue;
    int free = node.spec.units - node.lost - node.other_used - UsedLocked(node);
    if (!best || free < best_free) {  // best fit keeps large nodes whole for big replicas
      best = &node;
      best_free = free;
    }
  }
  if (!best) return;
  pod.node = best->spec.name;
  pod.displaced.clear();
  StartPullLocked(pod, *best);
}

void SimCluster::StepLocked() {
  SyncPodsLocked();
  SyncPrePullsLocked();
  auto now = clock_->Now();
  // Pods on nodes that went down lose their node; pods over a node's capacity are evicted.
  for (auto& node : nodes_) {
    int capacity = node.spec.units - node.lost - node.other_used;
    int used = 0;
    for (auto& [k, pod] : pods_) {
      if (pod.node != node.spec.name) continue;
      if (node.down) {
        pod.node.clear();
        pod.displaced = "NodeLost";
        continue;
      }
      if (used + pod.units > capacity) {
        pod.node.clear();
        pod.displaced = "GPUsLost";
        continue;
      }
      used += pod.units;
    }
  }
  for (auto& [k, pod] : pods_) {
    if (pod.node.empty()) ScheduleLocked(pod);
  }
  for (auto& [k, pod] : pods_) {
    if (pod.node.empty()) continue;
    const std::string& pod_node = pod.node;  // clang 14 cannot capture a structured binding
    auto node = std::find_if(nodes_.begin(), nodes_.end(),
                             [&](const SimNode& n) { return n.spec.name == pod_node; });
    bool failing = failing_images_.count(pod.image) > 0;
    if (pod.pull_failed && !failing) {
      StartPullLocked(pod, *node);  // the registry is back: pull again from now
    } else if (!pod.pull_failed && failing && now < pod.pull_done) {
      pod.pull_failed = true;
    }
    if (!pod.pull_failed && now >= pod.pull_done) node->images.insert(pod.image);
    CreateContainersLocked(pod, now);
    if (!pod.pull_failed && now >= pod.ready_at && !pod.model.empty())
      loaded_models_.insert(pod.model);
  }
}

PodState SimCluster::PodStateLocked(const SimPod& pod) const {
  PodState s;
  s.name = pod.name;
  s.statefulset = pod.statefulset;
  s.node = pod.node;
  s.revision = pod.revision;
  auto now = clock_->Now();
  if (pod.node.empty()) {
    // As the kube backend reads a real scheduler's PodScheduled message: a GPU shortage is
    // InsufficientGPU, anything else (taints, labels, readiness) Unschedulable, and the
    // message names it.
    s.message = UnschedulableMessageLocked(pod);
    s.reason = !pod.displaced.empty()                         ? pod.displaced
               : SchedulerMessageIsGpuShortage(s.message) ? "InsufficientGPU"
                                                          : "Unschedulable";
    s.message = (pod.displaced == "NodeLost"   ? "its node went down; "
                 : pod.displaced == "GPUsLost" ? "GPUs of its node failed; "
                                               : "") +
                s.message;
  } else if (pod.pull_failed) {
    s.reason = "ImagePullBackOff";
    s.message = "pulling image " + pod.image + " failed (simulated fault)";
  } else if (!pod.config_error.empty()) {
    s.reason = "CreateContainerConfigError";
    s.message = pod.config_error;
  } else if (now < pod.pull_done) {
    s.reason = "ImagePulling";
    s.message = "pulling image " + pod.image + " on " + pod.node;
  } else if (now < pod.ready_at) {
    s.reason = "LoadingWeights";
    char gib[32];
    std::snprintf(gib, sizeof(gib), "%.1f", pod.weights_gib);
    s.message = "loading " + std::string(gib) + " GiB of weights on " + pod.node;
  } else if (!pod.created) {
    s.reason = "ContainerCreating";
    s.message = "creating containers on " + pod.node;
  } else {
    s.ready = true;
  }
  return s;
}

StatusOr<WorkloadState> SimCluster::ReadWorkload(const std::string& ns,
                                                 const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  WorkloadState out;
  for (const auto& [key, obj] : objects_) {
    if (key.kind != "StatefulSet" || key.namespace_ != ns ||
        LabelOf(obj, kWorkspaceLabel) != workspace) {
      continue;
    }
    StatefulSetState sts;
    sts.name = key.name;
    sts.replicas = obj.value("/spec/replicas"_json_pointer, 1);
    for (const auto& [k, pod] : pods_) {
      if (pod.ns != ns || pod.statefulset != key.name) continue;
      PodState ps = PodStateLocked(pod);
      if (ps.ready) ++sts.ready_replicas;
      out.pods.push_back(std::move(ps));
    }
    out.statefulsets.push_back(sts);
  }
  return out;
}

StatusOr<PrePullState> SimCluster::ReadPrePull(const std::string& ns,
                                               const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  PrePullState out;
  for (const auto& [key, ds] : objects_) {
    if (key.kind != "DaemonSet" || key.namespace_ != ns ||
        LabelOf(ds, kPrePullLabel) != workspace) {
      continue;
    }
    out.found = true;
    out.image = PrePullImage(ds);
    const auto now = clock_->Now();
    int desired = 0;
    // SyncPrePullsLocked keeps one pull per matching Ready node: those are the desired nodes.
    for (const auto& [id, p] : prepulls_) {
      if (p.daemonset != key.ToString() || p.image != out.image) continue;
      ++desired;
      if (p.pull_failed) {
        if (out.failed_nodes++ == 0) {
          out.reason = "ImagePullBackOff";
          out.message = "pulling image " + p.image + " on " + p.node + " failed (simulated fault)";
        }
      } else if (now >= p.weights_done) {
        ++out.done_nodes;
      }
    }
    out.desired_nodes = desired;
    break;
  }
  return out;
}

StatusOr<GpuInventory> SimCluster::ReadInventory() {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  GpuInventory inv;
  std::set<std::string> images(cluster_.cached_images.begin(), cluster_.cached_images.end());
  for (const auto& node : nodes_) {
    NodeInventory n;
    n.name = node.spec.name;
    n.pool = node.spec.pool;
    n.ready = !node.down;
    n.gpu_product = node.spec.gpu_product;
    n.gfd_product = node.gfd_product;
    n.memory_gib = node.spec.memory_gib;
    n.gpus = node.spec.units - node.lost;
    n.free_gpus = node.down ? 0 : std::max(0, n.gpus - node.other_used - UsedLocked(node));
    n.berth_gpus = UsedLocked(node);  // the simulated cluster runs only Berth's pods besides other_used
    n.mig_profile = node.spec.mig_profile;
    n.slices_per_gpu = node.spec.units_per_gpu;
    n.driver_version = node.spec.driver_version.text;
    n.cuda_version = node.spec.cuda_version.text;
    n.labels = node.spec.labels;  // the pool's labels, as a kube node's own are reported
    n.taints = node.spec.taints;
    inv.nodes.push_back(std::move(n));
    images.insert(node.images.begin(), node.images.end());
  }
  inv.prices_per_gpu_hour = cluster_.price_per_gpu_hour;
  inv.cached_images.assign(images.begin(), images.end());
  std::set<std::string> models(cluster_.cached_models.begin(), cluster_.cached_models.end());
  models.insert(loaded_models_.begin(), loaded_models_.end());
  inv.cached_models.assign(models.begin(), models.end());
  return inv;
}

Status SimCluster::SetNodeDown(const std::string& node_name, bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    if (node.spec.name != node_name) continue;
    node.down = down;
    spdlog::warn("simulated fault: node {} {}", node_name, down ? "down" : "back up");
    StepLocked();
    return Status::Ok();
  }
  return Status::NotFound("simulated cluster has no node \"" + node_name + "\"");
}

Status SimCluster::LoseGpus(const std::string& node_name, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    if (node.spec.name != node_name) continue;
    if (count < 0 || count > node.spec.units) {
      return Status::Invalid("count: must be between 0 and " + std::to_string(node.spec.units));
    }
    node.lost = count;
    spdlog::warn("simulated fault: node {} has {} failed GPU units", node_name, count);
    StepLocked();
    return Status::Ok();
  }
  return Status::NotFound("simulated cluster has no node \"" + node_name + "\"");
}

void SimCluster::SetImagePullFailure(const std::string& image, bool failing) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failing) {
    failing_images_.insert(image);
  } else {
    failing_images_.erase(image);
  }
  spdlog::warn("simulated fault: pulls of {} {}", image, failing ? "fail" : "work again");
  StepLocked();
}

void SimCluster::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    node.down = false;
    node.lost = 0;
  }
  failing_images_.clear();
  unreachable_ = false;
  StepLocked();
}

json SimCluster::Describe() {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  json nodes = json::array();
  for (const auto& node : nodes_) {
    nodes.push_back({{"name", node.spec.name},
                     {"product", node.product_label},
                     {"units", node.spec.units},
                     {"lost", node.lost},
                     {"otherUsed", node.other_used},
                     {"used", UsedLocked(node)},
                     {"down", node.down}});
  }
  json pods = json::array();
  for (const auto& [k, pod] : pods_) {
    PodState s = PodStateLocked(pod);
    pods.push_back({{"namespace", pod.ns},
                    {"name", pod.name},
                    {"revision", pod.revision},
                    {"node", pod.node},
                    {"ready", s.ready},
                    {"reason", s.reason},
                    {"message", s.message}});
  }
  json pre_pulls = json::array();
  const auto now = clock_->Now();
  for (const auto& [id, p] : prepulls_) {
    std::string state = p.pull_failed           ? "ImagePullBackOff"
                        : now < p.image_done    ? "ImagePulling"
                        : now < p.weights_done  ? "DownloadingWeights"
                                                : "Done";
    pre_pulls.push_back({{"daemonSet", p.daemonset},
                         {"node", p.node},
                         {"image", p.image},
                         {"model", p.model},
                         {"state", state}});
  }
  json objects = json::array();
  for (const auto& [key, obj] : objects_) objects.push_back(key.ToString());  // names only: never Secret data
  return {{"simulated", true},
          {"cluster", cluster_.name},
          {"objects", objects},
          {"prePulls", pre_pulls},
          {"timeScale", settings_.time_scale},
          {"unreachable", unreachable_.load()},
          {"failingImages", failing_images_},
          {"nodes", nodes},
          {"pods", pods}};
}

}  // namespace berth::agent
