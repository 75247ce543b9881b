// Filter: which clusters can take a replica, and why the others cannot.
// Static checks (health, taints, regions, labels, GPU product/price/driver/CUDA) depend only
// on the policy, so a batch computes them once per policy (PolicyView). Capacity depends on
// the ledger and is checked per decision, per node: a replica needs `nodes` distinct nodes
// each with `gpus_per_node` free units of the pool's shape — never cluster totals.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "placement/engine_internal.h"
#include "placement/taints.h"
#include "workspace/catalog.h"

namespace berth::placement {

bool Tolerates(const policies::Toleration& t, const Taint& taint) {
  if (t.effect && *t.effect != taint.effect) return false;
  if (t.op == policies::TolerationOperator::kExists) return t.key.empty() || t.key == taint.key;
  return t.key == taint.key && t.value == taint.value;
}

}  // namespace berth::placement

namespace berth::placement::internal {

using policies::ClusterProperty;
using policies::PlacementPolicySpec;
using policies::PropertyOperator;
using policies::SelectorOperator;
using policies::TaintEffect;
using policies::TolerationOperator;

namespace {

bool MatchesLabels(const ClusterInventory& c, const policies::LabelSelector& sel) {
  for (const auto& [k, v] : sel.match_labels) {
    auto it = c.labels.find(k);
    if (it == c.labels.end() || it->second != v) return false;
  }
  for (const auto& e : sel.match_expressions) {
    auto it = c.labels.find(e.key);
    bool has = it != c.labels.end();
    switch (e.op) {
      case SelectorOperator::kExists:
        if (!has) return false;
        break;
      case SelectorOperator::kDoesNotExist:
        if (has) return false;
        break;
      case SelectorOperator::kIn:
        if (!has || std::find(e.values.begin(), e.values.end(), it->second) == e.values.end())
          return false;
        break;
      case SelectorOperator::kNotIn:
        if (has && std::find(e.values.begin(), e.values.end(), it->second) != e.values.end())
          return false;
        break;
    }
  }
  return true;
}

double PropertyValue(const FleetIndex& index, const Ledger& ledger, int cluster,
                     ClusterProperty p) {
  const ClusterIndex& ci = index.clusters[cluster];
  switch (p) {
    case ClusterProperty::kFreeGpus:
      return ledger.cluster_free[cluster];
    case ClusterProperty::kTotalGpus:
      return ci.total_units;
    case ClusterProperty::kNodes:
      return ci.node_count;
    case ClusterProperty::kMinPricePerGpuHour:
      return ci.min_price;
    case ClusterProperty::kMaxFreeGpusPerNode: {
      int best = 0;
      for (int p2 = ci.first_pool; p2 < ci.first_pool + ci.pool_count; ++p2) {
        const PoolIndex& pool = index.pools[p2];
        for (int n = pool.first_node; n < pool.first_node + pool.node_count; ++n) {
          best = std::max(best, ledger.free[n]);
        }
      }
      return best;
    }
  }
  return 0;
}

bool Compare(double lhs, PropertyOperator op, double rhs) {
  switch (op) {
    case PropertyOperator::kGt:
      return lhs > rhs;
    case PropertyOperator::kGe:
      return lhs >= rhs;
    case PropertyOperator::kEq:
      return lhs == rhs;
    case PropertyOperator::kNe:
      return lhs != rhs;
    case PropertyOperator::kLt:
      return lhs < rhs;
    case PropertyOperator::kLe:
      return lhs <= rhs;
  }
  return false;
}

// Returns {for new replicas, for running replicas}. A NoExecute taint tolerated only for
// tolerationSeconds lets running replicas stay (the failover controller evicts them when
// the time is up) but takes no new ones: they would be evicted anyway.
std::pair<bool, bool> TaintsAllow(const ClusterInventory& c, const PlacementPolicySpec& policy) {
  bool allow_new = true, allow_keep = true;
  for (const Taint& taint : c.taints) {
    if (taint.effect == TaintEffect::kPreferNoSchedule) continue;
    bool tolerated = false, tolerated_forever = false;
    for (const auto& t : policy.tolerations) {
      if (!Tolerates(t, taint)) continue;
      tolerated = true;
      if (!t.toleration_seconds) tolerated_forever = true;
    }
    if (!tolerated) return {false, false};
    if (taint.effect == TaintEffect::kNoExecute && !tolerated_forever) allow_new = false;
  }
  return {allow_new, allow_keep};
}

bool ProductAllowed(const PlacementPolicySpec& policy, const GpuNode& node) {
  const auto& allowed = policy.required.gpu_products;
  if (allowed.empty()) return true;
  auto eq = [](const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& p : allowed) {
    if (eq(p, node.gpu_product)) return true;
    // Accept GFD product labels too ("NVIDIA-A100-SXM4-80GB" means A100-80GB).
    if (auto info = workspace::Catalog::BuiltIn().FindGpu(p);
        info.ok() && eq(info->name, node.gpu_product)) {
      return true;
    }
    if (!node.mig_profile.empty() && eq(p, node.gpu_product + "/" + node.mig_profile)) return true;
  }
  return false;
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

bool MatchesTerm(const FleetIndex& index, const Ledger& ledger, int cluster,
                 const policies::ClusterTerm& term) {
  if (!MatchesLabels(index.snapshot.clusters[cluster], term.label_selector)) return false;
  for (const auto& req : term.property_selector) {
    if (!Compare(PropertyValue(index, ledger, cluster, req.property), req.op, req.value))
      return false;
  }
  return true;
}

PolicyView BuildPolicyView(const FleetIndex& index,
                           std::shared_ptr<const policies::PlacementPolicySpec> policy_ptr) {
  const PlacementPolicySpec& policy = *policy_ptr;
  PolicyView view;
  view.keep_alive = policy_ptr;
  const size_t n = index.clusters.size();
  view.new_verdict.assign(n, kPass);
  view.keep_verdict.assign(n, kPass);
  view.locality_ms.assign(n, 0);
  view.affinity.assign(n, 0);
  for (const auto& t : policy.required.cluster_selector_terms) {
    if (!t.property_selector.empty()) view.dynamic_selector = true;
  }
  for (const auto& p : policy.preferred) {
    if (!p.term.property_selector.empty()) view.dynamic_affinity = true;
  }
  std::vector<std::pair<int, double>> demand;
  for (const auto& d : policy.scoring.demand_regions) {
    auto it = index.region_by_name.find(d.region);
    demand.emplace_back(it == index.region_by_name.end() ? -1 : it->second, d.share);
  }
  Ledger no_ledger;  // label-only terms never read it
  for (size_t c = 0; c < n; ++c) {
    const ClusterInventory& cluster = index.snapshot.clusters[c];
    auto set = [&](RejectReason r) {
      view.new_verdict[c] = view.keep_verdict[c] = static_cast<uint8_t>(r);
    };
    if (cluster.health != ClusterHealth::kHealthy) {
      set(RejectReason::kClusterUnhealthy);
    } else if (auto [allow_new, allow_keep] = TaintsAllow(cluster, policy); !allow_keep) {
      set(RejectReason::kTaintNotTolerated);
    } else {
      if (!allow_new) view.new_verdict[c] = static_cast<uint8_t>(RejectReason::kTaintNotTolerated);
      const auto& regions = policy.required.allowed_regions;
      if (!regions.empty() &&
          std::find(regions.begin(), regions.end(), cluster.region()) == regions.end()) {
        set(RejectReason::kRegionNotAllowed);
      } else if (!view.dynamic_selector && !policy.required.cluster_selector_terms.empty()) {
        bool any = false;
        for (const auto& t : policy.required.cluster_selector_terms) {
          if (MatchesLabels(cluster, t.label_selector)) {
            any = true;
            break;
          }
        }
        if (!any) set(RejectReason::kClusterSelectorMismatch);
      }
    }
    if (view.new_verdict[c] == kPass && index.clusters[c].pool_count == 0) {
      view.new_verdict[c] = static_cast<uint8_t>(RejectReason::kNoGpuNodes);
    }
    if (view.keep_verdict[c] == kPass && index.clusters[c].pool_count == 0) {
      view.keep_verdict[c] = static_cast<uint8_t>(RejectReason::kNoGpuNodes);
    }
    double latency = 0;
    for (const auto& [region, share] : demand) {
      latency += share *
                 (region < 0 ? kUnknownLatencyMs : index.Latency(index.clusters[c].region, region));
    }
    view.locality_ms[c] = latency;
    if (!view.dynamic_affinity) {
      for (const auto& p : policy.preferred) {
        if (MatchesLabels(cluster, p.term.label_selector)) view.affinity[c] += p.weight;
      }
    }
  }
  view.pool_verdict.assign(index.pools.size(), kPass);
  for (size_t p = 0; p < index.pools.size(); ++p) {
    const PoolIndex& pool = index.pools[p];
    const GpuNode& node = *pool.sample;
    RejectReason r = RejectReason::kCount;
    if (!ProductAllowed(policy, node))
      r = RejectReason::kGpuProductNotAllowed;
    else if (pool.untolerated_taint)
      r = RejectReason::kNodeTaintsNotTolerated;
    else if (policy.required.max_price_per_gpu_hour > 0 &&
             pool.price_per_unit * node.units_per_gpu >
                 policy.required.max_price_per_gpu_hour + 1e-9)
      r = RejectReason::kPriceAboveLimit;
    else if (!policy.required.min_driver_version.empty() &&
             (node.driver_version.empty() ||
              node.driver_version.Compare(policy.required.min_driver_version) < 0))
      r = RejectReason::kDriverTooOld;
    else if (!policy.required.min_cuda_version.empty() &&
             (node.cuda_version.empty() ||
              node.cuda_version.Compare(policy.required.min_cuda_version) < 0))
      r = RejectReason::kCudaTooOld;
    if (r != RejectReason::kCount) view.pool_verdict[p] = static_cast<uint8_t>(r);
  }
  return view;
}

SizedRequest SizeRequest(const FleetIndex& index, const PlacementRequest& request) {
  SizedRequest sized;
  sized.request = &request;
  sized.estimates.resize(index.shapes.size());
  sized.errors.resize(index.shapes.size());
  sized.product_allowed.assign(index.shapes.size(), true);
  double best = 0;
  for (size_t s = 0; s < index.shapes.size(); ++s) {
    if (!request.gpu_products.empty()) {
      bool ok = false;
      for (const auto& p : request.gpu_products) {
        ok |= EqualsIgnoreCase(p, index.shapes[s].shape.product) ||
              EqualsIgnoreCase(p, index.shapes[s].label);
      }
      sized.product_allowed[s] = ok;
      if (!ok) continue;
    }
    if (!request.sizer) {
      sized.errors[s] = "no sizer for this workspace";
      continue;
    }
    auto est = request.sizer(index.shapes[s].shape);
    if (est.ok()) {
      if (est->gpus_per_node > index.shapes[s].shape.gpus_per_node || est->gpus_per_node < 1 ||
          est->nodes < 1) {
        sized.errors[s] = "replica needs " + std::to_string(est->gpus_per_node) +
                          " per node, pool nodes have " +
                          std::to_string(index.shapes[s].shape.gpus_per_node);
        continue;
      }
      double gib = est->total_gpus() * index.shapes[s].shape.memory_gib;
      if (best == 0 || gib < best) best = gib;
      sized.estimates[s] = std::move(est).value();
    } else {
      sized.errors[s] = est.status().message();
    }
  }
  sized.footprint_gib = best;
  // The node selector: only matching pools where a cluster has some; every pool elsewhere.
  sized.pool_allowed.assign(index.pools.size(), true);
  sized.selector_honoured.assign(index.clusters.size(), false);
  if (!request.node_selector.empty()) {
    for (size_t c = 0; c < index.clusters.size(); ++c) {
      const ClusterIndex& ci = index.clusters[c];
      for (int p = ci.first_pool; p < ci.first_pool + ci.pool_count; ++p) {
        sized.pool_allowed[p] = workspace::Matches(request.node_selector, index.pools[p].sample->labels);
        if (sized.pool_allowed[p]) sized.selector_honoured[c] = true;
      }
      if (!sized.selector_honoured[c]) {
        for (int p = ci.first_pool; p < ci.first_pool + ci.pool_count; ++p) sized.pool_allowed[p] = true;
      }
    }
  }
  double cheapest = -1;
  for (size_t p = 0; p < index.pools.size(); ++p) {
    const PoolIndex& pool = index.pools[p];
    const auto& est = sized.estimates[pool.shape];
    if (!est || !sized.product_allowed[pool.shape] || !sized.pool_allowed[p] ||
        pool.untolerated_taint)
      continue;
    double cost = pool.price_per_unit * est->total_gpus();
    if (cheapest < 0 || cost < cheapest) cheapest = cost;
  }
  sized.cheapest = cheapest;
  return sized;
}

int PoolCapacity(const FleetIndex& index, const Ledger& ledger, int pool_id,
                 const workspace::ReplicaEstimate& est) {
  const PoolIndex& pool = index.pools[pool_id];
  const int k = est.gpus_per_node;
  int slots = 0;
  const int* free = ledger.free.data() + pool.first_node;
  if (est.nodes == 1) {
    for (int i = 0; i < pool.node_count; ++i) slots += free[i] / k;
    return slots;
  }
  // A multi-node replica needs N distinct nodes: R replicas fit iff Σ min(slots_i, R) ≥ R·N.
  int lo = 0, hi = 0;
  for (int i = 0; i < pool.node_count; ++i) hi += free[i] / k;
  hi /= est.nodes;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    int64_t sum = 0;
    for (int i = 0; i < pool.node_count; ++i) sum += std::min(free[i] / k, mid);
    if (sum >= static_cast<int64_t>(mid) * est.nodes)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

std::string RejectionMessage(const FleetIndex& index, const Ledger& ledger,
                             const PlacementPolicySpec& policy, const SizedRequest& sized,
                             int cluster, RejectReason reason) {
  const ClusterInventory& c = index.snapshot.clusters[cluster];
  const ClusterIndex& ci = index.clusters[cluster];
  // The cluster's pools; messages describe them all (a reason is the furthest any got).
  std::vector<int> pools;
  for (int p = ci.first_pool; p < ci.first_pool + ci.pool_count; ++p) pools.push_back(p);
  switch (reason) {
    case RejectReason::kClusterNotFound:
      return "no member cluster has this name";
    case RejectReason::kClusterUnhealthy:
      return "cluster is " + std::string(ClusterHealthName(c.health)) +
             "; it takes no new replicas until it reports Healthy";
    case RejectReason::kTaintNotTolerated: {
      for (const auto& t : c.taints) {
        if (t.effect == TaintEffect::kPreferNoSchedule) continue;
        return "taint " + TaintText(t) +
               " is not tolerated (add a toleration without tolerationSeconds to the policy)";
      }
      return "a taint is not tolerated";
    }
    case RejectReason::kRegionNotAllowed:
      return "region " + c.region() + " is not in required.allowedRegions";
    case RejectReason::kClusterSelectorMismatch:
      return "labels do not match any required.clusterSelectorTerms entry";
    case RejectReason::kNoGpuNodes:
      return "cluster reports no GPU nodes";
    case RejectReason::kGpuProductNotAllowed: {
      std::string have;
      for (int p : pools) {
        const std::string& l = index.shapes[index.pools[p].shape].label;
        if (have.find(l) == std::string::npos) have += (have.empty() ? "" : ", ") + l;
      }
      return "GPUs here (" + have +
             ") are not in the policy's required.gpuProducts or the Workspace's "
             "resource.gpuProducts";
    }
    case RejectReason::kNodeLabelsMismatch:
      return "the nodes that match resource.labelSelector have no GPUs that fit (this cluster has such "
             "nodes, so the others are not used)";
    case RejectReason::kNodeTaintsNotTolerated: {
      std::string out;
      for (int p : pools) {
        const Taint* t = index.pools[p].untolerated_taint;
        if (!t) continue;
        std::string said = "nodes of pool " + index.pools[p].sample->pool + " carry taint " + TaintText(*t);
        if (out.find(said) != std::string::npos) continue;
        out += (out.empty() ? "" : "; ") + said;
        if (out.size() > 200) break;
      }
      if (out.empty()) return "GPU nodes carry taints Berth's pods do not tolerate";
      return out + ", which Berth's pods do not tolerate (their tolerations: docs/WORKSPACE.md)";
    }
    case RejectReason::kPriceAboveLimit: {
      double cheapest = -1;
      for (int p : pools) {
        double price = index.pools[p].price_per_unit * index.pools[p].sample->units_per_gpu;
        if (cheapest < 0 || price < cheapest) cheapest = price;
      }
      return "cheapest GPU costs " + Num(cheapest) +
             "/GPU-hour, above required.maxPricePerGpuHour " +
             Num(policy.required.max_price_per_gpu_hour);
    }
    case RejectReason::kDriverTooOld: {
      std::string best;
      for (int p : pools) best = index.pools[p].sample->driver_version.ToString();
      return "NVIDIA driver " + (best.empty() ? std::string("unknown") : best) +
             " is older than required " + policy.required.min_driver_version.ToString();
    }
    case RejectReason::kCudaTooOld: {
      std::string best;
      for (int p : pools) best = index.pools[p].sample->cuda_version.ToString();
      return "CUDA " + (best.empty() ? std::string("unknown") : best) + " is older than required " +
             policy.required.min_cuda_version.ToString();
    }
    case RejectReason::kModelDoesNotFit: {
      for (int p : pools) {
        int s = index.pools[p].shape;
        if (!sized.errors[s].empty()) return index.shapes[s].label + ": " + sized.errors[s];
      }
      return "the model does not fit on any GPU shape here";
    }
    case RejectReason::kInsufficientFreeGpus: {
      std::string out;
      for (int p : pools) {
        const PoolIndex& pool = index.pools[p];
        const auto& est = sized.estimates[pool.shape];
        if (!est || index.pools[p].sample == nullptr) continue;
        int best_free = 0;
        for (int n = pool.first_node; n < pool.first_node + pool.node_count; ++n) {
          best_free = std::max(best_free, ledger.free[n]);
        }
        if (!out.empty()) out += "; ";
        out += "needs " + std::to_string(est->nodes) + " node(s) with " +
               std::to_string(est->gpus_per_node) + " free " + index.shapes[pool.shape].label +
               ", most free on one node is " + std::to_string(best_free);
        if (out.size() > 200) break;
      }
      return out.empty() ? "not enough free GPUs on any single node" : out;
    }
    case RejectReason::kCount:
      break;
  }
  return "";
}

}  // namespace berth::placement::internal
