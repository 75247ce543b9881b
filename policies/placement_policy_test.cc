#include "policies/placement_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/schema.h"

namespace berth::policies {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::Field;

std::vector<std::string> FieldsOf(const Status& s) {
  std::vector<std::string> out;
  for (const auto& c : s.causes()) out.push_back(c.field);
  return out;
}

TEST(PlacementPolicySpec, EmptyBodyGetsDocumentedDefaults) {
  auto spec = ParsePlacementPolicySpec(json::object());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->mode, PlacementMode::kPickN);
  EXPECT_FALSE(spec->replicas.has_value());
  EXPECT_EQ(spec->min_clusters, 1);
  EXPECT_EQ(spec->max_clusters, 0);
  EXPECT_EQ(spec->min_available, 1);
  EXPECT_FALSE(spec->failover.toleration_seconds) << "unset: the hub's --failover-toleration applies";
  EXPECT_FALSE(spec->failover.failback_hysteresis_seconds);
  EXPECT_FALSE(spec->failover.capacity_pending_seconds);
  EXPECT_TRUE(spec->failover.failback);
  EXPECT_FALSE(spec->rebalance);
  EXPECT_DOUBLE_EQ(spec->scoring.weights.cost, 1);
}

TEST(PlacementPolicySpec, ParsesEveryField) {
  json body = json::parse(R"({
    "mode": "PickN", "replicas": 4, "minClusters": 2, "maxClusters": 3, "minAvailable": 2,
    "required": {
      "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"env": "prod"},
         "matchExpressions": [{"key": "provider", "operator": "NotIn", "values": ["onprem"]}]},
         "propertySelector": {"matchExpressions": [{"name": "freeGpus", "operator": "Ge", "values": ["4"]}]}}],
      "allowedRegions": ["westeurope"], "gpuProducts": ["A100-80GB"],
      "minDriverVersion": "535.104", "minCudaVersion": "12.2", "maxPricePerGpuHour": 4.5},
    "preferred": [{"weight": 30, "term": {"labelSelector": {"matchLabels": {"tier": "gold"}}}}],
    "scoring": {"weights": {"cost": 3, "locality": 0}, "demandRegions": [{"region": "eastus", "share": 3}, {"region": "westeurope", "share": 1}]},
    "spread": [{"topologyKey": "zone", "maxSkew": 2, "minDomains": 2, "whenUnsatisfiable": "ScheduleAnyway"}],
    "tolerations": [{"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
    "rebalance": true,
    "failover": {"tolerationSeconds": 10, "failback": false, "failbackHysteresisSeconds": 600,
                 "capacityPendingSeconds": 45}
  })");
  auto spec = ParsePlacementPolicySpec(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(*spec->replicas, 4);
  ASSERT_EQ(spec->required.cluster_selector_terms.size(), 1u);
  EXPECT_EQ(spec->required.cluster_selector_terms[0].label_selector.match_labels.at("env"), "prod");
  EXPECT_EQ(spec->required.cluster_selector_terms[0].property_selector[0].value, 4);
  EXPECT_EQ(spec->required.min_driver_version.ToString(), "535.104");
  EXPECT_DOUBLE_EQ(spec->scoring.demand_regions[0].share, 0.75);
  EXPECT_DOUBLE_EQ(spec->scoring.weights.locality, 0);
  EXPECT_EQ(spec->spread[0].when_unsatisfiable, WhenUnsatisfiable::kScheduleAnyway);
  EXPECT_EQ(*spec->tolerations[0].toleration_seconds, 60);
  EXPECT_EQ(spec->failover.failback_hysteresis_seconds, 600);
  EXPECT_EQ(spec->failover.capacity_pending_seconds, 45);
  // Round trip through the canonical JSON keeps the meaning.
  auto again = ParsePlacementPolicySpec(PlacementPolicySpecToJson(*spec));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(PlacementPolicySpecToJson(*again), PlacementPolicySpecToJson(*spec));
}

TEST(PlacementPolicySpec, ReportsEveryProblemWithItsFieldPath) {
  json body = json::parse(R"({
    "mode": "PickSome", "minClusters": 3, "maxClusters": 2,
    "required": {"minDriverVersion": "five", "maxPricePerGpuHour": -1,
      "clusterSelectorTerms": [{"labelSelector": {"matchExpressions": [{"key": "env", "operator": "In"}]}}]},
    "spread": [{"maxSkew": 0}],
    "tolerations": [{"key": "a", "effect": "NoSchedule", "tolerationSeconds": 5}],
    "preferred": [{"weight": 500, "term": {}}]
  })");
  auto spec = ParsePlacementPolicySpec(body, "placement.policy");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalid);
  auto fields = FieldsOf(spec.status());
  EXPECT_THAT(fields, Contains("placement.policy.mode"));
  EXPECT_THAT(fields, Contains("placement.policy.minClusters"));
  EXPECT_THAT(fields, Contains("placement.policy.required.minDriverVersion"));
  EXPECT_THAT(fields, Contains("placement.policy.required.maxPricePerGpuHour"));
  EXPECT_THAT(fields, Contains("placement.policy.required.clusterSelectorTerms[0].labelSelector."
                               "matchExpressions[0].values"));
  EXPECT_THAT(fields, Contains("placement.policy.spread[0].maxSkew"));
  EXPECT_THAT(fields, Contains("placement.policy.tolerations[0].tolerationSeconds"));
  EXPECT_THAT(fields, Contains("placement.policy.preferred[0].weight"));
}

