// ParseAutoscaling: HPA v2 defaults, every validation path named by its field, and the JSON
// form with defaults filled in.
#include "workspace/autoscaling.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::workspace {
namespace {

using nlohmann::json;

json Minimal() {
  return {{"maxReplicas", 5},
          {"metrics", {{{"type", "WaitingRequestsPerReplica"}, {"target", 4}}}}};
}

// The one cause for `field`, or a failure naming every cause there was.
::testing::AssertionResult HasCause(const StatusOr<AutoscalingSpec>& r, const std::string& field,
                                    const std::string& message_part) {
  if (r.ok()) return ::testing::AssertionFailure() << "parsed fine";
  if (r.status().code() != StatusCode::kInvalid)
    return ::testing::AssertionFailure() << r.status().ToString();
  std::string all;
  for (const auto& c : r.status().causes()) {
    if (c.field == field && c.message.find(message_part) != std::string::npos)
      return ::testing::AssertionSuccess();
    all += c.field + ": " + c.message + "; ";
  }
  return ::testing::AssertionFailure()
         << "no cause " << field << " ~ " << message_part << " in " << all;
}

StatusOr<AutoscalingSpec> ParseWith(const std::string& json_pointer, json value) {
  json block = Minimal();
  block[json::json_pointer(json_pointer)] = std::move(value);
  return ParseAutoscaling(block);
}

TEST(AutoscalingParse, DefaultsAreHpaV2s) {
  auto spec = ParseAutoscaling(Minimal());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->min_replicas, 1);
  EXPECT_EQ(spec->max_replicas, 5);
  EXPECT_DOUBLE_EQ(spec->tolerance, 0.1);
  ASSERT_EQ(spec->metrics.size(), 1u);
  EXPECT_EQ(spec->metrics[0].type, AutoscalingMetricType::kWaitingRequestsPerReplica);
  EXPECT_DOUBLE_EQ(spec->metrics[0].target, 4);

  EXPECT_EQ(spec->scale_up.stabilization_window_seconds, 0);
  EXPECT_EQ(spec->scale_up.select_policy, SelectPolicy::kMax);
  const std::vector<ScalingPolicy> up = {{ScalingPolicyType::kPercent, 100, 15},
                                         {ScalingPolicyType::kPods, 4, 15}};
  EXPECT_EQ(spec->scale_up.policies, up);
  EXPECT_EQ(spec->scale_down.stabilization_window_seconds, 300);
  EXPECT_EQ(spec->scale_down.select_policy, SelectPolicy::kMax);
  const std::vector<ScalingPolicy> down = {{ScalingPolicyType::kPercent, 100, 15}};
  EXPECT_EQ(spec->scale_down.policies, down);
}

TEST(AutoscalingParse, FullBlock) {
  json block = {{"minReplicas", 0},
                {"maxReplicas", 12},
                {"tolerance", 0.05},
                {"metrics",
                 {{{"type", "TimeToFirstTokenP90Seconds"}, {"target", 0.8}},
                  {{"type", "KVCacheUtilization"}, {"target", 1}},
                  {{"type", "RequestsPerSecondPerReplica"}, {"target", 2.5}},
                  {{"type", "RunningRequestsPerReplica"}, {"target", 16}}}},
                {"behavior",
                 {{"scaleUp",
                   {{"stabilizationWindowSeconds", 30},
                    {"selectPolicy", "Min"},
                    {"policies", {{{"type", "Pods"}, {"value", 2}, {"periodSeconds", 60}}}}}},
                  {"scaleDown", {{"selectPolicy", "Disabled"}}}}}};
  auto spec = ParseAutoscaling(block);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->min_replicas, 0);
  EXPECT_DOUBLE_EQ(spec->tolerance, 0.05);
  ASSERT_EQ(spec->metrics.size(), 4u);
  EXPECT_EQ(spec->metrics[1].type, AutoscalingMetricType::kKVCacheUtilization);
  EXPECT_EQ(spec->scale_up.stabilization_window_seconds, 30);
  EXPECT_EQ(spec->scale_up.select_policy, SelectPolicy::kMin);
  EXPECT_EQ(spec->scale_up.policies,
            (std::vector<ScalingPolicy>{{ScalingPolicyType::kPods, 2, 60}}));
  // A partial direction keeps that direction's defaults for the fields it leaves out.
  EXPECT_EQ(spec->scale_down.select_policy, SelectPolicy::kDisabled);
  EXPECT_EQ(spec->scale_down.stabilization_window_seconds, 300);
  EXPECT_EQ(spec->scale_down.policies, DefaultScaleDownRules().policies);

  auto again = ParseAutoscaling(AutoscalingToJson(*spec));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *spec);
  EXPECT_EQ(AutoscalingToJson(*spec)["behavior"]["scaleDown"]["selectPolicy"], "Disabled");
}

