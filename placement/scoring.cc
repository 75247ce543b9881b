// Score: how good a feasible cluster is for one workspace (docs/PLACEMENT.md "Score").
//
//   score = Σ_t w_t · term_t / Σ_t w_t        t ∈ {availability, cost, locality, warmCache,
//   affinity}
//
// Each term is normalised linearly to 0..100 over the feasible clusters of this decision
// (min → 0 and max → 100, reversed for cost and latency), so the weights compare like with
// like whatever the units. A term that is equal on every cluster scores 100 everywhere:
// it cannot tell clusters apart, and it must not penalise anyone.
//   availability: replicas of this workspace that still fit (+ running ones kept)
//   cost:         price per replica-hour on the cheapest fitting pool (lower is better)
//   locality:     Σ demand share × latency(cluster region, demand region) (lower is better)
//   warmCache:    expected seconds until a new replica serves (lower is better): the image
//                 pull unless cached + the weights at the cluster's cached or uncached rate
//   affinity:     Σ weights of matching preferred terms
#include <algorithm>
#include <limits>

#include "placement/engine_internal.h"

namespace berth::placement::internal {

namespace {

template <typename Get>
void Normalise(std::vector<Candidate>& cands, bool higher_is_better, Get get,
               double ClusterScore::*out) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& c : cands) {
    double v = get(c);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double span = hi - lo;
  for (auto& c : cands) {
    double v = get(c);
    double t = span < 1e-9 ? 100.0 : std::clamp(100.0 * (v - lo) / span, 0.0, 100.0);
    c.score.*out = higher_is_better ? t : (span < 1e-9 ? 100.0 : 100.0 - t);
  }
}

}  // namespace

void ScoreCandidates(const policies::ScoringWeights& w, std::vector<Candidate>& cands) {
  if (cands.empty()) return;
  Normalise(
      cands, true, [](const Candidate& c) { return double(c.capacity + c.kept); },
      &ClusterScore::availability);
  Normalise(
      cands, false, [](const Candidate& c) { return c.cost_per_replica; }, &ClusterScore::cost);
  Normalise(
      cands, false, [](const Candidate& c) { return c.locality_ms; }, &ClusterScore::locality);
  Normalise(
      cands, false, [](const Candidate& c) { return c.start_seconds; }, &ClusterScore::warm_cache);
  Normalise(
      cands, true, [](const Candidate& c) { return c.affinity; }, &ClusterScore::affinity);
  const double sum = w.availability + w.cost + w.locality + w.warm_cache + w.affinity;
  for (auto& c : cands) {
    ClusterScore& s = c.score;
    s.cluster = c.cluster;
    s.capacity = c.capacity;
    s.start_seconds = c.start_seconds;
    s.total = sum <= 0
                  ? 0
                  : (w.availability * s.availability + w.cost * s.cost + w.locality * s.locality +
                     w.warm_cache * s.warm_cache + w.affinity * s.affinity) /
                        sum;
  }
}

}  // namespace berth::placement::internal

