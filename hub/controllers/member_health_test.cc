// Unit tests of member health on data: a MemberCluster, its Lease and the time in, the
// decision (Healthy/Joined conditions) and the phase the placement pass sees out. The
// end-to-end behaviour (writes, events, requeues) is in fleet_controller_test.
#include "hub/controllers/member_health.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

#include "hub/controllers/conditions.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

json HealthyCondition(const std::string& status, const std::string& reason,
                      const std::string& since) {
  return {{"type", "Healthy"},
          {"status", status},
          {"reason", reason},
          {"message", ""},
          {"lastTransitionTime", since}};
}

// A MemberCluster named gpu-a with `conditions` (an array) and `spec`.
json Member(json conditions = json::array(), json spec = json::object()) {
  return {
      {"metadata", {{"name", "gpu-a"}}}, {"spec", spec}, {"status", {{"conditions", conditions}}}};
}

json Lease(Clock::TimePoint renewed) {
  return {{"metadata", {{"name", "gpu-a"}}}, {"spec", {{"renewTime", FormatRfc3339(renewed)}}}};
}

HealthInput Input(const json& member, const json* lease, Clock::TimePoint now) {
  HealthInput in;
  in.member = &member;
  in.lease = lease;
  in.now = now;
  in.started_at = kT0 - seconds(3600);  // the hub has been up for an hour
  in.healthy_since = now;
  return in;
}

json Healthy(const HealthDecision& d) {
  const json member = {{"status", {{"conditions", d.conditions}}}};
  return FindCondition(member, "Healthy");
}

std::string HealthyReason(const HealthDecision& d) {
  for (const auto& c : d.conditions) {
    if (c.value("type", "") == "Healthy") return c.value("reason", "");
  }
  return "";
}

