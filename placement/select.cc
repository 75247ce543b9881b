// Select for PickN: divide the replicas over the ranked feasible clusters.
// Order of rules: replicas already running stay (their counts arrive in Candidate::kept);
// then minClusters distinct clusters get one replica each; then every spread constraint's
// minDomains; then the rest go to the best-ranked cluster that still has room, respecting
// maxClusters and each spread constraint's maxSkew. Without spread constraints the best
// cluster is filled before the next one (packing keeps GPUs together and, with cost-only
// weights, is what minimises cost); with spread, replicas are placed one at a time.
#include <algorithm>
#include <map>

#include "placement/engine_internal.h"

namespace berth::placement::internal {

using policies::PlacementPolicySpec;
using policies::WhenUnsatisfiable;

namespace {

struct SpreadState {
  const policies::SpreadConstraint* constraint;
  std::vector<int> domain_of;  // per candidate; -1 when the cluster lacks the label
  std::vector<int> count;      // replicas per domain
  int eligible_domains = 0;
};

// One PickN selection over the ranked candidates, in the order of rules above.
class PickNSelector {
 public:
  PickNSelector(const FleetIndex& index, const PlacementPolicySpec& policy, int replicas,
                std::vector<Candidate>& ranked)
      : index_(index),
        policy_(policy),
        replicas_(replicas),
        ranked_(ranked),
        remaining_(replicas),
        load_(index.clusters.size(), 0),
        max_clusters_(policy.max_clusters > 0 ? policy.max_clusters : 1 << 30) {
    for (auto& c : ranked_) {
      c.assigned = 0;
      remaining_ -= c.kept;
      if (c.kept > 0 && load_[c.cluster] == 0) ++used_;
      load_[c.cluster] += c.kept;
    }
    for (const auto& sc : policy.spread) spread_.push_back(SpreadOf(sc));
  }

  SelectOutcome Run() {
    if (auto failed = PlaceMinClusters(); !failed.reason.empty()) return failed;
    if (auto failed = PlaceMinDomains(); !failed.reason.empty()) return failed;
    PlaceRest();
    return Unplaced();
  }

 private:
  SpreadState SpreadOf(const policies::SpreadConstraint& sc) const {
    SpreadState st{&sc, std::vector<int>(ranked_.size(), -1), {}, 0};
    std::map<std::string, int> ids;
    for (size_t i = 0; i < ranked_.size(); ++i) {
      std::string value = index_.snapshot.clusters[ranked_[i].cluster].Label(sc.topology_key);
      if (value.empty()) continue;
      auto [it, added] = ids.emplace(value, static_cast<int>(ids.size()));
      st.domain_of[i] = it->second;
    }
    st.count.assign(ids.size(), 0);
    st.eligible_domains = static_cast<int>(ids.size());
    for (size_t i = 0; i < ranked_.size(); ++i) {
      if (st.domain_of[i] >= 0) st.count[st.domain_of[i]] += ranked_[i].kept;
    }
    return st;
  }

  // How many soft (ScheduleAnyway) constraints placing on candidate i would violate, or -1
  // when a hard one forbids it.
  int Violations(size_t i) const {
    int soft = 0;
    for (const auto& st : spread_) {
      int d = st.domain_of[i];
      bool hard = st.constraint->when_unsatisfiable == WhenUnsatisfiable::kDoNotSchedule;
      if (d < 0) {
        if (hard) return -1;
        ++soft;
        continue;
      }
      int min_count = 0;
      if (st.eligible_domains >= st.constraint->min_domains) {
        min_count = *std::min_element(st.count.begin(), st.count.end());
      }
      if (st.count[d] + 1 - min_count > st.constraint->max_skew) {
        if (hard) return -1;
        ++soft;
      }
    }
    return soft;
  }

  bool HasRoom(size_t i) {
    const Candidate& c = ranked_[i];
    if (c.assigned >= c.capacity) return false;
    if (load_[c.cluster] == 0 && used_ >= max_clusters_) {
      blocked_by_max_clusters_ = true;
      return false;
    }
    return true;
  }

  void Place(size_t i) {
    Candidate& c = ranked_[i];
    if (load_[c.cluster]++ == 0) ++used_;
    ++c.assigned;
    --remaining_;
    for (auto& st : spread_) {
      if (st.domain_of[i] >= 0) ++st.count[st.domain_of[i]];
    }
  }