TEST(AutoscalingParse, JsonRoundTripFillsDefaults) {
  auto spec = ParseAutoscaling(Minimal());
  ASSERT_TRUE(spec.ok());
  json j = AutoscalingToJson(*spec);
  EXPECT_EQ(j["minReplicas"], 1);
  EXPECT_EQ(j["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 300);
  EXPECT_EQ(j["behavior"]["scaleUp"]["policies"][1],
            json({{"type", "Pods"}, {"value", 4}, {"periodSeconds", 15}}));
  EXPECT_EQ(j["behavior"]["scaleUp"]["selectPolicy"], "Max");
  EXPECT_EQ(j["metrics"][0]["type"], "WaitingRequestsPerReplica");
  auto again = ParseAutoscaling(j);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *spec);
}

TEST(AutoscalingParse, NotAnObject) {
  auto r = ParseAutoscaling(json::array());
  EXPECT_TRUE(HasCause(r, "autoscaling", "must be an object"));
  EXPECT_TRUE(HasCause(ParseAutoscaling(json(3), "spec.autoscaling"), "spec.autoscaling",
                       "must be an object"));
}

TEST(AutoscalingParse, ReplicaBounds) {
  EXPECT_TRUE(HasCause(ParseWith("/minReplicas", -1), "autoscaling.minReplicas", "must be >= 0"));
  EXPECT_TRUE(HasCause(ParseWith("/minReplicas", 1.5), "autoscaling.minReplicas", "integer"));
  EXPECT_TRUE(HasCause(ParseWith("/maxReplicas", 0), "autoscaling.maxReplicas", "must be >= 1"));
  EXPECT_TRUE(HasCause(ParseWith("/maxReplicas", "5"), "autoscaling.maxReplicas", "integer"));
  EXPECT_TRUE(
      HasCause(ParseWith("/maxReplicas", int64_t{1} << 40), "autoscaling.maxReplicas", "32-bit"));
  json block = Minimal();
  block["minReplicas"] = 6;
  EXPECT_TRUE(
      HasCause(ParseAutoscaling(block), "autoscaling.maxReplicas", "must be >= minReplicas (6)"));
  block = Minimal();
  block.erase("maxReplicas");
  EXPECT_TRUE(HasCause(ParseAutoscaling(block), "autoscaling.maxReplicas", "is required"));
}

TEST(AutoscalingParse, Metrics) {
  json block = Minimal();
  block.erase("metrics");
  EXPECT_TRUE(HasCause(ParseAutoscaling(block), "autoscaling.metrics", "is required"));
  EXPECT_TRUE(
      HasCause(ParseWith("/metrics", json::array()), "autoscaling.metrics", "at least one"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics", "x"), "autoscaling.metrics", "must be an array"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0", 3), "autoscaling.metrics[0]", "must be an object"));
  EXPECT_TRUE(
      HasCause(ParseWith("/metrics/0/target", 0), "autoscaling.metrics[0].target", "must be > 0"));
  EXPECT_TRUE(
      HasCause(ParseWith("/metrics/0/target", -2), "autoscaling.metrics[0].target", "must be > 0"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0/target", "4"), "autoscaling.metrics[0].target",
                       "must be a number"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0/type", "GpuUtil"), "autoscaling.metrics[0].type",
                       "must be one of"));
  EXPECT_TRUE(
      HasCause(ParseWith("/metrics/0/type", 7), "autoscaling.metrics[0].type", "must be a string"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0", {{"target", 1}}), "autoscaling.metrics[0].type",
                       "is required"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0", {{"type", "KVCacheUtilization"}}),
                       "autoscaling.metrics[0].target", "is required"));
  EXPECT_TRUE(HasCause(ParseWith("/metrics/0", {{"type", "KVCacheUtilization"}, {"target", 1.2}}),
                       "autoscaling.metrics[0].target", "(0, 1]"));
  EXPECT_TRUE(ParseWith("/metrics/0", {{"type", "KVCacheUtilization"}, {"target", 1}}).ok());
  EXPECT_TRUE(
      HasCause(ParseWith("/metrics/1", {{"type", "WaitingRequestsPerReplica"}, {"target", 2}}),
               "autoscaling.metrics[1].type", "duplicate"));
}

