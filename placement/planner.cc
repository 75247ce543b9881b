// Planner: indexes the fleet, keeps the reservation ledger, runs filter → score → select
// for each request and commits the chosen replicas to nodes.
#include "placement/planner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "placement/engine_internal.h"
#include "placement/taints.h"
#include "workspace/pod_tolerations.h"

namespace berth::placement {

using namespace internal;  // NOLINT: the stages live in the internal namespace
using policies::PlacementMode;
using policies::PlacementPolicySpec;

namespace {
struct BatchPlan;

// Splits a cluster's `kept` running replicas over pools (Candidate::kept_pools): each stays on
// the GPU shape it runs on (request.current_gpus) while an admissible pool of that shape
// exists, the rest (shape unknown, or its pool gone or no longer admitted) on `best_pool`.
// Re-shaping a running replica would replace its pod, so cost alone never does it.
void KeepOnCurrentShapes(const FleetIndex& index, const SizedRequest& sized,
                         const PlacementRequest& request, int cluster,
                         const std::vector<int>& admissible, int best_pool, int kept,
                         std::vector<std::pair<int, int>>& out) {
  out.clear();
  auto cost_of = [&](int p) {
    return index.pools[p].price_per_unit * sized.estimates[index.pools[p].shape]->total_gpus();
  };
  auto add = [&](int pool, int count) {
    for (auto& [p, n] : out) {
      if (p == pool) {
        n += count;
        return;
      }
    }
    out.emplace_back(pool, count);
  };
  int left = kept;
  auto it = request.current_gpus.find(index.snapshot.clusters[cluster].name);
  if (it != request.current_gpus.end()) {
    for (const auto& [label, count] : it->second) {
      int pool = -1;
      for (int p : admissible) {
        if (index.shapes[index.pools[p].shape].label == label && (pool < 0 || cost_of(p) < cost_of(pool)))
          pool = p;
      }
      const int take = std::min(count, left);
      if (pool < 0 || take <= 0) continue;
      add(pool, take);
      left -= take;
    }
  }
  if (left > 0) add(best_pool, left);
  std::stable_sort(out.begin(), out.end(),
                   [&](const auto& a, const auto& b) { return cost_of(a.first) < cost_of(b.first); });
}
}  // namespace

struct Planner::Impl {
  FleetIndex index;
  Ledger ledger;
  std::shared_ptr<const PlacementPolicySpec> default_policy =
      std::make_shared<PlacementPolicySpec>();
  std::unordered_map<const PlacementPolicySpec*, PolicyView> views;
  std::vector<int> kept_wanted;  // per cluster, scratch for one decision
  std::vector<Candidate> candidates;
  // (flat node, units) one decision reserved.
  Touched* touched_out = nullptr;  // PlanBatch: where Commit records nodes (else ledger.made)
  std::vector<std::pair<double, int>> tiers;  // scratch for one cluster
  std::vector<int> admissible;                // scratch: pools of one cluster a replica may use
  std::vector<int> quota;                     // per cluster, PickAll/PickFixed scratch
  std::vector<uint8_t> warm;                  // per cluster: kImageCached | kModelCached
  std::vector<std::pair<double, int>> rank_keys;
  std::vector<Candidate> ranked;

  const PolicyView& View(const std::shared_ptr<const PlacementPolicySpec>& policy) {
    auto it = views.find(policy.get());
    if (it != views.end()) return it->second;
    return views.emplace(policy.get(), BuildPolicyView(index, policy)).first->second;
  }

