// Unit tests of the endpoint map on data: sources (member, report, health, drain) in,
// status.endpoints out; and which members are sources.
#include "hub/controllers/endpoint_map.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::seconds;

MemberReport Report(int available, const std::string& url, int capacity = 0) {
  MemberReport r;
  r.available = r.ready = available;
  r.endpoint = url;
  r.capacity = capacity;
  if (capacity) r.serving = {{"capacity", capacity}, {"running", 3}};
  return r;
}

EndpointSource Source(const std::string& cluster, const MemberReport* r) {
  EndpointSource s;
  s.cluster = cluster;
  s.revision = 2;
  s.report = r;
  return s;
}

const json* Find(const json& endpoints, const std::string& cluster) {
  for (const auto& e : endpoints) {
    if (e["cluster"] == cluster) return &e;
  }
  return nullptr;
}

TEST(EndpointMap, WeightsFollowServingCapacityLargestIs256) {
  MemberReport a = Report(2, "http://127.0.0.1:4001", 64), b = Report(1, "http://127.0.0.1:4002", 16);
  json m = EndpointMap({Source("gpu-b", &b), Source("gpu-a", &a)}, json::array(), kT0);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0]["cluster"], "gpu-a") << "sorted by cluster";
  EXPECT_EQ(m[0]["state"], "Serving");
  EXPECT_EQ(m[0]["weight"], 256);
  EXPECT_EQ(m[1]["weight"], 64);
  EXPECT_EQ(m[0]["url"], "http://127.0.0.1:4001");
  EXPECT_EQ(m[0]["readyReplicas"], 2);
  EXPECT_EQ(m[0]["revision"], 2);
  EXPECT_EQ(m[0]["serving"]["running"], 3) << "signals are carried for the autoscaler and the dashboard";
  EXPECT_EQ(m[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

// A stage's trafficPercent: the endpoints on the new revision take that share of the weight
// together, each side keeping its capacity ratios.
TEST(EndpointMap, TrafficSplitGivesTheNewRevisionItsShare) {
  MemberReport canary = Report(1, "http://canary", 32), a = Report(2, "http://a", 64), b = Report(1, "http://b", 32);
  EndpointSource c = Source("canary", &canary);
  c.revision = 3;
  json m = EndpointMap({c, Source("a", &a), Source("b", &b)}, json::array(), kT0, TrafficSplit{3, 10});
  const int wc = (*Find(m, "canary"))["weight"], wa = (*Find(m, "a"))["weight"], wb = (*Find(m, "b"))["weight"];
  EXPECT_EQ(wa, 256) << "the largest weight stays the largest HAProxy allows";
  EXPECT_EQ(wb, 128) << "the old side keeps its capacity ratio";
  EXPECT_NEAR(static_cast<double>(wc) / (wc + wa + wb), 0.10, 0.005);

  // 90 %: now the canary is the largest.
  m = EndpointMap({c, Source("a", &a), Source("b", &b)}, json::array(), kT0, TrafficSplit{3, 90});
  const int wc9 = (*Find(m, "canary"))["weight"], wa9 = (*Find(m, "a"))["weight"], wb9 = (*Find(m, "b"))["weight"];
  EXPECT_EQ(wc9, 256);
  EXPECT_NEAR(static_cast<double>(wc9) / (wc9 + wa9 + wb9), 0.90, 0.01);
  EXPECT_GE(wb9, 1) << "no Serving endpoint drops to 0 (that would drain it)";

  // Nobody on the new revision serves yet (the canary is still starting): capacity weights.
  MemberReport starting = Report(0, "http://canary", 32);
  EndpointSource s = Source("canary", &starting);
  s.revision = 3;
  m = EndpointMap({s, Source("a", &a), Source("b", &b)}, json::array(), kT0, TrafficSplit{3, 10});
  EXPECT_EQ((*Find(m, "canary"))["state"], "Down");
  EXPECT_EQ((*Find(m, "a"))["weight"], 256);
  EXPECT_EQ((*Find(m, "b"))["weight"], 128);
}

TEST(EndpointMap, WithoutReportedCapacityWeightsFollowReadyReplicas) {
  MemberReport a = Report(4, "http://a"), b = Report(1, "http://b");
  json m = EndpointMap({Source("a", &a), Source("b", &b)}, json::array(), kT0);
  EXPECT_EQ((*Find(m, "a"))["weight"], 256);
  EXPECT_EQ((*Find(m, "b"))["weight"], 64);
}

TEST(EndpointMap, ATinyEndpointStillGetsWeightOne) {
  MemberReport a = Report(1, "http://a", 10000), b = Report(1, "http://b", 1);
  json m = EndpointMap({Source("a", &a), Source("b", &b)}, json::array(), kT0);
  EXPECT_EQ((*Find(m, "b"))["weight"], 1);
}

TEST(EndpointMap, AnUnhealthyMemberIsDownAtOnceWithWeightZero) {
  MemberReport a = Report(2, "http://a"), b = Report(2, "http://b");
  EndpointSource down = Source("b", &b);
  down.down_reason = "MemberUnhealthy";
  json m = EndpointMap({Source("a", &a), down}, json::array(), kT0);
  const json& e = *Find(m, "b");
  EXPECT_EQ(e["state"], "Down");
  EXPECT_EQ(e["reason"], "MemberUnhealthy");
  EXPECT_EQ(e["weight"], 0);
  EXPECT_EQ((*Find(m, "a"))["weight"], 256) << "the healthy one carries everything";
}

TEST(EndpointMap, DrainingHasWeightZeroAndSaysUntilWhen) {
  MemberReport a = Report(2, "http://a"), b = Report(2, "http://b");
  EndpointSource d = Source("b", &b);
  d.draining_until = kT0 + seconds(30);
  json m = EndpointMap({Source("a", &a), d}, json::array(), kT0);
  const json& e = *Find(m, "b");
  EXPECT_EQ(e["state"], "Draining");
  EXPECT_EQ(e["weight"], 0);
  EXPECT_EQ(e["drainingUntil"], "2026-01-01T00:00:30Z");
  EXPECT_EQ(e["url"], "http://b") << "the gateway still knows where in-flight requests go";
}

TEST(EndpointMap, NoReadyReplicasOrNoReportIsDown) {
  MemberReport starting = Report(0, "http://a");
  json m = EndpointMap({Source("a", &starting), Source("b", nullptr)}, json::array(), kT0);
  EXPECT_EQ((*Find(m, "a"))["reason"], "NoReadyReplicas");
  EXPECT_EQ((*Find(m, "b"))["reason"], "NotReported");
  EXPECT_FALSE(Find(m, "b")->contains("url"));
  EXPECT_EQ((*Find(m, "a"))["weight"], 0);
}

// A changed entry (more replicas there after a failover) fences the agent's report until it
// answers; meanwhile the endpoint keeps serving as last reported, not Down.
TEST(EndpointMap, AFencedReportKeepsTheLastKnownEndpoint) {
  MemberReport a = Report(2, "http://a", 64);
  json old = json::array({{{"cluster", "b"}, {"url", "http://b"}, {"state", "Serving"}, {"weight", 128},
                           {"readyReplicas", 1}, {"serving", {{"capacity", 32}}},
                           {"lastTransitionTime", "2025-12-31T00:00:00Z"}}});
  json m = EndpointMap({Source("a", &a), Source("b", nullptr)}, old, kT0);
  const json& b = *Find(m, "b");
  EXPECT_EQ(b["state"], "Serving");
  EXPECT_EQ(b["url"], "http://b");
  EXPECT_EQ(b["weight"], 128);
  EXPECT_EQ(b["lastTransitionTime"], "2025-12-31T00:00:00Z");
  EXPECT_EQ((*Find(m, "a"))["weight"], 256);
}

TEST(EndpointMap, LastTransitionTimeKeptWhileTheStateIsUnchanged) {
  MemberReport a = Report(2, "http://a");
  json old = json::array({{{"cluster", "a"}, {"state", "Serving"}, {"lastTransitionTime", "2025-12-31T00:00:00Z"}}});
  json m = EndpointMap({Source("a", &a)}, old, kT0);
  EXPECT_EQ(m[0]["lastTransitionTime"], "2025-12-31T00:00:00Z");
  old[0]["state"] = "Down";
  m = EndpointMap({Source("a", &a)}, old, kT0);
  EXPECT_EQ(m[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

TEST(EndpointSources, DesiredEntriesForHealthyMembersStoredWorkForFrozenOnes) {
  json objects[2] = {MemberObject("a"), MemberObject("b")};
  std::map<std::string, MemberView> members = {{"a", {&objects[0], MemberPhase::kHealthy, kT0}},
                                               {"b", {&objects[1], MemberPhase::kFailed, kT0}}};
  const json entry = {{"workspace", {{"metadata", {{"name", "llama"}, {"namespace", "default"}}}}}, {"revision", 3}};
  std::map<std::string, std::shared_ptr<const json>> works;
  works["b"] = std::make_shared<const json>(json{{"spec", {{"workspaces", json::array({entry})}}}});
  std::map<std::string, std::map<std::string, json>> desired;
  desired["a"][kKey] = entry;
  desired["b"][kKey] = entry;  // ignored: a frozen member's Work is not written
  MemberReports reported;
  reported["a"][kKey] = Report(1, "http://a");
  Draining draining;
  draining[kKey].push_back({"a", kT0 + seconds(9), 1, 1});
  auto sources = EndpointSources(members, works, desired, reported, draining);
  ASSERT_EQ(sources[kKey].size(), 2u);
  EXPECT_EQ(sources[kKey][0].cluster, "a");
  EXPECT_EQ(sources[kKey][0].revision, 3);
  ASSERT_NE(sources[kKey][0].report, nullptr);
  EXPECT_EQ(*sources[kKey][0].draining_until, kT0 + seconds(9));
  EXPECT_EQ(sources[kKey][1].down_reason, "MemberUnhealthy");
  EXPECT_EQ(sources[kKey][1].report, nullptr);
}

TEST(ServedModels, NameThenAdapters) {
  json ws = {{"metadata", {{"name", "phi"}}},
             {"inference",
              {{"preset", {{"name", "Phi-3-Mini-4K-Instruct"}}},
               {"adapters", json::array({{{"source", {{"name", "sql"}}}}, {{"source", {{"name", "sql"}}}}})}}}};
  EXPECT_EQ(ServedModels(ws), json::array({"phi-3-mini-4k-instruct", "sql"}));
  ws["inference"]["servedModelName"] = "phi";
  EXPECT_EQ(ServedModels(ws)[0], "phi");
  EXPECT_EQ(ServedModels(json{{"metadata", {{"name", "t"}}}}), json::array({"t"}));
}

}  // namespace
}  // namespace berth::hub
