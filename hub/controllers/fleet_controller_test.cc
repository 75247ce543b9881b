// Fake-clock tests of health, placement, Work generation, failover and failback, against
// an in-process store. Nothing sleeps: time moves only when the test advances the clock.
#include "hub/controllers/fleet_controller.h"

#include <gtest/gtest.h>

#include "hub/controllers/controller_fixture.h"

namespace berth::hub {
namespace {

class FleetControllerTest : public ControllerFixture {};

TEST_F(FleetControllerTest, HealthFollowsLeaseRenewals) {
  AddMember("gpu-a", 8);
  Settle();
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Joined"), "True");
  Renew("gpu-a");
  EXPECT_EQ(ctl_->RunDue(), 0) << "a Healthy member's renewal is read at its expiry check, not at once";
  Advance(seconds(14), {});  // 3 missed heartbeats of 5 s = 15 s grace
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  Advance(seconds(2), {});
  std::string reason;
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy", &reason), "False");
  EXPECT_EQ(reason, "LeaseExpired");
  Renew("gpu-a");
  Settle();
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "MemberUnhealthy"), events.end());
}

TEST_F(FleetControllerTest, PerMemberHeartbeatSettingsApply) {
  AddMember("gpu-a", 8);
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(Kind("MemberCluster"), "", "gpu-a", PatchType::kMerge,
                    R"({"spec":{"heartbeatPeriodSeconds":2,"unhealthyAfterMissedHeartbeats":2}})", {}, cb);
  });
  ASSERT_TRUE(r.ok());
  Settle();
  Advance(seconds(5), {});
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "False") << "2 × 2 s grace";
}

TEST_F(FleetControllerTest, PlacesWritesWorkAndAggregatesReadiness) {
  AddMember("gpu-a", 8);
  AddMember("gpu-b", 8);
  AddWorkspace("llama", 2);
  Settle();
  auto placed = Placements("llama");
  int total = 0;
  for (auto& [c, n] : placed) total += n;
  EXPECT_EQ(total, 2);
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Scheduled"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "False");
  const std::string where = placed.begin()->first;
  json work = Get("Work", "", where);
  ASSERT_FALSE(work.is_null());
  EXPECT_EQ(work["spec"]["workspaces"][0]["gpu"]["gfdProduct"], "NVIDIA-A100-SXM4-80GB");
  const int64_t gen = work["spec"]["placementGeneration"];
  for (auto& [c, n] : placed) ReportReady(c);
  Settle();
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Applied"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Degraded"), "False");
  // Level-triggered: another pass with nothing new writes nothing.
  const int64_t rv = store_->CurrentRevision();
  ctl_->loop().Enqueue("placement/fleet");
  Settle();
  EXPECT_EQ(store_->CurrentRevision(), rv);
  EXPECT_EQ(Get("Work", "", where)["spec"]["placementGeneration"], gen);
}

TEST_F(FleetControllerTest, UnschedulableWorkspaceSaysWhy) {
  AddMember("gpu-a", 1);
  Create("Workspace", {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", "big"}}},
                       {"inference", {{"preset", {{"name", "llama-3.3-70b-instruct"}}}}},
                       {"placement", {{"replicas", 1}}}},
         "default");
  Settle();
  std::string reason;
  EXPECT_EQ(Condition("Workspace", "default", "big", "Scheduled", &reason), "False");
  EXPECT_FALSE(reason.empty());
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "Unschedulable"), events.end());
}