  PlacementDecision Decide(const PlacementRequest& request, const SizedRequest& sized,
                           const DecideOptions& options);
  // Decide's steps, in order.
  struct PoolScan {
    uint8_t furthest = static_cast<uint8_t>(RejectReason::kNoGpuNodes);
    int best_pool = -1;
    double best_cost = 0;
  };
  std::vector<int> FixedShares(const PlacementPolicySpec& policy, int replicas,
                               const DecideOptions& options, PlacementDecision& d);
  PoolScan ScanPools(int c, const SizedRequest& sized, const PolicyView& view, bool may_add);
  void PushTiers(const Candidate& cand, double best_cost);
  int GatherCandidates(const PlacementRequest& request, const SizedRequest& sized,
                       const PlacementPolicySpec& policy, const PolicyView& view,
                       const std::vector<int>& fixed_share, const DecideOptions& options,
                       PlacementDecision& d);
  void RankCandidates(const PlacementRequest& request, const PlacementPolicySpec& policy);
  SelectOutcome SelectReplicas(const PlacementPolicySpec& policy, int replicas,
                               const std::vector<int>& fixed_share, int pickall_targets,
                               PlacementDecision& d);
  void ExplainUnplaced(const SelectOutcome& outcome, PlacementDecision& d) const;
  void ExplainScores(PlacementDecision& d);
  void PlanInOrder(const std::vector<PlacementRequest>& requests,
                   const std::vector<SizedRequest>& sized, BatchPlan& plan,
                   const DecideOptions& options);
  void ImproveCost(const std::vector<PlacementRequest>& requests,
                   const std::vector<SizedRequest>& sized, const std::vector<size_t>& order,
                   std::vector<PlacementDecision>& out, std::vector<Touched>& touched,
                   const DecideOptions& options);
  void Commit(const PlacementRequest& request, const SizedRequest& sized, const PolicyView& view,
              const Candidate& cand, PlacementDecision& decision);
};

namespace {

std::string ShapeKey(const GpuNode& n) {
  return n.gpu_product + "|" + n.mig_profile + "|" + std::to_string(n.memory_gib) + "|" +
         std::to_string(n.units);
}

}  // namespace

namespace {

// Free GPUs per node and cluster: what nodes report, less the snapshot's reservations (a bad
// reservation is a cause, not applied).
void FillLedger(const FleetIndex& ix, Ledger& ledger, std::vector<FieldCause>& causes) {
  ledger.free.resize(ix.nodes.size());
  ledger.cluster_free.assign(ix.clusters.size(), 0);
  std::unordered_map<std::string, int> node_by_name;  // "cluster/node" → flat index
  for (size_t i = 0; i < ix.nodes.size(); ++i) {
    const NodeRef& ref = ix.nodes[i];
    const GpuNode& node = ix.snapshot.clusters[ref.cluster].nodes[ref.node];
    ledger.free[i] = std::clamp(node.free_units, 0, node.units);
    ledger.cluster_free[ref.cluster] += ledger.free[i];
    node_by_name[ix.snapshot.clusters[ref.cluster].name + "/" + node.name] = static_cast<int>(i);
  }
  for (size_t r = 0; r < ix.snapshot.reservations.size(); ++r) {
    const Reservation& res = ix.snapshot.reservations[r];
    std::string field = "reservations[" + std::to_string(r) + "]";
    auto it = node_by_name.find(res.cluster + "/" + res.node);
    if (it == node_by_name.end()) {
      causes.push_back({field + ".node", "no GPU node " + res.node + " in cluster " + res.cluster});
      continue;
    }
    if (res.units > ledger.free[it->second]) {
      causes.push_back({field + ".gpus", "reserves " + std::to_string(res.units) + " but node " +
                                             res.node + " has only " +
                                             std::to_string(ledger.free[it->second]) + " free"});
      continue;
    }
    ledger.free[it->second] -= res.units;
    ledger.cluster_free[ix.nodes[it->second].cluster] -= res.units;
  }
}

}  // namespace

StatusOr<Planner> Planner::Create(FleetSnapshot snapshot) {
  auto impl = std::make_unique<Impl>();
  FleetIndex& ix = impl->index;
  std::sort(snapshot.clusters.begin(), snapshot.clusters.end(),
            [](const ClusterInventory& a, const ClusterInventory& b) { return a.name < b.name; });
  ix.snapshot = std::move(snapshot);
  auto region_id = [&ix](const std::string& r) {
    auto [it, added] = ix.region_by_name.emplace(r, static_cast<int>(ix.regions.size()));
    if (added) ix.regions.push_back(r);
    return it->second;
  };
  std::unordered_map<std::string, int> shape_ids;
  static const std::vector<policies::Toleration> rendered_tolerations =
      ParsePodTolerations(workspace::RenderedPodTolerations());
  std::vector<FieldCause> causes;
  for (size_t c = 0; c < ix.snapshot.clusters.size(); ++c) {
    const ClusterInventory& cluster = ix.snapshot.clusters[c];
    if (!ix.cluster_by_name.emplace(cluster.name, static_cast<int>(c)).second) {
      causes.push_back({"clusters", "duplicate cluster name \"" + cluster.name + "\""});
    }
    ClusterIndex ci;
    ci.region = cluster.region().empty() ? -1 : region_id(cluster.region());
    ci.first_pool = static_cast<int>(ix.pools.size());
    // Group nodes into pools of one shape and driver; nodes of a pool are contiguous.
    std::map<std::string, std::vector<int>> groups;
    std::vector<std::string> order;
    for (size_t n = 0; n < cluster.nodes.size(); ++n) {
      const GpuNode& node = cluster.nodes[n];
      if (node.units <= 0) continue;
      // Labels and taints too: a workspace's node selector, and the tolerations of the pods
      // Berth renders, admit or refuse a pool as a whole.
      std::string key = node.pool + "|" + ShapeKey(node) + "|" + node.driver_version.ToString() +
                        "|" + node.cuda_version.ToString();
      for (const auto& [k, v] : node.labels) key += "|" + k + "=" + v;
      for (const auto& t : node.taints) key += "|taint " + TaintText(t);
      auto [it, added] = groups.try_emplace(key);
      if (added) order.push_back(key);
      it->second.push_back(static_cast<int>(n));
      ci.total_units += node.units;
      ++ci.node_count;
    }
    bool have_price = false;
    for (const auto& key : order) {
      const auto& members = groups[key];
      const GpuNode& sample = cluster.nodes[members.front()];
      PoolIndex pool;
      pool.cluster = static_cast<int>(c);
      auto [sit, sadded] =
          shape_ids.try_emplace(ShapeKey(sample), static_cast<int>(ix.shapes.size()));
      if (sadded) {
        ShapeEntry e;
        e.shape.product = sample.gpu_product;
        e.shape.memory_gib = sample.memory_gib;
        e.shape.gpus_per_node = sample.units;
        e.shape.mig_profile = sample.mig_profile;
        e.label = sample.mig_profile.empty() ? sample.gpu_product
                                             : sample.gpu_product + "/" + sample.mig_profile;
        ix.shapes.push_back(std::move(e));
      }
      pool.shape = sit->second;
      pool.first_node = static_cast<int>(ix.nodes.size());
      pool.node_count = static_cast<int>(members.size());
      pool.sample = &sample;
      pool.untolerated_taint = FirstUntoleratedTaint(sample.taints, rendered_tolerations);
      auto price = cluster.price_per_gpu_hour.find(sample.gpu_product);
      double per_gpu = price == cluster.price_per_gpu_hour.end() ? 0 : price->second;
      pool.price_per_unit = per_gpu / std::max(1, sample.units_per_gpu);
      if (!have_price || per_gpu < ci.min_price) ci.min_price = per_gpu;
      have_price = true;
      for (int n : members) ix.nodes.push_back({static_cast<int>(c), n});
      ix.pools.push_back(pool);
    }
    ci.pool_count = static_cast<int>(ix.pools.size()) - ci.first_pool;
    for (const auto& img : cluster.cached_images)
      ix.image_holders[img].push_back(static_cast<int>(c));
    for (const auto& m : cluster.cached_models) ix.model_holders[m].push_back(static_cast<int>(c));
    ix.clusters.push_back(ci);
  }
  for (const auto& l : ix.snapshot.latencies) {
    region_id(l.from);
    region_id(l.to);
  }
  const size_t nr = ix.regions.size();
  ix.latency.assign(nr * nr, kUnknownLatencyMs);
  for (size_t r = 0; r < nr; ++r) ix.latency[r * nr + r] = kSameRegionLatencyMs;
  for (const auto& l : ix.snapshot.latencies) {
    int a = ix.region_by_name[l.from], b = ix.region_by_name[l.to];
    ix.latency[a * nr + b] = ix.latency[b * nr + a] = l.ms;
  }

  FillLedger(ix, impl->ledger, causes);
  if (!causes.empty()) {
    std::string msg =
        "invalid fleet snapshot: " + causes.front().field + ": " + causes.front().message;
    return Status::Invalid(std::move(msg), std::move(causes));
  }
  impl->kept_wanted.assign(ix.clusters.size(), 0);
  return Planner(std::move(impl));
}

Planner::Planner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Planner::Planner(Planner&&) noexcept = default;
Planner& Planner::operator=(Planner&&) noexcept = default;
Planner::~Planner() = default;

const FleetSnapshot& Planner::snapshot() const { return impl_->index.snapshot; }
const std::vector<Reservation>& Planner::new_reservations() const { return impl_->ledger.made; }

int Planner::FreeUnits(const std::string& cluster, const std::string& node) const {
  const FleetIndex& ix = impl_->index;
  auto it = ix.cluster_by_name.find(cluster);
  if (it == ix.cluster_by_name.end()) return -1;
  for (size_t i = 0; i < ix.nodes.size(); ++i) {
    if (ix.nodes[i].cluster == it->second &&
        ix.snapshot.clusters[it->second].nodes[ix.nodes[i].node].name == node) {
      return impl_->ledger.free[i];
    }
  }
  return -1;
}

PlacementDecision Planner::Decide(const PlacementRequest& request, const DecideOptions& options) {
  SizedRequest sized = SizeRequest(impl_->index, request);
  return impl_->Decide(request, sized, options);
}

namespace {

// Relocation work (pool and node visits) per batch request, a floor for small batches and
// a ceiling for big ones: 60M visits cost about 0.3 s, which keeps a 10,000-workspace batch
// well inside its 2 s goal (docs/PERFORMANCE.md, Placement).
constexpr int64_t kRelocationBudgetPerRequest = 50000;
constexpr int64_t kRelocationBudgetBase = 100000;
constexpr int64_t kRelocationBudgetCap = 60000000;

bool CostOnly(const PlacementPolicySpec& p) {
  const auto& w = p.scoring.weights;
  return w.cost > 0 && w.availability == 0 && w.locality == 0 && w.warm_cache == 0 &&
         w.affinity == 0;
}

// Batch order: priority first, then the biggest replicas (big items first limit
// fragmentation) — or, for the alternative plan, the smallest first — then more replicas,
// then name.
std::vector<size_t> BatchOrder(const std::vector<PlacementRequest>& requests,
                               const std::vector<SizedRequest>& sized, bool small_first) {
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto &ra = requests[a], &rb = requests[b];
    if (ra.priority != rb.priority) return ra.priority > rb.priority;
    if (sized[a].footprint_gib != sized[b].footprint_gib)
      return (sized[a].footprint_gib > sized[b].footprint_gib) != small_first;
    if (ra.replicas != rb.replicas) return ra.replicas > rb.replicas;
    return ra.workspace < rb.workspace;
  });
  return order;
}

