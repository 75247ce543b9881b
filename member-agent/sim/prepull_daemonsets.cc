#include "member-agent/sim/prepull_daemonsets.h"

#include <cstdlib>
#include <set>

#include "member-agent/sim/faults.h"
#include "member-agent/sim/scheduling.h"
#include "member-agent/sim/sim_cluster.h"
#include "member-agent/sim/startup.h"
#include "placement/taints.h"

namespace berth::agent {
namespace sim {

using nlohmann::json;

std::string PrePullImage(const json& ds) {
  const json pod_spec = ds.value("/spec/template/spec"_json_pointer, json::object());
  json containers = pod_spec.value("initContainers", json::array());
  if (containers.empty()) containers = pod_spec.value("containers", json::array());
  return containers.empty() ? "" : containers[0].value("image", "");
}

std::vector<size_t> NodesOfDaemonSet(const std::vector<Node>& nodes, const json& ds) {
  const json pod_spec = ds.value("/spec/template/spec"_json_pointer, json::object());
  const json selector = pod_spec.value("nodeSelector", json::object());
  const json terms = pod_spec.value(
      "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
      json::array());
  const auto tolerations =
      placement::ParsePodTolerations(pod_spec.value("tolerations", json::array()));
  std::vector<size_t> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    if (node.down) continue;  // a DaemonSet pod on a lost node starts over when it returns
    // The DaemonSet controller keeps its pods off nodes whose NoSchedule taints they do not tolerate.
    if (placement::FirstUntoleratedTaint(node.spec.taints, tolerations)) continue;
    bool match = MatchesNodeSelectorTerms(node.labels, terms);
    for (const auto& [k, v] : selector.items()) {
      auto l = node.labels.find(k);
      match = match && l != node.labels.end() && v.is_string() && l->second == v;
    }
    if (match) out.push_back(i);
  }
  return out;
}

void StartPrePull(PrePull& pull, const Node& node, const SimSettings& settings,
                  double weights_gib, bool model_cached, Clock::TimePoint now) {
  double pull_s = ImagePullSeconds(settings, node.images, pull.image);
  double weights_s = model_cached ? 0 : placement::WeightLoadSeconds(settings.rates, weights_gib, false);
  pull.image_done = now + Scaled(settings, pull_s);
  pull.weights_done = pull.image_done + Scaled(settings, weights_s);
}

std::string PrePullPhase(const PrePull& p, Clock::TimePoint now) {
  return p.pull_failed            ? "ImagePullBackOff"
         : now < p.image_done     ? "ImagePulling"
         : now < p.weights_done   ? "DownloadingWeights"
                                  : "Done";
}

PrePullState PrePullProgress(const std::string& daemonset, const std::string& image,
                             const PrePulls& pulls, Clock::TimePoint now) {
  PrePullState out;
  out.found = true;
  out.image = image;
  int desired = 0;
  // SyncPrePullsLocked keeps one pull per matching Ready node: those are the desired nodes.
  for (const auto& [id, p] : pulls) {
    if (p.daemonset != daemonset || p.image != image) continue;
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
  return out;
}

}  // namespace sim

using nlohmann::json;

void SimCluster::SyncPrePullsLocked(Clock::TimePoint now) {
  std::set<std::string> seen;
  for (const auto& [key, ds] : objects_) {
    if (key.kind != "DaemonSet") continue;
    const std::string image = sim::PrePullImage(ds);
    if (image.empty()) continue;
    const json ann = ds.value("/metadata/annotations"_json_pointer, json::object());
    const std::string model = ann.value(kModelAnnotation, "");
    const double weights_gib = std::atof(ann.value(kWeightsGibAnnotation, "0").c_str());
    for (size_t i : sim::NodesOfDaemonSet(nodes_, ds)) {
      sim::Node& node = nodes_[i];
      // A new image or model is a new pull on the node (the image may already be there).
      const std::string id =
          key.ToString() + " on " + node.spec.name + " image " + image + " model " + model;
      seen.insert(id);
      auto [it, fresh] = prepulls_.try_emplace(id);
      sim::PrePull& p = it->second;
      const bool failing = failing_images_.count(image) > 0;
      if (fresh || sim::PullRestarts(p.pull_failed, failing)) {
        p = sim::PrePull{key.ToString(), node.spec.name, image, model};
        sim::StartPrePull(p, node, settings_, weights_gib,
                          model.empty() || ModelCachedLocked(model), now);
      }
      if (sim::PullFailsNow(p.pull_failed, failing, now, p.image_done)) p.pull_failed = true;
      if (p.pull_failed) continue;
      if (now >= p.image_done) node.images.insert(image);
      if (now >= p.weights_done && !model.empty()) loaded_models_.insert(model);
    }
  }
  for (auto it = prepulls_.begin(); it != prepulls_.end();) {
    it = seen.count(it->first) ? std::next(it) : prepulls_.erase(it);
  }
}

StatusOr<PrePullState> SimCluster::ReadPrePull(const std::string& ns,
                                               const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  for (const auto& [key, ds] : objects_) {
    if (key.kind != "DaemonSet" || key.namespace_ != ns ||
        LabelOf(ds, kPrePullLabel) != workspace) {
      continue;
    }
    return sim::PrePullProgress(key.ToString(), sim::PrePullImage(ds), prepulls_, clock_->Now());
  }
  return PrePullState{};
}

}  // namespace berth::agent