std::string ConditionStatus(const HealthDecision& d, const std::string& type) {
  for (const auto& c : d.conditions) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

// --- HealthySince ---

TEST(HealthySince, NowWhenTheConditionHasNoTime) {
  EXPECT_EQ(HealthySince({}, "gpu-a", json(), kT0), kT0);
  EXPECT_EQ(HealthySince({}, "gpu-a", json{{"type", "Healthy"}, {"status", "True"}}, kT0), kT0);
}

TEST(HealthySince, AWholeSecondStampOfAnotherHubEndsAtTheEndOfItsSecond) {
  const json h = HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:10Z");
  EXPECT_EQ(HealthySince({}, "gpu-a", h, kT0 + seconds(100)),
            kT0 + seconds(10) + milliseconds(999));
}

TEST(HealthySince, ATransitionThisHubMadeIsExact) {
  const json h = HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:10Z");
  const HealthTransitions mine = {{"gpu-a", {"2026-01-01T00:00:10Z", kT0 + milliseconds(10'600)}}};
  EXPECT_EQ(HealthySince(mine, "gpu-a", h, kT0 + seconds(100)), kT0 + milliseconds(10'600));
  // Another member, or a stamp this hub did not write (someone moved it since): not ours.
  EXPECT_EQ(HealthySince(mine, "gpu-b", h, kT0 + seconds(100)),
            kT0 + seconds(10) + milliseconds(999));
  const json later = HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:20Z");
  EXPECT_EQ(HealthySince(mine, "gpu-a", later, kT0 + seconds(100)),
            kT0 + seconds(20) + milliseconds(999));
}

TEST(HealthySince, AFractionalStampIsTakenAsWritten) {
  const json h = HealthyCondition("True", "Recovered", "2026-01-01T00:00:10.250Z");
  EXPECT_EQ(HealthySince({}, "gpu-a", h, kT0 + seconds(100)), kT0 + milliseconds(10'250));
}

TEST(HealthySince, NowWhenTheStampDoesNotParse) {
  const json h = HealthyCondition("True", "Recovered", "yesterday");
  EXPECT_EQ(HealthySince({}, "gpu-a", h, kT0), kT0);
}

// --- StampNoExecuteTaints ---

TEST(StampNoExecuteTaints, StampsOnlyNoExecuteTaintsWithoutATime) {
  const json member = Member(
      json::array(),
      {{"taints",
        {{{"key", "drain"}, {"effect", "NoExecute"}},
         {{"key", "spot"}, {"effect", "NoSchedule"}},
         {{"key", "old"}, {"effect", "NoExecute"}, {"timeAdded", "2025-12-31T00:00:00Z"}}}}});
  auto taints = StampNoExecuteTaints(member, kT0);
  ASSERT_TRUE(taints.has_value());
  ASSERT_EQ(taints->size(), 3u);
  EXPECT_EQ((*taints)[0]["timeAdded"], "2026-01-01T00:00:00Z");
  EXPECT_FALSE((*taints)[1].contains("timeAdded")) << "a NoSchedule taint evicts nothing: no clock";
  EXPECT_EQ((*taints)[2]["timeAdded"], "2025-12-31T00:00:00Z") << "an existing time is kept";
}

TEST(StampNoExecuteTaints, NothingWhenNoneLacksATime) {
  EXPECT_FALSE(StampNoExecuteTaints(Member(), kT0).has_value()) << "no taints at all";
  const json stamped =
      Member(json::array(),
             {{"taints",
               {{{"key", "drain"}, {"effect", "NoExecute"}, {"timeAdded", "2025-12-31T00:00:00Z"}},
                {{"key", "spot"}, {"effect", "NoSchedule"}}}}});
  EXPECT_FALSE(StampNoExecuteTaints(stamped, kT0).has_value());
}

// --- DecideMemberHealth ---

TEST(DecideMemberHealth, HealthyJustWithinPeriodTimesMissedHeartbeats) {
  const json member = Member();
  const json lease = Lease(kT0);
  // Defaults: 5 s × 3 missed = 15 s.
  HealthDecision within = DecideMemberHealth(Input(member, &lease, kT0 + milliseconds(14'999)));
  EXPECT_TRUE(within.healthy);
  EXPECT_EQ(ConditionStatus(within, "Healthy"), "True");
  EXPECT_EQ(HealthyReason(within), "HeartbeatsReceived");
  ASSERT_TRUE(within.recheck_after.has_value());
  EXPECT_EQ(*within.recheck_after, milliseconds(1 + 10))
      << "looks again just after the lease would expire";

  HealthDecision beyond = DecideMemberHealth(Input(member, &lease, kT0 + seconds(15)));
  EXPECT_FALSE(beyond.healthy);
  EXPECT_EQ(ConditionStatus(beyond, "Healthy"), "False");
  EXPECT_EQ(HealthyReason(beyond), "LeaseExpired");
  EXPECT_NE(beyond.message.find("15s"), std::string::npos) << beyond.message;
  EXPECT_FALSE(beyond.recheck_after.has_value())
      << "an unhealthy member waits for its lease, not a timer";
}

TEST(DecideMemberHealth, RecheckComesWhenTheLeaseWouldExpire) {
  const json member = Member();
  const json lease = Lease(kT0);
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0 + seconds(5)));
  ASSERT_TRUE(d.recheck_after.has_value());
  EXPECT_EQ(*d.recheck_after, seconds(10) + milliseconds(10));
}

TEST(DecideMemberHealth, PerMemberHeartbeatSettingsOverrideTheDefaults) {
  const json member =
      Member(json::array(), {{"heartbeatPeriodSeconds", 2}, {"unhealthyAfterMissedHeartbeats", 2}});
  const json lease = Lease(kT0);
  EXPECT_TRUE(DecideMemberHealth(Input(member, &lease, kT0 + milliseconds(3'999))).healthy);
  EXPECT_FALSE(DecideMemberHealth(Input(member, &lease, kT0 + seconds(4))).healthy)
      << "2 s × 2 missed";

  const json plain = Member();
  HealthInput in = Input(plain, &lease, kT0 + seconds(20));
  in.settings.default_heartbeat_seconds = 10;
  in.settings.default_missed_heartbeats = 3;
  EXPECT_TRUE(DecideMemberHealth(in).healthy)
      << "the hub's defaults apply when the member sets none";
}

TEST(DecideMemberHealth, NoLeaseMeansNotJoined) {
  const json member = Member();
  HealthDecision d = DecideMemberHealth(Input(member, nullptr, kT0));
  EXPECT_FALSE(d.healthy);
  EXPECT_EQ(ConditionStatus(d, "Joined"), "False");
  EXPECT_EQ(ConditionStatus(d, "Healthy"), "False");
  EXPECT_EQ(HealthyReason(d), "NoHeartbeat");
  EXPECT_TRUE(d.changed);
}

TEST(DecideMemberHealth, JoinedButNeverRenewed) {
  const json member = Member();
  const json lease = {{"metadata", {{"name", "gpu-a"}}}, {"spec", {{"leaseDurationSeconds", 15}}}};
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0));
  EXPECT_FALSE(d.healthy);
  EXPECT_EQ(ConditionStatus(d, "Joined"), "True");
  EXPECT_EQ(HealthyReason(d), "NoHeartbeat");
}

TEST(DecideMemberHealth, AHealthyMemberGetsAFullGraceAfterAHubRestart) {
  // The lease was last renewed long before the hub (re)started: the renewals sent while it
  // was down were lost, not missed.
  const json member =
      Member(json::array({HealthyCondition("True", "HeartbeatsReceived", "2025-12-31T00:00:00Z")}));
  const json lease = Lease(kT0);
  HealthInput in = Input(member, &lease, kT0 + milliseconds(74'999));
  in.started_at = kT0 + seconds(60);
  EXPECT_TRUE(DecideMemberHealth(in).healthy) << "grace counts from the controller's start";
  in.now = kT0 + seconds(75);
  EXPECT_FALSE(DecideMemberHealth(in).healthy) << "no renewal within a full grace after the start";
}

TEST(DecideMemberHealth, NoRestartGraceForAMemberThatWasNotHealthy) {
  const json lease = Lease(kT0);
  for (const json& conditions :
       {json::array({HealthyCondition("False", "LeaseExpired", "2025-12-31T00:00:00Z")}),
        json::array()}) {
    const json member = Member(conditions);
    HealthInput in = Input(member, &lease, kT0 + seconds(61));
    in.started_at = kT0 + seconds(60);
    EXPECT_FALSE(DecideMemberHealth(in).healthy) << conditions.dump();
  }
}

TEST(DecideMemberHealth, RecoveredAfterAFailedSpellOfAtLeastTheToleration) {
  const json member =
      Member(json::array({HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:00Z")}));
  // Unhealthy since T0 (the toleration is 30 s); the agent renews again at `now`.
  auto back_at = [&member](Clock::TimePoint now, int64_t toleration_seconds) {
    const json lease = Lease(now);
    HealthInput in = Input(member, &lease, now);
    in.healthy_since = kT0;
    in.settings.toleration_seconds = toleration_seconds;
    return DecideMemberHealth(in);
  };
  HealthDecision d = back_at(kT0 + seconds(30), 30);
  EXPECT_TRUE(d.healthy);
  EXPECT_EQ(HealthyReason(d), "Recovered")
      << "its replicas were failed over: failback counts from here";
  EXPECT_TRUE(d.transitioned);
  EXPECT_TRUE(d.announce);
  EXPECT_EQ(HealthyReason(back_at(kT0 + milliseconds(29'999), 30)), "HeartbeatsReceived")
      << "a blip shorter than the toleration";
  EXPECT_EQ(HealthyReason(back_at(kT0 + seconds(10), 10)), "Recovered")
      << "the toleration is the setting's";
}

TEST(DecideMemberHealth, RecoveredStaysWhileTheMemberStaysHealthy) {
  const json member =
      Member(json::array({HealthyCondition("True", "Recovered", "2026-01-01T00:00:00Z")}));
  const json lease = Lease(kT0 + seconds(100));
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0 + seconds(101)));
  EXPECT_EQ(HealthyReason(d), "Recovered");
  EXPECT_EQ(Healthy(d)["lastTransitionTime"], "2026-01-01T00:00:00Z")
      << "same status: the time is kept";
  EXPECT_FALSE(d.transitioned);
  EXPECT_FALSE(d.announce);
}

TEST(DecideMemberHealth, AFirstVerdictIsATransitionButNotAnnounced) {
  const json member = Member();
  const json lease = Lease(kT0);
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0 + seconds(1)));
  EXPECT_TRUE(d.changed);
  EXPECT_TRUE(d.transitioned);
  EXPECT_FALSE(d.announce) << "no MemberHealthy event for a member seen for the first time";
  EXPECT_EQ(Healthy(d)["lastTransitionTime"], FormatRfc3339(kT0 + seconds(1)));
}

TEST(DecideMemberHealth, LosingTheLeaseIsAnnounced) {
  const json member =
      Member(json::array({HealthyCondition("True", "HeartbeatsReceived", "2025-12-31T00:00:00Z")}));
  const json lease = Lease(kT0);
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0 + seconds(16)));
  EXPECT_FALSE(d.healthy);
  EXPECT_TRUE(d.changed);
  EXPECT_TRUE(d.transitioned);
  EXPECT_TRUE(d.announce);
  EXPECT_EQ(Healthy(d)["lastTransitionTime"], FormatRfc3339(kT0 + seconds(16)));
}

TEST(DecideMemberHealth, NothingToWriteWhenTheVerdictIsUnchanged) {
  const json lease = Lease(kT0);
  const json fresh = Member();
  HealthDecision first = DecideMemberHealth(Input(fresh, &lease, kT0 + seconds(1)));
  const json written = Member(first.conditions);
  HealthDecision second = DecideMemberHealth(Input(written, &lease, kT0 + seconds(5)));
  EXPECT_TRUE(second.healthy);
  EXPECT_FALSE(second.changed);
  EXPECT_FALSE(second.transitioned);
  EXPECT_EQ(second.conditions, first.conditions);
}

TEST(DecideMemberHealth, KeepsOtherConditions) {
  const json member = Member(json::array({{{"type", "Cordoned"}, {"status", "True"}}}));
  const json lease = Lease(kT0);
  HealthDecision d = DecideMemberHealth(Input(member, &lease, kT0));
  EXPECT_EQ(ConditionStatus(d, "Cordoned"), "True");
  EXPECT_EQ(d.conditions.size(), 3u);
}

// --- MemberPhaseOf ---

TEST(MemberPhaseOf, NoHealthyConditionIsNew) {
  WakeUp wake;
  const json member = Member();
  MemberView v = MemberPhaseOf(member, {}, seconds(30), seconds(300), kT0, wake);
  EXPECT_EQ(v.phase, MemberPhase::kNew);
  EXPECT_EQ(v.object, &member);
  EXPECT_FALSE(v.frozen());
  EXPECT_FALSE(v.takes_new());
  EXPECT_FALSE(wake.at.has_value());
}

TEST(MemberPhaseOf, HealthyTakesNewAndIsNotFrozen) {
  WakeUp wake;
  const json member =
      Member(json::array({HealthyCondition("True", "HeartbeatsReceived", "2026-01-01T00:00:00Z")}));
  MemberView v = MemberPhaseOf(member, {}, seconds(30), seconds(300), kT0 + seconds(1), wake);
  EXPECT_EQ(v.phase, MemberPhase::kHealthy);
  EXPECT_TRUE(v.takes_new());
  EXPECT_FALSE(v.frozen());
  EXPECT_FALSE(wake.at.has_value());
}

TEST(MemberPhaseOf, SuspectUntilTheTolerationThenFailed) {
  const json member =
      Member(json::array({HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:00Z")}));
  const HealthTransitions mine = {{"gpu-a", {"2026-01-01T00:00:00Z", kT0}}};
  {
    WakeUp wake;
    MemberView v =
        MemberPhaseOf(member, mine, seconds(30), seconds(300), kT0 + milliseconds(29'999), wake);
    EXPECT_EQ(v.phase, MemberPhase::kSuspect);
    EXPECT_EQ(v.since, kT0);
    EXPECT_TRUE(v.frozen());
    EXPECT_TRUE(v.takes_new()) << "a suspect member may be alive behind a partition";
    ASSERT_TRUE(wake.at.has_value());
    EXPECT_EQ(*wake.at, kT0 + seconds(30)) << "the pass runs again when the toleration ends";
  }
  {
    WakeUp wake;
    MemberView v = MemberPhaseOf(member, mine, seconds(30), seconds(300), kT0 + seconds(30), wake);
    EXPECT_EQ(v.phase, MemberPhase::kFailed);
    EXPECT_TRUE(v.frozen());
    EXPECT_FALSE(v.takes_new());
    EXPECT_FALSE(wake.at.has_value());
  }
}

TEST(MemberPhaseOf, AnotherHubsStampNeverEndsTheTolerationEarly) {
  const json member =
      Member(json::array({HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:00Z")}));
  WakeUp wake;
  EXPECT_EQ(
      MemberPhaseOf(member, {}, seconds(30), seconds(300), kT0 + milliseconds(30'500), wake).phase,
      MemberPhase::kSuspect);
  ASSERT_TRUE(wake.at.has_value());
  EXPECT_EQ(*wake.at, kT0 + milliseconds(30'999));
  WakeUp later;
  EXPECT_EQ(
      MemberPhaseOf(member, {}, seconds(30), seconds(300), kT0 + milliseconds(30'999), later).phase,
      MemberPhase::kFailed);
}

TEST(MemberPhaseOf, RecoveringUntilTheHysteresisThenHealthy) {
  const json member =
      Member(json::array({HealthyCondition("True", "Recovered", "2026-01-01T00:00:00Z")}));
  const HealthTransitions mine = {{"gpu-a", {"2026-01-01T00:00:00Z", kT0}}};
  {
    WakeUp wake;
    MemberView v =
        MemberPhaseOf(member, mine, seconds(30), seconds(300), kT0 + milliseconds(299'999), wake);
    EXPECT_EQ(v.phase, MemberPhase::kRecovering);
    EXPECT_TRUE(v.takes_new());
    EXPECT_FALSE(v.frozen());
    ASSERT_TRUE(wake.at.has_value());
    EXPECT_EQ(*wake.at, kT0 + seconds(300));
  }
  {
    WakeUp wake;
    MemberView v = MemberPhaseOf(member, mine, seconds(30), seconds(300), kT0 + seconds(300), wake);
    EXPECT_EQ(v.phase, MemberPhase::kHealthy);
    EXPECT_FALSE(wake.at.has_value());
  }
}

TEST(MemberPhaseOf, WakeUpKeepsTheEarliestTime) {
  WakeUp wake;
  wake.At(kT0 + seconds(10));
  const json suspect =
      Member(json::array({HealthyCondition("False", "LeaseExpired", "2026-01-01T00:00:00Z")}));
  const HealthTransitions mine = {{"gpu-a", {"2026-01-01T00:00:00Z", kT0}}};
  MemberPhaseOf(suspect, mine, seconds(30), seconds(300), kT0 + seconds(1), wake);
  EXPECT_EQ(*wake.at, kT0 + seconds(10));
  WakeUp other;
  other.At(kT0 + seconds(5));
  wake.Merge(other);
  EXPECT_EQ(*wake.at, kT0 + seconds(5));
}

}  // namespace
}  // namespace berth::hub
