// Unit tests of the Workspace status stage on data: the pass's decision, rollout, reports and
// failover outcome in; status.placements, superseded, failedOverFrom, the conditions, the
// events and the capacity-pending wake-up out. Also the placement events and the condition
// helpers it writes with.
#include "hub/controllers/workspace_status.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

#include "api/kinds.h"
#include "hub/controllers/conditions.h"
#include "hub/controllers/placement_events.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::seconds;

// An allocation priced at $3 per replica-hour.
placement::Allocation PricedAlloc(const std::string& cluster, int replicas) {
  placement::Allocation a;
  a.cluster = cluster;
  a.gpu = "A100-80GB";
  a.gpus_per_replica = 1;
  a.replicas = replicas;
  a.cost_per_hour = 3.0 * replicas;
  return a;
}

MemberReport Report(int ready, int64_t revision = 1, const std::string& phase = "Ready") {
  MemberReport r;
  r.replicas = ready;
  r.ready = ready;
  r.available = ready;
  r.updated = ready;
  r.revision = revision;
  r.applied = true;
  r.phase = phase;
  return r;
}

// One workspace's status inputs: default/llama (generation 4) with `old_status`, placed by
// `allocations` of the `requested` replicas, every member on revision 1.
struct StatusCase {
  json workspace;
  placement::PlacementDecision decision;
  WorkspaceRolloutResult rollout;
  MemberReports reported;
  policies::PlacementPolicySpec policy;
  WorkspaceStatusInput in;

  StatusCase(json old_status, std::vector<placement::Allocation> allocations, int requested) {
    workspace = {{"apiVersion", api::kApiVersion},
                 {"kind", "Workspace"},
                 {"metadata", {{"name", "llama"}, {"namespace", "default"}, {"generation", 4}}}};
    if (!old_status.is_null()) workspace["status"] = old_status;
    decision.workspace = kKey;
    decision.requested = requested;
    decision.allocations = allocations;
    for (const auto& a : allocations) decision.placed += a.replicas;
    if (decision.placed < requested) {
      decision.unplaced_reason = "InsufficientFreeGpus";
      decision.unplaced_message = "no cluster has 1 free A100: add capacity";
    }
    rollout.target_revision = 1;
    rollout.revisions = json::array();
    rollout.rollout = {{"phase", "Completed"}, {"strategy", "default"}};
    rollout.progressing = false;
    rollout.reason = "Completed";
    for (const auto& a : allocations) rollout.directives[a.cluster].revision = 1;
    in.allocations = allocations;
    in.capacity_limit = seconds(120);
    in.placement_decision = {{"feasibleClusters", 2}};
    in.now = kT0;
  }
  StatusCase(const StatusCase&) = delete;

  WorkspaceStatusResult Run() {
    in.workspace = &workspace;
    in.decision = &decision;
    in.rollout = &rollout;
    in.reported = &reported;
    in.policy = &policy;
    return AggregateWorkspaceStatus(in);
  }
};

json Condition(const json& status, const std::string& type) {
  const json object = {{"status", status}};
  return FindCondition(object, type);
}

std::vector<std::string> Reasons(const WorkspaceStatusResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.events) out.push_back(e.reason);
  return out;
}

json Placements(std::initializer_list<const char*> clusters) {
  json out = json::array();
  for (const char* c : clusters)
    out.push_back({{"cluster", c}, {"replicas", 1}, {"availableReplicas", 1}});
  return out;
}

// --- AggregateWorkspaceStatus ---

