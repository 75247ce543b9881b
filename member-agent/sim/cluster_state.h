// What the simulated cluster holds: its nodes, the pods its StatefulSets have become and the
// pulls its pre-pull DaemonSets run on each node. Plain values; SimCluster (sim_cluster.h)
// owns them under its mutex and the free functions of the other files here decide over them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "placement/fleet.h"
#include "workspace/pod_template.h"

namespace berth::agent::sim {

struct Node {
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

struct Pod {
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
  std::string config_error;  // what the container waits for ("" = nothing)
  Clock::TimePoint blocked_since{};
};

// One node pulling for a pre-pull DaemonSet (its init container's image, then the
// weights of its berth.dev/model annotation).
struct PrePull {
  std::string daemonset, node, image, model;
  bool pull_failed = false;
  Clock::TimePoint image_done{}, weights_done{};
};

using Objects = std::map<ObjectKey, nlohmann::json>;  // what was applied, by key
using Pods = std::map<std::string, Pod>;              // "<ns>/<pod name>"
// "<DaemonSet> on <node> image <image> model <model>"
using PrePulls = std::map<std::string, PrePull>;

// A pod's name, owner, node and revision, not yet ready: what every state of it reports.
PodState PodStateOf(const Pod& pod);

// How replicas running an image misbehave (the sim's serving faults).
struct ServingFaults {
  std::map<std::string, double> slow;     // image → slowdown (slow-serving)
  std::map<std::string, double> failing;  // image → share of requests answered 500 (failing-serving)
};

}  // namespace berth::agent::sim
