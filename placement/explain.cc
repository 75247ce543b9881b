// Explain: decisions as compact JSON. A Workspace status must stay small even at 1,000
// clusters, so only the top scores and the first rejections (by cluster name) are listed;
// the other rejections are counted by reason.
#include <cmath>
#include <nlohmann/json.hpp>

#include "placement/engine_internal.h"

namespace berth::placement {

using nlohmann::json;

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kClusterNotFound:
      return "ClusterNotFound";
    case RejectReason::kClusterUnhealthy:
      return "ClusterUnhealthy";
    case RejectReason::kTaintNotTolerated:
      return "TaintNotTolerated";
    case RejectReason::kRegionNotAllowed:
      return "RegionNotAllowed";
    case RejectReason::kClusterSelectorMismatch:
      return "ClusterSelectorMismatch";
    case RejectReason::kNoGpuNodes:
      return "NoGpuNodes";
    case RejectReason::kGpuProductNotAllowed:
      return "GpuProductNotAllowed";
    case RejectReason::kNodeLabelsMismatch:
      return "NodeLabelsMismatch";
    case RejectReason::kNodeTaintsNotTolerated:
      return "NodeTaintsNotTolerated";
    case RejectReason::kPriceAboveLimit:
      return "PriceAboveLimit";
    case RejectReason::kDriverTooOld:
      return "DriverTooOld";
    case RejectReason::kCudaTooOld:
      return "CudaTooOld";
    case RejectReason::kModelDoesNotFit:
      return "ModelDoesNotFit";
    case RejectReason::kInsufficientFreeGpus:
      return "InsufficientFreeGpus";
    case RejectReason::kCount:
      break;
  }
  return "Unknown";
}

namespace {

double Round2(double v) { return std::round(v * 100) / 100; }

}  // namespace

json Planner::ExplainJson(const PlacementDecision& d, const ExplainLimits& limits) const {
  const auto& clusters = snapshot().clusters;
  json out;
  out["workspace"] = d.workspace;
  out["requested"] = d.requested;
  out["placed"] = d.placed;
  out["feasibleClusters"] = d.feasible_clusters;
  if (!d.unplaced_reason.empty())
    out["unplaced"] = {{"reason", d.unplaced_reason}, {"message", d.unplaced_message}};
  json scores = json::array();
  for (size_t i = 0; i < d.scores.size() && static_cast<int>(i) < limits.max_scores; ++i) {
    const ClusterScore& s = d.scores[i];
    scores.push_back({{"cluster", clusters[s.cluster].name},
                      {"score", Round2(s.total)},
                      {"replicas", s.replicas},
                      {"startSeconds", Round2(s.start_seconds)},
                      {"terms",
                       {{"availability", Round2(s.availability)},
                        {"cost", Round2(s.cost)},
                        {"locality", Round2(s.locality)},
                        {"warmCache", Round2(s.warm_cache)},
                        {"affinity", Round2(s.affinity)}}}});
  }
  out["scores"] = std::move(scores);
  json rejected = json::array();
  json omitted = json::object();
  int listed = 0;
  for (const auto& r : d.rejections) {
    if (listed < limits.max_rejections) {
      rejected.push_back({{"cluster", r.cluster >= 0 ? clusters[r.cluster].name : r.unknown_name},
                          {"reason", RejectReasonName(r.reason)},
                          {"message", r.message}});
      ++listed;
    } else {
      std::string key(RejectReasonName(r.reason));
      omitted[key] = omitted.value(key, 0) + 1;
    }
  }
  if (d.rejections.empty()) {
    // Explanations were not recorded: the counts are all there is.
    for (size_t r = 0; r < d.reason_counts.size(); ++r) {
      if (d.reason_counts[r] > 0)
        omitted[std::string(RejectReasonName(static_cast<RejectReason>(r)))] = d.reason_counts[r];
    }
  }
  out["rejected"] = std::move(rejected);
  if (!omitted.empty()) out["rejectedOmitted"] = std::move(omitted);
  return out;
}

json PlanToJson(const std::vector<PlacementDecision>& decisions) {
  json placements = json::array();
  json unplaced = json::array();
  double total = 0;
  for (const auto& d : decisions) {
    for (const auto& a : d.allocations) {
      json row = {{"workspace", d.workspace},
                  {"cluster", a.cluster},
                  {"replicas", a.replicas},
                  {"gpu", a.gpu},
                  {"gpusPerReplica", a.gpus_per_replica},
                  {"costPerHour", Round2(a.cost_per_hour)}};
      if (a.nodes_per_replica > 1) row["nodesPerReplica"] = a.nodes_per_replica;
      if (a.kept > 0) row["kept"] = a.kept;
      placements.push_back(std::move(row));
      total += a.cost_per_hour;
    }
    if (d.unplaced() > 0) {
      unplaced.push_back({{"workspace", d.workspace},
                          {"replicas", d.unplaced()},
                          {"reason", d.unplaced_reason},
                          {"message", d.unplaced_message}});
    }
  }
  return {{"placements", std::move(placements)},
          {"unplaced", std::move(unplaced)},
          {"totalCostPerHour", Round2(total)}};
}

}  // namespace berth::placement
