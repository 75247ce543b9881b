// Unit tests of the failover decisions on data: members in a phase since a time, a
// workspace's status and reports in; the request's `current`/`avoid`, the FailoverOutcome and
// the WakeUp out. BuildPlacementRequests, which applies them to every Workspace, is tested in
// placement_requests_test.cc.
#include "hub/controllers/failover_decisions.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

#include "api/kinds.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

json NoExecute(const std::string& key, Clock::TimePoint added) {
  return {{"key", key}, {"effect", "NoExecute"}, {"timeAdded", FormatRfc3339(added)}};
}

policies::Toleration Tolerate(const std::string& key, std::optional<int64_t> seconds) {
  policies::Toleration t;
  t.key = key;
  t.op = policies::TolerationOperator::kExists;
  t.effect = policies::TaintEffect::kNoExecute;
  t.toleration_seconds = seconds;
  return t;
}

// One workspace's failover inputs; the members' objects live here too.
struct Scenario {
  std::map<std::string, json> objects;  // member name → MemberCluster
  std::map<std::string, MemberView> members;
  MemberReports reported;
  json status = json::object();
  std::shared_ptr<const policies::PlacementPolicySpec> policy;
  placement::PlacementRequest req;
  FailoverOutcome out;
  WakeUp wake;

  explicit Scenario(const policies::PlacementPolicySpec& spec = {})
      : policy(WithUnreachableToleration(spec, 30)) {
    req.workspace = kKey;
  }
  // `members` points into `objects`: moving keeps the nodes, copying would not.
  Scenario(const Scenario&) = delete;
  Scenario(Scenario&&) = default;
  void AddMember(const std::string& name, MemberPhase phase, Clock::TimePoint since,
                 json taints = json::array()) {
    objects[name] = MemberObject(name, taints);
    members[name] = MemberView{&objects[name], phase, since};
  }
  FailoverContext At(Clock::TimePoint now) {
    FailoverContext c;
    c.key = &kKey;
    c.status = &status;
    c.policy = policy.get();
    c.members = &members;
    c.reported = &reported;
    c.now = now;
    return c;
  }
};

// --- WithUnreachableToleration, CapacityPendingLimit, NoExecuteTaints ---

TEST(WithUnreachableToleration, AddsTheImplicitTolerationForThePolicysFailoverToleration) {
  policies::PlacementPolicySpec spec;
  auto effective = WithUnreachableToleration(spec, 30);
  ASSERT_EQ(effective->tolerations.size(), 1u);
  const policies::Toleration& t = effective->tolerations[0];
  EXPECT_TRUE(placement::Tolerates(t, UnreachableTaint()));
  ASSERT_TRUE(t.toleration_seconds.has_value());
  EXPECT_EQ(*t.toleration_seconds, 30) << "the hub's default";
  EXPECT_TRUE(spec.tolerations.empty()) << "the policy itself is not changed";

  spec.failover.toleration_seconds = 90;
  auto own_seconds = WithUnreachableToleration(spec, 30);
  ASSERT_EQ(own_seconds->tolerations.size(), 1u);
  EXPECT_EQ(*own_seconds->tolerations[0].toleration_seconds, 90)
      << "the policy's failover.tolerationSeconds";
}

TEST(WithUnreachableToleration, APolicyThatToleratesTheTaintItselfKeepsItsOwn) {
  policies::PlacementPolicySpec spec;
  spec.tolerations.push_back(Tolerate(kUnreachableTaint, 600));
  auto effective = WithUnreachableToleration(spec, 30);
  ASSERT_EQ(effective->tolerations.size(), 1u);
  EXPECT_EQ(*effective->tolerations[0].toleration_seconds, 600);

  policies::PlacementPolicySpec everything;  // Exists with an empty key tolerates every taint
  everything.tolerations.push_back(Tolerate("", std::nullopt));
  EXPECT_EQ(WithUnreachableToleration(everything, 30)->tolerations.size(), 1u);
}

TEST(CapacityPendingLimit, ThePolicysSettingElseTheDefault) {
  policies::PlacementPolicySpec spec;
  FailoverDefaults d;
  d.capacity_pending_seconds = 120;
  EXPECT_EQ(CapacityPendingLimit(spec, d), seconds(120));
  spec.failover.capacity_pending_seconds = 45;
  EXPECT_EQ(CapacityPendingLimit(spec, d), seconds(45));
}