TEST(AggregateWorkspaceStatus, AFirstPlacementServingEverywhere) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 2)}, 2);
  MemberReport r = Report(2);
  r.endpoint = "http://10.0.0.1:8000";
  c.reported["gpu-a"][kKey] = r;
  WorkspaceStatusResult out = c.Run();
  const json& s = out.status;
  ASSERT_EQ(s["placements"].size(), 1u);
  EXPECT_EQ(s["placements"][0], (json{{"cluster", "gpu-a"},
                                      {"replicas", 2},
                                      {"readyReplicas", 2},
                                      {"revision", 1},
                                      {"gpu", "A100-80GB"},
                                      {"gpusPerReplica", 1},
                                      {"costPerHour", 6.0},
                                      {"availableReplicas", 2},
                                      {"endpoint", "http://10.0.0.1:8000"},
                                      {"phase", "Ready"}}));
  EXPECT_EQ(s["revision"], 1);
  EXPECT_EQ(s["observedGeneration"], 4);
  EXPECT_EQ(s["placementDecision"], (json{{"feasibleClusters", 2}}));
  EXPECT_EQ(s["rollout"]["phase"], "Completed");
  EXPECT_FALSE(s.contains("superseded"));
  EXPECT_FALSE(s.contains("failedOverFrom"));
  EXPECT_EQ(Condition(s, "Scheduled")["status"], "True");
  EXPECT_EQ(Condition(s, "Scheduled")["reason"], "Placed");
  EXPECT_EQ(Condition(s, "Scheduled")["observedGeneration"], 4);
  EXPECT_EQ(Condition(s, "Applied")["status"], "True");
  EXPECT_EQ(Condition(s, "Available")["status"], "True");
  EXPECT_EQ(Condition(s, "Degraded")["status"], "False");
  EXPECT_EQ(Condition(s, "Degraded")["reason"], "AllReplicasReady");
  EXPECT_EQ(Condition(s, "RolloutProgressing")["status"], "False");
  EXPECT_EQ(Condition(s, "MixedRevisions")["status"], "False");
  ASSERT_EQ(Reasons(out), std::vector<std::string>{"Placed"});
  EXPECT_EQ(out.events[0].type, "Normal");
  EXPECT_EQ(out.events[0].message, "2 on gpu-a");
  EXPECT_EQ(out.events[0].object, &c.workspace);
  EXPECT_FALSE(out.wake.at.has_value());
}

TEST(AggregateWorkspaceStatus, AdaptersAreReadyWhereTheTargetRevisionServes) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 2), PricedAlloc("gpu-b", 1)}, 3);
  c.workspace["inference"]["adapters"] = {{{"source", {{"name", "sql"}, {"image", "reg/sql:1"}}}}};
  c.reported["gpu-a"][kKey] = Report(2);
  c.reported["gpu-b"][kKey] = Report(0);
  const json s = c.Run().status;
  ASSERT_EQ(s["adapters"].size(), 1u);
  EXPECT_EQ(s["adapters"][0], (json{{"name", "sql"}, {"image", "reg/sql:1"}, {"state", "Ready"},
                                    {"readyReplicas", 2}, {"clusters", {"gpu-a"}}}));
  // None serving yet: Pending; no adapters at all: no field.
  c.reported["gpu-a"][kKey] = Report(0);
  EXPECT_EQ(c.Run().status["adapters"][0]["state"], "Pending");
  c.workspace["inference"].erase("adapters");
  EXPECT_FALSE(c.Run().status.contains("adapters"));
}

// A Workspace that references a Secret gets ReferencesResolved; one that stops referencing
// anything loses the condition.
TEST(AggregateWorkspaceStatus, ReferencesResolvedFollowsTheReferences) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 1)}, 1);
  c.reported["gpu-a"][kKey] = Report(1);
  ResolvedReferences refs;
  refs.any = true;
  refs.missing = {"Secret default/hf-token (inference.modelAccessSecret)"};
  c.in.references = &refs;
  json s = c.Run().status;
  EXPECT_EQ(Condition(s, "ReferencesResolved")["status"], "False");
  EXPECT_EQ(Condition(s, "ReferencesResolved")["reason"], "ReferenceNotFound");
  c.workspace["status"] = s;
  c.in.references = nullptr;
  s = c.Run().status;
  EXPECT_TRUE(Condition(s, "ReferencesResolved").is_null());
}

TEST(AggregateWorkspaceStatus, ReadyCountsOnlyTheRevisionTheMemberIsAskedToRun) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 2)}, 2);
  c.reported["gpu-a"][kKey] = Report(2, /*revision=*/0);  // still the old revision
  const json s = c.Run().status;
  EXPECT_EQ(s["placements"][0]["readyReplicas"], 0);
  EXPECT_EQ(s["placements"][0]["availableReplicas"], 2) << "the old pods still serve";
  EXPECT_EQ(Condition(s, "Applied")["status"], "False");
  EXPECT_EQ(Condition(s, "Available")["status"], "True");
}

