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

}  // namespace

SelectOutcome SelectPickN(const FleetIndex& index, const PlacementPolicySpec& policy, int replicas,
                          std::vector<Candidate>& ranked) {
  if (ranked.empty()) return {"NoFeasibleCluster", ""};
  int remaining = replicas;
  int used = 0;
  for (auto& c : ranked) {
    c.assigned = 0;
    remaining -= c.kept;
    if (c.kept > 0) ++used;
  }
  const int max_clusters = policy.max_clusters > 0 ? policy.max_clusters : 1 << 30;

  std::vector<SpreadState> spread;
  for (const auto& sc : policy.spread) {
    SpreadState st{&sc, std::vector<int>(ranked.size(), -1), {}, 0};
    std::map<std::string, int> ids;
    for (size_t i = 0; i < ranked.size(); ++i) {
      std::string value = index.snapshot.clusters[ranked[i].cluster].Label(sc.topology_key);
      if (value.empty()) continue;
      auto [it, added] = ids.emplace(value, static_cast<int>(ids.size()));
      st.domain_of[i] = it->second;
    }
    st.count.assign(ids.size(), 0);
    st.eligible_domains = static_cast<int>(ids.size());
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (st.domain_of[i] >= 0) st.count[st.domain_of[i]] += ranked[i].kept;
    }
    spread.push_back(std::move(st));
  }

  bool blocked_by_spread = false, blocked_by_max_clusters = false;
  // Returns how many soft (ScheduleAnyway) constraints placing here would violate, or -1
  // when a hard one forbids it.
  auto violations = [&](size_t i) -> int {
    int soft = 0;
    for (const auto& st : spread) {
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
  };
  auto has_room = [&](size_t i) {
    const Candidate& c = ranked[i];
    if (c.assigned >= c.capacity) return false;
    if (c.kept + c.assigned == 0 && used >= max_clusters) {
      blocked_by_max_clusters = true;
      return false;
    }
    return true;
  };
  auto place = [&](size_t i) {
    Candidate& c = ranked[i];
    if (c.kept + c.assigned == 0) ++used;
    ++c.assigned;
    --remaining;
    for (auto& st : spread) {
      if (st.domain_of[i] >= 0) ++st.count[st.domain_of[i]];
    }
  };
  // Best-ranked candidate satisfying `extra` with room, fewest soft violations; -1 if none.
  auto pick = [&](auto extra) -> int {
    int best = -1, best_soft = 1 << 30;
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (!extra(i) || !has_room(i)) continue;
      int v = violations(i);
      if (v < 0) {
        blocked_by_spread = true;
        continue;
      }
      if (v < best_soft) {
        best = static_cast<int>(i);
        best_soft = v;
        if (v == 0) break;
      }
    }
    return best;
  };
  auto undo_all = [&] {
    for (auto& c : ranked) c.assigned = 0;
  };

  // minClusters distinct clusters.
  while (used < policy.min_clusters && remaining > 0) {
    int i = pick([&](size_t j) { return ranked[j].kept + ranked[j].assigned == 0; });
    if (i < 0) break;
    place(i);
  }
  if (used < policy.min_clusters) {
    undo_all();
    return {"NotEnoughClusters",
            "policy needs at least " + std::to_string(policy.min_clusters) + " clusters (minClusters) but only " +
                std::to_string(used) + " can take a replica" +
                (replicas < policy.min_clusters ? " (replicas is lower than minClusters)" : "")};
  }
  // minDomains of every spread constraint.
  for (size_t k = 0; k < spread.size(); ++k) {
    auto covered = [&] {
      return static_cast<int>(std::count_if(spread[k].count.begin(), spread[k].count.end(),
                                            [](int n) { return n > 0; }));
    };
    while (covered() < spread[k].constraint->min_domains && remaining > 0) {
      int i = pick([&](size_t j) {
        int d = spread[k].domain_of[j];
        return d >= 0 && spread[k].count[d] == 0;
      });
      if (i < 0) break;
      place(i);
    }
    if (covered() < spread[k].constraint->min_domains &&
        spread[k].constraint->when_unsatisfiable == WhenUnsatisfiable::kDoNotSchedule) {
      undo_all();
      return {"NotEnoughDomains", "spread on " + spread[k].constraint->topology_key + " needs " +
                                      std::to_string(spread[k].constraint->min_domains) +
                                      " domains (minDomains) but only " + std::to_string(covered()) +
                                      " can take a replica"};
    }
  }
  // The rest.
  if (spread.empty()) {
    for (size_t i = 0; i < ranked.size() && remaining > 0; ++i) {
      if (!has_room(i)) continue;
      Candidate& c = ranked[i];
      if (c.kept + c.assigned == 0) ++used;
      int take = std::min(remaining, c.capacity - c.assigned);
      c.assigned += take;
      remaining -= take;
    }
  } else {
    while (remaining > 0) {
      int i = pick([](size_t) { return true; });
      if (i < 0) break;
      place(i);
    }
  }
  if (remaining <= 0) return {};
  std::string n = std::to_string(remaining);
  if (blocked_by_spread) {
    return {"SpreadConstraintUnsatisfiable",
            n + " replica(s) would break maxSkew of a DoNotSchedule spread constraint; add capacity in the "
                "emptier domains or use whenUnsatisfiable: ScheduleAnyway"};
  }
  if (blocked_by_max_clusters) {
    return {"MaxClustersReached",
            n + " replica(s) do not fit on the " + std::to_string(max_clusters) +
                " cluster(s) allowed by maxClusters; raise maxClusters or free GPUs there"};
  }
  return {"InsufficientCapacity", n + " replica(s) found no cluster with enough free GPUs on one node; "
                                      "free GPUs, add nodes, or relax required terms"};
}

}  // namespace berth::placement::internal