TEST_F(FleetControllerTest, ReplicasStuckWithoutGpusAreReplacedAfterTheThreshold) {
  const auto [home, other_member] = PlaceOnOneOfTwo("llama", 1);
  const std::string& other = other_member;  // clang 14 cannot capture a structured binding
  ASSERT_FALSE(home.empty());
  // The member's scheduler cannot start the pod (GPUs taken by something Berth does not see).
  ReportPending(home, "ImagePulling");
  Settle();
  EXPECT_FALSE(Get("Workspace", "default", "llama")["status"]["placements"][0].contains("capacityPendingSince"))
      << "only a capacity reason starts the clock";
  ReportPending(home, "InsufficientGPU");
  Settle();
  json p0 = Get("Workspace", "default", "llama")["status"]["placements"][0];
  ASSERT_TRUE(p0.contains("capacityPendingSince"));
  const json since = p0["capacityPendingSince"];
  Advance(seconds(119), {home, other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}})) << "still within the threshold";
  EXPECT_EQ(Get("Workspace", "default", "llama")["status"]["placements"][0]["capacityPendingSince"], since)
      << "the clock is not restarted by later passes";
  Advance(seconds(2), {home, other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}})) << "re-placed after 120 s";
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1);
  EXPECT_EQ(WorkReplicas(home, "llama")[home], 1) << "the old entry stays until the replacement is Ready";
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "Rescheduled"), events.end());
  ReportReady(other);
  Settle();
  EXPECT_TRUE(WorkReplicas(home, "llama").empty());
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  // Stable afterwards: the replica does not drift back to the member it left.
  Advance(seconds(300), {home, other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}}));
}

TEST_F(FleetControllerTest, OnlyTheStuckReplicasMove) {
  const auto [home, other_member] = PlaceOnOneOfTwo("llama", 3);  // packed on one member
  const std::string& other = other_member;  // clang 14 cannot capture a structured binding
  ASSERT_FALSE(home.empty());
  json work = Get("Work", "", home);
  const json& e = work["spec"]["workspaces"][0];
  PatchStatus("Work", "", home,
              {{"status", {{"observedPlacementGeneration", work["spec"]["placementGeneration"]},
                           {"workspaces", {{{"name", "llama"}, {"namespace", "default"}, {"revision", e["revision"]},
                                            {"applied", true}, {"replicas", 3}, {"readyReplicas", 2},
                                            {"availableReplicas", 2}, {"phase", "Pending"},
                                            {"reason", "InsufficientGPU"}}}}}}});
  Settle();
  Advance(seconds(121), {home, other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 2}, {other, 1}}))
      << "the two serving replicas stay; the waiting one moves";
  EXPECT_EQ(WorkReplicas(home, "llama")[home], 2);
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1);
}

TEST_F(FleetControllerTest, StuckReplicasStayWhenNoOtherClusterHasRoom) {
  AddMember("gpu-a", 8);
  AddWorkspace("llama", 1);
  Settle();
  ReportPending("gpu-a", "InsufficientGPU");
  Settle();
  Advance(seconds(200), {"gpu-a"});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{"gpu-a", 1}}))
      << "nowhere better: the pending replica is not dropped";
  EXPECT_EQ(WorkReplicas("gpu-a", "llama")["gpu-a"], 1);
}

TEST_F(FleetControllerTest, FailoverAfterTolerationKeepsDeadMembersWorkAndNeverDropsReady) {
  const auto [home, other_member] = PlaceOnOneOfTwo("llama", 1);
  const std::string& other = other_member;  // clang 14 cannot capture a structured binding
  ASSERT_FALSE(home.empty());
  ReportReady(home);
  Settle();
  ASSERT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  const json home_work = Get("Work", "", home)["spec"];

  // The home member stops heartbeating: Unhealthy after 15 s, replicas stay for the 30 s toleration.
  Advance(seconds(16), {other});
  EXPECT_EQ(Condition("MemberCluster", "", home, "Healthy"), "False");
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}})) << "still within toleration";
  Advance(seconds(29), {other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}}));
  Advance(seconds(2), {other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}})) << "re-placed after toleration";
  EXPECT_EQ(Get("Work", "", home)["spec"], home_work) << "a dead member's Work is frozen, not emptied";
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1);
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "FailedOver"), events.end());
  ReportReady(other);
  Settle();
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  EXPECT_EQ(Get("Workspace", "default", "llama")["status"]["failedOverFrom"], json::array({home}));

  // Home comes back: no flapping during the hysteresis; its stale entry goes once the
  // replacement is Ready (it is), so nothing runs twice.
  Advance(seconds(5), {home, other});
  EXPECT_EQ(Condition("MemberCluster", "", home, "Healthy"), "True");
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}}));
  // Home serves again, so its stale entry drains (weight 0 for the drain grace) and then goes.
  ASSERT_EQ(WorkReplicas(home, "llama")[home], 1);
  EXPECT_TRUE(Get("Work", "", home)["spec"]["workspaces"][0].contains("draining"));
  Advance(seconds(31), {home, other});
  EXPECT_TRUE(WorkReplicas(home, "llama").empty()) << "superseded work removed after replacements are Ready";

  // After the hysteresis it fails back, make-before-break: the replica on `other` stays
  // until the one at home is Ready.
  Advance(seconds(120), {home, other});
  auto back = Placements("llama");
  EXPECT_EQ(back, (std::map<std::string, int>{{home, 1}})) << "fails back to the preferred member";
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1) << "old replica kept until the new one is Ready";
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True")
      << "the superseded replica still serves";
  ReportReady(home);
  Settle();
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1) << "the failover replica drains first";
  Advance(seconds(31), {home, other});
  EXPECT_TRUE(WorkReplicas(other, "llama").empty());
  EXPECT_FALSE(Get("Workspace", "default", "llama")["status"].contains("failedOverFrom"));
  events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "FailedBack"), events.end());
}