// A second, small-first plan is tried only for small batches of cost-only workspaces:
// there total cost is the whole objective, and the extra pass stays cheap
// (requests × clusters bounds the work of one pass).
constexpr size_t kAlternativePlanMaxWork = 1000000;

bool AllCostOnly(const std::vector<PlacementRequest>& requests,
                 const std::shared_ptr<const PlacementPolicySpec>& default_policy) {
  return std::all_of(requests.begin(), requests.end(), [&](const PlacementRequest& r) {
    const auto& p = r.policy ? *r.policy : *default_policy;
    return CostOnly(p) && p.mode == PlacementMode::kPickN && p.spread.empty();
  });
}

struct BatchPlan {
  std::vector<size_t> order;
  std::vector<PlacementDecision> out;
  std::vector<Touched> touched;
  int placed = 0;
  double cost = 0;

  void Total() {
    for (const auto& d : out) {
      placed += d.placed;
      cost += d.cost_per_hour();
    }
  }
  // More replicas placed wins; then lower cost (ties keep the first plan).
  bool BetterThan(const BatchPlan& o) const {
    if (placed != o.placed) return placed > o.placed;
    return cost < o.cost - 1e-9 * std::max(1.0, o.cost);
  }
};

}  // namespace

// One complete plan in `order`: greedy decisions, then the cost improvement pass and
// replica relocation. Commits to the ledger; reservations are recorded by the caller.
void Planner::Impl::PlanInOrder(const std::vector<PlacementRequest>& requests,
                                const std::vector<SizedRequest>& sized, BatchPlan& plan,
                                const DecideOptions& options) {
  plan.out.assign(requests.size(), {});
  plan.touched.assign(requests.size(), {});
  for (size_t i : plan.order) {
    touched_out = &plan.touched[i];
    plan.out[i] = Decide(requests[i], sized[i], options);
  }
  if (options.improve_cost) {
    ImproveCost(requests, sized, plan.order, plan.out, plan.touched, options);
    std::vector<RelocationInput> inputs(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& policy_ptr = requests[i].policy ? requests[i].policy : default_policy;
      RelocationInput& in = inputs[i];
      in.sized = &sized[i];
      in.view = &View(policy_ptr);
      in.policy = policy_ptr.get();
      in.movable = CostOnly(*policy_ptr) && policy_ptr->mode == PlacementMode::kPickN &&
                   policy_ptr->spread.empty() && !in.view->dynamic_selector && plan.out[i].placed > 0;
    }
    RelocateForCost(index, ledger, inputs, plan.out, plan.touched,
                    std::min(kRelocationBudgetCap,
                             kRelocationBudgetPerRequest * static_cast<int64_t>(requests.size()) +
                                 kRelocationBudgetBase),
                    options.explain);
  }
  touched_out = nullptr;
  plan.Total();
}

