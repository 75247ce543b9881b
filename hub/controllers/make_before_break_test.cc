// Unit tests of make-before-break on data: the previous Work, this pass's desired entries and
// the agents' reports in; the entries kept on members the workspace leaves (and why) out.
#include "hub/controllers/make_before_break.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::seconds;



MemberReport Ready(int ready) {
  MemberReport r;
  r.replicas = ready;
  r.ready = ready;
  r.available = ready;
  r.phase = ready > 0 ? "Ready" : "Pending";
  return r;
}

// llama ran 1 replica on gpu-a (it still serves there); this pass moves it to gpu-b.
struct Move {
  std::map<std::string, json> member_objects;
  std::map<std::string, MemberView> members;
  std::map<std::string, std::shared_ptr<const json>> works;
  json llama = {{"metadata", {{"name", "llama"}, {"namespace", "default"}}}};
  std::map<std::string, const json*> workspaces;
  MemberReports reported;
  DesiredWork desired;

  Move() {
    for (const char* m : {"gpu-a", "gpu-b"}) {
      member_objects[m] = {{"metadata", {{"name", m}}}};
      members[m] = MemberView{&member_objects[m], MemberPhase::kHealthy, kT0};
    }
    works["gpu-a"] = WorkOf("gpu-a", json::array({WorkEntry("llama", 1)}));
    workspaces[kKey] = &llama;
    reported["gpu-a"][kKey] = Ready(1);
    desired.entries["gpu-b"][kKey] = WorkEntry("llama", 1);
    desired.allocations[kKey] = {Alloc("gpu-b", 1)};
    desired.requested[kKey] = 1;
  }
  Move(const Move&) = delete;

  Superseded Run() { return KeepUntilReplaced(members, works, workspaces, reported, desired); }
};

TEST(KeepUntilReplaced, KeepsTheOldEntryUntilTheReplacementsAreReady) {
  Move m;
  m.reported["gpu-b"][kKey] = Ready(0);
  Superseded s = m.Run();
  ASSERT_TRUE(m.desired.entries["gpu-a"].count(kKey)) << "the old entry stays on gpu-a";
  EXPECT_EQ(m.desired.entries["gpu-a"][kKey], WorkEntry("llama", 1))
      << "unchanged, entryGeneration included";
  EXPECT_TRUE(m.desired.entries["gpu-b"].count(kKey)) << "and the new one is asked for";
  ASSERT_EQ(s[kKey].size(), 1u);
  EXPECT_EQ(s[kKey][0], (json{{"cluster", "gpu-a"},
                              {"replicas", 1},
                              {"readyReplicas", 1},
                              {"reason", "ReplacementsNotReady"}}));
}

TEST(KeepUntilReplaced, DropsTheOldEntryOnceTheReplacementsAreReady) {
  Move m;
  m.reported["gpu-b"][kKey] = Ready(1);
  Superseded s = m.Run();
  EXPECT_FALSE(m.desired.entries["gpu-a"].count(kKey));
  EXPECT_TRUE(s.empty());
}

TEST(KeepUntilReplaced, ReadyCountsAtMostWhatEachMemberIsGiven) {
  // Two replicas asked, one on gpu-b and one on gpu-c; gpu-b reports 3 Ready (it ran more
  // before): that is one replacement, not three.
  Move m;
  m.member_objects["gpu-c"] = {{"metadata", {{"name", "gpu-c"}}}};
  m.members["gpu-c"] = MemberView{&m.member_objects["gpu-c"], MemberPhase::kHealthy, kT0};
  m.desired.allocations[kKey] = {Alloc("gpu-b", 1), Alloc("gpu-c", 1)};
  m.desired.requested[kKey] = 2;
  m.reported["gpu-b"][kKey] = Ready(3);
  m.reported["gpu-c"][kKey] = Ready(0);
  Superseded s = m.Run();
  EXPECT_TRUE(m.desired.entries["gpu-a"].count(kKey));
  EXPECT_EQ(s[kKey].size(), 1u);
  m.desired.entries["gpu-a"].clear();
  m.reported["gpu-c"][kKey] = Ready(1);
  EXPECT_TRUE(m.Run().empty());
}