TEST_F(FleetControllerTest, PlacementGenerationOnlyGrows) {
  AddMember("gpu-a", 8);
  AddWorkspace("one", 1);
  Settle();
  const int64_t g1 = Get("Work", "", "gpu-a")["spec"]["placementGeneration"];
  AddWorkspace("two", 1);
  Settle();
  const int64_t g2 = Get("Work", "", "gpu-a")["spec"]["placementGeneration"];
  EXPECT_GT(g2, g1);
}

TEST_F(FleetControllerTest, PendingReplicasReserveTheirGpus) {
  AddMember("gpu-a", 1);  // room for exactly one 8B replica
  AddWorkspace("first", 1);
  Settle();
  ASSERT_EQ(Placements("first").size(), 1u);
  // The agent has not started it yet (free GPUs still 1): a second workspace must not get the same GPU.
  AddWorkspace("second", 1);
  Settle();
  EXPECT_TRUE(Placements("second").empty());
  EXPECT_EQ(Condition("Workspace", "default", "second", "Scheduled"), "False");
}

TEST_F(FleetControllerTest, HubRestartGivesHealthyMembersAFreshGracePeriod) {
  AddMember("gpu-a", 8);
  Settle();
  ASSERT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  // The hub is down for 20 s (longer than the 15 s grace): the agent's renewals are lost.
  ctl_.reset();
  clock_.Advance(seconds(20));
  FleetControllerOptions fo;
  ctl_ = std::make_unique<FleetController>(*objects_, registry_, clock_, fo);
  ASSERT_TRUE(ctl_->Start(/*run_worker=*/false).ok());
  Settle();
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True") << "no flap right after the restart";
  Advance(seconds(14), {});
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  Advance(seconds(2), {});
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "False") << "a silent agent is still detected";
}

// lastTransitionTime has whole seconds; the toleration must still count from the transition
// itself, never end early (it would by up to a second), and after a hub restart, when only
// the whole second is known, end at most a second late.
TEST_F(FleetControllerTest, TolerationCountsFromTheExactTransitionNotItsWholeSecond) {
  using std::chrono::milliseconds;
  const auto [home, other_member] = PlaceOnOneOfTwo("llama", 1);
  const std::string& other = other_member;  // clang 14 cannot capture a structured binding
  ASSERT_FALSE(home.empty());
  const Clock::TimePoint transition = SilenceUntilUnhealthy(home, other);
  ASSERT_EQ(Condition("MemberCluster", "", home, "Healthy"), "False");
  auto step = [&](milliseconds d) {
    clock_.Advance(d);
    Renew(other);
    Settle();
  };
  Clock::TimePoint stamped;
  ASSERT_TRUE(ParseRfc3339(HealthyTransitionStamp(home), &stamped));
  ASSERT_EQ(transition - stamped, milliseconds(600)) << "the stamp drops the fraction";

  while (clock_.Now() < transition + milliseconds(29500)) step(milliseconds(500));
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}}))
      << "29.5 s after the transition (30 s after its stamp): still within the toleration";
  step(milliseconds(600));
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}})) << "30.1 s: failed over";
}

