// A Workspace's `autoscaling` block: replica bounds, serving-signal targets and the
// scale-up / scale-down behaviour, with the field names and defaults of Kubernetes HPA v2
// (autoscaling/v2 HorizontalPodAutoscalerSpec) where HPA has them. Pure data + parsing;
// the decision itself is hub/controllers/autoscaler.h.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::workspace {

// The serving signals a Workspace can scale on. "PerReplica" values are already averaged
// over the replicas that report them (agents and the gateway do the division).
enum class AutoscalingMetricType {
  kWaitingRequestsPerReplica,    // vllm:num_requests_waiting
  kRunningRequestsPerReplica,    // vllm:num_requests_running
  kTimeToFirstTokenP90Seconds,   // p90 of vllm:time_to_first_token_seconds, whole workspace
  kKVCacheUtilization,           // vllm:kv_cache_usage_perc averaged, in [0, 1]
  kRequestsPerSecondPerReplica,  // from the gateway
};
// The spelling users write ("WaitingRequestsPerReplica"), and back. nullopt when unknown.
const char* MetricTypeName(AutoscalingMetricType type);
std::optional<AutoscalingMetricType> MetricTypeFromName(std::string_view name);

struct AutoscalingMetric {
  AutoscalingMetricType type = AutoscalingMetricType::kWaitingRequestsPerReplica;
  double target = 0;  // > 0; KVCacheUtilization in (0, 1]
  bool operator==(const AutoscalingMetric&) const = default;
};

enum class ScalingPolicyType { kPods, kPercent };
enum class SelectPolicy { kMax, kMin, kDisabled };

// HPA's HPAScalingPolicy: at most `value` pods (or percent of the replicas at the start of
// the period) added or removed within any `period_seconds`.
struct ScalingPolicy {
  ScalingPolicyType type = ScalingPolicyType::kPods;
  int value = 0;           // > 0
  int period_seconds = 0;  // 1..1800
  bool operator==(const ScalingPolicy&) const = default;
};

// HPA's HPAScalingRules for one direction.
struct ScalingRules {
  int stabilization_window_seconds = 0;  // 0..3600
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  bool operator==(const ScalingRules&) const = default;
};

// HPA v2's defaults: scale up by 100 % or 4 pods per 15 s, whichever is more, at once;
// scale down by up to 100 % per 15 s after a 300 s stabilisation window.
ScalingRules DefaultScaleUpRules();
ScalingRules DefaultScaleDownRules();

struct AutoscalingSpec {
  int min_replicas = 1;  // >= 0; 0 allows scale to zero (HPA needs an alpha gate for that)
  int max_replicas = 0;  // required, >= min_replicas and >= 1
  std::vector<AutoscalingMetric> metrics;  // one or more, each type at most once
  ScalingRules scale_up = DefaultScaleUpRules();
  ScalingRules scale_down = DefaultScaleDownRules();
  // No change while |value / target - 1| <= tolerance (HPA's controller-wide
  // --horizontal-pod-autoscaler-tolerance, here per workspace). [0, 1).
  double tolerance = 0.1;
  bool operator==(const AutoscalingSpec&) const = default;
};

// Decodes and validates `block` (the JSON of a Workspace's autoscaling block). Never throws.
// On error returns kInvalid whose causes name every bad field under `path`, e.g.
// {"autoscaling.metrics[0].target", "must be > 0"}; unknown fields are causes too.
StatusOr<AutoscalingSpec> ParseAutoscaling(const nlohmann::json& block,
                                           const std::string& path = "autoscaling");

// The block as JSON with every default filled in (what status / `kubectl get -o yaml` show).
// ParseAutoscaling(AutoscalingToJson(s)) == s for every valid s.
nlohmann::json AutoscalingToJson(const AutoscalingSpec& spec);

// The size an autoscaled Workspace stands at: status.autoscaler.desiredReplicas, else
// `placement_replicas`, clamped to the spec's bounds (the autoscaler's current size).
int AutoscaledSize(const AutoscalingSpec& spec, int placement_replicas, const nlohmann::json& status);

// The size an autoscaled Workspace object stands at: status.autoscaler.desiredReplicas, else
// placement.replicas (default 1) clamped to the bounds. nullopt when the object has no valid
// autoscaling block. For /scale and `kubectl get ws`.
std::optional<int> AutoscaledReplicas(const nlohmann::json& workspace_object);

}  // namespace berth::workspace
