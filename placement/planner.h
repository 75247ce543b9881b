// The placement engine: filter → score → select for one Workspace, or a batch of them,
// against a fleet snapshot, with a reservation ledger so no two decisions spend the same
// GPUs. Pure: no I/O, no clock. The rules and the score formula are in docs/PLACEMENT.md;
// the code is split by stage: filter.cc (fit and rejection reasons), scoring.cc (score
// terms), select.cc (PickN/PickAll/PickFixed, spread, stickiness), planner.cc (ledger,
// batch order), explain.cc (compact JSON for Workspace status).
//
// Thread safety: a Planner is not thread-safe (Decide mutates its ledger); use one per
// thread or guard it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/status.h"
#include "placement/fleet.h"
#include "policies/placement_policy.h"
#include "workspace/estimator.h"
#include "workspace/workspace_types.h"

namespace berth::placement {

// How big one replica of a workspace is on a GPU shape. Returns an error when the model
// cannot run on that shape (the message becomes the rejection message). The real sizer
// calls workspace::EstimateReplica (placement/sizing.h); tests pass hand-written sizes.
using ReplicaSizer =
    std::function<StatusOr<workspace::ReplicaEstimate>(const workspace::GpuShape& shape)>;

struct PlacementRequest {
  std::string workspace;  // "ns/name"
  int replicas = 1;       // PickAll: per cluster
  int priority = 0;       // higher first in a batch
  std::string model;      // preset or HF id: warm-cache term
  std::string image;      // container image: warm-cache term
  // Model weights on disk (GiB), for the expected start time; 0 when unknown (then only the
  // image pull tells clusters apart).
  double weights_gib = 0;
  // Shared so a batch can cache per-policy work; null means the default policy.
  std::shared_ptr<const policies::PlacementPolicySpec> policy;
  std::map<std::string, int> current;  // cluster → replicas running now (stickiness)
  // cluster → GPU shape label → replicas running now. Kept replicas stay on their shape while
  // a pool of it still admits them, so a pass never re-shapes running replicas in place (that
  // replaces their pods); replicas without a known shape sit on the cluster's cheapest pool.
  std::map<std::string, std::map<std::string, int>> current_gpus;
  // Clusters that get new replicas only when no other feasible cluster has room (kept
  // replicas stay). The hub sets it for clusters where this workspace's replicas have been
  // stuck Pending for lack of GPUs.
  std::set<std::string> avoid;
  // GPU products the Workspace accepts (resource.gpuProducts); empty = any. Pools of other
  // products are rejected with GpuProductNotAllowed.
  std::vector<std::string> gpu_products;
  // The Workspace's resource.labelSelector. In a cluster where some GPU nodes match, only
  // those take replicas (the user brought and labelled them); where none do, any node with
  // the GPUs does, standing in for KAITO's provisioner, which would have created and
  // labelled nodes (docs/WORKSPACE.md). Allocation::node_selector_honoured says which.
  workspace::LabelSelector node_selector;
  ReplicaSizer sizer;
};

// Why a cluster cannot take a replica. Ordered by how far the check got: a cluster's
// reason is the furthest any of its GPU pools reached.
enum class RejectReason : uint8_t {
  kClusterNotFound,
  kClusterUnhealthy,
  kTaintNotTolerated,
  kRegionNotAllowed,
  kClusterSelectorMismatch,
  kNoGpuNodes,
  kGpuProductNotAllowed,
  kNodeLabelsMismatch,
  kNodeTaintsNotTolerated,
  kPriceAboveLimit,
  kDriverTooOld,
  kCudaTooOld,
  kModelDoesNotFit,
  kInsufficientFreeGpus,
  kCount,
};
std::string_view RejectReasonName(RejectReason reason);

struct ClusterRejection {
  int cluster = -1;          // index into the snapshot's clusters (-1: unknown name)
  std::string unknown_name;  // the name asked for when cluster is -1
  RejectReason reason = RejectReason::kInsufficientFreeGpus;
  std::string message;  // filled only when the decision records explanations
};

// Score terms, each 0..100 over the feasible clusters, and their weighted total.
struct ClusterScore {
  int cluster = -1;
  double total = 0;
  double availability = 0;
  double cost = 0;
  double locality = 0;
  double warm_cache = 0;
  double affinity = 0;
  double start_seconds = 0;  // expected start of a new replica here (the warmCache raw value)
  int capacity = 0;  // new replicas that still fit
  int replicas = 0;  // replicas this decision put here (kept + new)
};

// Replicas of one workspace on one cluster and GPU shape.
struct Allocation {
  std::string cluster;
  std::string gpu;           // product, with "/<profile>" for MIG slices, e.g. "A100-80GB/3g.40gb"
  int gpus_per_replica = 0;  // GPUs (or slices) per replica, all nodes
  int nodes_per_replica = 1;
  int replicas = 0;
  int kept = 0;              // of replicas, how many were already running here
  double cost_per_hour = 0;  // all replicas of this allocation
  // The request had a node selector and this cluster has nodes that match it: render it.
  // False with a selector: no node matches here, so the replicas go on any node with the GPUs.
  bool node_selector_honoured = false;
};

struct PlacementDecision {
  std::string workspace;
  int requested = 0;  // replicas wanted (PickAll: per cluster × clusters)
  int placed = 0;
  std::vector<Allocation> allocations;
  // Why replicas are missing: a CamelCase reason and a message saying what to do.
  std::string unplaced_reason;
  std::string unplaced_message;
  // Filled when DecideOptions::explain is set; otherwise only reason_counts.
  std::vector<ClusterScore> scores;          // feasible clusters, best first
  std::vector<ClusterRejection> rejections;  // by cluster name
  std::array<int, static_cast<size_t>(RejectReason::kCount)> reason_counts{};
  int feasible_clusters = 0;

