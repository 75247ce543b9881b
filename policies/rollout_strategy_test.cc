#include "policies/rollout_strategy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/schema.h"
#include "api/yaml_json.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::policies {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::UnorderedElementsAre;

std::vector<std::string> FieldsOf(const Status& s) {
  std::vector<std::string> out;
  for (const auto& c : s.causes()) out.push_back(c.field);
  return out;
}

TEST(IntOrPercent, PercentRoundsUpAndNeverStallsProgress) {
  EXPECT_EQ((IntOrPercent{25, true}).Resolve(4), 1);
  EXPECT_EQ((IntOrPercent{25, true}).Resolve(5), 2);
  EXPECT_EQ((IntOrPercent{10, true}).Resolve(3), 1);
  EXPECT_EQ((IntOrPercent{100, true}).Resolve(7), 7);
  EXPECT_EQ((IntOrPercent{25, true}).Resolve(0), 0);
  EXPECT_EQ((IntOrPercent{3, false}).Resolve(100), 3);
}

TEST(RolloutStrategySpec, EmptyBodyIsTheDocumentedDefault) {
  auto spec = ParseRolloutStrategySpec(json::object());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->stages.size(), 1u);
  EXPECT_EQ(spec->stages[0].name, "canary");
  EXPECT_EQ(spec->stages[0].max_clusters, 1);
  EXPECT_EQ(spec->stages[0].soak_seconds, 60);
  EXPECT_TRUE(spec->stages[0].pre_pull);
  EXPECT_EQ(spec->rest_of_fleet.max_concurrency, (IntOrPercent{25, true}));
  EXPECT_EQ(spec->rest_of_fleet.soak_seconds, 0);
  EXPECT_TRUE(spec->rollback_on_failure);
  EXPECT_EQ(spec->failure_budget, (IntOrPercent{0, false}));
  EXPECT_EQ(spec->update_mode, UpdateMode::kSurge);
  EXPECT_EQ(spec->max_unavailable, (IntOrPercent{25, true}));
  EXPECT_EQ(spec->compatibility.on_incompatible, IncompatibleAction::kSkip);
  EXPECT_EQ(spec->revision_history_limit, 10);
}

TEST(RolloutStrategySpec, ParsesEveryField) {
  json body = json::parse(R"({
    "stages": [
      {"name": "canary", "clusterSelector": {"matchLabels": {"ring": "0"}}, "maxClusters": 1,
       "maxConcurrency": 1, "prePull": false, "prePullTimeoutSeconds": 60, "soakSeconds": 300,
       "approvalRequired": false, "healthGate": {"maxFailureReports": 2, "progressDeadlineSeconds": 900}},
      {"name": "eu", "clusterSelector": {"matchExpressions": [{"key": "region", "operator": "In", "values": ["westeurope", "northeurope"]}]},
       "maxConcurrency": "50%", "approvalRequired": true}
    ],
    "restOfFleet": {"maxConcurrency": 3, "soakSeconds": 30},
    "failureBudget": "10%", "rollbackOnFailure": false, "updateMode": "InPlace", "maxUnavailable": 2,
    "compatibility": {"minDriverVersion": "535.104", "minCudaVersion": "12.2", "onIncompatible": "Block"},
    "revisionHistoryLimit": 5
  })");
  auto spec = ParseRolloutStrategySpec(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->stages.size(), 2u);
  EXPECT_EQ(spec->stages[0].cluster_selector.match_labels.at("ring"), "0");
  EXPECT_FALSE(spec->stages[0].pre_pull);
  EXPECT_EQ(spec->stages[0].health_gate.max_failure_reports, 2);
  EXPECT_EQ(spec->stages[0].health_gate.progress_deadline_seconds, 900);
  EXPECT_EQ(spec->stages[1].max_concurrency, (IntOrPercent{50, true}));
  EXPECT_TRUE(spec->stages[1].approval_required);
  EXPECT_EQ(spec->stages[1].cluster_selector.match_expressions[0].values.size(), 2u);
  EXPECT_EQ(spec->rest_of_fleet.max_concurrency, (IntOrPercent{3, false}));
  EXPECT_EQ(spec->rest_of_fleet.soak_seconds, 30);
  EXPECT_EQ(spec->failure_budget, (IntOrPercent{10, true}));
  EXPECT_FALSE(spec->rollback_on_failure);
  EXPECT_EQ(spec->update_mode, UpdateMode::kInPlace);
  EXPECT_EQ(spec->max_unavailable, (IntOrPercent{2, false}));
  EXPECT_EQ(spec->compatibility.min_driver_version.ToString(), "535.104");
  EXPECT_EQ(spec->compatibility.on_incompatible, IncompatibleAction::kBlock);
  EXPECT_EQ(spec->revision_history_limit, 5);
}

