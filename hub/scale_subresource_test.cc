#include "hub/scale_subresource.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

using nlohmann::json;

api::KindInfo ScalableKind() {
  api::KindInfo k;
  k.kind = "Workspace";
  k.plural = "workspaces";
  k.scale_spec_path = "placement.replicas";
  k.scale_status_replicas = [](const json& o) -> int64_t { return o.value("/status/placed"_json_pointer, 0); };
  k.scale_selector = [](const json& o) { return "berth.dev/workspace=" + o["metadata"]["name"].get<std::string>(); };
  return k;
}

json Object() {
  return json::parse(R"({"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
    "metadata": {"name": "chat", "namespace": "ml", "uid": "u1", "resourceVersion": "7", "labels": {"a": "b"}},
    "placement": {"replicas": 3}, "status": {"placed": 2}})");
}

TEST(ScaleSubresourceTest, ScaleShowsDesiredObservedAndSelector) {
  const json scale = ScaleOf(ScalableKind(), Object());
  EXPECT_EQ(scale["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["metadata"]["name"], "chat");
  EXPECT_EQ(scale["metadata"]["resourceVersion"], "7");
  EXPECT_FALSE(scale["metadata"].contains("labels"));
  EXPECT_EQ(scale["spec"]["replicas"], 3);
  EXPECT_EQ(scale["status"]["replicas"], 2);
  EXPECT_EQ(scale["status"]["selector"], "berth.dev/workspace=chat");
}

TEST(ScaleSubresourceTest, AbsentReplicasReadAsTheDefault) {
  json o = Object();
  o.erase("placement");
  EXPECT_EQ(ScaleOf(ScalableKind(), o)["spec"]["replicas"], 1);
}

TEST(ScaleSubresourceTest, WritingAScaleSetsOnlyTheReplicas) {
  json scale = ScaleOf(ScalableKind(), Object());
  scale["spec"]["replicas"] = 5;
  scale["status"]["replicas"] = 99;  // derived: ignored
  auto out = WithScale(ScalableKind(), Object(), scale);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  json want = Object();
  want["placement"]["replicas"] = 5;
  EXPECT_EQ(*out, want);
  json no_placement = Object();
  no_placement.erase("placement");
  auto created = WithScale(ScalableKind(), no_placement, {{"spec", {{"replicas", 0}}}});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ((*created)["placement"]["replicas"], 0);
}

TEST(ScaleSubresourceTest, BadScalesAreRefusedNamingTheField) {
  auto negative = WithScale(ScalableKind(), Object(), {{"spec", {{"replicas", -1}}}});
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalid);
  ASSERT_EQ(negative.status().causes().size(), 1u);
  EXPECT_EQ(negative.status().causes()[0].field, "spec.replicas");
  EXPECT_FALSE(WithScale(ScalableKind(), Object(), {{"spec", {{"replicas", "4"}}}}).ok());
  EXPECT_FALSE(WithScale(ScalableKind(), Object(), {{"spec", {{"replicas", 1ll << 40}}}}).ok());
  auto other = WithScale(ScalableKind(), Object(), {{"metadata", {{"name", "other"}}}, {"spec", {{"replicas", 1}}}});
  EXPECT_EQ(other.status().code(), StatusCode::kBadRequest);
  auto stale = WithScale(ScalableKind(), Object(),
                         {{"metadata", {{"resourceVersion", "6"}}}, {"spec", {{"replicas", 1}}}});
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_EQ(WithScale(ScalableKind(), Object(), {{"kind", "Deployment"}}).status().code(), StatusCode::kBadRequest);
}

}  // namespace
}  // namespace berth::hub