TEST(NoExecuteTaints, SpecTaintsWithTheirTimeAndTheUnreachableOneWhileFrozen) {
  const json obj = MemberObject("gpu-a", {NoExecute("drain", kT0 - seconds(5)),
                                          {{"key", "spot"}, {"effect", "NoSchedule"}},
                                          {{"key", "fresh"}, {"effect", "NoExecute"}}});
  MemberView healthy{&obj, MemberPhase::kHealthy, kT0 - seconds(100)};
  auto taints = NoExecuteTaints(healthy, kT0);
  ASSERT_EQ(taints.size(), 2u) << "NoSchedule taints evict nothing";
  EXPECT_EQ(taints[0].first.key, "drain");
  EXPECT_EQ(taints[0].second, kT0 - seconds(5));
  EXPECT_EQ(taints[1].first.key, "fresh");
  EXPECT_EQ(taints[1].second, kT0) << "not stamped yet: counts from now";

  MemberView suspect{&obj, MemberPhase::kSuspect, kT0 - seconds(10)};
  taints = NoExecuteTaints(suspect, kT0);
  ASSERT_EQ(taints.size(), 3u);
  EXPECT_EQ(taints[2].first.key, kUnreachableTaint);
  EXPECT_EQ(taints[2].first.effect, policies::TaintEffect::kNoExecute);
  EXPECT_EQ(taints[2].second, kT0 - seconds(10)) << "since the member turned Unhealthy";

  MemberView failed{&obj, MemberPhase::kFailed, kT0 - seconds(60)};
  EXPECT_EQ(NoExecuteTaints(failed, kT0).size(), 3u);
  MemberView recovering{&obj, MemberPhase::kRecovering, kT0 - seconds(60)};
  EXPECT_EQ(NoExecuteTaints(recovering, kT0).size(), 2u);
}

// --- EvictNoExecute ---

TEST(EvictNoExecute, ATaintToleratedForNSecondsEvictsAfterNAndWakesThePassThen) {
  policies::PlacementPolicySpec spec;
  spec.tolerations.push_back(Tolerate("drain", 60));
  {
    Scenario s(spec);
    s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600),
                json::array({NoExecute("drain", kT0)}));
    s.req.current = {{"gpu-a", 2}};
    EvictNoExecute(s.At(kT0 + milliseconds(59'999)), s.req, s.out, s.wake);
    EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-a", 2}})) << "still tolerated";
    ASSERT_TRUE(s.wake.at.has_value());
    EXPECT_EQ(*s.wake.at, kT0 + seconds(60));
  }
  {
    Scenario s(spec);
    s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600),
                json::array({NoExecute("drain", kT0)}));
    s.req.current = {{"gpu-a", 2}};
    EvictNoExecute(s.At(kT0 + seconds(60)), s.req, s.out, s.wake);
    EXPECT_TRUE(s.req.current.empty()) << "evicted at the end of the toleration";
    EXPECT_TRUE(s.out.evicted_unreachable.empty()) << "a taint, not an unreachable member";
  }
}

TEST(EvictNoExecute, AnUntoleratedTaintEvictsAtOnce) {
  Scenario s;
  s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600),
              json::array({NoExecute("drain", kT0)}));
  s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
  s.req.current = {{"gpu-a", 1}, {"gpu-b", 1}};
  EvictNoExecute(s.At(kT0), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-b", 1}}));
  EXPECT_FALSE(s.wake.at.has_value());
}

TEST(EvictNoExecute, AForeverTolerationKeepsReplicasWithoutAWakeUp) {
  policies::PlacementPolicySpec spec;
  spec.tolerations.push_back(Tolerate("drain", std::nullopt));
  spec.tolerations.push_back(Tolerate("drain", 10));
  Scenario s(spec);
  s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600),
              json::array({NoExecute("drain", kT0)}));
  s.req.current = {{"gpu-a", 1}};
  EvictNoExecute(s.At(kT0 + seconds(3600)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current.size(), 1u);
  EXPECT_FALSE(s.wake.at.has_value());
}

TEST(EvictNoExecute, TheLongestMatchingTolerationApplies) {
  policies::PlacementPolicySpec spec;
  spec.tolerations.push_back(Tolerate("drain", 10));
  spec.tolerations.push_back(Tolerate("drain", 90));
  Scenario s(spec);
  s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600),
              json::array({NoExecute("drain", kT0)}));
  s.req.current = {{"gpu-a", 1}};
  EvictNoExecute(s.At(kT0 + seconds(89)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current.size(), 1u);
  ASSERT_TRUE(s.wake.at.has_value());
  EXPECT_EQ(*s.wake.at, kT0 + seconds(90));
}

