// The autoscaling stage of the placement pass (docs/AUTOSCALING.md): for a Workspace with an
// `autoscaling` block, the fleet-wide serving signals from what its members report, the
// replicas this pass asks the placement engine for (the HPA algorithm: autoscaler.h), and what
// status.autoscaler and the conditions AbleToScale / ScalingActive / ScalingLimited show.
//
// The desired size lives in status.autoscaler.desiredReplicas, not in the spec: the user's
// manifest stays what Git holds (no drift for Argo CD or Flux), and /scale shows it.
// placement.replicas is only where a new autoscaled Workspace starts (clamped to the bounds).
//
// The algorithm runs at most once per sync period (HPA: every 15 s; here 5 s by default), so a
// pass woken by anything else reuses the stored decision and writes nothing new; the stage asks
// the pass to run again at the next sync.
//
// Pure: every input is an argument.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/autoscaler.h"
#include "hub/controllers/stage_types.h"
#include "hub/controllers/work_reports.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

inline constexpr std::chrono::seconds kDefaultAutoscaleSync{5};

// The workspace's serving signals summed over members: per-replica metrics are averaged over
// the Ready replicas of the members that report serving; KV-cache use is weighted by Ready
// replicas; p90 TTFT is the request-rate-weighted mean of the members' p90s (the largest
// when no member reports a rate). Members with no `serving` report add nothing.
struct FleetServingSignals {
  std::map<workspace::AutoscalingMetricType, std::optional<double>> metrics;
  int ready_replicas = 0;      // Ready replicas over every report (serving or not)
  int reporting_members = 0;   // members whose reports carry serving signals
};
FleetServingSignals SignalsFromReports(const std::vector<const MemberReport*>& reports);

struct AutoscaleStageInput {
  const workspace::Workspace* workspace = nullptr;  // parsed; autoscaling set
  const nlohmann::json* stored_status = nullptr;    // the Workspace's status as stored (or null)
  int64_t generation = 0;                            // metadata.generation: a change evaluates at once
  std::vector<const MemberReport*> reports;          // from members that are healthy now
  Clock::TimePoint now{};
  Clock::Duration sync_period = kDefaultAutoscaleSync;
};

struct AutoscaleStageResult {
  int desired_replicas = 0;  // what the placement engine is asked for
  bool evaluated = false;    // the algorithm ran this pass (status and conditions change)
  nlohmann::json status;     // status.autoscaler to store
  std::vector<AutoscaleCondition> conditions;  // when evaluated
  std::optional<std::string> event_reason;     // ScaledUp / ScaledDown
  std::string event_message;
  WakeUp wake;  // the next sync, or when a held-back change may go through
};

AutoscaleStageResult AutoscaleWorkspace(const AutoscaleStageInput& in);

}  // namespace berth::hub