TEST(PlacementPolicySpec, PickFixedNeedsClusterNames) {
  auto spec = ParsePlacementPolicySpec(json{{"mode", "PickFixed"}});
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(FieldsOf(spec.status()), Contains("spec.clusterNames"));
}

TEST(PlacementPolicySpec, WrongTypesAreNamed) {
  auto spec = ParsePlacementPolicySpec(json{{"replicas", "two"}, {"rebalance", 1}});
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(FieldsOf(spec.status()), Contains("spec.replicas"));
  EXPECT_THAT(FieldsOf(spec.status()), Contains("spec.rebalance"));
}

TEST(PlacementPolicy, WholeObjectChecksKindAndName) {
  auto ok = ParsePlacementPolicy(json::parse(R"({"apiVersion": "berth.dev/v1alpha1",
      "kind": "PlacementPolicy", "metadata": {"name": "eu-only", "namespace": "ml"},
      "spec": {"required": {"allowedRegions": ["westeurope"]}}})"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->metadata.namespace_, "ml");
  EXPECT_EQ(ok->spec.required.allowed_regions[0], "westeurope");

  auto bad = ParsePlacementPolicy(json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {},
      "spec": {"mode": 3}})"));
  ASSERT_FALSE(bad.ok());
  auto fields = FieldsOf(bad.status());
  EXPECT_THAT(fields, Contains("apiVersion"));
  EXPECT_THAT(fields, Contains("kind"));
  EXPECT_THAT(fields, Contains("metadata.name"));
  EXPECT_THAT(fields, Contains("spec.mode"));
}

TEST(DottedVersion, ComparesNumerically) {
  auto a = DottedVersion::Parse("535.104.05");
  auto b = DottedVersion::Parse("535.54");
  auto c = DottedVersion::Parse("12");
  ASSERT_TRUE(a && b && c);
  EXPECT_GT(a->Compare(*b), 0);
  EXPECT_EQ(c->Compare(*DottedVersion::Parse("12.0.0")), 0);
  EXPECT_FALSE(DottedVersion::Parse("12..1"));
  EXPECT_FALSE(DottedVersion::Parse("v12"));
}

// The schema must describe every field the parser accepts, so `kubectl explain` and the
// generic unknown-field validator agree with the parser.
TEST(PlacementPolicySchema, CoversCanonicalSpecFields) {
  const json& schema = PlacementPolicySchema();
  ASSERT_EQ(schema["type"], "object");
  const json& spec_props = schema["properties"]["spec"]["properties"];
  PlacementPolicySpec spec;
  spec.replicas = 1;
  json canonical = PlacementPolicySpecToJson(spec);
  for (const auto& [key, value] : canonical.items()) {
    EXPECT_TRUE(spec_props.contains(key)) << "schema lacks spec." << key;
    EXPECT_TRUE(spec_props[key].contains("description")) << "spec." << key << " has no description";
  }
  EXPECT_TRUE(spec_props["scoring"]["properties"]["weights"]["properties"].contains("warmCache"));
  EXPECT_EQ(schema["x-kubernetes-group-version-kind"][0]["kind"], "PlacementPolicy");
}

// The hub runs the generic structural validator with this schema before the parser:
// a complete policy must pass it and a misspelt field must be named.
TEST(PlacementPolicySchema, GenericValidatorAcceptsFullPolicyAndNamesUnknownFields) {
  json object = {{"apiVersion", "berth.dev/v1alpha1"},
                 {"kind", "PlacementPolicy"},
                 {"metadata", {{"name", "p"}, {"namespace", "ml"}, {"labels", {{"team", "a"}}}}}};
  PlacementPolicySpec spec;
  spec.replicas = 2;
  spec.required.max_price_per_gpu_hour = 4;
  spec.required.min_driver_version = *DottedVersion::Parse("535");
  spec.scoring.demand_regions.push_back({"eastus", 1});
  spec.spread.push_back({});
  spec.tolerations.push_back({"k", TolerationOperator::kExists, "", TaintEffect::kNoExecute, 30});
  ClusterTerm term;
  term.label_selector.match_labels["env"] = "prod";
  term.property_selector.push_back({ClusterProperty::kFreeGpus, PropertyOperator::kGe, 4});
  spec.required.cluster_selector_terms.push_back(term);
  spec.preferred.push_back({10, term});
  object["spec"] = PlacementPolicySpecToJson(spec);
  // Property selector values travel as strings in Kubernetes style.
  object["spec"]["required"]["clusterSelectorTerms"][0]["propertySelector"]["matchExpressions"][0]
        ["values"] = {"4"};
  object["spec"]["preferred"][0]["term"]["propertySelector"]["matchExpressions"][0]["values"] = {
      "4"};
  Status ok = api::ValidateAgainstSchema(PlacementPolicySchema(), object, "PlacementPolicy");
  EXPECT_TRUE(ok.ok()) << ok.ToString();

  object["spec"]["spraed"] = json::array();
  object["spec"]["scoring"]["weights"]["costt"] = 1;
  Status bad = api::ValidateAgainstSchema(PlacementPolicySchema(), object, "PlacementPolicy");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(FieldsOf(bad), Contains("spec.spraed"));
  EXPECT_THAT(FieldsOf(bad), Contains("spec.scoring.weights.costt"));
}

}  // namespace
}  // namespace berth::policies