TEST(AggregateWorkspaceStatus, AvailableIsCappedAtTheReplicasPlaced) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 1)}, 2);
  c.reported["gpu-a"][kKey] = Report(3);
  const json s = c.Run().status;
  EXPECT_EQ(s["placements"][0]["availableReplicas"], 1);
  EXPECT_EQ(Condition(s, "Available")["status"], "False") << "1 of 2 serving";
  EXPECT_EQ(Condition(s, "Degraded")["status"], "True");
}

TEST(AggregateWorkspaceStatus, WithoutAReportAMemberServesWhatItLastServed) {
  // gpu-a served 1 before and has not answered its changed entry; gpu-b is new.
  json old = {{"placements", {{{"cluster", "gpu-a"}, {"replicas", 1}, {"availableReplicas", 1}}}}};
  StatusCase c(old, {PricedAlloc("gpu-a", 2), PricedAlloc("gpu-b", 1)}, 3);
  const json s = c.Run().status;
  EXPECT_EQ(s["placements"][0]["availableReplicas"], 1);
  EXPECT_EQ(s["placements"][1]["availableReplicas"], 0);
  EXPECT_EQ(Condition(s, "Available")["message"], "1 of 3 replicas ready");
}

TEST(AggregateWorkspaceStatus, SupersededReadyReplicasCountAsAvailableWhileFailingOver) {
  StatusCase c(json{{"placements", Placements({"gpu-a"})}}, {PricedAlloc("gpu-b", 1)}, 1);
  c.reported["gpu-b"][kKey] = Report(0, 1, "Starting");
  c.in.superseded = {{{"cluster", "gpu-a"},
                      {"replicas", 1},
                      {"readyReplicas", 1},
                      {"reason", "ReplacementsNotReady"}}};
  const json s = c.Run().status;
  EXPECT_EQ(s["superseded"], json::array({c.in.superseded[0]}));
  EXPECT_EQ(Condition(s, "Available")["status"], "True") << "the old replica still serves";
  EXPECT_EQ(Condition(s, "Degraded")["status"], "True");
  EXPECT_EQ(Condition(s, "Degraded")["reason"], "FailingOver");
}

TEST(AggregateWorkspaceStatus, NotServingWithoutSupersededReplicas) {
  json old = {{"placements", Placements({"gpu-a"})},
              {"superseded", {{{"cluster", "gpu-c"}, {"replicas", 1}, {"readyReplicas", 1}}}}};
  StatusCase c(old, {PricedAlloc("gpu-a", 1)}, 1);
  c.reported["gpu-a"][kKey] = Report(0, 1, "Starting");
  const json s = c.Run().status;
  EXPECT_FALSE(s.contains("superseded")) << "nothing kept any more";
  EXPECT_EQ(Condition(s, "Available")["status"], "False");
  EXPECT_EQ(Condition(s, "Available")["reason"], "ReplicasNotReady");
  EXPECT_EQ(Condition(s, "Degraded")["reason"], "ReplicasNotReady");
}

TEST(AggregateWorkspaceStatus, CapacityPendingSinceStartsWithAWakeUpAndIsKept) {
  {
    StatusCase c(json{{"placements", Placements({"gpu-a"})}}, {PricedAlloc("gpu-a", 1)}, 1);
    MemberReport r = Report(0, 1, "Pending");
    r.reason = "InsufficientGPU";
    c.reported["gpu-a"][kKey] = r;
    WorkspaceStatusResult out = c.Run();
    EXPECT_EQ(out.status["placements"][0]["capacityPendingSince"], FormatRfc3339(kT0));
    EXPECT_EQ(out.status["placements"][0]["reason"], "InsufficientGPU");
    ASSERT_TRUE(out.wake.at.has_value());
    EXPECT_EQ(*out.wake.at, kT0 + seconds(120)) << "the pass runs again when the limit is reached";
  }
  {
    json old = {{"placements",
                 {{{"cluster", "gpu-a"},
                   {"replicas", 1},
                   {"capacityPendingSince", "2025-12-31T23:59:00Z"}}}}};
    StatusCase c(old, {PricedAlloc("gpu-a", 1)}, 1);
    MemberReport r = Report(0, 1, "Pending");
    r.reason = "NodeLost";
    c.reported["gpu-a"][kKey] = r;
    WorkspaceStatusResult out = c.Run();
    EXPECT_EQ(out.status["placements"][0]["capacityPendingSince"], "2025-12-31T23:59:00Z")
        << "the clock is kept";
    EXPECT_FALSE(out.wake.at.has_value()) << "its deadline is the failover stage's";
  }
  {
    json old = {{"placements",
                 {{{"cluster", "gpu-a"},
                   {"replicas", 1},
                   {"capacityPendingSince", "2025-12-31T23:59:00Z"}}}}};
    StatusCase c(old, {PricedAlloc("gpu-a", 1)}, 1);
    c.reported["gpu-a"][kKey] = Report(1);
    EXPECT_FALSE(c.Run().status["placements"][0].contains("capacityPendingSince"))
        << "no longer waiting";
  }
  {
    StatusCase c(json(), {PricedAlloc("gpu-a", 1)}, 1);
    MemberReport r = Report(0, 1, "Pending");
    r.reason = "ImagePulling";
    c.reported["gpu-a"][kKey] = r;
    WorkspaceStatusResult out = c.Run();
    EXPECT_FALSE(out.status["placements"][0].contains("capacityPendingSince"));
    EXPECT_FALSE(out.wake.at.has_value());
  }
}