// Greedy order hands the cheapest small GPUs to whichever workspace comes first; on a
// capacity-tight fleet a big model takes the cheap small GPUs and the small models pay
// for big ones later (issue #23, docs/PLACEMENT.md "Batch"). For small batches of
// cost-only workspaces a second plan decides the smallest replicas first, from the same
// starting ledger, and the cheaper plan that places as many replicas is kept. Both plans
// are complete runs of the same engine, so stickiness and explanations hold for either.
std::vector<PlacementDecision> Planner::PlanBatch(const std::vector<PlacementRequest>& requests,
                                                  const DecideOptions& options) {
  Impl& im = *impl_;
  std::vector<SizedRequest> sized;
  sized.reserve(requests.size());
  for (const auto& r : requests) sized.push_back(SizeRequest(im.index, r));
  const bool alternative = options.improve_cost && requests.size() > 1 &&
                           requests.size() * im.index.snapshot.clusters.size() <=
                               kAlternativePlanMaxWork &&
                           AllCostOnly(requests, im.default_policy);
  Ledger start;
  if (alternative) start = im.ledger;
  BatchPlan best;
  best.order = BatchOrder(requests, sized, false);
  im.PlanInOrder(requests, sized, best, options);
  if (alternative) {
    Ledger best_ledger = std::move(im.ledger);
    im.ledger = std::move(start);
    BatchPlan small_first;
    small_first.order = BatchOrder(requests, sized, true);
    im.PlanInOrder(requests, sized, small_first, options);
    if (small_first.BetterThan(best))
      best = std::move(small_first);
    else
      im.ledger = std::move(best_ledger);
  }
  for (size_t i : best.order) {
    for (const auto& [nd, units] : best.touched[i]) {
      const NodeRef& ref = im.index.nodes[nd];
      im.ledger.made.push_back({requests[i].workspace, im.index.snapshot.clusters[ref.cluster].name,
                                im.index.snapshot.clusters[ref.cluster].nodes[ref.node].name,
                                units});
    }
  }
  return std::move(best.out);
}

