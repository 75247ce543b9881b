// The autoscaling stage on data: fleet signals from member reports, the sync cadence, the
// stored decision reused between syncs, and what the pass's request and status get.
#include "hub/controllers/autoscale_stage.h"

#include <gtest/gtest.h>

#include "api/kinds.h"
#include "api/object.h"
#include "hub/controllers/placement_requests.h"
#include "hub/controllers/stage_test_data.h"
#include "hub/controllers/workspace_status.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::seconds;
using workspace::AutoscalingMetricType;

MemberReport Serving(int ready, json serving) {
  MemberReport r;
  r.replicas = r.ready = r.available = ready;
  r.serving = std::move(serving);
  return r;
}

json AutoscaledObject(int replicas, json autoscaling, json status = nullptr) {
  json o = {{"apiVersion", api::kApiVersion},
            {"kind", "Workspace"},
            {"metadata", {{"name", "llama"}, {"namespace", "default"}, {"generation", 3}}},
            {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
            {"placement", {{"replicas", replicas}}},
            {"autoscaling", std::move(autoscaling)}};
  if (!status.is_null()) o["status"] = std::move(status);
  return o;
}

json WaitingTarget(int min, int max, double target) {
  return {{"minReplicas", min},
          {"maxReplicas", max},
          {"metrics", {{{"type", "WaitingRequestsPerReplica"}, {"target", target}}}}};
}

TEST(SignalsFromReports, AveragesOverReadyReplicasAndWeightsTtftByRate) {
  MemberReport a = Serving(2, {{"requestsPerSecond", 30}, {"running", 8}, {"waiting", 6}, {"kvCacheUsage", 0.5},
                               {"ttftSeconds", {{"p90", 0.2}}}});
  MemberReport b = Serving(1, {{"requestsPerSecond", 10}, {"running", 4}, {"waiting", 0}, {"kvCacheUsage", 0.8},
                               {"ttftSeconds", {{"p90", 1.0}}}});
  MemberReport silent;  // applied, starting: no serving report yet
  silent.replicas = 2;
  auto s = SignalsFromReports({&a, &b, &silent});
  EXPECT_EQ(s.ready_replicas, 3);
  EXPECT_EQ(s.reporting_members, 2);
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kWaitingRequestsPerReplica], 2.0);
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kRunningRequestsPerReplica], 4.0);
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kRequestsPerSecondPerReplica], 40.0 / 3);
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kKVCacheUtilization], (0.5 * 2 + 0.8) / 3);
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kTimeToFirstTokenP90Seconds], (0.2 * 30 + 1.0 * 10) / 40);

  EXPECT_TRUE(SignalsFromReports({&silent}).metrics.empty());
}

TEST(SignalsFromReports, QueueWithNoReadyReplicaIsLoad) {
  MemberReport cold = Serving(0, {{"waiting", 5}, {"running", 0}});
  auto s = SignalsFromReports({&cold});
  EXPECT_DOUBLE_EQ(*s.metrics[AutoscalingMetricType::kWaitingRequestsPerReplica], 5.0);
  EXPECT_FALSE(s.metrics.count(AutoscalingMetricType::kKVCacheUtilization));
}

AutoscaleStageResult Stage(const json& object, const std::vector<const MemberReport*>& reports, Clock::TimePoint now) {
  auto ws = workspace::ParseWorkspace(object);
  EXPECT_TRUE(ws.ok()) << ws.status().ToString();
  AutoscaleStageInput in;
  in.workspace = &*ws;
  in.stored_status = &ws->status.raw;
  in.generation = api::GenerationOf(object);
  in.reports = reports;
  in.now = now;
  return AutoscaleWorkspace(in);
}

TEST(AutoscaleWorkspace, ScalesUpFromTheClampedStartAndRecordsWhy) {
  // placement.replicas 0 is below minReplicas 1: the autoscaler starts from 1.
  MemberReport r = Serving(1, {{"waiting", 12}, {"running", 16}});
  auto out = Stage(AutoscaledObject(0, WaitingTarget(1, 8, 4)), {&r}, kT0);
  ASSERT_TRUE(out.evaluated);
  EXPECT_EQ(out.desired_replicas, 3);  // ceil(1 × 12 / 4)
  ASSERT_TRUE(out.event_reason);
  EXPECT_EQ(*out.event_reason, "ScaledUp");
  EXPECT_NE(out.event_message.find("WaitingRequestsPerReplica 12 (target 4)"), std::string::npos) << out.event_message;
  EXPECT_EQ(out.status["desiredReplicas"], 3);
  EXPECT_EQ(out.status["currentReplicas"], 1);
  EXPECT_EQ(out.status["drivingMetric"], "WaitingRequestsPerReplica");
  EXPECT_EQ(out.status["observedGeneration"], 3);
  EXPECT_EQ(out.status["lastScaleTime"], FormatRfc3339(kT0));
  ASSERT_EQ(out.status["scaleEvents"].size(), 1u);
  EXPECT_EQ(out.status["scaleEvents"][0]["change"], 2);
  ASSERT_TRUE(out.wake.at);
  EXPECT_EQ(*out.wake.at, kT0 + kDefaultAutoscaleSync);
  ASSERT_EQ(out.conditions.size(), 3u);
  EXPECT_EQ(out.conditions[1].type, "ScalingActive");
  EXPECT_TRUE(out.conditions[1].status);
}