TEST(EvictNoExecute, AnUnreachableMemberIsLeftAfterTheTolerationAndRecorded) {
  {
    Scenario s;  // the implicit toleration: 30 s
    s.AddMember("gpu-a", MemberPhase::kSuspect, kT0);
    s.req.current = {{"gpu-a", 2}};
    EvictNoExecute(s.At(kT0 + seconds(29)), s.req, s.out, s.wake);
    EXPECT_EQ(s.req.current.size(), 1u) << "within the toleration the replicas stay";
    EXPECT_TRUE(s.out.evicted_unreachable.empty());
    ASSERT_TRUE(s.wake.at.has_value());
    EXPECT_EQ(*s.wake.at, kT0 + seconds(30));
  }
  {
    Scenario s;
    s.AddMember("gpu-a", MemberPhase::kFailed, kT0);
    s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
    s.req.current = {{"gpu-a", 2}, {"gpu-b", 1}};
    EvictNoExecute(s.At(kT0 + seconds(30)), s.req, s.out, s.wake);
    EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-b", 1}}));
    EXPECT_EQ(s.out.evicted_unreachable[kKey], std::set<std::string>{"gpu-a"});
  }
}

TEST(EvictNoExecute, ThePolicysFailoverTolerationDecidesForItsWorkspaces) {
  policies::PlacementPolicySpec spec;
  spec.failover.toleration_seconds = 10;
  Scenario s(spec);
  s.AddMember("gpu-a", MemberPhase::kSuspect, kT0);
  s.req.current = {{"gpu-a", 1}};
  EvictNoExecute(s.At(kT0 + seconds(10)), s.req, s.out, s.wake);
  EXPECT_TRUE(s.req.current.empty());
  EXPECT_EQ(s.out.evicted_unreachable[kKey].count("gpu-a"), 1u);
}