// Greedy order leaves cost on the table when two workspaces compete for the same cheap
// GPUs and the one that got them had a nearly-as-cheap alternative. For each workspace
// that pays more than its cheapest fleet option, release it together with up to three
// workspaces holding the cheaper pools, re-decide it first and them after, and keep the
// result only if no replica is lost and the group's total cost falls. Only workspaces
// whose policies weigh cost alone take part: for them total cost is the objective.
// Bounded (about one re-decision per workspace) so a batch stays fast and deterministic.
void Planner::Impl::ImproveCost(const std::vector<PlacementRequest>& requests,
                                const std::vector<SizedRequest>& sized,
                                const std::vector<size_t>& order,
                                std::vector<PlacementDecision>& out, std::vector<Touched>& touched,
                                const DecideOptions& options) {
  const size_t nreq = requests.size();
  std::vector<char> eligible(nreq, 0);
  std::vector<size_t> pos(nreq);
  for (size_t k = 0; k < order.size(); ++k) pos[order[k]] = k;
  std::vector<std::pair<double, size_t>> overpaying;
  for (size_t i = 0; i < nreq; ++i) {
    const auto& policy = requests[i].policy ? *requests[i].policy : *default_policy;
    // Running replicas stay where they are unless the policy asks to rebalance: the
    // relocation pass only moves replicas that are being placed now.
    eligible[i] = CostOnly(policy) && policy.mode == PlacementMode::kPickN && policy.spread.empty() &&
                  (policy.rebalance || requests[i].current.empty());
    if (!eligible[i] || out[i].placed == 0 || sized[i].cheapest < 0) continue;
    double over = out[i].cost_per_hour() - out[i].placed * sized[i].cheapest;
    if (over > 1e-6) overpaying.emplace_back(-over, i);
  }
  if (overpaying.empty()) return;
  std::sort(overpaying.begin(), overpaying.end());
  std::vector<std::vector<int>> holders(index.nodes.size());
  auto add_holder = [&](size_t i) {
    for (const auto& [nd, u] : touched[i]) holders[nd].push_back(static_cast<int>(i));
  };
  auto drop_holder = [&](size_t i) {
    for (const auto& [nd, u] : touched[i]) {
      auto& h = holders[nd];
      h.erase(std::remove(h.begin(), h.end(), static_cast<int>(i)), h.end());
    }
  };
  for (size_t i = 0; i < nreq; ++i) add_holder(i);
  auto release = [&](const Touched& t) {
    for (const auto& [nd, u] : t) {
      ledger.free[nd] += u;
      ledger.cluster_free[index.nodes[nd].cluster] += u;
    }
  };
  auto reapply = [&](const Touched& t) {
    for (const auto& [nd, u] : t) {
      ledger.free[nd] -= u;
      ledger.cluster_free[index.nodes[nd].cluster] -= u;
    }
  };

  constexpr int kGroup = 4;   // the overpaying workspace and up to three holders
  constexpr int kPasses = 2;  // a second pass finds groups the first pass's moves opened
  int64_t budget = static_cast<int64_t>(nreq) + 16;
  bool improved = true;
  for (int pass = 0; pass < kPasses && improved; ++pass) {
    improved = false;
    std::vector<std::pair<double, int>> cheaper;  // (cost per replica, pool)
    for (const auto& [neg_over, s] : overpaying) {
      if (budget <= 0) break;
      const auto& policy_ptr = requests[s].policy ? requests[s].policy : default_policy;
      const PolicyView& view = View(policy_ptr);
      double worst = 0;
      for (const auto& a : out[s].allocations) {
        if (a.replicas > 0) worst = std::max(worst, a.cost_per_hour / a.replicas);
      }
      cheaper.clear();
      for (size_t p = 0; p < index.pools.size(); ++p) {
        const PoolIndex& pool = index.pools[p];
        const auto& est = sized[s].estimates[pool.shape];
        if (!est || !sized[s].product_allowed[pool.shape] || !sized[s].pool_allowed[p] ||
            view.pool_verdict[p] != kPass || view.new_verdict[pool.cluster] != kPass) {
          continue;
        }
        double cost = pool.price_per_unit * est->total_gpus();
        if (cost < worst - 1e-9) cheaper.emplace_back(cost, static_cast<int>(p));
      }
      std::sort(cheaper.begin(), cheaper.end());
      std::vector<size_t> group = {s};
      for (const auto& [cost, p] : cheaper) {
        const PoolIndex& pool = index.pools[p];
        for (int nd = pool.first_node;
             nd < pool.first_node + pool.node_count && static_cast<int>(group.size()) < kGroup;
             ++nd) {
          for (int h : holders[nd]) {
            if (eligible[h] &&
                std::find(group.begin(), group.end(), static_cast<size_t>(h)) == group.end() &&
                static_cast<int>(group.size()) < kGroup) {
              group.push_back(h);
            }
          }
        }
        if (static_cast<int>(group.size()) >= kGroup) break;
      }
      if (group.size() == 1) continue;
      std::sort(group.begin() + 1, group.end(),
                [&](size_t a, size_t b) { return pos[a] < pos[b]; });
      double old_cost = 0;
      for (size_t g : group) {
        old_cost += out[g].cost_per_hour();
        release(touched[g]);
      }
      std::vector<PlacementDecision> trial(group.size());
      std::vector<Touched> trial_touched(group.size());
      double new_cost = 0;
      bool no_loss = true;
      for (size_t k = 0; k < group.size(); ++k) {
        touched_out = &trial_touched[k];
        trial[k] = Decide(requests[group[k]], sized[group[k]], options);
        new_cost += trial[k].cost_per_hour();
        no_loss &= trial[k].placed >= out[group[k]].placed;
      }
      budget -= static_cast<int64_t>(group.size());
      if (no_loss && new_cost < old_cost - 1e-6) {
        improved = true;
        for (size_t k = 0; k < group.size(); ++k) {
          drop_holder(group[k]);
          out[group[k]] = std::move(trial[k]);
          touched[group[k]] = std::move(trial_touched[k]);
          add_holder(group[k]);
        }
      } else {
        for (const auto& t : trial_touched) release(t);
        for (size_t g : group) reapply(touched[g]);
      }
    }
  }
}

// PickFixed: each named cluster's share of the replicas (-1 where not named), and the
// named clusters that are not members counted as rejected. Empty for the other modes.
std::vector<int> Planner::Impl::FixedShares(const PlacementPolicySpec& policy, int replicas,
                                            const DecideOptions& options, PlacementDecision& d) {
  std::vector<int> fixed_share;
  if (policy.mode != PlacementMode::kPickFixed) return fixed_share;
  fixed_share.assign(index.clusters.size(), -1);
  const int names = static_cast<int>(policy.cluster_names.size());
  for (int i = 0; i < names; ++i) {
    int share = replicas / names + (i < replicas % names ? 1 : 0);
    auto it = index.cluster_by_name.find(policy.cluster_names[i]);
    if (it == index.cluster_by_name.end()) {
      d.requested += share;
      ++d.reason_counts[static_cast<size_t>(RejectReason::kClusterNotFound)];
      if (options.explain) {
        d.rejections.push_back({-1, policy.cluster_names[i], RejectReason::kClusterNotFound,
                                "PickFixed names a cluster that is not a member of the fleet"});
      }
      continue;
    }
    fixed_share[it->second] = std::max(0, fixed_share[it->second]) + share;
  }
  return fixed_share;
}

// Cluster c's pools: the cheapest one a replica may use at all (best_pool, for kept
// replicas), the price tiers with room (into `tiers`, only when new replicas may come), and
// the furthest rejection reached when none has room.
Planner::Impl::PoolScan Planner::Impl::ScanPools(int c, const SizedRequest& sized,
                                                 const PolicyView& view, bool may_add) {
  const ClusterIndex& cx = index.clusters[c];
  PoolScan scan;
  tiers.clear();
  admissible.clear();
  auto reach = [&](RejectReason r) {
    scan.furthest = std::max(scan.furthest, static_cast<uint8_t>(r));
  };
  for (int p = cx.first_pool; p < cx.first_pool + cx.pool_count; ++p) {
    uint8_t pv = view.pool_verdict[p];
    if (pv != kPass) {
      scan.furthest = std::max(scan.furthest, pv);
      continue;
    }
    if (!sized.product_allowed[index.pools[p].shape]) {
      reach(RejectReason::kGpuProductNotAllowed);
      continue;
    }
    if (!sized.pool_allowed[p]) {
      reach(RejectReason::kNodeLabelsMismatch);
      continue;
    }
    const auto& est = sized.estimates[index.pools[p].shape];
    if (!est) {
      reach(RejectReason::kModelDoesNotFit);
      continue;
    }
    double cost = index.pools[p].price_per_unit * est->total_gpus();
    admissible.push_back(p);
    if (scan.best_pool < 0 || cost < scan.best_cost) {
      scan.best_pool = p;
      scan.best_cost = cost;
    }
    if (!may_add) continue;
    int cap = PoolCapacity(index, ledger, p, *est);
    if (cap > 0) {
      tiers.emplace_back(cost, cap);
    } else {
      reach(RejectReason::kInsufficientFreeGpus);
    }
  }
  return scan;
}

