// The fleet snapshot placement decides against: every member cluster with its labels,
// taints, health, per-node GPU inventory, prices and cached artifacts; region latencies;
// reservations already held. The hub builds it from MemberCluster status; `berthctl plan`
// and the sim backend build it from a fleet file (placement/fleet_file.h, docs/FLEET.md).
// Plain values, no behaviour beyond lookups.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "placement/startup_rates.h"
#include "policies/placement_policy.h"

namespace berth::placement {

using policies::DottedVersion;
using policies::TaintEffect;

enum class ClusterHealth { kHealthy, kUnhealthy, kUnknown };
std::string_view ClusterHealthName(ClusterHealth health);

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::kNoSchedule;
  bool operator==(const Taint&) const = default;
};

// Kubernetes toleration matching: effect (when set) equal; Exists matches the key (an empty
// key matches every taint); Equal matches key and value.
bool Tolerates(const policies::Toleration& t, const Taint& taint);

// One GPU node. A node carries one GPU shape: whole GPUs, or MIG slices of one profile
// (a MIG slice is its own shape; mixed-profile nodes are modelled as one node per profile).
struct GpuNode {
  std::string name;
  std::string pool;         // node pool it came from
  std::string gpu_product;  // catalog name, e.g. "A100-80GB"
  std::string mig_profile;  // e.g. "3g.40gb"; empty for whole GPUs
  double memory_gib = 0;    // per GPU, or per slice for MIG
  int units = 0;            // GPUs (or slices) on the node
  int free_units = 0;       // not requested by running pods (before reservations)
  int units_per_gpu = 1;    // MIG slices per physical GPU; 1 for whole GPUs
  DottedVersion driver_version;
  DottedVersion cuda_version;
  // The node's own labels that a workspace's resource.labelSelector may name (a fleet file
  // pool's `labels`; an agent reports a real node's, without the kubernetes.io, k8s.io and
  // nvidia.com ones).
  std::map<std::string, std::string> labels;
  // The node's own taints (a fleet file pool's `taints`; an agent reports a real node's
  // spec.taints, at most kMaxNodeTaints). Not the cluster's placement taints: these decide
  // which pods Kubernetes schedules on the node (placement/taints.h).
  std::vector<Taint> taints;
};

// Bound on the taints an agent reports, and the hub reads, per node.
inline constexpr size_t kMaxNodeTaints = 32;

struct ClusterInventory {
  std::string name;
  std::map<std::string, std::string> labels;  // always holds region, zone, provider when known
  std::vector<Taint> taints;
  ClusterHealth health = ClusterHealth::kHealthy;
  std::vector<GpuNode> nodes;
  std::map<std::string, double> price_per_gpu_hour;  // by GPU product (whole GPU)
  std::set<std::string> cached_images;
  std::set<std::string> cached_models;  // presets or HF ids
  StartupRates startup;

  std::string Label(const std::string& key) const {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  }
  std::string region() const { return Label("region"); }
};

// Round-trip latency between two regions (symmetric).
struct RegionLatency {
  std::string from;
  std::string to;
  double ms = 0;
};

// GPUs held for a workspace on one node but not yet visible as used in the inventory.
struct Reservation {
  std::string workspace;  // "ns/name"
  std::string cluster;
  std::string node;
  int units = 0;
  bool operator==(const Reservation&) const = default;
};

struct FleetSnapshot {
  std::vector<ClusterInventory> clusters;
  std::vector<RegionLatency> latencies;
  std::vector<Reservation> reservations;
};

// Latency used when a region pair is missing from the table, and within one region
// when the table does not say.
inline constexpr double kUnknownLatencyMs = 250;
inline constexpr double kSameRegionLatencyMs = 2;

}  // namespace berth::placement
