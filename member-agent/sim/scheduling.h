// The simulated cluster's nodes and its scheduler: which node takes a pod, and, when none
// does, why not in kube-scheduler's words. The filters are kube-scheduler's, in its order:
// node not Ready, TaintToleration (NoSchedule / NoExecute), NodeAffinity (required terms,
// In / NotIn / Exists / DoesNotExist), NodeResourcesFit on the pod's GPU resource, required
// pod anti-affinity on the hostname (multi-node replicas). Among the nodes that pass, the
// best fit (fewest free units) wins, which keeps large nodes whole for big replicas.
//
// Pure functions over the cluster's nodes and pods; the caller holds the cluster's lock.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "member-agent/backend.h"
#include "member-agent/sim/cluster_state.h"
#include "placement/fleet.h"

namespace berth::agent::sim {

// A fleet node as the simulated cluster runs it: its GFD product label (with
// -MIG-<profile>), resource name, the pool's labels plus nvidia.com/gpu.product,
// kubernetes.io/hostname and berth.dev/pool, `cached_images` on disk, and the fleet's
// usedPerNode held by other workloads.
Node NodeFromFleet(const placement::GpuNode& spec, const std::set<std::string>& cached_images);

// Required node affinity terms: ORed, the expressions of one term ANDed. Empty = any node.
bool MatchesNodeSelectorTerms(const std::map<std::string, std::string>& labels,
                              const nlohmann::json& terms);

// Units of the node's resource held by `pods` scheduled there.
int UsedUnits(const Node& node, const Pods& pods);
// Units of the node's resource nobody holds: capacity minus failed, other workloads' and
// `pods`' units (negative when failures left the node over-committed).
int FreeUnits(const Node& node, const Pods& pods);

// Whether `node` passes every filter for `pod`, given the pods already placed.
bool NodeTakesPod(const Node& node, const Pod& pod, const Pods& pods);

// The node the scheduler binds `pod` to (best fit among those that take it, the first of
// equals), or nullptr when none does.
const Node* ChooseNode(const std::vector<Node>& nodes, const Pod& pod, const Pods& pods);

// Why no node takes `pod`, in the Kubernetes scheduler's words, each node counted by the
// first filter it fails and the phrases sorted as kube-scheduler sorts them: "0/3 nodes are
// available: 1 node(s) had untolerated taint {dedicated: inference}, 2 node(s) didn't match
// Pod's node affinity/selector (simulated cluster)".
std::string UnschedulableMessage(const std::vector<Node>& nodes, const Pod& pod,
                                 const Pods& pods);

// The state of a pod no node takes, as the kube backend reads a real scheduler's
// PodScheduled message: NodeLost / GPUsLost when a fault displaced it, else InsufficientGPU
// when `unschedulable_message` is a GPU shortage, else Unschedulable.
PodState PendingPodState(const Pod& pod, const std::string& unschedulable_message);

}  // namespace berth::agent::sim