TEST(KeepUntilReplaced, WantsWhatTheWorkspaceAsksForEvenWhenLessIsPlaced) {
  Move m;
  m.desired.requested[kKey] = 2;  // only one of two placed
  m.reported["gpu-b"][kKey] = Ready(1);
  Superseded s = m.Run();
  EXPECT_TRUE(m.desired.entries["gpu-a"].count(kKey))
      << "1 Ready of 2 asked: the old replica still serves";
  EXPECT_EQ(s[kKey].size(), 1u);
}

TEST(KeepUntilReplaced, PlacedNowhereKeepsTheOldEntry) {
  Move m;
  m.desired.entries["gpu-b"].clear();
  m.desired.allocations.erase(kKey);
  Superseded s = m.Run();
  EXPECT_TRUE(m.desired.entries["gpu-a"].count(kKey))
      << "an unschedulable workspace keeps what serves";
  EXPECT_EQ(s[kKey].size(), 1u);
}

TEST(KeepUntilReplaced, NoReplacementWhenThePassAsksNothingOfTheWorkspace) {
  // An invalid Workspace (its rollout refused) has no decision in the desired Work.
  Move m;
  m.desired.entries["gpu-b"].clear();
  m.desired.allocations.erase(kKey);
  m.desired.requested.erase(kKey);
  Superseded s = m.Run();
  EXPECT_TRUE(m.desired.entries["gpu-a"].count(kKey));
  ASSERT_EQ(s[kKey].size(), 1u);
  EXPECT_EQ(s[kKey][0]["reason"], "NoReplacement");
}

TEST(KeepUntilReplaced, NothingIsKeptForAWorkspaceBeingDeletedOrGone) {
  {
    Move m;
    m.llama["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    Superseded s = m.Run();
    EXPECT_FALSE(m.desired.entries["gpu-a"].count(kKey));
    EXPECT_TRUE(s.empty());
  }
  {
    Move m;
    m.workspaces.clear();
    Superseded s = m.Run();
    EXPECT_FALSE(m.desired.entries["gpu-a"].count(kKey));
    EXPECT_TRUE(s.empty());
  }
}

TEST(KeepUntilReplaced, FrozenMembersAreNotLookedAt) {
  for (MemberPhase frozen : {MemberPhase::kSuspect, MemberPhase::kFailed}) {
    Move m;
    m.members["gpu-a"].phase = frozen;
    Superseded s = m.Run();
    EXPECT_FALSE(m.desired.entries.count("gpu-a")) << "its Work stays as it is, written by nobody";
    EXPECT_TRUE(s.empty());
  }
}

TEST(KeepUntilReplaced, AnEntryTheMemberStillGetsIsNotTouched) {
  Move m;
  m.desired.entries["gpu-a"][kKey] = WorkEntry("llama", 3);  // rescaled in place
  Superseded s = m.Run();
  EXPECT_EQ(m.desired.entries["gpu-a"][kKey]["replicas"], 3);
  EXPECT_TRUE(s.empty());
}

TEST(KeepUntilReplaced, MembersThatAreGoneAreNotLookedAt) {
  Move m;
  m.members.erase("gpu-a");
  Superseded s = m.Run();
  EXPECT_FALSE(m.desired.entries.count("gpu-a"));
  EXPECT_TRUE(s.empty());
}

TEST(KeepUntilReplaced, TheSupersededReplicasReportTheirAvailableCount) {
  Move m;
  MemberReport updating = Ready(0);
  updating.available = 1;  // the old pod still serves while the member's own update runs
  m.reported["gpu-a"][kKey] = updating;
  Superseded s = m.Run();
  ASSERT_EQ(s[kKey].size(), 1u);
  EXPECT_EQ(s[kKey][0]["readyReplicas"], 1);
}

}  // namespace
}  // namespace berth::hub
