// The `sim` backend: a simulated GPU cluster built from one cluster entry of the fleet file
// (placement/fleet_file.h, docs/FLEET.md). It is a simulation and says so: name() is
// "sim", simulated() is true, and the agent logs it at start.
//
// What it models (docs/AGENT.md "The simulated cluster"):
//   - nodes of the fleet's node pools, each with GPUs (or MIG slices) of one product; the
//     fleet's usedPerNode is GPUs held by other workloads;
//   - StatefulSets → pods <sts>-<ordinal>; a pod requests nvidia.com/gpu or
//     nvidia.com/mig-<profile> and is scheduled (best fit) on a Ready node whose
//     nvidia.com/gpu.product matches its required node affinity, with enough free units,
//     honouring required pod anti-affinity on the hostname (multi-node replicas);
//   - startup = image pull (size / pull bandwidth, instant when the node has the image)
//     + weight load (weights GiB / load bandwidth), each multiplied by time_scale;
//   - a changed pod template rolls the StatefulSet's pods like Kubernetes' RollingUpdate:
//     highest ordinal first, at most spec.updateStrategy.rollingUpdate.maxUnavailable
//     (default 1) unavailable at once, so a new pod that never becomes Ready (image pull
//     failure) stops the roll; OnDelete never replaces; pods carry the template's
//     berth.dev/revision label;
//   - DaemonSets are pre-pulls (member-agent/prepull.h): every Ready node matching the pod
//     template's nodeSelector / node affinity pulls the init container's image, then the
//     weights of its berth.dev/model annotation; the node then has the image cached and
//     the cluster the model (inventory cachedImages / cachedModels);
//   - faults: node down / up, GPUs lost on a node (pods over capacity are evicted),
//     image pull failure for an image, and "unreachable" (the agent stops talking to the
//     hub: a flag the agent's hub client honours; the serving listeners close too);
//   - serving (SimSettings::serve): each workspace's Service is a loopback HTTP listener
//     answering like vLLM's OpenAI server, timed by a queueing model of its Ready replicas
//     (serving_server.h, serving_model.h, served_workspaces.h); ReadServing gives its URL
//     and signals.
// All time comes from the injected Clock; state advances lazily on every call.
//
// SimCluster holds the state and the mutex; each concern's decisions are free functions in
// a file of its own beside this one: scheduling.h (nodes, which node takes a pod and why not
// the others), statefulsets.h (pods from StatefulSets, rolling updates), startup.h (pulls,
// container creation, weight loads, when a pod is ready), prepull_daemonsets.h, faults.h,
// settings.h (the fleet file's sim block), served_workspaces.h (what the Services serve).
//
// Thread safety: every method is safe to call concurrently (one mutex).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/sim/cluster_state.h"
#include "member-agent/sim/settings.h"
#include "placement/fleet.h"

namespace berth::agent {

namespace sim {
class ServingServer;
struct ServedWorkspace;
}  // namespace sim

class SimCluster final : public MemberBackend {
 public:
  SimCluster(placement::ClusterInventory cluster, SimSettings settings, const Clock* clock);
  ~SimCluster() override;

  // Builds the cluster `cluster_name` of a fleet file (YAML text). NotFound lists the
  // cluster names the file has; Invalid for a bad file or sim block.
  static StatusOr<std::unique_ptr<SimCluster>> FromFleetYaml(std::string_view yaml,
                                                             const std::string& cluster_name,
                                                             SimSettings defaults,
                                                             const Clock* clock);

  std::string name() const override { return "sim"; }
  bool simulated() const override { return true; }
  Status Apply(const nlohmann::json& object) override;
  StatusOr<std::vector<ManagedObject>> ListManaged(const std::string& namespace_,
                                                   const std::string& workspace) override;
  Status Delete(const ObjectKey& key) override;
  StatusOr<WorkloadState> ReadWorkload(const std::string& namespace_,
                                       const std::string& workspace) override;
  // From the pulls SyncPrePullsLocked models (prepull_daemonsets.cc): desired = the Ready
  // nodes the DaemonSet matches, done = image and weights there, failed = image-pull fault
  // during the pull.
  StatusOr<PrePullState> ReadPrePull(const std::string& namespace_,
                                     const std::string& workspace) override;
  StatusOr<GpuInventory> ReadInventory() override;
  // The workspace's listener URL (empty state when serving is off or the workspace has no
  // StatefulSet) and its queueing model's signals (serving_model.h).
  StatusOr<ServingState> ReadServing(const std::string& namespace_,
                                     const std::string& workspace) override;

  // --- fault injection (faults.cc; NotFound for an unknown node) ---
  Status SetNodeDown(const std::string& node, bool down);
  // `count` units (GPUs, or slices on MIG nodes) of the node fail; count 0 restores all.
  Status LoseGpus(const std::string& node, int count);
  void SetImagePullFailure(const std::string& image, bool failing);
  // Replicas running `image` serve `factor` times slower (prefill and decode); 1 restores.
  void SetSlowServing(const std::string& image, double factor);
  // Replicas running `image` answer `fraction` (0..1) of their requests with HTTP 500; 0
  // restores them.
  void SetFailingServing(const std::string& image, double fraction);
  // Also closes the serving listeners (connection refused); clearing reopens them on the
  // same ports.
  void SetUnreachable(bool unreachable);
  const std::atomic<bool>* unreachable_flag() const { return &unreachable_; }
  void ClearFaults();

  // Nodes, pods, faults as JSON (GET /state on the admin endpoint), "simulated": true.
  nlohmann::json Describe();
  const placement::ClusterInventory& cluster() const { return cluster_; }
  const SimSettings& settings() const { return settings_; }

 private:
  // Advances the whole cluster to the clock's now: StatefulSet pods, pre-pulls, fault
  // evictions, scheduling, pulls and container creation.
  void StepLocked();
  void SyncPrePullsLocked(Clock::TimePoint now);  // prepull_daemonsets.cc
  void ScheduleLocked(sim::Pod& pod, Clock::TimePoint now);
  void AdvanceStartupLocked(Clock::TimePoint now);
  // The fleet caches the model or a pod / pre-pull has loaded it here.
  bool ModelCachedLocked(const std::string& model) const;
  PodState PodStateLocked(const sim::Pod& pod, Clock::TimePoint now) const;
  // Hands the Services' workspaces and Ready replicas to serving_ (started on first need).
  void SyncServingLocked(Clock::TimePoint now);

  const placement::ClusterInventory cluster_;
  const SimSettings settings_;
  const Clock* clock_;
  std::atomic<bool> unreachable_{false};

  mutable std::mutex mu_;
  // --- guarded by mu_ ---
  std::vector<sim::Node> nodes_;
  sim::Objects objects_;
  sim::Pods pods_;
  std::set<std::string> failing_images_;
  sim::ServingFaults serving_faults_;  // slow-serving and failing-serving, by image
  std::set<std::string> loaded_models_;  // weights cached in the cluster (loaded or pre-pulled)
  sim::PrePulls prepulls_;
  std::unique_ptr<sim::ServingServer> serving_;        // null until a workspace exists
  std::vector<sim::ServedWorkspace> served_;           // what serving_ was last given
  std::map<std::string, int64_t> kv_bytes_per_token_;  // by model
};

}  // namespace berth::agent
