// Replica relocation: a bounded local search over the new replicas of cost-only workspaces
// after a batch (docs/PLACEMENT.md "Batch"). Two moves, both on single-node replicas:
//
//   relocate  replica r goes to a cheaper node that has room for it;
//   chain     the cheaper node is full, so one replica s of another workspace leaves it for
//             the cheapest other node with room (possibly the one r frees), when r's saving
//             is larger than what s pays extra;
//   pair      as chain, but r needs the units of two such replicas s1, s2 of one node (a
//             32 B model needs two A100s where 27 B models take one each): s1 goes to its
//             cheapest node with room, then s2, counting what r frees and s1 takes.
//
// The chain is what the greedy order misses: medium models decided early take the cheap
// GPUs, the small models decided last pay for expensive slices, and the optimum moves the
// medium models to their second-cheapest option. Moves never change how many replicas a
// workspace has, only touch new replicas (kept ones are sticky), keep every node within its
// free units, and respect minClusters/maxClusters; work is capped so a 10,000-workspace
// batch stays fast. Iteration orders are fixed, so the result is deterministic.
#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "placement/engine_internal.h"

namespace berth::placement::internal {

namespace {

constexpr double kEps = 1e-6;

struct Replica {
  int ws = 0;    // index into the requests
  int node = 0;  // flat node index
};

class Relocation {
 public:
  Relocation(const FleetIndex& index, Ledger& ledger, const std::vector<RelocationInput>& inputs,
             std::vector<PlacementDecision>& out, std::vector<Touched>& touched)
      : ix_(index), ledger_(ledger), in_(inputs), out_(out), touched_(touched) {}

  void Run(int64_t budget, bool explain);

 private:
  // Units one replica of ws takes on a node of this pool (0: cannot move there).
  int Units(int ws, int pool) const {
    return units_[static_cast<size_t>(ws) * nshapes_ + ix_.pools[pool].shape];
  }
  double Cost(int ws, int pool) const { return ix_.pools[pool].price_per_unit * Units(ws, pool); }
  bool Allowed(int ws, int pool) const {
    const PolicyView& v = *in_[ws].view;
    return Units(ws, pool) > 0 && v.pool_verdict[pool] == kPass && in_[ws].sized->pool_allowed[pool] &&
           v.new_verdict[ix_.pools[pool].cluster] == kPass;
  }
  // Calls fn(pool, cost) for the pools ws may move to, cheapest first, while cost < limit;
  // stops early when fn returns false.
  template <typename Fn>
  void ForEachPool(int ws, double limit, Fn fn);
  bool ClustersOk(int ws, int from_cluster, int to_cluster) const;
  // Units that come back to (or are taken from) a node in a move being weighed.
  struct Delta {
    int node;
    int units;
  };
  // The node of pool with room for ws (after the deltas): the least free node that fits,
  // so big holes stay whole; never `skip`. -1 if none.
  int FitNode(int ws, int pool, std::initializer_list<Delta> deltas, int skip) const;
  struct Destination {
    int node = -1;
    double cost = 0;
  };
  // The cheapest node with room (after the deltas, never `skip`) a replica of ws on a node
  // of from_cluster may move to, if it costs less than limit.
  Destination Cheapest(int ws, int from_cluster, double limit, std::initializer_list<Delta> deltas,
                       int skip);
  // The best move of replica rep found so far: to `to`, after s (and s2) leave it.
  struct Plan {
    double net = kEps;
    int to = -1, s = -1, s_to = -1, s2 = -1, s2_to = -1;
  };
  void ChainsInto(int rep, int pool, double gain, Plan& best, int64_t budget);
  void PairsInto(int rep, int pool, double gain, Plan& best, int64_t budget);
  bool ImproveReplica(int rep, int64_t budget);
  void Move(int rep, int to_node);
  void FixExplanation(int ws);