  int unplaced() const { return requested - placed; }
  double cost_per_hour() const {
    double c = 0;
    for (const auto& a : allocations) c += a.cost_per_hour;
    return c;
  }
};

struct DecideOptions {
  bool explain = false;  // record scores and rejection messages
  // PlanBatch only: after the greedy pass, re-decide small groups of workspaces whose
  // policies weigh cost alone when that lowers their total cost without losing a replica.
  bool improve_cost = true;
};

struct ExplainLimits {
  int max_scores = 5;       // top clusters listed with their terms
  int max_rejections = 10;  // rejected clusters listed; the rest are counted by reason
};

class Planner {
 public:
  // Validates and indexes the snapshot and applies its reservations. Invalid when a
  // reservation names an unknown cluster/node or over-commits a node.
  static StatusOr<Planner> Create(FleetSnapshot snapshot);

  Planner(Planner&&) noexcept;
  Planner& operator=(Planner&&) noexcept;
  ~Planner();

  // Decides one workspace and commits its new replicas to the ledger.
  PlacementDecision Decide(const PlacementRequest& request, const DecideOptions& options = {});

  // Decides many workspaces in one pass: priority first, then the biggest replicas
  // (fewest GPU-GiB on their best shape), then name — big items first limit fragmentation.
  // With improve_cost, a small batch (requests × clusters ≤ 1e6) whose requests all weigh
  // cost alone (PickN, no spread) is also planned smallest replicas first from the same
  // ledger; the plan placing more replicas, then costing less, is kept, and the ledger,
  // new_reservations() and explanations are that plan's. Decisions come back in request
  // order.
  std::vector<PlacementDecision> PlanBatch(const std::vector<PlacementRequest>& requests,
                                           const DecideOptions& options = {});

  // Reservations made by decisions so far (per node, in decision order).
  const std::vector<Reservation>& new_reservations() const;
  // Free GPUs (or slices) on a node now, after reservations; -1 if unknown.
  int FreeUnits(const std::string& cluster, const std::string& node) const;

  // Compact explanation for Workspace status (see ExplainLimits).
  nlohmann::json ExplainJson(const PlacementDecision& decision,
                             const ExplainLimits& limits = {}) const;

  const FleetSnapshot& snapshot() const;

  struct Impl;

 private:
  explicit Planner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Result JSON of `berthctl plan -o json`:
// {"placements":[{workspace, cluster, replicas, gpu, gpusPerReplica, costPerHour}],
//  "unplaced":[{workspace, replicas, reason}], "totalCostPerHour": x}
nlohmann::json PlanToJson(const std::vector<PlacementDecision>& decisions);

}  // namespace berth::placement