TEST(AggregateWorkspaceStatus, AnUnreachableEvictionIsRememberedAndAnnounced) {
  StatusCase c(json{{"placements", Placements({"gpu-a"})}}, {PricedAlloc("gpu-b", 1)}, 1);
  c.in.evicted_unreachable = {"gpu-a"};
  WorkspaceStatusResult out = c.Run();
  EXPECT_EQ(out.status["failedOverFrom"], json::array({"gpu-a"}));
  ASSERT_EQ(Reasons(out), std::vector<std::string>{"FailedOver"});
  EXPECT_EQ(out.events[0].message, "1 on gpu-b");
}

TEST(AggregateWorkspaceStatus, NoFailedOverFromWhenFailbackIsOffOrTheMemberIsStillUsed) {
  {
    StatusCase c(json{{"placements", Placements({"gpu-a"})}}, {PricedAlloc("gpu-b", 1)}, 1);
    c.policy.failover.failback = false;
    c.in.evicted_unreachable = {"gpu-a"};
    WorkspaceStatusResult out = c.Run();
    EXPECT_FALSE(out.status.contains("failedOverFrom"));
    EXPECT_EQ(Reasons(out), std::vector<std::string>{"FailedOver"});
  }
  {
    StatusCase c(json{{"placements", Placements({"gpu-a"})}},
                 {PricedAlloc("gpu-a", 1), PricedAlloc("gpu-b", 1)}, 2);
    c.in.evicted_unreachable = {"gpu-a"};  // placed there again by the planner
    EXPECT_FALSE(c.Run().status.contains("failedOverFrom"));
  }
}

TEST(AggregateWorkspaceStatus, FailedOverFromIsKeptUntilFailbackDecides) {
  json old = {{"placements", Placements({"gpu-b"})}, {"failedOverFrom", json::array({"gpu-a"})}};
  {
    StatusCase c(old, {PricedAlloc("gpu-b", 1)}, 1);
    WorkspaceStatusResult out = c.Run();
    EXPECT_EQ(out.status["failedOverFrom"], json::array({"gpu-a"}));
    EXPECT_TRUE(out.events.empty()) << "the same members: nothing to announce";
  }
  {
    StatusCase c(old, {PricedAlloc("gpu-a", 1)}, 1);
    c.in.failing_back = true;
    WorkspaceStatusResult out = c.Run();
    EXPECT_FALSE(out.status.contains("failedOverFrom"));
    ASSERT_EQ(Reasons(out), std::vector<std::string>{"FailedBack"});
    EXPECT_EQ(out.events[0].message, "1 on gpu-a");
  }
}

TEST(AggregateWorkspaceStatus, ACapacityMoveIsARescheduleThatSaysWhatMoved) {
  StatusCase c(json{{"placements", Placements({"gpu-a"})}}, {PricedAlloc("gpu-a", 2), PricedAlloc("gpu-b", 1)},
               3);
  c.in.capacity_moved = {{"gpu-a", 1}};
  WorkspaceStatusResult out = c.Run();
  ASSERT_EQ(Reasons(out), std::vector<std::string>{"Rescheduled"});
  EXPECT_EQ(
      out.events[0].message,
      "2 on gpu-a, 1 on gpu-b; 1 replica(s) moved off gpu-a after waiting 120 s for GPUs there");
}

