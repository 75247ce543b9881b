#include "hub/controllers/workspace_references.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/yaml_json.h"

namespace berth::hub {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json Yaml(const std::string& text) { return *api::YamlToJson(text); }

json GatedLlama() {
  return Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: llama, namespace: team}
inference:
  preset: {name: llama-3.1-8b-instruct, revision: r1}
  modelAccessSecret: hf-token
  config: llama-cfg
)");
}

json Cfg(const std::string& vllm) {
  return {{"kind", "ConfigMap"}, {"metadata", {{"name", "llama-cfg"}, {"namespace", "team"}}},
          {"data", {{"inference_config.yaml", "vllm:\n" + vllm}}}};
}

json Token() {
  return {{"kind", "Secret"}, {"metadata", {{"name", "hf-token"}, {"namespace", "team"}, {"uid", "u1"}}},
          {"type", "Opaque"}, {"data", {{"HF_TOKEN", "aGZfeA=="}}}};
}

TEST(WorkspaceReferencesTest, KeysCoverConfigAndSecrets) {
  EXPECT_THAT(ReferenceKeys(GatedLlama()), ElementsAre("ConfigMap/team/llama-cfg", "Secret/team/hf-token"));
  EXPECT_TRUE(ReferenceKeys(Yaml("metadata: {name: p}\ninference: {preset: {name: phi-4-mini-instruct}}")).empty());
}

TEST(WorkspaceReferencesTest, ConfigAppliedAndSecretDelivered) {
  const std::map<std::string, json> objects = {{"ConfigMap/team/llama-cfg", Cfg("  max-model-len: 8192\n")},
                                               {"Secret/team/hf-token", Token()}};
  auto r = ResolveReferences(GatedLlama(), objects);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->any);
  EXPECT_EQ(r->effective["inference"]["parameters"]["maxModelLen"], 8192);
  ASSERT_EQ(r->deliver.size(), 1u);
  // Only what a member needs: no uid, namespace or other metadata of the hub's object.
  EXPECT_EQ(r->deliver[0], json({{"kind", "Secret"}, {"name", "hf-token"}, {"type", "Opaque"}, {"data", {{"HF_TOKEN", "aGZfeA=="}}}}));
  EXPECT_TRUE(r->missing.empty());
  const auto c = DescribeReferences(*r);
  EXPECT_TRUE(c.resolved);
  EXPECT_EQ(c.reason, "Resolved");
}

TEST(WorkspaceReferencesTest, MissingSecretIsListedNotFatal) {
  const std::map<std::string, json> objects = {{"ConfigMap/team/llama-cfg", Cfg("  max-model-len: 8192\n")}};
  auto r = ResolveReferences(GatedLlama(), objects);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->missing, ElementsAre("Secret team/hf-token (inference.modelAccessSecret)"));
  const auto c = DescribeReferences(*r);
  EXPECT_FALSE(c.resolved);
  EXPECT_EQ(c.reason, "ReferenceNotFound");
  EXPECT_THAT(c.message, HasSubstr("not found: Secret team/hf-token (inference.modelAccessSecret)"));
}

TEST(WorkspaceReferencesTest, BrokenConfigRefusesANewWorkspaceAndHoldsARunningOne) {
  const std::map<std::string, json> broken = {{"ConfigMap/team/llama-cfg", Cfg("  max-model-len: 99999999\n")},
                                              {"Secret/team/hf-token", Token()}};
  auto fresh = ResolveReferences(GatedLlama(), broken);
  ASSERT_FALSE(fresh.ok());
  EXPECT_THAT(fresh.status().message(), HasSubstr("vllm.max-model-len: 99999999 is above"));

  // A Workspace whose target revision 2 ran with maxModelLen 8192 keeps running it.
  json running = GatedLlama();
  json held_inference = running["inference"];
  held_inference["parameters"] = {{"maxModelLen", 8192}};
  running["status"]["revisions"] = {{"target", 2}, {"revisions", {{{"number", 1}, {"template", {{"inference", {{"x", 1}}}}}},
                                                                  {{"number", 2}, {"template", {{"inference", held_inference}}}}}}};
  auto held = ResolveReferences(running, broken);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->effective["inference"], held_inference);
  const auto c = DescribeReferences(*held);
  EXPECT_FALSE(c.resolved);
  EXPECT_EQ(c.reason, "InferenceConfigInvalid");
  EXPECT_THAT(c.message, HasSubstr("the current revision keeps running"));
  // A missing ConfigMap is held the same way.
  auto gone = ResolveReferences(running, {{"Secret/team/hf-token", Token()}});
  ASSERT_TRUE(gone.ok());
  EXPECT_THAT(gone->held, HasSubstr("ConfigMap team/llama-cfg not found"));
}

}  // namespace
}  // namespace berth::hub
