// Unit tests of the placement events on data: the placements before and after a pass (and why
// members were left) in; the Event a user sees with `kubectl get events`, or none, out.
#include "hub/controllers/placement_events.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

using nlohmann::json;
using std::chrono::seconds;

json Placements(std::initializer_list<std::pair<const char*, int>> where) {
  json out = json::array();
  for (const auto& [cluster, replicas] : where) out.push_back({{"cluster", cluster}, {"replicas", replicas}});
  return out;
}

struct EventCase {
  json workspace = {{"metadata", {{"name", "llama"}, {"namespace", "default"}}}};
  json before, after;
  std::set<std::string> evicted;
  std::map<std::string, int> moved;
  bool failing_back = false;

  std::optional<FleetEvent> Run() const {
    return PlacementChangeEvent({&workspace, &before, &after, failing_back, &evicted, &moved, seconds(120)});
  }
};

TEST(PlacementChangeEvent, FirstPlacementSaysWhereReplicasRun) {
  EventCase c{.before = json::array(), .after = Placements({{"gpu-a", 2}, {"gpu-b", 1}})};
  auto e = c.Run();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "Normal");
  EXPECT_EQ(e->reason, "Placed");
  EXPECT_EQ(e->message, "2 on gpu-a, 1 on gpu-b");
  EXPECT_EQ(e->object, &c.workspace);
}

TEST(PlacementChangeEvent, NoEventWhenTheMembersAreTheSameOrNothingIsPlaced) {
  EventCase same{.before = Placements({{"gpu-a", 1}}), .after = Placements({{"gpu-a", 3}})};
  EXPECT_FALSE(same.Run());  // a replica count change on the same members is not news
  EventCase none{.before = Placements({{"gpu-a", 1}}), .after = json::array()};
  EXPECT_FALSE(none.Run());  // Unschedulable says that
}

TEST(PlacementChangeEvent, LeavingAnUnreachableMemberIsAFailover) {
  EventCase c{.before = Placements({{"gpu-a", 2}}), .after = Placements({{"gpu-b", 2}}), .evicted = {"gpu-a"}};
  EXPECT_EQ(c.Run()->reason, "FailedOver");
  c.evicted.clear();
  EXPECT_EQ(c.Run()->reason, "Rescheduled");
  c.failing_back = true;
  EXPECT_EQ(c.Run()->reason, "FailedBack");
}

TEST(PlacementChangeEvent, CapacityMovesAreExplained) {
  EventCase c{.before = Placements({{"gpu-a", 2}}), .after = Placements({{"gpu-a", 1}, {"gpu-b", 1}}),
              .moved = {{"gpu-a", 1}}};
  auto e = c.Run();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "1 on gpu-a, 1 on gpu-b; 1 replica(s) moved off gpu-a after waiting 120 s for GPUs there");
}

TEST(UnschedulableEvent, WarnsOnceUntilTheWorkspaceIsScheduledAgain) {
  json ws = {{"metadata", {{"name", "llama"}}}};
  auto first = UnschedulableEvent(ws, /*scheduled=*/false, "no member has 8 free H100");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, "Warning");
  EXPECT_EQ(first->reason, "Unschedulable");
  EXPECT_EQ(first->message, "no member has 8 free H100");
  ws["status"]["conditions"] = json::array({{{"type", "Scheduled"}, {"status", "False"}}});
  EXPECT_FALSE(UnschedulableEvent(ws, false, "still no room"));  // already reported
  EXPECT_FALSE(UnschedulableEvent(ws, true, ""));
  ws["status"]["conditions"][0]["status"] = "True";
  EXPECT_TRUE(UnschedulableEvent(ws, false, "lost its room"));
}

}  // namespace
}  // namespace berth::hub