// One candidate per price tier: a cluster whose cheap pool is full should not win the next
// replicas on the strength of that pool (the rest of its room costs more).
void Planner::Impl::PushTiers(const Candidate& cand, double best_cost) {
  if (tiers.empty()) {
    Candidate only = cand;
    only.cost_per_replica = best_cost;
    candidates.push_back(std::move(only));
    return;
  }
  std::sort(tiers.begin(), tiers.end());
  for (size_t t = 0; t < tiers.size();) {
    size_t u = t;
    int cap = 0;
    while (u < tiers.size() && tiers[u].first <= tiers[t].first + 1e-9) cap += tiers[u++].second;
    Candidate tier = cand;
    tier.tier_cost = tier.cost_per_replica = tiers[t].first;
    tier.capacity = cap;
    if (t != 0) {
      tier.kept = 0;
      tier.kept_pools.clear();
    }
    candidates.push_back(std::move(tier));
    t = u;
  }
}

// Fills `candidates` with every cluster that may hold a replica (kept or new), one entry per
// price tier, and rejects the others into d. Returns how many clusters PickAll targets.
int Planner::Impl::GatherCandidates(const PlacementRequest& request, const SizedRequest& sized,
                                    const PlacementPolicySpec& policy, const PolicyView& view,
                                    const std::vector<int>& fixed_share,
                                    const DecideOptions& options, PlacementDecision& d) {
  const size_t n = index.clusters.size();
  const int replicas = std::max(0, request.replicas);
  if (!policy.rebalance) {
    for (const auto& [name, count] : request.current) {
      auto it = index.cluster_by_name.find(name);
      if (it != index.cluster_by_name.end()) kept_wanted[it->second] = std::max(0, count);
    }
  }
  candidates.clear();
  int pickall_targets = 0;
  warm.resize(n, 0);
  auto add_warm = [&](const std::unordered_map<std::string, std::vector<int>>& holders,
                      const std::string& key, uint8_t bit) {
    if (key.empty()) return;
    if (auto it = holders.find(key); it != holders.end()) {
      for (int c : it->second) warm[c] ^= bit;
    }
  };
  constexpr uint8_t kImageCached = 1, kModelCached = 2;
  add_warm(index.image_holders, request.image, kImageCached);
  add_warm(index.model_holders, request.model, kModelCached);
  auto reject = [&](int c, RejectReason r) {
    ++d.reason_counts[static_cast<size_t>(r)];
    if (options.explain)
      d.rejections.push_back({c, {}, r, RejectionMessage(index, ledger, policy, sized, c, r)});
    if (r >= RejectReason::kModelDoesNotFit) ++pickall_targets;
  };
  for (size_t ci = 0; ci < n; ++ci) {
    const int c = static_cast<int>(ci);
    if (!fixed_share.empty()) {
      if (fixed_share[c] < 0) continue;
      d.requested += fixed_share[c];
    }
    int want_keep = kept_wanted[c];
    if (policy.mode == PlacementMode::kPickFixed) want_keep = std::min(want_keep, fixed_share[c]);
    if (policy.mode == PlacementMode::kPickAll) want_keep = std::min(want_keep, replicas);
    uint8_t verdict_new = view.new_verdict[c];
    uint8_t verdict_keep = view.keep_verdict[c];
    if (view.dynamic_selector && verdict_keep == kPass) {
      bool any = false;
      for (const auto& t : policy.required.cluster_selector_terms) {
        if (MatchesTerm(index, ledger, c, t)) {
          any = true;
          break;
        }
      }
      if (!any)
        verdict_new = verdict_keep = static_cast<uint8_t>(RejectReason::kClusterSelectorMismatch);
    }
    if (verdict_new != kPass && (want_keep == 0 || verdict_keep != kPass)) {
      reject(c, static_cast<RejectReason>(verdict_new));
      continue;
    }
    const PoolScan scan = ScanPools(c, sized, view, verdict_new == kPass);
    int kept = (verdict_keep == kPass && scan.best_pool >= 0) ? want_keep : 0;
    if (tiers.empty() && kept == 0) {
      reject(c, static_cast<RejectReason>(verdict_new != kPass ? verdict_new : scan.furthest));
      continue;
    }
    ++pickall_targets;
    ++d.feasible_clusters;
    Candidate cand;
    cand.cluster = c;
    cand.kept = kept;
    cand.best_pool = scan.best_pool;
    if (kept > 0)
      KeepOnCurrentShapes(index, sized, request, c, admissible, scan.best_pool, kept,
                          cand.kept_pools);
    cand.locality_ms = view.locality_ms[c];
    cand.start_seconds =
        ExpectedStartSeconds(index.snapshot.clusters[c].startup, request.image,
                             warm[c] & kImageCached, request.weights_gib, warm[c] & kModelCached);
    if (view.dynamic_affinity) {
      for (const auto& pt : policy.preferred) {
        if (MatchesTerm(index, ledger, c, pt.term)) cand.affinity += pt.weight;
      }
    } else {
      cand.affinity = view.affinity[c];
    }
    PushTiers(cand, scan.best_cost);
  }
  for (const auto& [name, count] : request.current) {
    auto it = index.cluster_by_name.find(name);
    if (it != index.cluster_by_name.end()) kept_wanted[it->second] = 0;
  }
  add_warm(index.image_holders, request.image, kImageCached);  // reset the scratch (xor)
  add_warm(index.model_holders, request.model, kModelCached);
  return pickall_targets;
}