TEST(AggregateWorkspaceStatus, UnschedulableOnceWithWhy) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 1)}, 2);
  WorkspaceStatusResult out = c.Run();
  const json scheduled = Condition(out.status, "Scheduled");
  EXPECT_EQ(scheduled["status"], "False");
  EXPECT_EQ(scheduled["reason"], "InsufficientFreeGpus");
  EXPECT_EQ(scheduled["message"], "no cluster has 1 free A100: add capacity");
  ASSERT_EQ(Reasons(out), (std::vector<std::string>{"Placed", "Unschedulable"}));
  EXPECT_EQ(out.events[1].type, "Warning");
  EXPECT_EQ(out.events[1].message, "no cluster has 1 free A100: add capacity");

  StatusCase again(out.status, {PricedAlloc("gpu-a", 1)}, 2);
  EXPECT_TRUE(again.Run().events.empty()) << "already reported Unschedulable";
}

TEST(AggregateWorkspaceStatus, ASecondGpuShapeDroppedIsNotScheduled) {
  StatusCase c(json(), {PricedAlloc("gpu-a", 2)}, 2);
  c.in.split_dropped = 1;
  const json scheduled = Condition(c.Run().status, "Scheduled");
  EXPECT_EQ(scheduled["status"], "False");
  EXPECT_EQ(scheduled["reason"], "GpuShapesSplit");
  EXPECT_NE(
      scheduled["message"].get<std::string>().find("1 replicas fit only on a second GPU shape"),
      std::string::npos);
}

TEST(AggregateWorkspaceStatus, RolloutEventsAndRequeueComeFirstAndMixedRevisionsAreExplained) {
  StatusCase c(json{{"placements", Placements({"gpu-a", "gpu-b"})}},
               {PricedAlloc("gpu-a", 1), PricedAlloc("gpu-b", 1)}, 2);
  c.rollout.target_revision = 2;
  c.rollout.directives["gpu-a"].revision = 2;
  c.rollout.rollout = {{"phase", "Progressing"},
                       {"clusters", {{"gpu-b", {{"progress", "Waiting"}}}}}};
  c.rollout.progressing = true;
  c.rollout.reason = "Progressing";
  rollout::RolloutEvent started;
  started.reason = "StageStarted";
  started.message = "stage canary started";
  c.rollout.events.push_back(started);
  c.rollout.requeue_at = kT0 + seconds(60);
  WorkspaceStatusResult out = c.Run();
  ASSERT_FALSE(out.events.empty());
  EXPECT_EQ(out.events[0].reason, "StageStarted");
  EXPECT_EQ(out.events[0].message, "stage canary started");
  ASSERT_TRUE(out.wake.at.has_value());
  EXPECT_EQ(*out.wake.at, kT0 + seconds(60));
  EXPECT_EQ(Condition(out.status, "RolloutProgressing")["status"], "True");
  const json mixed = Condition(out.status, "MixedRevisions");
  EXPECT_EQ(mixed["status"], "True");
  EXPECT_EQ(mixed["reason"], "RolloutInProgress");
  EXPECT_EQ(out.status["placements"][1]["revisionReason"], "Waiting");
  EXPECT_FALSE(out.status["placements"][0].contains("revisionReason"));
}

TEST(AggregateWorkspaceStatus, ConditionsKeepTheirTransitionTimeWhileUnchanged) {
  StatusCase first(json(), {PricedAlloc("gpu-a", 1)}, 1);
  first.reported["gpu-a"][kKey] = Report(1);
  const json status = first.Run().status;
  StatusCase later(status, {PricedAlloc("gpu-a", 1)}, 1);
  later.reported["gpu-a"][kKey] = Report(1);
  later.in.now = kT0 + seconds(600);
  WorkspaceStatusResult out = later.Run();
  EXPECT_EQ(out.status, status) << "a pass with nothing new writes nothing";
  EXPECT_TRUE(out.events.empty());
}

// --- DescribeMixedRevisions, InvalidWorkspaceStatus ---