TEST(EvictNoExecute, AMemberThatNoLongerExistsIsLeftButNotAsUnreachable) {
  Scenario s;
  s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
  s.req.current = {{"gone", 1}, {"gpu-b", 1}};
  EvictNoExecute(s.At(kT0), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-b", 1}}));
  EXPECT_TRUE(s.out.evicted_unreachable.empty());
}

// --- DecideFailback ---

TEST(DecideFailback, ClearsCurrentOnlyAfterTheHysteresis) {
  {
    Scenario s;
    s.status = {{"failedOverFrom", json::array({"gpu-a"})}};
    s.AddMember("gpu-a", MemberPhase::kRecovering, kT0);
    s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
    s.req.current = {{"gpu-b", 1}};
    DecideFailback(s.At(kT0 + milliseconds(299'999)), s.req, s.out,
                   s.wake);  // default hysteresis 300 s
    EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-b", 1}}));
    EXPECT_TRUE(s.out.failing_back.empty());
    ASSERT_TRUE(s.wake.at.has_value());
    EXPECT_EQ(*s.wake.at, kT0 + seconds(300));
  }
  {
    Scenario s;
    s.status = {{"failedOverFrom", json::array({"gpu-a"})}};
    s.AddMember("gpu-a", MemberPhase::kHealthy, kT0);
    s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
    s.req.current = {{"gpu-b", 1}};
    DecideFailback(s.At(kT0 + seconds(300)), s.req, s.out, s.wake);
    EXPECT_TRUE(s.req.current.empty()) << "decided afresh: no stickiness";
    EXPECT_EQ(s.out.failing_back, std::set<std::string>{kKey});
  }
}

TEST(DecideFailback, ThePolicysHysteresisApplies) {
  policies::PlacementPolicySpec spec;
  spec.failover.failback_hysteresis_seconds = 60;
  Scenario s(spec);
  s.status = {{"failedOverFrom", json::array({"gpu-a"})}};
  s.AddMember("gpu-a", MemberPhase::kRecovering, kT0);
  s.req.current = {{"gpu-b", 1}};
  DecideFailback(s.At(kT0 + seconds(60)), s.req, s.out, s.wake);
  EXPECT_TRUE(s.req.current.empty());
  EXPECT_EQ(s.out.failing_back.count(kKey), 1u);
}

TEST(DecideFailback, NothingWhenFailbackIsOffOrTheMemberIsNotBack) {
  auto run = [](const policies::PlacementPolicySpec& spec, bool add, MemberPhase phase) {
    Scenario s(spec);
    s.status = {{"failedOverFrom", json::array({"gpu-a"})}};
    if (add) s.AddMember("gpu-a", phase, kT0);
    s.req.current = {{"gpu-b", 1}};
    DecideFailback(s.At(kT0 + seconds(3600)), s.req, s.out, s.wake);
    EXPECT_EQ(s.req.current.size(), 1u);
    EXPECT_TRUE(s.out.failing_back.empty());
    EXPECT_FALSE(s.wake.at.has_value());
  };
  policies::PlacementPolicySpec off;
  off.failover.failback = false;
  run(off, true, MemberPhase::kHealthy);
  run({}, true, MemberPhase::kSuspect);
  run({}, true, MemberPhase::kFailed);
  run({}, true, MemberPhase::kNew);
  run({}, false, MemberPhase::kHealthy);  // the member is gone
}

TEST(DecideFailback, NothingWithoutFailedOverFrom) {
  Scenario s;
  s.status = json();  // no status at all
  s.AddMember("gpu-a", MemberPhase::kHealthy, kT0);
  s.req.current = {{"gpu-a", 1}};
  DecideFailback(s.At(kT0 + seconds(3600)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current.size(), 1u);
  EXPECT_TRUE(s.out.failing_back.empty());
}

// --- ReplaceCapacityPending ---

MemberReport PendingForGpus(int replicas, int available) {
  MemberReport r;
  r.replicas = replicas;
  r.ready = available;
  r.available = available;
  r.phase = "Pending";
  r.reason = "InsufficientGPU";
  return r;
}

// gpu-a runs 3 replicas of the workspace, 2 serving, the rest waiting for GPUs since T0.
Scenario CapacityScenario(const policies::PlacementPolicySpec& spec = {}, int available = 2) {
  Scenario s(spec);
  s.AddMember("gpu-a", MemberPhase::kHealthy, kT0 - seconds(600));
  s.AddMember("gpu-b", MemberPhase::kHealthy, kT0 - seconds(600));
  s.status = {
      {"placements",
       {{{"cluster", "gpu-a"}, {"replicas", 3}, {"capacityPendingSince", FormatRfc3339(kT0)}},
        {{"cluster", "gpu-b"}, {"replicas", 1}}}}};
  s.reported["gpu-a"][kKey] = PendingForGpus(3, available);
  s.req.current = {{"gpu-a", 3}, {"gpu-b", 1}};
  return s;
}

TEST(ReplaceCapacityPending, WaitsForTheLimitAndWakesThen) {
  Scenario s = CapacityScenario();
  ReplaceCapacityPending(s.At(kT0 + milliseconds(119'999)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-a", 3}, {"gpu-b", 1}}));
  EXPECT_TRUE(s.req.avoid.empty());
  EXPECT_TRUE(s.out.capacity_moved.empty());
  ASSERT_TRUE(s.wake.at.has_value());
  EXPECT_EQ(*s.wake.at, kT0 + seconds(120));
}

TEST(ReplaceCapacityPending, KeepsTheServingReplicasAndAvoidsTheMemberAfterTheLimit) {
  Scenario s = CapacityScenario();
  ReplaceCapacityPending(s.At(kT0 + seconds(120)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-a", 2}, {"gpu-b", 1}}))
      << "the two serving replicas stay; the waiting one is placed afresh";
  EXPECT_EQ(s.req.avoid, std::set<std::string>{"gpu-a"}) << "new replicas go elsewhere first";
  EXPECT_EQ(s.out.capacity_moved[kKey], (std::map<std::string, int>{{"gpu-a", 1}}));
}

TEST(ReplaceCapacityPending, NothingServingMeansTheMemberKeepsNothing) {
  Scenario s = CapacityScenario({}, /*available=*/0);
  ReplaceCapacityPending(s.At(kT0 + seconds(120)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-b", 1}}));
  EXPECT_EQ(s.req.avoid.count("gpu-a"), 1u);
  EXPECT_EQ(s.out.capacity_moved[kKey]["gpu-a"], 3);
}

TEST(ReplaceCapacityPending, ThePolicysLimitApplies) {
  policies::PlacementPolicySpec spec;
  spec.failover.capacity_pending_seconds = 30;
  Scenario s = CapacityScenario(spec);
  ReplaceCapacityPending(s.At(kT0 + seconds(30)), s.req, s.out, s.wake);
  EXPECT_EQ(s.req.current["gpu-a"], 2);
}

TEST(ReplaceCapacityPending, LeavesAloneWhatIsNotWaitingForGpusOnAHealthyMember) {
  auto untouched = [](Scenario& s, const char* why) {
    ReplaceCapacityPending(s.At(kT0 + seconds(3600)), s.req, s.out, s.wake);
    EXPECT_EQ(s.req.current, (std::map<std::string, int>{{"gpu-a", 3}, {"gpu-b", 1}})) << why;
    EXPECT_TRUE(s.req.avoid.empty()) << why;
    EXPECT_TRUE(s.out.capacity_moved.empty()) << why;
  };
  {
    Scenario s = CapacityScenario();
    s.out.failing_back.insert(kKey);
    untouched(s, "failing back: decided afresh anyway");
  }
  {
    Scenario s = CapacityScenario();
    s.members["gpu-a"].phase = MemberPhase::kSuspect;
    untouched(s, "a frozen member is failover's business");
  }
  {
    Scenario s = CapacityScenario();
    s.reported["gpu-a"][kKey].reason = "ImagePulling";
    untouched(s, "pending, but not for GPUs");
  }
  {
    Scenario s = CapacityScenario();
    s.reported.clear();
    untouched(s, "no report");
  }
  {
    Scenario s = CapacityScenario();
    s.status["placements"][0].erase("capacityPendingSince");
    untouched(s, "the clock has not started");
  }
}

}  // namespace
}  // namespace berth::hub