TEST_F(FleetControllerTest, AfterARestartTheTolerationEndsAtTheEndOfTheStampedSecond) {
  using std::chrono::milliseconds;
  const auto [home, other_member] = PlaceOnOneOfTwo("llama", 1);
  const std::string& other = other_member;  // clang 14 cannot capture a structured binding
  ASSERT_FALSE(home.empty());
  SilenceUntilUnhealthy(home, other);
  ASSERT_EQ(Condition("MemberCluster", "", home, "Healthy"), "False");
  Clock::TimePoint stamped;
  ASSERT_TRUE(ParseRfc3339(HealthyTransitionStamp(home), &stamped));
  // A new controller (the hub restarted) knows the transition only to the second.
  ctl_.reset();
  FleetControllerOptions fo;
  fo.toleration_seconds = 30;
  ctl_ = std::make_unique<FleetController>(*objects_, registry_, clock_, fo);
  ASSERT_TRUE(ctl_->Start(/*run_worker=*/false).ok());
  auto step_to = [&](milliseconds after_stamp) {
    clock_.Advance(stamped + after_stamp - clock_.Now());
    Renew(other);
    Settle();
  };
  step_to(milliseconds(30900));
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}}))
      << "the transition may have come as late as the end of its second";
  step_to(milliseconds(31100));
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}}));
}

class FailoverPolicyTest : public ControllerFixture {
 protected:
  void AddWs(const std::string& name, const json& policy) {
    json ws = {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", name}}},
               {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
               {"placement", {{"replicas", 1}}}};
    if (!policy.is_null()) ws["placement"]["policy"] = policy;
    Create("Workspace", ws, "default");
  }
  // gpu-a is cheaper, so everything starts there and failback returns there.
  void TwoMembers() {
    AddMember("gpu-a", 8, json::object(), "550.54", 2.0);
    AddMember("gpu-b", 8, json::object(), "550.54", 3.0);
    Settle();
  }
};

TEST_F(FailoverPolicyTest, EachWorkspaceFailsOverAfterItsOwnToleration) {
  TwoMembers();
  AddWs("fast", {{"failover", {{"tolerationSeconds", 5}}}});
  AddWs("default-toleration", nullptr);
  Settle();
  ASSERT_EQ(Placements("fast"), (std::map<std::string, int>{{"gpu-a", 1}}));
  ASSERT_EQ(Placements("default-toleration"), (std::map<std::string, int>{{"gpu-a", 1}}));
  ReportReady("gpu-a");
  Advance(seconds(16), {"gpu-b"});  // unhealthy after 15 s
  ASSERT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "False");
  Advance(seconds(3), {"gpu-b"});
  EXPECT_EQ(Placements("fast"), (std::map<std::string, int>{{"gpu-a", 1}})) << "within its 5 s";
  Advance(seconds(3), {"gpu-b"});
  EXPECT_EQ(Placements("fast"), (std::map<std::string, int>{{"gpu-b", 1}})) << "moved after its 5 s";
  EXPECT_EQ(Placements("default-toleration"), (std::map<std::string, int>{{"gpu-a", 1}}))
      << "the hub's 30 s still holds for the other";
  Advance(seconds(25), {"gpu-b"});
  EXPECT_EQ(Placements("default-toleration"), (std::map<std::string, int>{{"gpu-b", 1}}));
}

TEST_F(FailoverPolicyTest, FailbackHonoursPerPolicyHysteresisOrNotAtAll) {
  TwoMembers();
  AddWs("quick-home", {{"failover", {{"tolerationSeconds", 1}, {"failbackHysteresisSeconds", 10}}}});
  AddWs("stays", {{"failover", {{"tolerationSeconds", 1}, {"failback", false}}}});
  Settle();
  ReportReady("gpu-a");
  Advance(seconds(18), {"gpu-b"});
  ASSERT_EQ(Placements("quick-home"), (std::map<std::string, int>{{"gpu-b", 1}}));
  ASSERT_EQ(Placements("stays"), (std::map<std::string, int>{{"gpu-b", 1}}));
  ReportReady("gpu-b");
  Settle();
  Advance(seconds(8), {"gpu-a", "gpu-b"});
  EXPECT_EQ(Placements("quick-home"), (std::map<std::string, int>{{"gpu-b", 1}})) << "hysteresis not over";
  Advance(seconds(4), {"gpu-a", "gpu-b"});
  EXPECT_EQ(Placements("quick-home"), (std::map<std::string, int>{{"gpu-a", 1}})) << "home after 10 s";
  EXPECT_EQ(Placements("stays"), (std::map<std::string, int>{{"gpu-b", 1}})) << "failback: false";
  EXPECT_FALSE(Get("Workspace", "default", "stays")["status"].contains("failedOverFrom"));
}