// Best score first; ties by cluster name, then by tier price (candidates were built in that
// order). Clusters the request avoids rank after every other feasible one: they get new
// replicas only when nothing else has room. Sorting small keys and permuting once beats
// moving candidates.
void Planner::Impl::RankCandidates(const PlacementRequest& request,
                                   const PlacementPolicySpec& policy) {
  ScoreCandidates(policy.scoring.weights, candidates);
  rank_keys.clear();
  std::vector<char> avoided;
  if (!request.avoid.empty()) {
    avoided.assign(index.clusters.size(), 0);
    for (const auto& name : request.avoid) {
      if (auto it = index.cluster_by_name.find(name); it != index.cluster_by_name.end()) avoided[it->second] = 1;
    }
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    const bool last = !avoided.empty() && avoided[candidates[i].cluster];
    rank_keys.emplace_back(-candidates[i].score.total + (last ? 1e12 : 0), static_cast<int>(i));
  }
  std::sort(rank_keys.begin(), rank_keys.end());
  ranked.clear();
  for (const auto& [key, i] : rank_keys) ranked.push_back(candidates[i]);
  candidates.swap(ranked);
}

// Chooses how many new replicas each ranked candidate gets, then holds back every new one
// when fewer than minAvailable would run.
SelectOutcome Planner::Impl::SelectReplicas(const PlacementPolicySpec& policy, int replicas,
                                            const std::vector<int>& fixed_share,
                                            int pickall_targets, PlacementDecision& d) {
  SelectOutcome outcome;
  switch (policy.mode) {
    case PlacementMode::kPickN: {
      d.requested = replicas;
      // More replicas running than wanted: the lowest-ranked clusters give theirs up first.
      int excess = -replicas;
      for (const auto& c : candidates) excess += c.kept;
      for (auto it = candidates.rbegin(); it != candidates.rend() && excess > 0; ++it) {
        int drop = std::min(excess, it->kept);
        it->kept -= drop;
        excess -= drop;
      }
      outcome = SelectPickN(index, policy, replicas, candidates);
      break;
    }
    case PlacementMode::kPickAll:
    case PlacementMode::kPickFixed: {
      if (policy.mode == PlacementMode::kPickAll)
        d.requested = replicas * std::max(1, pickall_targets);
      quota.assign(index.clusters.size(), 0);
      for (const auto& c : candidates) {
        quota[c.cluster] =
            policy.mode == PlacementMode::kPickAll ? replicas : fixed_share[c.cluster];
      }
      for (const auto& c : candidates) quota[c.cluster] -= c.kept;
      for (auto& c : candidates) {  // ranked order: a cluster's cheaper tier first
        c.assigned = std::clamp(quota[c.cluster], 0, c.capacity);
        quota[c.cluster] -= c.assigned;
      }
      break;
    }
  }

  int placed = 0;
  for (const auto& c : candidates) placed += c.kept + c.assigned;
  const int min_available = std::min(policy.min_available, d.requested);
  // Select already gave up on NotEnoughClusters/NotEnoughDomains (a more precise reason).
  if (placed > 0 && placed < min_available && outcome.reason != "NotEnoughClusters" &&
      outcome.reason != "NotEnoughDomains") {
    for (auto& c : candidates) c.assigned = 0;
    outcome = {"MinAvailableNotMet",
               "only " + std::to_string(placed) + " replica(s) fit but minAvailable is " +
                   std::to_string(min_available) + "; nothing new was placed"};
  }
  return outcome;
}

