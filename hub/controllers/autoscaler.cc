// The HPA v2 algorithm restated (replica_calculator.go, horizontal.go): recommend per
// metric, take the largest, stabilise over the windows, limit by the rate policies and
// clamp to [min, max]. Deviations from HPA are listed in autoscaler.h and marked here.
#include "hub/controllers/autoscaler.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>

namespace berth::hub {
namespace {

using workspace::AutoscalingMetricType;
using workspace::AutoscalingSpec;
using workspace::ScalingPolicyType;
using workspace::ScalingRules;
using workspace::SelectPolicy;
using Seconds = std::chrono::seconds;

// ceil() (and floor()) of a product of doubles may land a hair off an integer (10 × 0.3 / 0.1
// is 30.000000000000004); such noise must not cost or drop a GPU replica. HPA rounds the raw
// product (its Percent policy lets 10 replicas grow by 10 % to 12), Berth does not.
constexpr double kCeilSlack = 1e-9;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool IsSignal(const std::optional<double>& v) { return v && std::isfinite(*v) && *v >= 0; }

// Metrics whose value is an average over the replicas that report it.
bool AveragedOverReplicas(AutoscalingMetricType type) {
  return type != AutoscalingMetricType::kTimeToFirstTokenP90Seconds;
}

// What one metric alone asks for (HPA's calcPlainMetricReplicas).
int RecommendFor(AutoscalingMetricType type, double value, double target,
                 const AutoscaleInput& in) {
  const int current = in.current_replicas;
  // Berth: scale from zero. HPA leaves a target at 0 replicas alone; KEDA activates it.
  if (current == 0) return value > 0 ? std::max(in.spec.min_replicas, 1) : 0;
  double ratio = value / target;
  const int ready = std::clamp(in.ready_replicas, 0, current);
  if (ratio > 1 && ready < current && AveragedOverReplicas(type)) {
    // Unready replicas count as carrying no load on a scale-up (HPA does the same for pods
    // not yet ready). If that flips the direction, no change.
    ratio = value * ready / (target * current);
    if (ratio < 1) return current;
  }
  if (std::abs(ratio - 1) <= in.spec.tolerance + kCeilSlack) return current;
  return static_cast<int>(std::ceil(ratio * current - kCeilSlack));
}

// Replicas added (sign > 0) or removed (sign < 0) within the last `period` before now.
int ChangeInPeriod(const std::vector<AutoscaleEvent>& events, Clock::TimePoint now, int period,
                   int sign) {
  int sum = 0;
  for (const auto& e : events)
    if (e.at > now - Seconds(period) && e.change * sign > 0) sum += e.change * sign;
  return sum;
}

int PeriodStartReplicas(const AutoscaleInput& in, int period) {
  return in.current_replicas - ChangeInPeriod(in.state.scale_events, in.now, period, +1) +
         ChangeInPeriod(in.state.scale_events, in.now, period, -1);
}

// HPA's calculateScaleUpLimitWithScalingRules: Max takes the policy allowing the most.
int ScaleUpLimit(const AutoscaleInput& in) {
  const ScalingRules& rules = in.spec.scale_up;
  if (rules.select_policy == SelectPolicy::kDisabled) return in.current_replicas;
  const bool max = rules.select_policy == SelectPolicy::kMax;
  int limit = max ? INT_MIN : INT_MAX;
  for (const auto& p : rules.policies) {
    const int start = PeriodStartReplicas(in, p.period_seconds);
    const int proposed =
        p.type == ScalingPolicyType::kPods
            ? start + p.value
            : static_cast<int>(std::ceil(start * (1 + p.value / 100.0) - kCeilSlack));
    limit = max ? std::max(limit, proposed) : std::min(limit, proposed);
  }
  if (rules.policies.empty()) limit = INT_MAX;
  // Berth: the first replicas from zero are not rate limited (100 % of 0 is 0 forever).
  if (in.current_replicas == 0) limit = std::max(limit, std::max(in.spec.min_replicas, 1));
  return limit;
}

// HPA's calculateScaleDownLimitWithScalingRules: Max takes the policy removing the most.
int ScaleDownLimit(const AutoscaleInput& in) {
  const ScalingRules& rules = in.spec.scale_down;
  if (rules.select_policy == SelectPolicy::kDisabled) return in.current_replicas;
  const bool max = rules.select_policy == SelectPolicy::kMax;
  int limit = max ? INT_MAX : INT_MIN;
  for (const auto& p : rules.policies) {
    const int start = PeriodStartReplicas(in, p.period_seconds);
    const int proposed =
        p.type == ScalingPolicyType::kPods
            ? start - p.value
            : static_cast<int>(std::floor(start * (1 - p.value / 100.0) + kCeilSlack));
    limit = max ? std::min(limit, proposed) : std::max(limit, proposed);
  }
  if (rules.policies.empty()) limit = INT_MIN;
  return limit;
}

// Earliest end of a period of `rules` that holds an event in direction `sign`.
std::optional<Clock::TimePoint> RatePeriodEnd(const AutoscaleInput& in, const ScalingRules& rules,
                                              int sign) {
  std::optional<Clock::TimePoint> end;
  for (const auto& p : rules.policies) {
    for (const auto& e : in.state.scale_events) {
      const auto until = e.at + Seconds(p.period_seconds);
      if (e.change * sign > 0 && until > in.now && (!end || until < *end)) end = until;
    }
  }
  return end;
}

struct Limited {
  int replicas;
  std::string reason;
  std::string message;
  std::optional<Clock::TimePoint> requeue_at = std::nullopt;
};

// HPA's convertDesiredReplicasWithBehaviorRate, plus a clamp when nothing changes (HPA
// handles a current count outside [min, max] before computing metrics).
Limited LimitAndClamp(const AutoscaleInput& in, int desired) {
  const int current = in.current_replicas;
  const AutoscalingSpec& spec = in.spec;
  if (desired > current) {
    const int rate = std::max(ScaleUpLimit(in), current);
    if (rate < spec.max_replicas && desired > rate) {
      std::string msg =
          spec.scale_up.select_policy == SelectPolicy::kDisabled
              ? "scale-up is disabled (behavior.scaleUp.selectPolicy: Disabled)"
              : "the desired replica count is increasing faster than the maximum scale rate";
      return {rate, "ScaleUpLimit", msg, RatePeriodEnd(in, spec.scale_up, +1)};
    }
    if (desired > spec.max_replicas)
      return {spec.max_replicas, "TooManyReplicas",
              "the desired replica count is more than the maximum replica count"};
  } else if (desired < current) {
    const int rate = std::min(ScaleDownLimit(in), current);
    if (rate > spec.min_replicas && desired < rate) {
      std::string msg =
          spec.scale_down.select_policy == SelectPolicy::kDisabled
              ? "scale-down is disabled (behavior.scaleDown.selectPolicy: Disabled)"
              : "the desired replica count is decreasing faster than the maximum scale rate";
      return {rate, "ScaleDownLimit", msg, RatePeriodEnd(in, spec.scale_down, -1)};
    }
    if (desired < spec.min_replicas)
      return {spec.min_replicas, "TooFewReplicas",
              "the desired replica count is less than the minimum replica count"};
  } else if (desired > spec.max_replicas) {
    return {spec.max_replicas, "TooManyReplicas",
            "the desired replica count is more than the maximum replica count"};
  } else if (desired < spec.min_replicas) {
    return {spec.min_replicas, "TooFewReplicas",
            "the desired replica count is less than the minimum replica count"};
  }
  return {desired, "DesiredWithinRange", "the desired count is within the acceptable range"};
}

struct Stabilized {
  int replicas;
  std::string reason;
  std::string message;
  std::optional<Clock::TimePoint> requeue_at = std::nullopt;
};

// HPA's stabilizeRecommendationWithBehaviors: a scale-down goes no lower than the highest
// recommendation within the scale-down window, a scale-up no higher than the lowest within
// the scale-up window.
Stabilized Stabilize(const AutoscaleInput& in, int recommended) {
  const auto up_window = Seconds(in.spec.scale_up.stabilization_window_seconds);
  const auto down_window = Seconds(in.spec.scale_down.stabilization_window_seconds);
  int up = recommended, down = recommended;
  for (const auto& r : in.state.recommendations) {
    if (r.at > in.now - up_window) up = std::min(up, r.replicas);
    if (r.at > in.now - down_window) down = std::max(down, r.replicas);
  }
  int result = in.current_replicas;
  if (result < up) result = up;
  if (result > down) result = down;
  // Berth: one scale-down per scale-down window. HPA steps a steadily falling load down at
  // every sync (each to the window's highest recommendation); here the next scale-down waits
  // until the window has passed since the last one, then takes the whole step at once.
  if (result < in.current_replicas) {
    std::optional<Clock::TimePoint> last_down;
    for (const auto& e : in.state.scale_events)
      if (e.change < 0 && e.at > in.now - down_window) last_down = e.at;
    if (last_down)
      return {in.current_replicas, "ScaleDownStabilized",
              "the last scale-down was less than behavior.scaleDown.stabilizationWindowSeconds "
              "ago; one scale-down per window",
              *last_down + down_window};
  }

  // When the value holding the result back leaves its window, look again.
  std::optional<Clock::TimePoint> requeue;
  auto earliest = [&](std::chrono::seconds window, auto holds) {
    for (const auto& r : in.state.recommendations) {
      const auto until = r.at + window;
      if (until > in.now && holds(r.replicas) && (!requeue || until < *requeue)) requeue = until;
    }
  };
  if (result > recommended) {
    earliest(down_window, [&](int r) { return r > recommended; });
    return {result, "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent "
            "recommendation",
            requeue};
  }
  if (result < recommended) {
    earliest(up_window, [&](int r) { return r < recommended; });
    return {result, "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent "
            "recommendation",
            requeue};
  }
  return {result, "ReadyForNewScale", "recommended size matches current size", std::nullopt};
}

// Drops what no window or period can look at any more.
AutoscalerState Pruned(const AutoscaleInput& in) {
  const AutoscalingSpec& spec = in.spec;
  int longest_window = std::max(spec.scale_up.stabilization_window_seconds,
                                spec.scale_down.stabilization_window_seconds);
  int longest_period = 0;
  for (const auto* rules : {&spec.scale_up, &spec.scale_down})
    for (const auto& p : rules->policies)
      longest_period = std::max(longest_period, p.period_seconds);
  // Scale-downs also stay a scale-down window (one scale-down per window).
  const int keep_downs = std::max(longest_period, spec.scale_down.stabilization_window_seconds);
  AutoscalerState out;
  for (const auto& r : in.state.recommendations)
    if (r.at > in.now - Seconds(longest_window)) out.recommendations.push_back(r);
  for (const auto& e : in.state.scale_events)
    if (e.at > in.now - Seconds(e.change < 0 ? keep_downs : longest_period))
      out.scale_events.push_back(e);
  return out;
}

std::string Describe(const MetricRecommendation& m) {
  return std::string(workspace::MetricTypeName(m.type)) + " " + Num(m.value) + " (target " +
         Num(m.target) + ")";
}

std::optional<Clock::TimePoint> Earlier(std::optional<Clock::TimePoint> a,
                                        std::optional<Clock::TimePoint> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

}  // namespace

AutoscaleDecision Autoscale(const AutoscaleInput& in) {
  AutoscaleDecision d;
  d.next_state = Pruned(in);
  for (const auto& m : in.spec.metrics) {
    auto it = in.metrics.find(m.type);
    if (it == in.metrics.end() || !IsSignal(it->second)) continue;
    MetricRecommendation r{m.type, *it->second, m.target,
                           RecommendFor(m.type, *it->second, m.target, in)};
    if (!d.driving_metric || r.replicas > d.driving_metric->replicas) d.driving_metric = r;
    d.recommendations.push_back(r);
  }

  int stabilized = in.current_replicas;
  std::optional<Clock::TimePoint> requeue;
  if (!d.driving_metric) {
    std::string names;
    for (const auto& m : in.spec.metrics)
      names += (names.empty() ? "" : ", ") + std::string(workspace::MetricTypeName(m.type));
    d.scaling_active = {
        "ScalingActive", false, "FailedGetMetrics",
        "no serving signal for any metric (" + names +
            "): check that the member agents and the gateway report serving metrics"};
    d.able_to_scale = {"AbleToScale", true, "ReadyForNewScale",
                       "no recommendation without signals; replicas kept"};
  } else {
    d.scaling_active = {"ScalingActive", true, "ValidMetricFound",
                        "the replica count was computed from " + Describe(*d.driving_metric)};
    AutoscaleInput seeded = in;
    if (in.state.recommendations.empty()) {
      // No history (first pass, or no signal for a whole window): as HPA does, count the
      // current size as a recommendation made now, so a scale-down waits out the window.
      seeded.state.recommendations.push_back({in.now, in.current_replicas});
      d.next_state.recommendations.push_back({in.now, in.current_replicas});
    }
    Stabilized s = Stabilize(seeded, d.driving_metric->replicas);
    d.next_state.recommendations.push_back({in.now, d.driving_metric->replicas});
    d.able_to_scale = {"AbleToScale", true, s.reason, s.message};
    stabilized = s.replicas;
    requeue = s.requeue_at;
  }

  Limited limited = LimitAndClamp(in, stabilized);
  d.desired_replicas = limited.replicas;
  d.scaling_limited = {"ScalingLimited", limited.reason != "DesiredWithinRange", limited.reason,
                       limited.message};
  d.requeue_at = Earlier(requeue, limited.requeue_at);

  const int change = d.desired_replicas - in.current_replicas;
  if (change != 0) {
    d.next_state.scale_events.push_back({in.now, change});
    d.event_reason = change > 0 ? "ScaledUp" : "ScaledDown";
    std::string why;
    if (!d.driving_metric) {
      why = limited.message;
    } else {
      for (const auto& r : d.recommendations) why += (why.empty() ? "" : ", ") + Describe(r);
    }
    d.event_message = "New size: " + std::to_string(d.desired_replicas) + " (was " +
                      std::to_string(in.current_replicas) + "); reason: " + why;
  }
  return d;
}

nlohmann::json AutoscalerStateToJson(const AutoscalerState& state) {
  // Milliseconds, so a stored entry leaves its window exactly when an in-memory one would.
  auto time = [](Clock::TimePoint t) {
    std::string s = FormatRfc3339(t);  // ...:SSZ
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d",
                  static_cast<int>(t.time_since_epoch().count() % 1000 + 1000) % 1000);
    return s.substr(0, s.size() - 1) + ms + "Z";
  };
  nlohmann::json recs = nlohmann::json::array(), events = nlohmann::json::array();
  for (const auto& r : state.recommendations)
    recs.push_back({{"time", time(r.at)}, {"replicas", r.replicas}});
  for (const auto& e : state.scale_events)
    events.push_back({{"time", time(e.at)}, {"change", e.change}});
  return {{"recommendations", std::move(recs)}, {"scaleEvents", std::move(events)}};
}

StatusOr<AutoscalerState> AutoscalerStateFromJson(const nlohmann::json& json,
                                                  const std::string& path) {
  AutoscalerState state;
  if (json.is_null()) return state;
  std::vector<FieldCause> causes;
  auto entries = [&](const char* key, const char* count_key, auto add) {
    if (!json.contains(key) || json[key].is_null()) return;
    const auto& list = json[key];
    if (!list.is_array()) {
      causes.push_back({path + "." + key, "must be an array", "FieldValueTypeInvalid"});
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = path + "." + key + "[" + std::to_string(i) + "]";
      const auto& item = list[i];
      Clock::TimePoint at;
      if (!item.is_object() || !item.contains("time") || !item["time"].is_string() ||
          !ParseRfc3339(item["time"].get<std::string>(), &at)) {
        causes.push_back({p + ".time", "must be an RFC 3339 time"});
        continue;
      }
      if (!item.contains(count_key) || !item[count_key].is_number_integer()) {
        causes.push_back({p + "." + count_key, "must be an integer", "FieldValueTypeInvalid"});
        continue;
      }
      add(at, static_cast<int>(item[count_key].get<int64_t>()));
    }
  };
  if (!json.is_object()) {
    causes.push_back({path, "must be an object", "FieldValueTypeInvalid"});
  } else {
    entries("recommendations", "replicas", [&](Clock::TimePoint at, int n) {
      state.recommendations.push_back({at, n});
    });
    entries("scaleEvents", "change", [&](Clock::TimePoint at, int n) {
      state.scale_events.push_back({at, n});
    });
  }
  if (causes.empty()) return state;
  std::string msg = path + " is invalid: " + causes.front().field + ": " + causes.front().message;
  return Status::Invalid(std::move(msg), std::move(causes));
}

}  // namespace berth::hub
