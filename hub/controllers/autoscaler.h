// The Workspace autoscaler's decision: desired replicas from serving signals, with the
// semantics of Kubernetes HPA v2 (pkg/controller/podautoscaler) — per-metric
// ceil(current × value / target) outside a tolerance, the largest recommendation wins,
// stabilisation windows over past recommendations, rate policies over past scale events,
// clamp to [minReplicas, maxReplicas] — plus scale from zero (as KEDA adds).
//
// Where Berth differs from HPA (each also commented at the code):
// - One scale-down per scale-down stabilisation window: after a scale-down the next waits
//   until the window has passed (as HPA v1's downscale delay did), then goes to the highest
//   recommendation of the window in one step. HPA v2 would step a steadily falling load down
//   at every sync. Fewer, larger steps mean fewer drains through the gateway.
// - Scale from zero: at 0 replicas any metric value > 0 is load and recommends
//   max(minReplicas, 1); that first step is not held back by the rate policies (a Percent
//   policy of 0 replicas would never allow one). All signals 0 at 0 replicas keeps 0.
// - Unready replicas: for the metrics averaged over replicas (everything but
//   TimeToFirstTokenP90Seconds) a scale-up counts replicas that are not Ready yet as carrying
//   no load (HPA does this for pods not yet ready), so replicas still cold-starting (node,
//   image, weights: minutes for an LLM) are not asked for twice. HPA's scale-down
//   treatment of missing pods (100 % usage) is not reproduced: replicas that report nothing
//   simply are not in the averages the agents send.
// - A metric value that is negative or not finite counts as no signal.
// - With no signal for any metric the replicas stay (clamped to [min, max]) and
//   ScalingActive is False with reason FailedGetMetrics; nothing is recorded in the state.
//
// - Rounding ignores floating-point noise of 1e-9 (HPA's Percent policy lets 10 replicas
//   grow by 10 % to 12, since 10 × 1.1 is 11.000000000000002 in doubles; here it is 11).
// As in HPA: stabilisation records each pass's raw recommendation; an empty history counts
// the current size as recommended now (so a restart or a long silence never scales down
// at once); stabilisation only holds changes back, it never moves replicas by itself.
//
// The spec must be one ParseAutoscaling accepted (min <= max, targets > 0).
// Pure: no clock, no store. Safe to call from any thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/clock.h"
#include "api/status.h"
#include "workspace/autoscaling.h"

namespace berth::hub {

// One pass's recommendation (before stabilisation), kept for the stabilisation windows.
struct TimedRecommendation {
  Clock::TimePoint at;
  int replicas = 0;
  bool operator==(const TimedRecommendation&) const = default;
};

// A change of replicas the autoscaler decided, kept for the rate policies' periods.
struct AutoscaleEvent {
  Clock::TimePoint at;
  int change = 0;  // > 0 scale-up, < 0 scale-down
  bool operator==(const AutoscaleEvent&) const = default;
};

// What one pass hands to the next; lives in Workspace status (status.autoscaler). Entries
// older than the longest window / period are dropped by Autoscale.
struct AutoscalerState {
  std::vector<TimedRecommendation> recommendations;  // oldest first
  std::vector<AutoscaleEvent> scale_events;          // oldest first
  bool operator==(const AutoscalerState&) const = default;
};

// {"recommendations": [{"time": RFC 3339 with milliseconds, "replicas": n}],
//  "scaleEvents": [{"time": ..., "change": n}]}.
nlohmann::json AutoscalerStateToJson(const AutoscalerState& state);
// Null or {} is the empty state. kInvalid (field causes under `path`) for anything else
// malformed; never throws.
StatusOr<AutoscalerState> AutoscalerStateFromJson(const nlohmann::json& json,
                                                  const std::string& path = "status.autoscaler");

struct AutoscaleInput {
  workspace::AutoscalingSpec spec;
  int current_replicas = 0;  // what runs now (the scale's spec.replicas)
  int ready_replicas = 0;    // of those, Ready and serving
  // Current value per metric type; a missing key or nullopt is "no signal".
  std::map<workspace::AutoscalingMetricType, std::optional<double>> metrics;
  Clock::TimePoint now;
  AutoscalerState state;
};

// A status condition as SetCondition (conditions.h) takes it.
struct AutoscaleCondition {
  std::string type;  // AbleToScale, ScalingActive, ScalingLimited
  bool status = false;
  std::string reason;
  std::string message;
};

// One metric's reading and what it alone would ask for.
struct MetricRecommendation {
  workspace::AutoscalingMetricType type;
  double value = 0;
  double target = 0;
  int replicas = 0;
};

struct AutoscaleDecision {
  int desired_replicas = 0;
  // The metric with the largest recommendation (first in spec order on ties); nullopt when
  // no metric had a signal.
  std::optional<MetricRecommendation> driving_metric;
  std::vector<MetricRecommendation> recommendations;  // every metric with a signal
  AutoscaleCondition able_to_scale;    // ReadyForNewScale, ScaleUpStabilized, ScaleDownStabilized
  AutoscaleCondition scaling_active;   // ValidMetricFound or FailedGetMetrics
  AutoscaleCondition scaling_limited;  // TooManyReplicas, TooFewReplicas, ScaleUpLimit,
                                       // ScaleDownLimit (True) or DesiredWithinRange (False)
  // Set when desired_replicas != current_replicas: reason ScaledUp / ScaledDown and a message
  // naming the new size and the metric values, as an Event of the Workspace.
  std::optional<std::string> event_reason;
  std::string event_message;
  // The state to store. It records the scale event as if the change is applied; a caller that
  // fails to apply it should keep the previous state's scale_events.
  AutoscalerState next_state;
  // When a held-back change (stabilisation window or rate period) may go through even with
  // unchanged signals; nullopt when nothing waits on time.
  std::optional<Clock::TimePoint> requeue_at;
};

AutoscaleDecision Autoscale(const AutoscaleInput& input);

}  // namespace berth::hub