TEST(RolloutStrategySpec, CanonicalJsonRoundTrips) {
  json body = json::parse(R"({"stages": [{"name": "a", "clusterSelector": {"matchLabels": {"x": "y"}},
      "maxConcurrency": "20%", "soakSeconds": 10}], "failureBudget": 1,
      "compatibility": {"minCudaVersion": "12.4"}})");
  auto spec = ParseRolloutStrategySpec(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  json canonical = RolloutStrategySpecToJson(*spec);
  auto again = ParseRolloutStrategySpec(canonical);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(RolloutStrategySpecToJson(*again), canonical);
  EXPECT_EQ(canonical["stages"][0]["maxConcurrency"], "20%");
  EXPECT_EQ(canonical["failureBudget"], 1);
}

TEST(RolloutStrategySpec, ServingGatesRoundTripAndNeedASoak) {
  json body = json::parse(R"({"stages": [{"name": "canary", "soakSeconds": 60,
      "healthGate": {"maxTtftP90Seconds": 0.5, "maxTtftP90RegressionPercent": 50}}]})");
  auto spec = ParseRolloutStrategySpec(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->stages[0].health_gate.max_ttft_p90_seconds, 0.5);
  EXPECT_EQ(spec->stages[0].health_gate.max_ttft_p90_regression_percent, 50);
  EXPECT_FALSE(spec->rest_of_fleet.health_gate.serving_gated());
  auto again = ParseRolloutStrategySpec(RolloutStrategySpecToJson(*spec));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stages[0].health_gate, spec->stages[0].health_gate);

  auto no_soak = ParseRolloutStrategySpec(json::parse(R"({"stages": [{"name": "canary",
      "healthGate": {"maxTtftP90Seconds": 0.5}}]})"));
  ASSERT_FALSE(no_soak.ok());
  EXPECT_THAT(FieldsOf(no_soak.status()), Contains("spec.stages[0].healthGate"));
  auto negative = ParseRolloutStrategySpec(json::parse(R"({"stages": [{"name": "canary", "soakSeconds": 5,
      "healthGate": {"maxTtftP90RegressionPercent": -1}}]})"));
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(FieldsOf(negative.status()), Contains("spec.stages[0].healthGate.maxTtftP90RegressionPercent"));
}

TEST(RolloutStrategySpec, ErrorRateGateAndTrafficPercent) {
  json body = json::parse(R"({"stages": [{"name": "canary", "soakSeconds": 60, "trafficPercent": 5,
      "healthGate": {"maxErrorRatePercent": 1}}]})");
  auto spec = ParseRolloutStrategySpec(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->stages[0].health_gate.max_error_rate_percent, 1);
  EXPECT_TRUE(spec->stages[0].health_gate.serving_gated());
  EXPECT_EQ(spec->stages[0].traffic_percent, 5);
  EXPECT_FALSE(spec->rest_of_fleet.traffic_percent.has_value());
  auto again = ParseRolloutStrategySpec(RolloutStrategySpecToJson(*spec));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->stages[0].traffic_percent, 5);
  EXPECT_EQ(again->stages[0].health_gate, spec->stages[0].health_gate);

  auto bad = ParseRolloutStrategySpec(json::parse(R"({"stages": [{"name": "canary", "soakSeconds": 5,
      "trafficPercent": 100, "healthGate": {"maxErrorRatePercent": 101}}],
      "restOfFleet": {"trafficPercent": 50}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(FieldsOf(bad.status()), Contains("spec.stages[0].trafficPercent"));
  EXPECT_THAT(FieldsOf(bad.status()), Contains("spec.stages[0].healthGate.maxErrorRatePercent"));
  EXPECT_THAT(FieldsOf(bad.status()), Contains("spec.restOfFleet.trafficPercent"));
}

