#include "rollout/revision.h"

#include <gtest/gtest.h>

namespace berth::rollout {
namespace {

using nlohmann::json;

const Clock::TimePoint kT0(Clock::Duration(1'767'225'600'000));

json Workspace() {
  return json::parse(R"({"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
    "metadata": {"name": "chat", "labels": {"team": "a"}, "annotations": {"note": "x"}},
    "resource": {"gpuProducts": ["A100-80GB"]},
    "inference": {"preset": {"name": "llama-3.1-8b-instruct"}, "image": "vllm:0.6"},
    "placement": {"replicas": 2}, "rollout": {"strategyRef": {"name": "staged"}}})");
}

TEST(ComputeRevisionHash, IgnoresReplicasLabelsPlacementAndStatus) {
  json a = Workspace();
  json b = a;
  b["placement"]["replicas"] = 7;
  b["metadata"]["labels"]["team"] = "b";
  b["metadata"]["annotations"]["note"] = "y";
  b["rollout"]["strategyRef"]["name"] = "other";
  b["status"] = {{"revision", 3}};
  EXPECT_EQ(ComputeRevisionHash(a), ComputeRevisionHash(b));
  EXPECT_EQ(ComputeRevisionHash(a).size(), 16u);
}

TEST(ComputeRevisionHash, ChangesWithModelImageParametersGpusAndDriverFloor) {
  const std::string base = ComputeRevisionHash(Workspace());
  json changed = Workspace();
  changed["inference"]["image"] = "vllm:0.7";
  EXPECT_NE(ComputeRevisionHash(changed), base);
  changed = Workspace();
  changed["inference"]["parameters"] = {{"maxModelLen", 8192}};
  EXPECT_NE(ComputeRevisionHash(changed), base);
  changed = Workspace();
  changed["resource"]["gpusPerReplica"] = 2;
  EXPECT_NE(ComputeRevisionHash(changed), base);
  changed = Workspace();
  changed["metadata"]["annotations"][kMinDriverAnnotation] = "550.54";
  EXPECT_NE(ComputeRevisionHash(changed), base);
}

TEST(RevisionOf, ReadsImageModelAndDriverFloorAndRejectsBadVersions) {
  json ws = Workspace();
  ws["metadata"]["annotations"][kMinCudaAnnotation] = "12.4";
  auto rev = RevisionOf(ws, kT0);
  ASSERT_TRUE(rev.ok()) << rev.status().ToString();
  EXPECT_EQ(rev->image, "vllm:0.6");
  EXPECT_EQ(rev->model, "llama-3.1-8b-instruct");
  EXPECT_EQ(rev->min_cuda_version.ToString(), "12.4");
  ws["metadata"]["annotations"][kMinDriverAnnotation] = "latest";
  auto bad = RevisionOf(ws, kT0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes()[0].field, std::string("metadata.annotations.") + kMinDriverAnnotation);
}

Revision Rev(const std::string& hash) {
  Revision r;
  r.hash = hash;
  r.created = kT0;
  return r;
}

TEST(RevisionHistory, NumbersNewContentAndReusesKnownContent) {
  RevisionHistory h(10);
  EXPECT_EQ(h.Record(Rev("a")).number, 1);
  EXPECT_EQ(h.Record(Rev("a")).number, 1);  // unchanged spec: no new revision
  EXPECT_EQ(h.Record(Rev("b")).number, 2);
  ASSERT_TRUE(h.MarkFailed(2, "CrashLoopBackOff").ok());
  ASSERT_TRUE(h.MarkGood(1).ok());
  EXPECT_EQ(h.Record(Rev("c")).number, 3);
  const Revision& back = h.Record(Rev("b"));  // back to known-bad content
  EXPECT_EQ(back.number, 4);
  EXPECT_EQ(back.failure_reason, "CrashLoopBackOff");
  EXPECT_EQ(h.revisions().size(), 3u);
  EXPECT_EQ(h.LastGood()->number, 1);
  EXPECT_EQ(h.MarkGood(99).code(), StatusCode::kNotFound);
}

TEST(RevisionHistory, IsBoundedButKeepsTheRollbackTarget) {
  RevisionHistory h(3);
  h.Record(Rev("good"));
  ASSERT_TRUE(h.MarkGood(1).ok());
  for (const char* hash : {"x1", "x2", "x3", "x4"}) h.Record(Rev(hash));
  EXPECT_EQ(h.revisions().size(), 3u);
  ASSERT_NE(h.LastGood(), nullptr);
  EXPECT_EQ(h.LastGood()->hash, "good");
  EXPECT_EQ(h.Target()->hash, "x4");
  EXPECT_EQ(h.FindHash("x1"), nullptr);
}

TEST(RevisionHistory, JsonRoundTripIsExact) {
  RevisionHistory h(5);
  Revision r = Rev("a");
  r.image = "vllm:0.6";
  r.model = "phi-3";
  r.min_driver_version = *DottedVersion::Parse("550.54");
  r.created = kT0 + std::chrono::milliseconds(1234);
  h.Record(r);
  ASSERT_TRUE(h.MarkGood(1).ok());
  h.Record(Rev("b"));
  ASSERT_TRUE(h.MarkFailed(2, "ImagePullBackOff").ok());
  json j = h.ToJson();
  EXPECT_EQ(j["target"], 2);
  EXPECT_EQ(j["lastGood"], 1);
  EXPECT_EQ(j["revisions"][0]["created"], "2026-01-01T00:00:01.234Z");
  auto back = RevisionHistory::FromJson(json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->revisions(), h.revisions());
  EXPECT_EQ(back->limit(), 5);
  EXPECT_FALSE(RevisionHistory::FromJson(json::parse(R"({"revisions": [{"number": 1}]})")).ok());
}

}  // namespace
}  // namespace berth::rollout
