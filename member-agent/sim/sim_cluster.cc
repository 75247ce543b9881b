#include "member-agent/sim/sim_cluster.h"

#include <algorithm>

#include "api/yaml_json.h"
#include "member-agent/reconciler.h"
#include "member-agent/sim/faults.h"
#include "member-agent/sim/prepull_daemonsets.h"
#include "member-agent/sim/scheduling.h"
#include "member-agent/sim/served_workspaces.h"
#include "member-agent/sim/serving_server.h"
#include "member-agent/sim/startup.h"
#include "member-agent/sim/statefulsets.h"
#include "placement/fleet_file.h"

namespace berth::agent {

using nlohmann::json;

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
  for (const auto& n : cluster_.nodes) nodes_.push_back(sim::NodeFromFleet(n, cluster_.cached_images));
}

SimCluster::~SimCluster() = default;

void SimCluster::SetUnreachable(bool unreachable) {
  std::lock_guard<std::mutex> lock(mu_);
  unreachable_ = unreachable;
  StepLocked();
}

void SimCluster::SyncServingLocked(Clock::TimePoint now) {
  if (!settings_.serve) return;
  auto served = sim::ServedWorkspaces(objects_, pods_, nodes_, now, kv_bytes_per_token_, serving_faults_);
  if (!serving_ && served.empty()) return;
  if (!serving_) {
    serving_ = std::make_unique<sim::ServingServer>(
        clock_, sim::ServingOptions{settings_.time_scale, settings_.serving_base_port, 1 << 20, cluster_.name});
  }
  serving_->SetUnreachable(unreachable_);
  if (served == served_) return;
  serving_->Sync(served);
  served_ = std::move(served);
}

StatusOr<ServingState> SimCluster::ReadServing(const std::string& ns,
                                               const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  ServingState out;
  if (!serving_) return out;
  out.url = serving_->Url(ns, workspace);
  if (out.url.empty()) return out;
  out.signals = serving_->Signals(ns, workspace);
  return out;
}

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

bool SimCluster::ModelCachedLocked(const std::string& model) const {
  return cluster_.cached_models.count(model) || loaded_models_.count(model);
}

void SimCluster::ScheduleLocked(sim::Pod& pod, Clock::TimePoint now) {
  const sim::Node* node = sim::ChooseNode(nodes_, pod, pods_);
  if (!node) return;
  pod.node = node->spec.name;
  pod.displaced.clear();
  sim::StartPull(pod, *node, settings_, ModelCachedLocked(pod.model), now);
}

// Pulls go on, fail or restart with the image-pull fault; pulled images stay on the node,
// loaded weights in the cluster.
void SimCluster::AdvanceStartupLocked(Clock::TimePoint now) {
  for (auto& [k, pod] : pods_) {
    if (pod.node.empty()) continue;
    const std::string& pod_node = pod.node;  // clang 14 cannot capture a structured binding
    auto node = std::find_if(nodes_.begin(), nodes_.end(),
                             [&](const sim::Node& n) { return n.spec.name == pod_node; });
    bool failing = failing_images_.count(pod.image) > 0;
    if (sim::PullRestarts(pod.pull_failed, failing)) {
      sim::StartPull(pod, *node, settings_, ModelCachedLocked(pod.model), now);
    } else if (sim::PullFailsNow(pod.pull_failed, failing, now, pod.pull_done)) {
      pod.pull_failed = true;
    }
    if (!pod.pull_failed && now >= pod.pull_done) node->images.insert(pod.image);
    sim::CreateContainers(pod, objects_, now);
    if (!pod.pull_failed && now >= pod.ready_at && !pod.model.empty())
      loaded_models_.insert(pod.model);
  }
}

void SimCluster::StepLocked() {
  const auto now = clock_->Now();
  sim::SyncStatefulSetPods(objects_, now, pods_);
  SyncPrePullsLocked(now);
  sim::EvictFromFailedNodes(nodes_, pods_);
  for (auto& [k, pod] : pods_) {
    if (pod.node.empty()) ScheduleLocked(pod, now);
  }
  AdvanceStartupLocked(now);
  SyncServingLocked(now);
}

PodState SimCluster::PodStateLocked(const sim::Pod& pod, Clock::TimePoint now) const {
  if (pod.node.empty()) {
    return sim::PendingPodState(pod, sim::UnschedulableMessage(nodes_, pod, pods_));
  }
  return sim::StartupState(pod, now);
}

StatusOr<WorkloadState> SimCluster::ReadWorkload(const std::string& ns,
                                                 const std::string& workspace) {
  std::lock_guard<std::mutex> lock(mu_);
  StepLocked();
  const auto now = clock_->Now();
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
      PodState ps = PodStateLocked(pod, now);
      if (ps.ready) ++sts.ready_replicas;
      out.pods.push_back(std::move(ps));
    }
    out.statefulsets.push_back(sts);
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
    n.free_gpus = node.down ? 0 : std::max(0, n.gpus - node.other_used - sim::UsedUnits(node, pods_));
    n.berth_gpus = sim::UsedUnits(node, pods_);  // the simulated cluster runs only Berth's pods besides other_used
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
  inv.startup = settings_.rates;
  return inv;
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
                     {"used", sim::UsedUnits(node, pods_)},
                     {"down", node.down}});
  }
  const auto now = clock_->Now();
  json pods = json::array();
  for (const auto& [k, pod] : pods_) {
    PodState s = PodStateLocked(pod, now);
    pods.push_back({{"namespace", pod.ns},
                    {"name", pod.name},
                    {"revision", pod.revision},
                    {"node", pod.node},
                    {"ready", s.ready},
                    {"reason", s.reason},
                    {"message", s.message}});
  }
  json pre_pulls = json::array();
  for (const auto& [id, p] : prepulls_) {
    pre_pulls.push_back({{"daemonSet", p.daemonset},
                         {"node", p.node},
                         {"image", p.image},
                         {"model", p.model},
                         {"state", sim::PrePullPhase(p, now)}});
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
          {"serving", serving_ ? serving_->Describe() : json::array()},
          {"nodes", nodes},
          {"pods", pods}};
}

}  // namespace berth::agent