// Why replicas stayed unplaced: the select outcome's reason, or no feasible cluster, or no
// room; and which rejections dominate, since that is what the user must change.
void Planner::Impl::ExplainUnplaced(const SelectOutcome& outcome, PlacementDecision& d) const {
  const size_t n = index.clusters.size();
  if (!outcome.reason.empty()) {
    d.unplaced_reason = outcome.reason;
    d.unplaced_message = outcome.message;
  } else if (candidates.empty()) {
    d.unplaced_reason = "NoFeasibleCluster";
  } else {
    d.unplaced_reason = "InsufficientCapacity";
    d.unplaced_message =
        std::to_string(d.requested - d.placed) + " replica(s) found no room on their clusters";
  }
  std::vector<std::pair<int, int>> counts;
  for (size_t r = 0; r < d.reason_counts.size(); ++r) {
    if (d.reason_counts[r] > 0) counts.emplace_back(d.reason_counts[r], static_cast<int>(r));
  }
  std::sort(counts.begin(), counts.end(), [](auto a, auto b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  if (!counts.empty()) {
    std::string summary;
    for (size_t i = 0; i < counts.size() && i < 4; ++i) {
      summary += (i ? ", " : "") + std::to_string(counts[i].first) + " " +
                 std::string(RejectReasonName(static_cast<RejectReason>(counts[i].second)));
    }
    std::string prefix = d.unplaced_message.empty() ? "" : d.unplaced_message + "; ";
    d.unplaced_message = prefix + std::to_string(d.feasible_clusters) + " of " + std::to_string(n) +
                         " clusters fit; rejected: " + summary;
  }
  if (d.unplaced_message.empty() && n == 0) {
    d.unplaced_message =
        "no member cluster has joined the fleet: create a join token (berthctl token create) "
        "and start a berth-agent";
  }
}

// One score row per cluster: its best-ranked tier, with the replicas of all its tiers.
void Planner::Impl::ExplainScores(PlacementDecision& d) {
  quota.assign(index.clusters.size(), -1);
  for (const auto& c : candidates) {
    if (quota[c.cluster] >= 0) {
      d.scores[quota[c.cluster]].replicas += c.kept + c.assigned;
      d.scores[quota[c.cluster]].capacity += c.capacity;
      continue;
    }
    quota[c.cluster] = static_cast<int>(d.scores.size());
    ClusterScore s = c.score;
    s.replicas = c.kept + c.assigned;
    d.scores.push_back(s);
  }
}

PlacementDecision Planner::Impl::Decide(const PlacementRequest& request, const SizedRequest& sized,
                                        const DecideOptions& options) {
  const auto& policy_ptr = request.policy ? request.policy : default_policy;
  const PlacementPolicySpec& policy = *policy_ptr;
  const PolicyView& view = View(policy_ptr);
  const int replicas = std::max(0, request.replicas);

  PlacementDecision d;
  d.workspace = request.workspace;
  const std::vector<int> fixed_share = FixedShares(policy, replicas, options, d);
  const int pickall_targets =
      GatherCandidates(request, sized, policy, view, fixed_share, options, d);
  RankCandidates(request, policy);
  const SelectOutcome outcome = SelectReplicas(policy, replicas, fixed_share, pickall_targets, d);
  d.placed = 0;
  for (const auto& c : candidates) Commit(request, sized, view, c, d);
  if (d.placed < d.requested && d.unplaced_reason.empty()) ExplainUnplaced(outcome, d);
  if (options.explain) ExplainScores(d);
  return d;
}

void Planner::Impl::Commit(const PlacementRequest& request, const SizedRequest& sized,
                           const PolicyView& view, const Candidate& cand, PlacementDecision& d) {
  const std::string& cluster_name = index.snapshot.clusters[cand.cluster].name;
  auto add_row = [&](int pool, int count, int kept) {
    const auto& est = *sized.estimates[index.pools[pool].shape];
    const std::string& label = index.shapes[index.pools[pool].shape].label;
    double cost = index.pools[pool].price_per_unit * est.total_gpus() * count;
    for (auto& a : d.allocations) {
      if (a.cluster == cluster_name && a.gpu == label && a.gpus_per_replica == est.total_gpus()) {
        a.replicas += count;
        a.kept += kept;
        a.cost_per_hour += cost;
        return;
      }
    }
    d.allocations.push_back({cluster_name, label, est.total_gpus(), est.nodes, count, kept, cost,
                             sized.selector_honoured[cand.cluster]});
  };
  int keep = cand.kept;
  for (const auto& [pool, count] : cand.kept_pools) {
    const int here = std::min(keep, count);
    if (here > 0) add_row(pool, here, here);
    keep -= here;
  }
  d.placed += cand.kept;
  int left = cand.assigned;
  if (left == 0) return;
  const ClusterIndex& cx = index.clusters[cand.cluster];
  std::vector<std::pair<double, int>> pools;  // cost per replica, pool
  for (int p = cx.first_pool; p < cx.first_pool + cx.pool_count; ++p) {
    const int shape = index.pools[p].shape;
    if (view.pool_verdict[p] != kPass || !sized.product_allowed[shape] || !sized.pool_allowed[p] ||
        !sized.estimates[shape])
      continue;
    double cost = index.pools[p].price_per_unit * sized.estimates[shape]->total_gpus();
    if (std::abs(cost - cand.tier_cost) > 1e-9) continue;
    pools.emplace_back(cost, p);
  }
  std::sort(pools.begin(), pools.end());
  std::vector<std::pair<int, int>> touched;  // node, units
  for (const auto& [cost, p] : pools) {
    if (left == 0) break;
    const PoolIndex& pool = index.pools[p];
    const auto& est = *sized.estimates[pool.shape];
    const int k = est.gpus_per_node;
    int placed_here = 0;
    while (left > 0) {
      // Best fit for one-node replicas (least free node that fits keeps big holes whole);
      // most free first for multi-node ones (that is what makes the capacity bound reachable).
      std::vector<int> chosen;
      if (est.nodes == 1) {
        int best = -1;
        for (int nd = pool.first_node; nd < pool.first_node + pool.node_count; ++nd) {
          if (ledger.free[nd] >= k && (best < 0 || ledger.free[nd] < ledger.free[best])) best = nd;
        }
        if (best >= 0) chosen.push_back(best);
      } else {
        std::vector<int> fits;
        for (int nd = pool.first_node; nd < pool.first_node + pool.node_count; ++nd) {
          if (ledger.free[nd] >= k) fits.push_back(nd);
        }
        if (static_cast<int>(fits.size()) >= est.nodes) {
          std::stable_sort(fits.begin(), fits.end(),
                           [&](int a, int b) { return ledger.free[a] > ledger.free[b]; });
          chosen.assign(fits.begin(), fits.begin() + est.nodes);
        }
      }
      if (chosen.empty()) break;
      for (int nd : chosen) {
        ledger.free[nd] -= k;
        ledger.cluster_free[cand.cluster] -= k;
        auto it =
            std::find_if(touched.begin(), touched.end(), [nd](auto& t) { return t.first == nd; });
        if (it == touched.end())
          touched.emplace_back(nd, k);
        else
          it->second += k;
      }
      --left;
      ++placed_here;
    }
    if (placed_here > 0) add_row(p, placed_here, 0);
    d.placed += placed_here;
  }
  if (touched_out) {
    touched_out->insert(touched_out->end(), touched.begin(), touched.end());
    return;
  }
  for (const auto& [nd, units] : touched) {
    const NodeRef& ref = index.nodes[nd];
    ledger.made.push_back({request.workspace, cluster_name,
                           index.snapshot.clusters[ref.cluster].nodes[ref.node].name, units});
  }
}

}  // namespace berth::placement