TEST(AutoscalingParse, Behavior) {
  EXPECT_TRUE(HasCause(ParseWith("/behavior", 1), "autoscaling.behavior", "must be an object"));
  EXPECT_TRUE(HasCause(ParseWith("/behavior/scaleUp", "fast"), "autoscaling.behavior.scaleUp",
                       "must be an object"));
  EXPECT_TRUE(HasCause(ParseWith("/behavior/scaleDown/stabilizationWindowSeconds", 3601),
                       "autoscaling.behavior.scaleDown.stabilizationWindowSeconds", "0..3600"));
  EXPECT_TRUE(HasCause(ParseWith("/behavior/scaleUp/stabilizationWindowSeconds", -1),
                       "autoscaling.behavior.scaleUp.stabilizationWindowSeconds", "0..3600"));
  EXPECT_TRUE(ParseWith("/behavior/scaleDown/stabilizationWindowSeconds", 3600).ok());
  EXPECT_TRUE(HasCause(ParseWith("/behavior/scaleUp/selectPolicy", "Avg"),
                       "autoscaling.behavior.scaleUp.selectPolicy", "Max, Min or Disabled"));
  EXPECT_TRUE(HasCause(ParseWith("/behavior/scaleUp/policies", json::array()),
                       "autoscaling.behavior.scaleUp.policies", "at least one"));
  auto null_policies =
      ParseWith("/behavior/scaleUp/policies", nullptr);  // null is absent: defaults
  ASSERT_TRUE(null_policies.ok());
  EXPECT_EQ(null_policies->scale_up.policies, DefaultScaleUpRules().policies);
  EXPECT_TRUE(
      ParseWith("/behavior/scaleUp", {{"selectPolicy", "Disabled"}, {"policies", json::array()}})
          .ok());

  const std::string p0 = "autoscaling.behavior.scaleDown.policies[0]";
  auto policy = [](json p) {
    return ParseWith("/behavior/scaleDown/policies", json::array({std::move(p)}));
  };
  EXPECT_TRUE(HasCause(policy({{"type", "Replicas"}, {"value", 1}, {"periodSeconds", 15}}),
                       p0 + ".type", "Pods or Percent"));
  EXPECT_TRUE(HasCause(policy({{"value", 1}, {"periodSeconds", 15}}), p0 + ".type", "is required"));
  EXPECT_TRUE(HasCause(policy({{"type", "Pods"}, {"value", 0}, {"periodSeconds", 15}}),
                       p0 + ".value", "must be > 0"));
  EXPECT_TRUE(
      HasCause(policy({{"type", "Pods"}, {"periodSeconds", 15}}), p0 + ".value", "is required"));
  EXPECT_TRUE(HasCause(policy({{"type", "Pods"}, {"value", 1}, {"periodSeconds", 0}}),
                       p0 + ".periodSeconds", "1..1800"));
  EXPECT_TRUE(HasCause(policy({{"type", "Pods"}, {"value", 1}, {"periodSeconds", 1801}}),
                       p0 + ".periodSeconds", "1..1800"));
  EXPECT_TRUE(
      HasCause(policy({{"type", "Pods"}, {"value", 1}}), p0 + ".periodSeconds", "is required"));
  EXPECT_TRUE(HasCause(policy("Pods"), p0, "must be an object"));
  EXPECT_TRUE(policy({{"type", "Percent"}, {"value", 50}, {"periodSeconds", 1800}}).ok());
}