// During failback the replicas that failed over keep serving until the returning ones are
// all Ready, so the workspace never has fewer than minAvailable serving.
TEST_F(FailoverPolicyTest, FailbackNeverDropsBelowMinAvailable) {
  TwoMembers();
  Create("Workspace",
         {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", "pair"}}},
          {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
          {"placement", {{"replicas", 2},
                         {"policy", {{"minAvailable", 2},
                                     {"failover", {{"tolerationSeconds", 1}, {"failbackHysteresisSeconds", 10}}}}}}}},
         "default");
  Settle();
  ASSERT_EQ(Placements("pair"), (std::map<std::string, int>{{"gpu-a", 2}}));
  ReportReady("gpu-a");
  Advance(seconds(18), {"gpu-b"});
  ASSERT_EQ(Placements("pair"), (std::map<std::string, int>{{"gpu-b", 2}}));
  ReportReady("gpu-b");
  Settle();
  Advance(seconds(12), {"gpu-a", "gpu-b"});
  ASSERT_EQ(Placements("pair"), (std::map<std::string, int>{{"gpu-a", 2}})) << "failing back";

  // One of the two returning replicas is Ready: both on gpu-b stay.
  ReportAll("gpu-a", "Progressing", "", /*ready_each=*/1);
  Settle();
  EXPECT_EQ(WorkReplicas("gpu-b", "pair")["gpu-b"], 2) << "superseded replicas kept until all replacements are Ready";
  std::string reason;
  EXPECT_EQ(Condition("Workspace", "default", "pair", "Available", &reason), "True") << reason;
  const json superseded = Get("Workspace", "default", "pair")["status"]["superseded"];
  ASSERT_TRUE(superseded.is_array() && superseded.size() == 1u) << superseded.dump();
  EXPECT_EQ(superseded[0]["cluster"], "gpu-b");
  EXPECT_EQ(superseded[0]["readyReplicas"], 2);

  ReportReady("gpu-a");
  Settle();
  EXPECT_EQ(WorkReplicas("gpu-b", "pair")["gpu-b"], 2) << "gpu-a serves 2: gpu-b drains before it goes";
  json status = Get("Workspace", "default", "pair")["status"];
  ASSERT_EQ(status["endpoints"].size(), 2u) << status["endpoints"].dump();
  EXPECT_EQ(status["endpoints"][0]["cluster"], "gpu-a");
  EXPECT_EQ(status["endpoints"][0]["state"], "Serving");
  EXPECT_EQ(status["endpoints"][0]["weight"], 256);
  EXPECT_EQ(status["endpoints"][0]["url"], "http://gpu-a.test:80");
  EXPECT_EQ(status["endpoints"][1]["state"], "Draining");
  EXPECT_EQ(status["endpoints"][1]["weight"], 0);
  EXPECT_EQ(status["superseded"][0]["reason"], "Draining");
  EXPECT_EQ(status["servedModels"], json::array({"llama-3.1-8b-instruct"}));
  EXPECT_TRUE(Get("Work", "", "gpu-b")["spec"]["workspaces"][0].contains("draining"));

  Advance(seconds(29), {"gpu-a", "gpu-b"});
  EXPECT_EQ(WorkReplicas("gpu-b", "pair")["gpu-b"], 2) << "the default drain grace is 30 s";
  Advance(seconds(2), {"gpu-a", "gpu-b"});
  EXPECT_TRUE(WorkReplicas("gpu-b", "pair").empty()) << "removed once drained";
  status = Get("Workspace", "default", "pair")["status"];
  ASSERT_EQ(status["endpoints"].size(), 1u);
  EXPECT_FALSE(status.contains("superseded"));
  EXPECT_EQ(Condition("Workspace", "default", "pair", "Available"), "True");
}

// A member that turns Unhealthy is Down in the endpoint map at once, long before failover.
TEST_F(FailoverPolicyTest, AnUnhealthyMembersEndpointIsDownAtOnce) {
  TwoMembers();
  AddWs("llama", {{"failover", {{"tolerationSeconds", 60}}}});
  Settle();
  ReportReady("gpu-a");
  Settle();
  json endpoints = Get("Workspace", "default", "llama")["status"]["endpoints"];
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0]["state"], "Serving");
  Advance(seconds(16), {"gpu-b"});  // unhealthy after 15 s of missed renewals
  endpoints = Get("Workspace", "default", "llama")["status"]["endpoints"];
  EXPECT_EQ(endpoints[0]["state"], "Down");
  EXPECT_EQ(endpoints[0]["reason"], "MemberUnhealthy");
  EXPECT_EQ(endpoints[0]["weight"], 0);
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{"gpu-a", 1}})) << "failover waits its 60 s";
}