TEST(DescribeMixedRevisions, NamesWhoRunsWhatAndWhy) {
  json placements = {{{"cluster", "a"}, {"revision", 2}},
                     {{"cluster", "b"}, {"revision", 1}},
                     {{"cluster", "c"}, {"revision", 1}},
                     {{"cluster", "d"}, {"revision", 1}}};
  const json state = {{"clusters",
                       {{"b", {{"progress", "Skipped"}, {"reason", "DriverTooOld"}}},
                        {"c", {{"progress", "Waiting"}, {"reason", ""}}}}}};
  bool skipped = false;
  const std::string text = DescribeMixedRevisions(placements, state, 2, &skipped);
  EXPECT_TRUE(skipped);
  EXPECT_EQ(
      text,
      "revision 2 on 1 of 4 clusters; revision 1 on b (DriverTooOld); revision 1 on c (Waiting); "
      "revision 1 on d (Pending)");
  EXPECT_FALSE(placements[0].contains("revisionReason"));
  EXPECT_EQ(placements[1]["revisionReason"], "DriverTooOld");
  EXPECT_EQ(placements[2]["revisionReason"], "Waiting");
  EXPECT_EQ(placements[3]["revisionReason"], "Pending");
}

TEST(DescribeMixedRevisions, EmptyWhenEveryMemberRunsTheTarget) {
  json placements = {{{"cluster", "a"}, {"revision", 2}}, {{"cluster", "b"}, {"revision", 2}}};
  bool skipped = false;
  EXPECT_EQ(DescribeMixedRevisions(placements, json::object(), 2, &skipped), "");
  EXPECT_FALSE(skipped);
  EXPECT_FALSE(placements[1].contains("revisionReason"));
}

TEST(InvalidWorkspaceStatus, ScheduledFalseWithWhyAndTheRestKept) {
  json ws = {{"metadata", {{"name", "llama"}, {"namespace", "default"}, {"generation", 6}}},
             {"status",
              {{"placements", Placements({"gpu-a"})},
               {"conditions",
                {{{"type", "Available"}, {"status", "True"}, {"reason", "ReplicasReady"}}}}}}};
  const json s =
      InvalidWorkspaceStatus(ws, "placement.policyRef \"x\" names no PlacementPolicy", kT0);
  const json scheduled = Condition(s, "Scheduled");
  EXPECT_EQ(scheduled["status"], "False");
  EXPECT_EQ(scheduled["reason"], "InvalidSpec");
  EXPECT_EQ(scheduled["message"], "placement.policyRef \"x\" names no PlacementPolicy");
  EXPECT_EQ(scheduled["observedGeneration"], 6);
  EXPECT_EQ(Condition(s, "Available")["status"], "True");
  EXPECT_EQ(s["placements"], Placements({"gpu-a"}));
}

// --- PlacementChangeEvent, UnschedulableEvent ---

struct Change {
  json workspace = {{"metadata", {{"name", "llama"}}}};
  json before, after;
  std::set<std::string> evicted;
  std::map<std::string, int> moved;
  bool failing_back = false;
  std::optional<FleetEvent> Event() {
    return PlacementChangeEvent(
        {&workspace, &before, &after, failing_back, &evicted, &moved, seconds(120)});
  }
};

TEST(PlacementChangeEvent, NoneWhenTheMembersAreTheSameOrNone) {
  Change c;
  c.before = Placements({"gpu-a"});
  c.after = Placements({"gpu-a"});
  c.after[0]["replicas"] = 3;
  EXPECT_FALSE(c.Event().has_value()) << "a rescale in place is not a move";
  c.after = json::array();
  EXPECT_FALSE(c.Event().has_value()) << "placed nowhere: Unschedulable says so";
}

TEST(PlacementChangeEvent, ReasonsByWhatHappened) {
  Change placed;
  placed.before = json::array();
  placed.after = Placements({"gpu-a", "gpu-b"});
  ASSERT_TRUE(placed.Event().has_value());
  EXPECT_EQ(placed.Event()->reason, "Placed");
  EXPECT_EQ(placed.Event()->message, "1 on gpu-a, 1 on gpu-b");

  Change over;
  over.before = Placements({"gpu-a"});
  over.after = Placements({"gpu-b"});
  over.evicted = {"gpu-a"};
  over.failing_back = true;  // an unreachable member left weighs more
  EXPECT_EQ(over.Event()->reason, "FailedOver");

  Change back;
  back.before = Placements({"gpu-b"});
  back.after = Placements({"gpu-a"});
  back.failing_back = true;
  EXPECT_EQ(back.Event()->reason, "FailedBack");

  Change moved;
  moved.before = Placements({"gpu-a"});
  moved.after = Placements({"gpu-b"});
  moved.evicted = {"gpu-c"};  // evicted elsewhere, not from a member this one left
  EXPECT_EQ(moved.Event()->reason, "Rescheduled");

  Change stayed;  // the unreachable member keeps its place; another member was left
  stayed.before = Placements({"gpu-a", "gpu-b"});
  stayed.after = Placements({"gpu-a", "gpu-c"});
  stayed.evicted = {"gpu-a"};
  EXPECT_EQ(stayed.Event()->reason, "Rescheduled");
}