TEST(AutoscalingParse, Tolerance) {
  EXPECT_TRUE(HasCause(ParseWith("/tolerance", -0.1), "autoscaling.tolerance", "[0, 1)"));
  EXPECT_TRUE(HasCause(ParseWith("/tolerance", 1), "autoscaling.tolerance", "[0, 1)"));
  EXPECT_TRUE(
      HasCause(ParseWith("/tolerance", "10%"), "autoscaling.tolerance", "must be a number"));
  EXPECT_TRUE(ParseWith("/tolerance", 0).ok());
}

TEST(AutoscalingParse, UnknownFieldsRefusedWithTheirPath) {
  json block = Minimal();
  block["maxReplica"] = 3;
  block["metrics"][0]["targetValue"] = 3;
  json policy = {{"type", "Pods"}, {"value", 1}, {"periodSeconds", 5}, {"x", 1}};
  json down = {{"window", 5}, {"policies", json::array({policy})}};
  block["behavior"] = {{"scaleup", json::object()}, {"scaleDown", down}};
  auto r = ParseAutoscaling(block, "spec.autoscaling");
  EXPECT_TRUE(HasCause(r, "spec.autoscaling.maxReplica", "unknown field"));
  EXPECT_TRUE(HasCause(r, "spec.autoscaling.metrics[0].targetValue", "unknown field"));
  EXPECT_TRUE(HasCause(r, "spec.autoscaling.behavior.scaleup", "unknown field"));
  EXPECT_TRUE(HasCause(r, "spec.autoscaling.behavior.scaleDown.window", "unknown field"));
  EXPECT_TRUE(HasCause(r, "spec.autoscaling.behavior.scaleDown.policies[0].x", "unknown field"));
  EXPECT_EQ(r.status().causes().size(), 5u);
  EXPECT_NE(r.status().message().find("spec.autoscaling.maxReplica: unknown field"),
            std::string::npos);
}

TEST(AutoscalingParse, ReportsEveryProblemInOnePass) {
  json block = {{"minReplicas", -1}, {"metrics", {{{"type", "Nope"}, {"target", 0}}}}};
  auto r = ParseAutoscaling(block);
  EXPECT_TRUE(HasCause(r, "autoscaling.minReplicas", ">= 0"));
  EXPECT_TRUE(HasCause(r, "autoscaling.maxReplicas", "is required"));
  EXPECT_TRUE(HasCause(r, "autoscaling.metrics[0].type", "must be one of"));
  EXPECT_TRUE(HasCause(r, "autoscaling.metrics[0].target", "must be > 0"));
}

TEST(AutoscalingParse, MetricNamesRoundTrip) {
  for (auto t : {AutoscalingMetricType::kWaitingRequestsPerReplica,
                 AutoscalingMetricType::kRunningRequestsPerReplica,
                 AutoscalingMetricType::kTimeToFirstTokenP90Seconds,
                 AutoscalingMetricType::kKVCacheUtilization,
                 AutoscalingMetricType::kRequestsPerSecondPerReplica}) {
    EXPECT_EQ(MetricTypeFromName(MetricTypeName(t)), t);
  }
  EXPECT_EQ(MetricTypeFromName("waitingrequestsperreplica"), std::nullopt);
}

}  // namespace
}  // namespace berth::workspace