TEST(AutoscaleWorkspace, BetweenSyncsTheStoredDecisionStandsAndNothingIsRewritten) {
  MemberReport r = Serving(1, {{"waiting", 12}});
  auto first = Stage(AutoscaledObject(1, WaitingTarget(1, 8, 4)), {&r}, kT0);
  json stored = {{"autoscaler", first.status}};
  // Two seconds later the queue is far longer, but the sync period has not passed.
  MemberReport longer = Serving(1, {{"waiting", 40}});
  auto early = Stage(AutoscaledObject(1, WaitingTarget(1, 8, 4), stored), {&longer}, kT0 + seconds(2));
  EXPECT_FALSE(early.evaluated);
  EXPECT_EQ(early.desired_replicas, 3);
  EXPECT_EQ(early.status, first.status);
  ASSERT_TRUE(early.wake.at);
  EXPECT_EQ(*early.wake.at, kT0 + kDefaultAutoscaleSync);
  // At the sync it looks again: ceil(3 × 40 / 4) = 30, held to the default scale-up rate (4
  // replicas or 100 % per 15 s, the more) counted from the period's start, when 1 replica ran:
  // max(1 + 4, 2 × 1) = 5.
  auto due = Stage(AutoscaledObject(1, WaitingTarget(1, 8, 4), stored), {&longer}, kT0 + kDefaultAutoscaleSync);
  EXPECT_TRUE(due.evaluated);
  EXPECT_EQ(due.desired_replicas, 5);
  // A changed spec (new generation) is looked at at once: maxReplicas 2 clamps the stored 3.
  json edited = AutoscaledObject(1, WaitingTarget(1, 2, 4), stored);
  edited["metadata"]["generation"] = 4;
  auto changed = Stage(edited, {&longer}, kT0 + seconds(1));
  EXPECT_TRUE(changed.evaluated);
  EXPECT_EQ(changed.desired_replicas, 2);
  EXPECT_EQ(changed.status["currentReplicas"], 2);
}

TEST(AutoscaleWorkspace, NoSignalsKeepsTheSizeAndSaysWhy) {
  MemberReport starting;
  starting.replicas = 2;
  auto out = Stage(AutoscaledObject(2, WaitingTarget(1, 8, 4)), {&starting}, kT0);
  EXPECT_TRUE(out.evaluated);
  EXPECT_EQ(out.desired_replicas, 2);
  EXPECT_FALSE(out.event_reason);
  EXPECT_EQ(out.conditions[1].reason, "FailedGetMetrics");
}

TEST(BuildPlacementRequests, AutoscaledWorkspaceAsksForTheAutoscalersReplicasFromUnfrozenMembers) {
  std::vector<json> workspaces = {AutoscaledObject(1, WaitingTarget(1, 6, 2))};
  std::map<std::string, MemberView> members;
  members["gpu-a"].phase = MemberPhase::kHealthy;
  members["gpu-b"].phase = MemberPhase::kSuspect;  // frozen: its numbers are not trusted
  MemberReports reports;
  reports["gpu-a"][kKey] = Serving(1, {{"waiting", 6}});
  reports["gpu-b"][kKey] = Serving(1, {{"waiting", 600}});
  placement::PolicyCatalog catalog;
  PlacementRequestsInput in;
  in.workspaces = &workspaces;
  in.policies = &catalog;
  in.members = &members;
  in.reported = &reports;
  in.now = kT0;
  auto out = BuildPlacementRequests(in);
  ASSERT_EQ(out.requests.size(), 1u);
  // ready 1 (gpu-a only), waiting 6 per replica, target 2: ceil(1 × 6 / 2) = 3.
  EXPECT_EQ(out.requests[0].replicas, 3);
  ASSERT_TRUE(out.autoscaled.count(kKey));
  EXPECT_TRUE(out.wake.at);
}

TEST(WorkspaceStatus, AutoscalerStatusConditionsAndEventAndTheirRemoval) {
  json obj = AutoscaledObject(1, WaitingTarget(1, 8, 4));
  MemberReport r = Serving(1, {{"waiting", 12}});
  AutoscaleStageResult scaled = Stage(obj, {&r}, kT0);
  placement::PlacementDecision d;
  d.workspace = kKey;
  d.requested = 3;
  WorkspaceRolloutResult rollout;
  WorkspaceStatusInput in;
  in.workspace = &obj;
  in.decision = &d;
  in.rollout = &rollout;
  in.autoscale = &scaled;
  in.now = kT0;
  auto out = AggregateWorkspaceStatus(in);
  EXPECT_EQ(out.status["autoscaler"]["desiredReplicas"], 3);
  std::set<std::string> types;
  for (const auto& c : out.status["conditions"]) types.insert(c.value("type", ""));
  EXPECT_TRUE(types.count("AbleToScale") && types.count("ScalingActive") && types.count("ScalingLimited"));
  bool scaled_up = false;
  for (const auto& e : out.events) scaled_up = scaled_up || e.reason == "ScaledUp";
  EXPECT_TRUE(scaled_up);

  // autoscaling removed from the spec: its status and conditions go.
  json plain = obj;
  plain.erase("autoscaling");
  plain["status"] = out.status;
  in.workspace = &plain;
  in.autoscale = nullptr;
  auto after = AggregateWorkspaceStatus(in);
  EXPECT_FALSE(after.status.contains("autoscaler"));
  for (const auto& c : after.status["conditions"]) EXPECT_NE(c.value("type", ""), "ScalingActive");
}

}  // namespace
}  // namespace berth::hub