// A per-policy drain grace; 0 removes at once.
TEST_F(FailoverPolicyTest, DrainSecondsComesFromThePolicy) {
  TwoMembers();
  AddWs("quick", {{"failover", {{"tolerationSeconds", 1}, {"failbackHysteresisSeconds", 10}, {"drainSeconds", 5}}}});
  AddWs("none", {{"failover", {{"tolerationSeconds", 1}, {"failbackHysteresisSeconds", 10}, {"drainSeconds", 0}}}});
  Settle();
  ReportReady("gpu-a");
  Advance(seconds(18), {"gpu-b"});
  ReportReady("gpu-b");
  Settle();
  Advance(seconds(12), {"gpu-a", "gpu-b"});
  ReportReady("gpu-a");
  Settle();
  EXPECT_TRUE(WorkReplicas("gpu-b", "none").empty()) << "drainSeconds 0: removed at once";
  EXPECT_EQ(WorkReplicas("gpu-b", "quick")["gpu-b"], 1);
  Advance(seconds(6), {"gpu-a", "gpu-b"});
  EXPECT_TRUE(WorkReplicas("gpu-b", "quick").empty()) << "after its 5 s";
}

TEST_F(FailoverPolicyTest, NoExecuteTaintEvictsAfterTolerationSeconds) {
  TwoMembers();
  AddWs("tolerates-20s", {{"tolerations", {{{"key", "maintenance"}, {"operator", "Exists"},
                                            {"effect", "NoExecute"}, {"tolerationSeconds", 20}}}}});
  AddWs("intolerant", nullptr);
  Settle();
  ReportReady("gpu-a");
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(Kind("MemberCluster"), "", "gpu-a", PatchType::kMerge,
                    R"({"spec":{"taints":[{"key":"maintenance","effect":"NoExecute"}]}})", {}, cb);
  });
  ASSERT_TRUE(r.ok());
  Settle();
  EXPECT_TRUE(api::JsonPathGet(Get("MemberCluster", "", "gpu-a"), "spec.taints")[0].contains("timeAdded"))
      << "the hub stamps when the taint was added";
  EXPECT_EQ(Placements("intolerant"), (std::map<std::string, int>{{"gpu-b", 1}})) << "evicted at once";
  EXPECT_EQ(WorkReplicas("gpu-a", "intolerant")["gpu-a"], 1) << "kept until the replacement is Ready";
  Advance(seconds(19), {"gpu-a", "gpu-b"});
  EXPECT_EQ(Placements("tolerates-20s"), (std::map<std::string, int>{{"gpu-a", 1}}));
  Advance(seconds(2), {"gpu-a", "gpu-b"});
  EXPECT_EQ(Placements("tolerates-20s"), (std::map<std::string, int>{{"gpu-b", 1}}));
  ReportReady("gpu-b");
  Settle();
  EXPECT_EQ(WorkReplicas("gpu-a", "intolerant")["gpu-a"], 1) << "drains before it goes";
  Advance(seconds(31), {"gpu-a", "gpu-b"});
  EXPECT_TRUE(WorkReplicas("gpu-a", "intolerant").empty());
  EXPECT_TRUE(WorkReplicas("gpu-a", "tolerates-20s").empty());
}

}  // namespace
}  // namespace berth::hub
