// Synthetic fleets and workloads for the placement benchmarks and the optimality check.
// Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "placement/fleet.h"
#include "placement/planner.h"

namespace berth::placement::bench {

struct FleetParams {
  int clusters = 1000;
  int gpu_nodes_per_cluster = 8;
  double used_fraction = 0.3;  // share of GPUs already in use
  uint32_t seed = 1;
};

FleetSnapshot GenerateFleet(const FleetParams& params);

struct WorkloadParams {
  int workspaces = 10000;
  int max_replicas = 4;
  bool cost_only = false;         // every workspace uses cost-only weights, PickN, no spread
  bool single_node_only = false;  // shapes needing more than one node count as unfit
  uint32_t seed = 2;
};

std::vector<PlacementRequest> GenerateWorkload(const WorkloadParams& params);

}  // namespace berth::placement::bench
