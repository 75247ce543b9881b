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

// The capacity-tight family (issue #23): `workspaces` cost-only PickN workspaces of five
// catalog models (3.8 B–32 B parameters, 1–4 replicas, single-node shapes only) on
// `clusters` clusters of 1–3 pools of A10×2, L4×4, L40S×4, A100-80GB×8 or H100-80GB×8
// nodes (1–3 nodes each, all free, list-like prices). Fleets are drawn until a reference
// packing (each replica on a node where it needs the fewest GPUs) places every replica and
// fills at least `min_fill` of the GPUs, so the optimum places them all and models compete
// for the scarce GPUs.
struct TightParams {
  int clusters = 10;
  int workspaces = 44;
  double min_fill = 0.8;
  uint32_t seed = 1;
};

struct Instance {
  FleetSnapshot fleet;
  std::vector<PlacementRequest> requests;
};

Instance GenerateTightInstance(const TightParams& params);

}  // namespace berth::placement::bench
