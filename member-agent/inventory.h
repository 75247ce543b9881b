// A member cluster's GPU inventory as the agent reports it in MemberCluster status
// (docs/AGENT.md and the hub/agent contract), and its computation from Kubernetes Node and
// Pod objects (the kube backend; GPU Feature Discovery labels and allocatable resources).
// Pure functions; no I/O.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "placement/fleet.h"

namespace berth::agent {

// One GPU node, or one MIG profile of a node (a node exposing two profiles appears twice,
// once per profile, as placement/fleet.h models it).
struct NodeInventory {
  std::string name;
  std::string pool;
  bool ready = true;
  std::string gpu_product;  // catalog name ("A100-80GB"); the GFD product when unknown
  std::string gfd_product;  // nvidia.com/gpu.product without any -MIG-<profile> suffix
  double memory_gib = 0;    // per GPU, or per slice for MIG
  int gpus = 0;             // GPUs, or slices for MIG
  int free_gpus = 0;        // not requested by non-terminated pods (0 when not ready)
  // Of the requested ones, those held by pods Berth manages (app.kubernetes.io/managed-by=
  // berth). Reported with free_gpus from one snapshot, so the hub can tell its own
  // replicas' GPUs from everyone else's without racing the Work status.
  int berth_gpus = 0;
  std::string mig_profile;  // "" for whole GPUs
  int slices_per_gpu = 1;
  std::string driver_version;  // "550.54.15"
  std::string cuda_version;    // "12.4"
  // Labels a workspace's resource.labelSelector may name: the node's own, without the
  // kubernetes.io, k8s.io and nvidia.com ones (ReportedNodeLabels).
  std::map<std::string, std::string> labels;
  // The node's taints (spec.taints), which decide what Kubernetes schedules there: the hub
  // keeps Berth's replicas off pools whose taints its pods do not tolerate (ReportedNodeTaints).
  std::vector<placement::Taint> taints;
  bool operator==(const NodeInventory&) const = default;
};

struct GpuInventory {
  std::vector<NodeInventory> nodes;
  std::map<std::string, double> prices_per_gpu_hour;
  std::vector<std::string> cached_images;  // sorted, unique
  std::vector<std::string> cached_models;  // sorted, unique
  // How fast a replica starts here (status.startup); nullopt: not reported, the hub assumes
  // placement::StartupRates' defaults.
  std::optional<placement::StartupRates> startup;

  // Physical GPUs: MIG nodes count gpus / slices_per_gpu.
  int total_gpus() const;
  // Physical GPUs fully free (MIG: free slices / slices_per_gpu, rounded down per node).
  int free_gpus() const;
  bool operator==(const GpuInventory&) const = default;
};

// The MemberCluster `status` body (without inventoryTime, which the heartbeat adds), in
// the contract's shape: agentVersion, backend, simulated, gpus{total,free}, nodes[],
// pricesPerGpuHour, cachedImages, cachedModels, and startup when known.
nlohmann::json InventoryStatusJson(const GpuInventory& inventory, const std::string& agent_version,
                                   const std::string& backend, bool simulated);

// The labels of a Node object worth reporting: all but those under kubernetes.io, k8s.io and
// nvidia.com (and their subdomains), which describe the node to Kubernetes, not to users;
// at most 64, so a status stays small on big clusters.
std::map<std::string, std::string> ReportedNodeLabels(const nlohmann::json& node);

// A Node object's spec.taints worth reporting: those with a key and a known effect, in the
// node's order, at most placement::kMaxNodeTaints (32).
std::vector<placement::Taint> ReportedNodeTaints(const nlohmann::json& node);

// GPU requests of one pod: effective request per resource name (max of the sum over
// containers and the largest init container; a limit stands in for a missing request, as
// Kubernetes defaults extended-resource requests to limits). Only nvidia.com/ resources.
std::map<std::string, int> PodGpuRequests(const nlohmann::json& pod);

// True for pods that still hold their resources: not Succeeded/Failed.
bool PodHoldsResources(const nlohmann::json& pod);

// Computes per-node GPU inventory from Node objects (`nodes`: array of Node JSON) and Pod
// objects (`pods`: array of Pod JSON). Nodes without nvidia.com/gpu or nvidia.com/mig-*
// allocatable are skipped. Free = allocatable − requests of non-terminated pods bound to
// the node, never below 0; a not-Ready or unschedulable node reports ready=false, free 0.
GpuInventory ComputeInventory(const nlohmann::json& nodes, const nlohmann::json& pods);

}  // namespace berth::agent