TEST(PlacementChangeEvent, OnlyMovesOfReplicasAreListed) {
  Change c;
  c.before = Placements({"gpu-a"});
  c.after = Placements({"gpu-b"});
  c.moved = {{"gpu-a", 1}, {"gpu-c", 0}};
  ASSERT_TRUE(c.Event().has_value());
  EXPECT_EQ(c.Event()->message,
            "1 on gpu-b; 1 replica(s) moved off gpu-a after waiting 120 s for GPUs there");
}

TEST(UnschedulableEvent, AWarningOnlyWhenItStopsFitting) {
  const json fresh = {{"metadata", {{"name", "llama"}}}};
  EXPECT_FALSE(UnschedulableEvent(fresh, true, "").has_value());
  auto ev = UnschedulableEvent(fresh, false, "no room");
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->type, "Warning");
  EXPECT_EQ(ev->reason, "Unschedulable");
  EXPECT_EQ(ev->message, "no room");
  EXPECT_EQ(ev->object, &fresh);

  json was_placed = fresh;
  was_placed["status"]["conditions"] = json::array({{{"type", "Scheduled"}, {"status", "True"}}});
  EXPECT_TRUE(UnschedulableEvent(was_placed, false, "no room").has_value());
  json already = fresh;
  already["status"]["conditions"] = json::array({{{"type", "Scheduled"}, {"status", "False"}}});
  EXPECT_FALSE(UnschedulableEvent(already, false, "no room").has_value());
}

// --- conditions ---

TEST(Conditions, FindReturnsTheConditionOrNull) {
  const json obj = {
      {"status",
       {{"conditions",
         {{{"type", "Ready"}, {"status", "True"}}, {{"type", "Healthy"}, {"status", "False"}}}}}}};
  EXPECT_EQ(FindCondition(obj, "Healthy")["status"], "False");
  EXPECT_TRUE(FindCondition(obj, "Joined").is_null());
  EXPECT_TRUE(FindCondition(json::object(), "Healthy").is_null());
  EXPECT_TRUE(FindCondition(json{{"status", "odd"}}, "Healthy").is_null());
}

TEST(Conditions, SetKeepsTheTransitionTimeWhileTheStatusIsUnchanged) {
  json conds;  // null: made an array
  SetCondition(conds, "Ready", true, "Up", "all good", kT0, 3);
  ASSERT_TRUE(conds.is_array());
  ASSERT_EQ(conds.size(), 1u);
  EXPECT_EQ(conds[0], (json{{"type", "Ready"},
                            {"status", "True"},
                            {"reason", "Up"},
                            {"message", "all good"},
                            {"lastTransitionTime", "2026-01-01T00:00:00Z"},
                            {"observedGeneration", 3}}));
  SetCondition(conds, "Ready", true, "StillUp", "fine", kT0 + seconds(10));
  ASSERT_EQ(conds.size(), 1u);
  EXPECT_EQ(conds[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(conds[0]["reason"], "StillUp");
  EXPECT_FALSE(conds[0].contains("observedGeneration")) << "generation 0 writes none";
  SetCondition(conds, "Ready", false, "Down", "gone", kT0 + seconds(20));
  EXPECT_EQ(conds[0]["lastTransitionTime"], "2026-01-01T00:00:20Z");
  SetCondition(conds, "Other", true, "X", "", kT0);
  EXPECT_EQ(conds.size(), 2u);
}

TEST(Conditions, TimeOfParsesOrFallsBack) {
  EXPECT_EQ(TimeOf(json("2026-01-01T00:00:10Z"), kT0), kT0 + seconds(10));
  EXPECT_EQ(TimeOf(json("later"), kT0), kT0);
  EXPECT_EQ(TimeOf(json(5), kT0), kT0);
  EXPECT_EQ(TimeOf(json(), kT0), kT0);
}

}  // namespace
}  // namespace berth::hub