  const FleetIndex& ix_;
  Ledger& ledger_;
  const std::vector<RelocationInput>& in_;
  std::vector<PlacementDecision>& out_;
  std::vector<Touched>& touched_;
  size_t nshapes_ = 0;
  std::vector<int> units_;                     // ws × shape
  std::vector<int> pool_of_node_;              // flat node → pool
  std::vector<std::vector<int>> shape_pools_;  // shape → pools by price
  std::vector<Replica> reps_;
  std::vector<std::vector<int>> node_reps_;                 // flat node → movable replicas
  std::vector<std::vector<std::pair<int, int>>> clusters_;  // ws → (cluster, replicas)
  std::vector<char> changed_;
  bool pairs_ = false;  // pair moves are weighed (the second phase)
  mutable int64_t work_ = 0;  // pools and nodes looked at, against the budget
};

template <typename Fn>
void Relocation::ForEachPool(int ws, double limit, Fn fn) {
  // k-way merge of the per-shape price lists: a workspace fits a handful of shapes.
  struct Cursor {
    int shape;
    size_t at;
  };
  Cursor cursors[16];
  int ncur = 0;
  for (size_t s = 0; s < nshapes_ && ncur < 16; ++s) {
    if (units_[static_cast<size_t>(ws) * nshapes_ + s] > 0 && !shape_pools_[s].empty())
      cursors[ncur++] = {static_cast<int>(s), 0};
  }
  while (ncur > 0) {
    int best = -1;
    double best_cost = 0;
    for (int c = 0; c < ncur; ++c) {
      double cost = Cost(ws, shape_pools_[cursors[c].shape][cursors[c].at]);
      if (best < 0 || cost < best_cost - 1e-12) {
        best = c;
        best_cost = cost;
      }
    }
    if (best_cost >= limit) return;
    const int pool = shape_pools_[cursors[best].shape][cursors[best].at];
    ++work_;
    if (Allowed(ws, pool) && !fn(pool, best_cost)) return;
    if (++cursors[best].at == shape_pools_[cursors[best].shape].size())
      cursors[best] = cursors[--ncur];
  }
}

bool Relocation::ClustersOk(int ws, int from, int to) const {
  if (from == to) return true;
  const auto& counts = clusters_[ws];
  int distinct = static_cast<int>(counts.size());
  int after = distinct;
  for (const auto& [c, n] : counts) {
    if (c == from && n == 1) --after;
  }
  bool to_present =
      std::any_of(counts.begin(), counts.end(), [to](const auto& e) { return e.first == to; });
  if (!to_present) ++after;
  const auto& policy = *in_[ws].policy;
  if (policy.max_clusters > 0 && after > policy.max_clusters) return false;
  return after >= std::min(distinct, policy.min_clusters);
}

int Relocation::FitNode(int ws, int pool, std::initializer_list<Delta> deltas, int skip) const {
  const PoolIndex& p = ix_.pools[pool];
  const int k = Units(ws, pool);
  work_ += p.node_count;
  int best = -1, best_free = 0;
  for (int nd = p.first_node; nd < p.first_node + p.node_count; ++nd) {
    if (nd == skip) continue;
    int f = ledger_.free[nd];
    for (const Delta& d : deltas) f += d.node == nd ? d.units : 0;
    if (f >= k && (best < 0 || f < best_free)) {
      best = nd;
      best_free = f;
    }
  }
  return best;
}

Relocation::Destination Relocation::Cheapest(int ws, int from_cluster, double limit,
                                              std::initializer_list<Delta> deltas, int skip) {
  Destination out;
  ForEachPool(ws, limit, [&](int pool, double cost) {
    if (!ClustersOk(ws, from_cluster, ix_.pools[pool].cluster)) return true;
    const int to = FitNode(ws, pool, deltas, skip);
    if (to < 0) return true;
    out = {to, cost};
    return false;
  });
  return out;
}

// Chains into a full node of `pool`: one replica s there leaves for its cheapest other node.
void Relocation::ChainsInto(int rep, int pool, double gain, Plan& best, int64_t budget) {
  const int w = reps_[rep].ws, a = reps_[rep].node;
  const int ka = Units(w, pool_of_node_[a]), kb = Units(w, pool);
  const PoolIndex& pb = ix_.pools[pool];
  for (int nd = pb.first_node; nd < pb.first_node + pb.node_count; ++nd) {
    for (int s : node_reps_[nd]) {
      const int ws = reps_[s].ws;
      if (ws == w || ledger_.free[nd] + Units(ws, pool) < kb) continue;
      const double cs = Cost(ws, pool);
      Destination d = Cheapest(ws, pb.cluster, cs + gain - best.net, {{a, ka}}, nd);
      if (d.node >= 0 && gain - (d.cost - cs) > best.net) best = {gain - (d.cost - cs), nd, s, d.node};
      if (work_ >= budget) return;
    }
  }
}

// Pairs into a full node of `pool`: s1 and s2 there both leave (no single one frees enough).
// Two replicas of one workspace move together only without cluster-count limits, which
// ClustersOk checks one replica at a time.
void Relocation::PairsInto(int rep, int pool, double gain, Plan& best, int64_t budget) {
  const int w = reps_[rep].ws, a = reps_[rep].node;
  const int ka = Units(w, pool_of_node_[a]), kb = Units(w, pool);
  const PoolIndex& pb = ix_.pools[pool];
  for (int nd = pb.first_node; nd < pb.first_node + pb.node_count; ++nd) {
    const std::vector<int>& on = node_reps_[nd];
    for (size_t i = 0; i < on.size(); ++i) {
      const int s1 = on[i], ws1 = reps_[s1].ws, k1 = Units(ws1, pool);
      if (ws1 == w || ledger_.free[nd] + k1 >= kb) continue;  // a chain's case
      const double c1 = Cost(ws1, pool);
      Destination d1 = Cheapest(ws1, pb.cluster, c1 + gain - best.net, {{a, ka}}, nd);
      if (d1.node < 0) continue;
      const double left = gain - (d1.cost - c1);
      const Delta taken{d1.node, -Units(ws1, pool_of_node_[d1.node])};
      for (size_t j = i + 1; j < on.size() && work_ < budget; ++j) {
        const int s2 = on[j], ws2 = reps_[s2].ws;
        if (ws2 == w || ledger_.free[nd] + k1 + Units(ws2, pool) < kb) continue;
        if (ws2 == ws1 && (in_[ws1].policy->max_clusters > 0 || in_[ws1].policy->min_clusters > 1))
          continue;
        const double c2 = Cost(ws2, pool);
        Destination d2 = Cheapest(ws2, pb.cluster, c2 + left - best.net, {{a, ka}, taken}, nd);
        if (d2.node >= 0 && left - (d2.cost - c2) > best.net)
          best = {left - (d2.cost - c2), nd, s1, d1.node, s2, d2.node};
      }
      if (work_ >= budget) return;
    }
  }
}

// Moves replica rep to its best cheaper place, if any; true when it moved.
bool Relocation::ImproveReplica(int rep, int64_t budget) {
  const int w = reps_[rep].ws;
  const int a = reps_[rep].node;
  const int a_pool = pool_of_node_[a];
  const double c0 = Cost(w, a_pool);
  const int ka = Units(w, a_pool);
  const int a_cluster = ix_.nodes[a].cluster;
  Plan best;  // on the cheapest pool where a move exists
  ForEachPool(w, c0 - kEps, [&](int pool, double cost) {
    if (!ClustersOk(w, a_cluster, ix_.pools[pool].cluster)) return true;
    const double gain = c0 - cost;
    if (gain <= best.net) return false;  // pools only get dearer from here
    int fit = FitNode(w, pool, {{a, ka}}, -1);
    if (fit >= 0 && fit != a) {
      best = {gain, fit};
      return false;
    }
    ChainsInto(rep, pool, gain, best, budget);
    if (pairs_ && best.to < 0 && work_ < budget) PairsInto(rep, pool, gain, best, budget);
    return best.to < 0 && work_ < budget;  // first pool with a chain wins; else dearer pools
  });
  if (best.to < 0) return false;
  if (best.s >= 0) Move(best.s, best.s_to);
  if (best.s2 >= 0) Move(best.s2, best.s2_to);
  Move(rep, best.to);
  return true;
}

void Relocation::Move(int rep, int to) {
  Replica& r = reps_[rep];
  const int ws = r.ws, from = r.node;
  const int from_pool = pool_of_node_[from], to_pool = pool_of_node_[to];
  const int ku = Units(ws, from_pool), kv = Units(ws, to_pool);
  const int from_cluster = ix_.nodes[from].cluster, to_cluster = ix_.nodes[to].cluster;
  ledger_.free[from] += ku;
  ledger_.cluster_free[from_cluster] += ku;
  ledger_.free[to] -= kv;
  ledger_.cluster_free[to_cluster] -= kv;

  Touched& t = touched_[ws];
  for (auto it = t.begin(); it != t.end(); ++it) {
    if (it->first == from) {
      if ((it->second -= ku) == 0) t.erase(it);
      break;
    }
  }
  auto tt = std::find_if(t.begin(), t.end(), [to](const auto& e) { return e.first == to; });
  if (tt == t.end())
    t.emplace_back(to, kv);
  else
    tt->second += kv;

  PlacementDecision& d = out_[ws];
  const std::string& from_name = ix_.snapshot.clusters[from_cluster].name;
  const std::string& to_name = ix_.snapshot.clusters[to_cluster].name;
  const std::string& from_label = ix_.shapes[ix_.pools[from_pool].shape].label;
  const std::string& to_label = ix_.shapes[ix_.pools[to_pool].shape].label;
  for (auto it = d.allocations.begin(); it != d.allocations.end(); ++it) {
    if (it->cluster == from_name && it->gpu == from_label && it->gpus_per_replica == ku &&
        it->replicas > it->kept) {
      it->cost_per_hour -= Cost(ws, from_pool);
      if (--it->replicas == 0) d.allocations.erase(it);
      break;
    }
  }
  auto at = std::find_if(d.allocations.begin(), d.allocations.end(), [&](const Allocation& a) {
    return a.cluster == to_name && a.gpu == to_label && a.gpus_per_replica == kv;
  });
  if (at == d.allocations.end()) {
    d.allocations.push_back({to_name, to_label, kv, 1, 1, 0, Cost(ws, to_pool),
                             in_[ws].sized->selector_honoured[ix_.pools[to_pool].cluster]});
  } else {
    ++at->replicas;
    at->cost_per_hour += Cost(ws, to_pool);
  }

  auto& counts = clusters_[ws];
  for (auto it = counts.begin(); it != counts.end(); ++it) {
    if (it->first == from_cluster) {
      if (--it->second == 0) counts.erase(it);
      break;
    }
  }
  auto ct = std::find_if(counts.begin(), counts.end(),
                         [to_cluster](const auto& e) { return e.first == to_cluster; });
  if (ct == counts.end())
    counts.emplace_back(to_cluster, 1);
  else
    ++ct->second;

  auto& from_list = node_reps_[from];
  from_list.erase(std::find(from_list.begin(), from_list.end(), rep));
  node_reps_[to].push_back(rep);
  r.node = to;
  changed_[ws] = 1;
}

// Scores describe the greedy decision; after moves the per-cluster replica counts must
// match the allocations, and a cluster that now holds replicas is no longer "rejected".
void Relocation::FixExplanation(int ws) {
  PlacementDecision& d = out_[ws];
  std::vector<std::pair<int, int>> per_cluster;
  for (const auto& a : d.allocations) {
    int c = ix_.cluster_by_name.at(a.cluster);
    auto it = std::find_if(per_cluster.begin(), per_cluster.end(),
                           [c](const auto& e) { return e.first == c; });
    if (it == per_cluster.end())
      per_cluster.emplace_back(c, a.replicas);
    else
      it->second += a.replicas;
  }
  for (auto& s : d.scores) {
    s.replicas = 0;
    for (const auto& [c, n] : per_cluster) {
      if (c == s.cluster) s.replicas = n;
    }
  }
  for (const auto& [cluster, n] : per_cluster) {
    const int c = cluster;  // clang 14 cannot capture a structured binding
    bool listed = std::any_of(d.scores.begin(), d.scores.end(),
                              [c](const ClusterScore& s) { return s.cluster == c; });
    if (listed) continue;
    auto rj = std::find_if(d.rejections.begin(), d.rejections.end(),
                           [c](const ClusterRejection& r) { return r.cluster == c; });
    if (rj != d.rejections.end()) {
      --d.reason_counts[static_cast<size_t>(rj->reason)];
      d.rejections.erase(rj);
    }
    ++d.feasible_clusters;
    ClusterScore s;
    s.cluster = c;
    s.replicas = n;
    d.scores.push_back(s);  // no greedy score: room opened only after its decision
  }
}

void Relocation::Run(int64_t budget, bool explain) {
  const size_t nws = in_.size();
  nshapes_ = ix_.shapes.size();
  units_.assign(nws * nshapes_, 0);
  pool_of_node_.assign(ix_.nodes.size(), -1);
  for (size_t p = 0; p < ix_.pools.size(); ++p) {
    for (int nd = ix_.pools[p].first_node; nd < ix_.pools[p].first_node + ix_.pools[p].node_count;
         ++nd)
      pool_of_node_[nd] = static_cast<int>(p);
  }
  node_reps_.assign(ix_.nodes.size(), {});
  clusters_.assign(nws, {});
  changed_.assign(nws, 0);
  bool any = false;
  for (size_t w = 0; w < nws; ++w) {
    if (!in_[w].movable) continue;
    const SizedRequest& sz = *in_[w].sized;
    for (size_t s = 0; s < nshapes_; ++s) {
      const auto& est = sz.estimates[s];
      if (est && est->nodes == 1 && sz.product_allowed[s])
        units_[w * nshapes_ + s] = est->gpus_per_node;
    }
    for (const auto& a : out_[w].allocations) {
      int c = ix_.cluster_by_name.at(a.cluster);
      auto it = std::find_if(clusters_[w].begin(), clusters_[w].end(),
                             [c](const auto& e) { return e.first == c; });
      if (it == clusters_[w].end())
        clusters_[w].emplace_back(c, a.replicas);
      else
        it->second += a.replicas;
    }
    for (const auto& [nd, u] : touched_[w]) {
      const int k = Units(static_cast<int>(w), pool_of_node_[nd]);
      if (k <= 0) continue;  // multi-node replicas stay where they are
      for (int i = 0; i < u / k; ++i) {
        node_reps_[nd].push_back(static_cast<int>(reps_.size()));
        reps_.push_back({static_cast<int>(w), nd});
      }
      any = true;
    }
  }
  if (!any) return;
  shape_pools_.assign(nshapes_, {});
  for (size_t p = 0; p < ix_.pools.size(); ++p)
    shape_pools_[ix_.pools[p].shape].push_back(static_cast<int>(p));
  for (auto& list : shape_pools_) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      return ix_.pools[a].price_per_unit < ix_.pools[b].price_per_unit;
    });
  }

  // Relocations and chains first, until a pass finds nothing; only then pairs, from that
  // local optimum: pair moves taken early lead the search elsewhere, often somewhere worse.
  constexpr int kPasses = 4;
  for (pairs_ = false;; pairs_ = true) {
    for (int pass = 0; pass < kPasses && work_ < budget; ++pass) {
      bool improved = false;
      for (size_t ri = 0; ri < reps_.size() && work_ < budget; ++ri)
        improved = ImproveReplica(static_cast<int>(ri), budget) || improved;
      if (!improved) break;
    }
    if (pairs_ || work_ >= budget) break;
  }
  if (explain) {
    for (size_t w = 0; w < nws; ++w) {
      if (changed_[w]) FixExplanation(static_cast<int>(w));
    }
  }
}

}  // namespace

void RelocateForCost(const FleetIndex& index, Ledger& ledger,
                     const std::vector<RelocationInput>& inputs,
                     std::vector<PlacementDecision>& out, std::vector<Touched>& touched,
                     int64_t work_budget, bool explain) {
  Relocation(index, ledger, inputs, out, touched).Run(work_budget, explain);
}

}  // namespace berth::placement::internal