  // Best-ranked candidate satisfying `extra` with room, fewest soft violations; -1 if none.
  template <typename Extra>
  int Pick(Extra extra) {
    int best = -1, best_soft = 1 << 30;
    for (size_t i = 0; i < ranked_.size(); ++i) {
      if (!extra(i) || !HasRoom(i)) continue;
      int v = Violations(i);
      if (v < 0) {
        blocked_by_spread_ = true;
        continue;
      }
      if (v < best_soft) {
        best = static_cast<int>(i);
        best_soft = v;
        if (v == 0) break;
      }
    }
    return best;
  }

  void UndoAll() {
    for (auto& c : ranked_) c.assigned = 0;
  }

  // minClusters distinct clusters, one replica each; all or nothing.
  SelectOutcome PlaceMinClusters() {
    while (used_ < policy_.min_clusters && remaining_ > 0) {
      int i = Pick([&](size_t j) { return load_[ranked_[j].cluster] == 0; });
      if (i < 0) break;
      Place(i);
    }
    if (used_ >= policy_.min_clusters) return {};
    UndoAll();
    return {"NotEnoughClusters",
            "policy needs at least " + std::to_string(policy_.min_clusters) +
                " clusters (minClusters) but only " + std::to_string(used_) +
                " can take a replica" +
                (replicas_ < policy_.min_clusters ? " (replicas is lower than minClusters)" : "")};
  }

  // minDomains of every spread constraint; a DoNotSchedule one is all or nothing.
  SelectOutcome PlaceMinDomains() {
    for (auto& st : spread_) {
      auto covered = [&] {
        return static_cast<int>(
            std::count_if(st.count.begin(), st.count.end(), [](int n) { return n > 0; }));
      };
      while (covered() < st.constraint->min_domains && remaining_ > 0) {
        int i = Pick([&](size_t j) {
          int d = st.domain_of[j];
          return d >= 0 && st.count[d] == 0;
        });
        if (i < 0) break;
        Place(i);
      }
      if (covered() < st.constraint->min_domains &&
          st.constraint->when_unsatisfiable == WhenUnsatisfiable::kDoNotSchedule) {
        UndoAll();
        return {"NotEnoughDomains", "spread on " + st.constraint->topology_key + " needs " +
                                        std::to_string(st.constraint->min_domains) +
                                        " domains (minDomains) but only " +
                                        std::to_string(covered()) + " can take a replica"};
      }
    }
    return {};
  }

  // The rest: without spread, fill the best cluster first; with it, one replica at a time.
  void PlaceRest() {
    if (!spread_.empty()) {
      while (remaining_ > 0) {
        int i = Pick([](size_t) { return true; });
        if (i < 0) break;
        Place(i);
      }
      return;
    }
    for (size_t i = 0; i < ranked_.size() && remaining_ > 0; ++i) {
      if (!HasRoom(i)) continue;
      Candidate& c = ranked_[i];
      if (load_[c.cluster] == 0) ++used_;
      int take = std::min(remaining_, c.capacity - c.assigned);
      c.assigned += take;
      load_[c.cluster] += take;
      remaining_ -= take;
    }
  }

  // Why replicas are left over, naming what the user can change.
  SelectOutcome Unplaced() const {
    if (remaining_ <= 0) return {};
    std::string n = std::to_string(remaining_);
    if (blocked_by_spread_) {
      return {"SpreadConstraintUnsatisfiable",
              n + " replica(s) would break maxSkew of a DoNotSchedule spread constraint; add "
                  "capacity in the "
                  "emptier domains or use whenUnsatisfiable: ScheduleAnyway"};
    }
    if (blocked_by_max_clusters_) {
      return {"MaxClustersReached",
              n + " replica(s) do not fit on the " + std::to_string(max_clusters_) +
                  " cluster(s) allowed by maxClusters; raise maxClusters or free GPUs there"};
    }
    return {"InsufficientCapacity",
            n + " replica(s) found no cluster with enough free GPUs on one node; "
                "free GPUs, add nodes, or relax required terms"};
  }

  const FleetIndex& index_;
  const PlacementPolicySpec& policy_;
  const int replicas_;
  std::vector<Candidate>& ranked_;
  int remaining_;
  int used_ = 0;           // distinct clusters with replicas
  std::vector<int> load_;  // replicas per cluster, over its tiers
  const int max_clusters_;
  std::vector<SpreadState> spread_;
  bool blocked_by_spread_ = false;
  bool blocked_by_max_clusters_ = false;
};

}  // namespace

SelectOutcome SelectPickN(const FleetIndex& index, const PlacementPolicySpec& policy, int replicas,
                          std::vector<Candidate>& ranked) {
  if (ranked.empty()) return {"NoFeasibleCluster", ""};
  return PickNSelector(index, policy, replicas, ranked).Run();
}

}  // namespace berth::placement::internal
