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
//     hub: a flag the agent's hub client honours).
// All time comes from the injected Clock; state advances lazily on every call.
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

#include "workspace/pod_template.h"
#include "api/clock.h"
#include "member-agent/backend.h"
#include "placement/fleet.h"

namespace berth::agent {

struct SimSettings {
  double time_scale = 1.0;            // modelled durations × this (0.01 = 100× faster)
  double image_pull_mib_per_s = 250;  // registry → node
  double default_image_gib = 10;      // size of an image not listed below
  std::map<std::string, double> image_sizes_gib;
  double weight_load_gib_per_s = 1.0;         // weights into GPU memory (download + load)
  double cached_weight_load_gib_per_s = 4.0;  // when the cluster caches the model
};

// Reads the optional `sim:` block of a fleet cluster entry over `defaults`:
//   sim: {imagePullMiBps: 250, defaultImageGiB: 10, imageSizesGiB: {IMAGE: GiB},
//         weightLoadGiBps: 1, cachedWeightLoadGiBps: 4}
// Invalid names the field (e.g. "clusters[gpu-eu-1].sim.imagePullMiBps: must be > 0").
StatusOr<SimSettings> ParseSimSettings(const nlohmann::json& sim_block, const std::string& path,
                                       SimSettings defaults);

class SimCluster final : public MemberBackend {
 public:
  SimCluster(placement::ClusterInventory cluster, SimSettings settings, const Clock* clock);

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
  // From the pulls SyncPrePullsLocked models: desired = the Ready nodes the DaemonSet
  // matches, done = image and weights there, failed = image-pull fault during the pull.
  StatusOr<PrePullState> ReadPrePull(const std::string& namespace_,
                                     const std::string& workspace) override;
  StatusOr<GpuInventory> ReadInventory() override;

  // --- fault injection (NotFound for an unknown node) ---
  Status SetNodeDown(const std::string& node, bool down);
  // `count` units (GPUs, or slices on MIG nodes) of the node fail; count 0 restores all.
  Status LoseGpus(const std::string& node, int count);
  void SetImagePullFailure(const std::string& image, bool failing);
  void SetUnreachable(bool unreachable) { unreachable_ = unreachable; }
  const std::atomic<bool>* unreachable_flag() const { return &unreachable_; }
  void ClearFaults();

  // Nodes, pods, faults as JSON (GET /state on the admin endpoint), "simulated": true.
  nlohmann::json Describe();
  const placement::ClusterInventory& cluster() const { return cluster_; }
  const SimSettings& settings() const { return settings_; }

 private:
  struct SimNode {
    placement::GpuNode spec;
    std::string product_label;  // nvidia.com/gpu.product (with -MIG-<profile> for MIG)
    std::string gfd_product;    // without the MIG suffix
    std::string resource;       // nvidia.com/gpu or nvidia.com/mig-<profile>
    std::map<std::string, std::string> labels;
    int other_used = 0;  // held by workloads Berth does not manage (fleet usedPerNode)
    int lost = 0;        // failed units
    bool down = false;
    std::set<std::string> images;  // cached on the node
  };
  struct SimPod {
    std::string ns, name, statefulset, workspace, template_hash;
    std::string revision;  // berth.dev/revision of the pod template
    int ordinal = 0;
    std::string resource;
    int units = 0;
    nlohmann::json node_affinity_terms;  // requiredDuringScheduling...nodeSelectorTerms
    bool anti_affinity = false;          // required pod anti-affinity on the hostname
    std::vector<policies::Toleration> tolerations;  // the pod template's
    std::string image, model;
    double weights_gib = 0;
    std::string node;       // "" = not scheduled
    std::string displaced;  // NodeLost | GPUsLost while waiting to be scheduled again
    bool pull_failed = false;
    Clock::TimePoint pull_done{}, ready_at{};
    // Secrets / ConfigMaps the containers read: like the kubelet, the container is created
    // only once they exist (CreateContainerConfigError until then); a created one keeps
    // running when they go away.
    std::vector<workspace::ObjectReference> needs;
    bool created = false;
    std::string config_error;       // what the container waits for ("" = nothing)
    Clock::TimePoint blocked_since{};
  };

  // One node pulling for a pre-pull DaemonSet (its init container's image, then the
  // weights of its berth.dev/model annotation).
  struct SimPrePull {
    std::string daemonset, node, image, model;
    bool pull_failed = false;
    Clock::TimePoint image_done{}, weights_done{};
  };

  void StepLocked();
  void CreateContainersLocked(SimPod& pod, Clock::TimePoint now);
  void SyncPodsLocked();
  void SyncPrePullsLocked();
  SimPod NewPodLocked(const ObjectKey& sts_key, const nlohmann::json& sts, int ordinal) const;
  bool PodReadyLocked(const SimPod& pod) const;
  void ScheduleLocked(SimPod& pod);
  void StartPullLocked(SimPod& pod, SimNode& node);
  int UsedLocked(const SimNode& node) const;
  bool NodeMatchesLocked(const SimNode& node, const SimPod& pod) const;
  // Why no node takes `pod`, in the Kubernetes scheduler's words, checked in its filter
  // order (not ready, TaintToleration, NodeAffinity, NodeResourcesFit, anti-affinity):
  // "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: inference},
  // 2 node(s) didn't match Pod's node affinity/selector".
  std::string UnschedulableMessageLocked(const SimPod& pod) const;
  PodState PodStateLocked(const SimPod& pod) const;
  Clock::Duration Scaled(double seconds) const;

  const placement::ClusterInventory cluster_;
  const SimSettings settings_;
  const Clock* clock_;
  std::atomic<bool> unreachable_{false};

  mutable std::mutex mu_;
  // --- guarded by mu_ ---
  std::vector<SimNode> nodes_;
  std::map<ObjectKey, nlohmann::json> objects_;
  std::map<std::string, SimPod> pods_;  // "<ns>/<pod name>"
  std::set<std::string> failing_images_;
  std::set<std::string> loaded_models_;  // weights cached in the cluster (loaded or pre-pulled)
  // "<DaemonSet> on <node> image <image> model <model>"
  std::map<std::string, SimPrePull> prepulls_;
};

}  // namespace berth::agent
