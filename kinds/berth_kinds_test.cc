#include "kinds/berth_kinds.h"

#include <gtest/gtest.h>

#include "api/schema.h"
#include "api/yaml_json.h"

namespace berth::kinds {
namespace {

using nlohmann::json;

json Yaml(const char* text) { return *api::YamlToJson(text); }

class BerthKindsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBerthKinds(registry_).ok()); }
  api::KindRegistry registry_;
};

TEST_F(BerthKindsTest, AcceptsAValidWorkspaceAndPolicy) {
  EXPECT_TRUE(ValidateForCreate(registry_, Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat, namespace: ml}
inference: {preset: {name: phi-4-mini-instruct}}
placement: {replicas: 2, policy: {scoring: {weights: {cost: 2}}}}
)")).ok());
  EXPECT_TRUE(ValidateForCreate(registry_, Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: PlacementPolicy
metadata: {name: eu, namespace: ml}
spec: {required: {allowedRegions: [westeurope]}}
)")).ok());
}

// Was: berthctl plan ignored placement.policy.weights silently while the hub refused it.
TEST_F(BerthKindsTest, RefusesWhatTheHubRefusesWithTheFieldPath) {
  Status s = ValidateForCreate(registry_, Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat, namespace: ml}
inference: {preset: {name: phi-4-mini-instruct}}
placement: {replicas: 2, policy: {weights: {cost: 2}}}
)"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("placement.policy.weights"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("unknown field"), std::string::npos) << s.ToString();
}

TEST_F(BerthKindsTest, SemanticRulesRunToo) {
  Status s = ValidateForCreate(registry_, Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: PlacementPolicy
metadata: {name: bad, namespace: ml}
spec: {spread: [{maxSkew: 0}]}
)"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("maxSkew"), std::string::npos) << s.ToString();
}

// Every `pattern` in every kind's schema is one the hub can enforce without std::regex.
void ExpectPatternsMatchable(const json& schema, const std::string& where) {
  if (schema.is_object()) {
    if (auto p = schema.find("pattern"); p != schema.end()) {
      EXPECT_TRUE(api::PatternMatchers().count(p->get<std::string>())) << where << ": " << *p;
    }
    for (auto it = schema.begin(); it != schema.end(); ++it) ExpectPatternsMatchable(*it, where + "." + it.key());
  } else if (schema.is_array()) {
    for (const auto& item : schema) ExpectPatternsMatchable(item, where);
  }
}

TEST_F(BerthKindsTest, EverySchemaPatternHasAMatcher) {
  size_t kinds = 0;
  for (const auto* kind : registry_.All()) {
    ExpectPatternsMatchable(kind->schema, kind->kind);
    ++kinds;
  }
  EXPECT_GE(kinds, 8u);
}

TEST_F(BerthKindsTest, UnknownKindIsNamed) {
  Status s = ValidateForCreate(registry_, Yaml("{apiVersion: v1, kind: Gadget, metadata: {name: x}}"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Gadget"), std::string::npos);
  // Found by fuzz/fuzz_decode_body: a non-string apiVersion threw (berthctl plan aborted).
  Status typed = ValidateForCreate(registry_, Yaml("{apiVersion: 1, kind: [x]}"));
  EXPECT_EQ(typed.code(), StatusCode::kBadRequest);
  EXPECT_NE(typed.message().find("apiVersion: must be a string"), std::string::npos);
}

}  // namespace
}  // namespace berth::kinds
