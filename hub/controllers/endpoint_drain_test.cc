// Unit tests of drain-before-removal on data and a fake clock: the previous Work, this pass's
// desired entries (after make-before-break) and reports in; the entries kept draining out.
#include "hub/controllers/endpoint_drain.h"

#include <gtest/gtest.h>

#include "hub/controllers/make_before_break.h"
#include "hub/controllers/stage_test_data.h"
#include "hub/controllers/work_diff.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;



MemberReport Serving(int ready) {
  MemberReport r;
  r.replicas = r.ready = r.available = ready;
  return r;
}

// Failback: llama served 2 replicas on gpu-away; its home gpu-home is Ready again, so this
// pass no longer wants gpu-away.
struct Failback {
  std::map<std::string, json> member_objects;
  std::map<std::string, MemberView> members;
  std::map<std::string, std::shared_ptr<const json>> works;
  json llama = {{"metadata", {{"name", "llama"}, {"namespace", "default"}}}};
  std::map<std::string, const json*> workspaces;
  MemberReports reported;
  DesiredWork desired;
  Clock::Duration grace = seconds(30);

  Failback() {
    for (const char* m : {"gpu-home", "gpu-away"}) {
      member_objects[m] = {{"metadata", {{"name", m}}}};
      members[m] = MemberView{&member_objects[m], MemberPhase::kHealthy, kT0};
    }
    works["gpu-away"] = WorkOf("gpu-away", json::array({WorkEntry("llama", 2)}));
    workspaces[kKey] = &llama;
    reported["gpu-away"][kKey] = Serving(2);
    reported["gpu-home"][kKey] = Serving(2);
    desired.entries["gpu-home"][kKey] = WorkEntry("llama", 2);
  }
  Failback(const Failback&) = delete;

  Draining Run(Clock::TimePoint now, WakeUp* wake = nullptr) {
    WakeUp local;
    DrainInput in{&members, &works, &workspaces, &reported, [this](const std::string&) { return grace; }, now};
    return DrainBeforeRemoval(in, desired, wake ? *wake : local);
  }
  // What the next pass starts from: the Work as this pass wrote it.
  void Commit() {
    json entries = json::array();
    for (const auto& [k, e] : desired.entries["gpu-away"]) entries.push_back(e);
    works["gpu-away"] = WorkOf("gpu-away", entries);
    desired.entries.erase("gpu-away");
  }
};

TEST(DrainBeforeRemoval, KeepsALeavingEntryDrainingForTheGraceThenLetsItGo) {
  Failback f;
  const auto now = kT0 + milliseconds(400);
  WakeUp wake;
  Draining d = f.Run(now, &wake);
  ASSERT_TRUE(f.desired.entries["gpu-away"].count(kKey)) << "the entry stays while it drains";
  const json& kept = f.desired.entries["gpu-away"][kKey];
  EXPECT_EQ(kept["draining"]["since"], "2026-01-01T00:00:01Z") << "stamped at the next whole second";
  EXPECT_EQ(WhatRuns(kept), WhatRuns(WorkEntry("llama", 2))) << "what runs is unchanged: the agent keeps serving";
  ASSERT_EQ(d[kKey].size(), 1u);
  EXPECT_EQ(d[kKey][0].cluster, "gpu-away");
  EXPECT_EQ(d[kKey][0].until, kT0 + seconds(31));
  EXPECT_EQ(d[kKey][0].available, 2);
  ASSERT_TRUE(wake.at);
  EXPECT_EQ(*wake.at, kT0 + seconds(31));

  // Passes during the grace keep the first stamp; the one at its end removes the entry.
  f.Commit();
  d = f.Run(kT0 + seconds(20));
  ASSERT_TRUE(f.desired.entries["gpu-away"].count(kKey));
  EXPECT_EQ(f.desired.entries["gpu-away"][kKey]["draining"]["since"], "2026-01-01T00:00:01Z");
  f.Commit();
  d = f.Run(kT0 + seconds(31));
  EXPECT_FALSE(f.desired.entries["gpu-away"].count(kKey)) << "drained: the entry goes";
  EXPECT_TRUE(d.empty());
}

TEST(DrainBeforeRemoval, StillDrainsWhenTheReplicasStopBeingReadyMeanwhile) {
  Failback f;
  f.Run(kT0);
  f.Commit();
  f.reported["gpu-away"][kKey] = Serving(0);
  f.Run(kT0 + seconds(5));
  EXPECT_TRUE(f.desired.entries["gpu-away"].count(kKey)) << "a drain once started runs its grace";
}

TEST(DrainBeforeRemoval, NothingToDrainWhenNothingServesThere) {
  Failback f;
  f.reported["gpu-away"][kKey] = Serving(0);
  EXPECT_TRUE(f.Run(kT0).empty());
  EXPECT_FALSE(f.desired.entries["gpu-away"].count(kKey));
}

TEST(DrainBeforeRemoval, ADeletedWorkspaceIsNotDrained) {
  Failback f;
  f.llama["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_TRUE(f.Run(kT0).empty());
  f.workspaces.clear();
  EXPECT_TRUE(f.Run(kT0).empty());
  EXPECT_FALSE(f.desired.entries["gpu-away"].count(kKey));
}

TEST(DrainBeforeRemoval, FrozenMembersAreLeftAlone) {
  Failback f;
  f.members["gpu-away"].phase = MemberPhase::kSuspect;
  EXPECT_TRUE(f.Run(kT0).empty());
  EXPECT_FALSE(f.desired.entries.count("gpu-away")) << "a frozen member's Work is not written";
}

TEST(DrainBeforeRemoval, AnEntryWantedAgainStopsDraining) {
  Failback f;
  f.Run(kT0);
  f.Commit();
  f.desired.entries["gpu-away"][kKey] = WorkEntry("llama", 2);  // the pass places llama there again
  EXPECT_TRUE(f.Run(kT0 + seconds(3)).empty());
  EXPECT_FALSE(f.desired.entries["gpu-away"][kKey].contains("draining"));
}

TEST(DrainBeforeRemoval, ZeroGraceRemovesAtOnce) {
  Failback f;
  f.grace = seconds(0);
  EXPECT_TRUE(f.Run(kT0).empty());
  EXPECT_FALSE(f.desired.entries["gpu-away"].count(kKey));
}

TEST(DrainBeforeRemoval, RunsAfterMakeBeforeBreak) {
  // The replacement on gpu-home is not Ready yet: make-before-break keeps gpu-away as it is
  // (not draining); once it is Ready the drain starts.
  Failback f;
  f.reported["gpu-home"][kKey] = Serving(0);
  f.desired.allocations[kKey] = {Alloc("gpu-home", 2)};
  f.desired.requested[kKey] = 2;
  KeepUntilReplaced(f.members, f.works, f.workspaces, f.reported, f.desired);
  EXPECT_TRUE(f.Run(kT0).empty());
  EXPECT_FALSE(f.desired.entries["gpu-away"][kKey].contains("draining"));

  f.desired.entries.erase("gpu-away");
  f.reported["gpu-home"][kKey] = Serving(2);
  KeepUntilReplaced(f.members, f.works, f.workspaces, f.reported, f.desired);
  EXPECT_EQ(f.Run(kT0).size(), 1u);
  EXPECT_TRUE(f.desired.entries["gpu-away"][kKey].contains("draining"));
}

}  // namespace
}  // namespace berth::hub
