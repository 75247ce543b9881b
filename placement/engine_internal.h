// Internals shared by the placement stages (filter.cc, scoring.cc, select.cc, planner.cc,
// explain.cc). Not a public header: use placement/planner.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "placement/planner.h"

namespace berth::placement::internal {

inline constexpr uint8_t kPass = 0xff;

// A distinct GPU shape in the fleet; every node pool maps to one.
struct ShapeEntry {
  workspace::GpuShape shape;
  std::string label;  // "A100-80GB" or "A100-80GB/3g.40gb"
};

// Nodes of one cluster that share product, shape, driver and CUDA version.
struct PoolIndex {
  int cluster = 0;
  int shape = 0;
  int first_node = 0;  // into FleetIndex::nodes
  int node_count = 0;
  double price_per_unit = 0;        // per GPU-hour, divided by slices per GPU for MIG
  const GpuNode* sample = nullptr;  // first node: product, versions, labels, taints
  // The first taint of the pool's nodes that Berth's rendered pods do not tolerate
  // (workspace::RenderedPodTolerations); nullptr when they can land there.
  const Taint* untolerated_taint = nullptr;
};

struct ClusterIndex {
  int first_pool = 0;
  int pool_count = 0;
  int region = -1;  // into FleetIndex::regions
  int total_units = 0;
  int node_count = 0;
  double min_price = 0;
};

struct NodeRef {
  int cluster = 0;
  int node = 0;  // index into ClusterInventory::nodes
};

struct FleetIndex {
  FleetSnapshot snapshot;  // clusters sorted by name
  std::vector<ShapeEntry> shapes;
  std::vector<PoolIndex> pools;
  std::vector<ClusterIndex> clusters;
  std::vector<NodeRef> nodes;  // grouped by pool
  std::vector<std::string> regions;
  std::vector<double> latency;  // regions × regions, ms
  std::unordered_map<std::string, int> cluster_by_name;
  std::unordered_map<std::string, int> region_by_name;
  // Cached image or model → clusters holding it (start-time term without per-cluster lookups).
  std::unordered_map<std::string, std::vector<int>> image_holders;
  std::unordered_map<std::string, std::vector<int>> model_holders;

  double Latency(int a, int b) const {
    if (a < 0 || b < 0) return kUnknownLatencyMs;
    return latency[static_cast<size_t>(a) * regions.size() + b];
  }
};

// Free units per node after reservations; the single source of truth for capacity.
struct Ledger {
  std::vector<int> free;          // per FleetIndex::nodes entry
  std::vector<int> cluster_free;  // per cluster
  std::vector<Reservation> made;
};

// Per-policy work that does not depend on the ledger, cached across a batch.
struct PolicyView {
  std::shared_ptr<const policies::PlacementPolicySpec> keep_alive;
  std::vector<uint8_t> new_verdict;   // per cluster: kPass or RejectReason (new replicas)
  std::vector<uint8_t> keep_verdict;  // per cluster: for replicas already running there
  std::vector<uint8_t> pool_verdict;  // per pool: product, node taints, price, driver, CUDA
  std::vector<double> locality_ms;    // per cluster: traffic-weighted latency
  std::vector<double> affinity;       // per cluster: preferred weights matched (label-only terms)
  bool dynamic_selector = false;      // required terms use properties → evaluate per decision
  bool dynamic_affinity = false;      // preferred terms use properties
};

// One cluster (one price tier of it: pools whose replica costs the same) that can take
// replicas of the current request. Running replicas (kept) sit on the cluster's first tier.
struct Candidate {
  int cluster = 0;
  int capacity = 0;             // new replicas that fit now
  int kept = 0;                 // running replicas that stay
  // Where kept replicas stay: (pool, replicas), cheapest first. Their own GPU shape while a
  // pool of it admits them, else best_pool. Holds at least `kept` replicas (kept may be cut
  // after; the most expensive go first).
  std::vector<std::pair<int, int>> kept_pools;
  int best_pool = -1;           // cheapest fitting pool (for kept replicas and reporting)
  double cost_per_replica = 0;  // per hour, on this tier's pools (or best_pool when no room)
  double tier_cost = -1;        // the price tier: pools whose replica costs this much
  double locality_ms = 0;
  double start_seconds = 0;  // expected start of a new replica (warmCache term, lower is better)
  double affinity = 0;
  ClusterScore score;
  int assigned = 0;  // new replicas chosen by select
};

// Replica size per shape for one request.
struct SizedRequest {
  const PlacementRequest* request = nullptr;
  std::vector<std::optional<workspace::ReplicaEstimate>> estimates;  // per shape
  std::vector<std::string> errors;                                   // per shape, when unfit
  std::vector<bool> product_allowed;  // per shape: in the request's gpu_products
  std::vector<bool> pool_allowed;     // per pool: admitted by the request's node selector
  std::vector<bool> selector_honoured;  // per cluster: some pool matches the node selector
  double footprint_gib = 0;  // smallest GPU memory one replica takes on any shape (0: none)
  double cheapest = -1;      // cheapest replica-hour anywhere in the fleet (-1: none)
};

// filter.cc
PolicyView BuildPolicyView(const FleetIndex& index,
                           std::shared_ptr<const policies::PlacementPolicySpec> policy);
SizedRequest SizeRequest(const FleetIndex& index, const PlacementRequest& request);
bool MatchesTerm(const FleetIndex& index, const Ledger& ledger, int cluster,
                 const policies::ClusterTerm& term);
// Max replicas of (units per node, nodes) that fit in a pool now.
int PoolCapacity(const FleetIndex& index, const Ledger& ledger, int pool,
                 const workspace::ReplicaEstimate& estimate);
std::string RejectionMessage(const FleetIndex& index, const Ledger& ledger,
                             const policies::PlacementPolicySpec& policy, const SizedRequest& sized,
                             int cluster, RejectReason reason);

// scoring.cc
void ScoreCandidates(const policies::ScoringWeights& weights, std::vector<Candidate>& candidates);

// select.cc
struct SelectOutcome {
  std::string reason;  // empty when every requested replica found a cluster
  std::string message;
};
SelectOutcome SelectPickN(const FleetIndex& index, const policies::PlacementPolicySpec& policy,
                          int replicas, std::vector<Candidate>& ranked);

// planner.cc / cost_relocation.cc: (flat node, units) a decision reserved.
using Touched = std::vector<std::pair<int, int>>;

// cost_relocation.cc: one batch request as the relocation search sees it.
struct RelocationInput {
  const SizedRequest* sized = nullptr;
  const PolicyView* view = nullptr;
  const policies::PlacementPolicySpec* policy = nullptr;
  bool movable = false;  // cost-only PickN without spread: its new replicas may move
};
// After a batch: moves new single-node replicas of movable requests to cheaper nodes
// (directly, or by moving one replica of another movable request out of the way) while
// that lowers total cost. Keeps `out`, `touched` and the ledger consistent, never
// over-commits a node, never changes a request's replica count, and respects
// minClusters/maxClusters. Stops after about `work_budget` pool and node visits. With
// `explain`, fixes the changed decisions' score rows and rejections.
void RelocateForCost(const FleetIndex& index, Ledger& ledger,
                     const std::vector<RelocationInput>& inputs,
                     std::vector<PlacementDecision>& out, std::vector<Touched>& touched,
                     int64_t work_budget, bool explain);

}  // namespace berth::placement::internal