TEST(RolloutStrategySpec, ReportsEveryProblemWithItsFieldPath) {
  json body = json::parse(R"({
    "stages": [{"maxConcurrency": "0%"}, {"name": "rest"}, {"name": "x", "soakSeconds": -1},
               {"name": "x", "clusterSelector": {"matchExpressions": [{"key": "r", "operator": "In"}]}}],
    "restOfFleet": {"clusterSelector": {}},
    "failureBudget": "ten", "updateMode": "Rolling", "maxUnavailable": 0,
    "compatibility": {"minDriverVersion": "new", "onIncompatible": "Ignore"},
    "revisionHistoryLimit": 0, "rollbackOnFailure": "yes"
  })");
  auto spec = ParseRolloutStrategySpec(body, "rollout.strategy");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalid);
  auto fields = FieldsOf(spec.status());
  for (const char* f : {"rollout.strategy.stages[0].name", "rollout.strategy.stages[0].maxConcurrency",
                        "rollout.strategy.stages[1].name", "rollout.strategy.stages[2].soakSeconds",
                        "rollout.strategy.stages[3].name",
                        "rollout.strategy.stages[3].clusterSelector.matchExpressions[0].values",
                        "rollout.strategy.restOfFleet.clusterSelector", "rollout.strategy.failureBudget",
                        "rollout.strategy.updateMode", "rollout.strategy.maxUnavailable",
                        "rollout.strategy.compatibility.minDriverVersion",
                        "rollout.strategy.compatibility.onIncompatible",
                        "rollout.strategy.revisionHistoryLimit", "rollout.strategy.rollbackOnFailure"}) {
    EXPECT_THAT(fields, Contains(std::string(f)));
  }
}

TEST(RolloutStrategy, WholeObjectNeedsKindNameAndSpec) {
  json ok = json::parse(R"({"apiVersion": "berth.dev/v1alpha1", "kind": "RolloutStrategy",
      "metadata": {"name": "staged", "namespace": "ml"}, "spec": {}})");
  auto s = ParseRolloutStrategy(ok);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metadata.name, "staged");
  EXPECT_EQ(s->metadata.namespace_, "ml");
  EXPECT_EQ(s->spec.stages.size(), 1u);

  auto bad = ParseRolloutStrategy(json::parse(R"({"apiVersion": "v1", "kind": "Strategy", "metadata": {}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(FieldsOf(bad.status()), UnorderedElementsAre("apiVersion", "kind", "metadata.name", "spec"));
}

TEST(RolloutStrategySchema, DescribesEveryCanonicalField) {
  const json& schema = RolloutStrategySchema();
  const json& spec_props = schema["properties"]["spec"]["properties"];
  json canonical = RolloutStrategySpecToJson(DefaultRolloutStrategy());
  for (const auto& [key, value] : canonical.items()) {
    ASSERT_TRUE(spec_props.contains(key)) << key;
    EXPECT_TRUE(spec_props[key].contains("description")) << key;
  }
  const json& stage_props = spec_props["stages"]["items"]["properties"];
  for (const auto& [key, value] : canonical["stages"][0].items()) {
    EXPECT_TRUE(stage_props.contains(key)) << key;
  }
}

TEST(RolloutStrategySchema, GenericValidatorAcceptsExampleAndNamesUnknownFields) {
  json object = json::parse(R"({"apiVersion": "berth.dev/v1alpha1", "kind": "RolloutStrategy",
      "metadata": {"name": "staged"},
      "spec": {"stages": [{"name": "canary", "maxClusters": 1, "maxConcurrency": "50%",
               "clusterSelector": {"matchLabels": {"ring": "0"}}, "healthGate": {"maxFailureReports": 1}}],
               "failureBudget": 1, "maxUnavailable": "25%", "updateMode": "InPlace"}})");
  Status ok = api::ValidateAgainstSchema(RolloutStrategySchema(), object, "RolloutStrategy");
  EXPECT_TRUE(ok.ok()) << ok.ToString();
  object["spec"]["stages"][0]["soakSecs"] = 5;
  Status bad = api::ValidateAgainstSchema(RolloutStrategySchema(), object, "RolloutStrategy");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(FieldsOf(bad), Contains("spec.stages[0].soakSecs"));
}

TEST(RolloutStrategyExamples, EveryExampleIsValidAndSchemaClean) {
  namespace fs = std::filesystem;
  const char* src = std::getenv("BERTH_SOURCE_DIR");
  fs::path dir = fs::path(src ? src : ".") / "examples" / "rollouts";
  int seen = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    ++seen;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    auto doc = api::YamlToJson(text.str());
    ASSERT_TRUE(doc.ok()) << e.path() << ": " << doc.status().ToString();
    Status schema = api::ValidateAgainstSchema(RolloutStrategySchema(), *doc, "RolloutStrategy");
    EXPECT_TRUE(schema.ok()) << e.path() << ": " << schema.ToString();
    auto parsed = ParseRolloutStrategy(*doc);
    EXPECT_TRUE(parsed.ok()) << e.path() << ": " << parsed.status().ToString();
  }
  EXPECT_GE(seen, 3);
}

}  // namespace
}  // namespace berth::policies
