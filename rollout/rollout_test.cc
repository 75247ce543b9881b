// Unit tests of the operations and persistence; the gates are covered data-first by
// tests/rollout/scenarios/*.yaml.
#include "rollout/rollout.h"

#include <gtest/gtest.h>

namespace berth::rollout {
namespace {

using nlohmann::json;

const Clock::TimePoint kT0(Clock::Duration(1'767'225'600'000));

RolloutPlan Plan() {
  RolloutPlan plan;
  plan.strategy = policies::DefaultRolloutStrategy();
  plan.target.number = 2;
  plan.target.hash = "h2";
  plan.target.image = "vllm:new";
  plan.last_good = Revision{};
  plan.last_good->number = 1;
  plan.min_available = 1;
  return plan;
}

FleetView Fleet(int n) {
  FleetView f;
  for (int i = 0; i < n; ++i) {
    ClusterObservation o;
    o.name = "c" + std::to_string(i);
    o.desired_replicas = 2;
    o.revision = 1;
    o.ready_replicas = 2;
    o.phase = ReplicaPhase::kReady;
    o.surge_capacity = 2;
    f.clusters.push_back(o);
  }
  return f;
}

TEST(Operations, RejectWhatDoesNotApply) {
  RolloutState none;
  EXPECT_EQ(Approve(none).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Pause(none).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Resume(none).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Undo(none).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Retry(none).status().code(), StatusCode::kFailedPrecondition);
}

TEST(Advance, PrePullsTheWholeStageWithTheTargetsArtifacts) {
  auto step = Advance(Plan(), RolloutState{}, Fleet(3), kT0);
  ASSERT_EQ(step.pre_pulls.size(), 1u);  // the canary stage holds one cluster
  EXPECT_EQ(step.pre_pulls[0], (PrePullRequest{"c0", "vllm:new", "", 2}));
  EXPECT_EQ(step.directives.at("c0").revision, 1);  // not updated before its pull finished
  EXPECT_EQ(step.state.stage_names, (std::vector<std::string>{"canary", "rest"}));
}

TEST(Advance, SurgeDirectiveKeepsTheOldRevisionWhileTheNewStarts) {
  FleetView fleet = Fleet(2);
  for (auto& c : fleet.clusters) c.artifacts_cached = true;
  auto step = Advance(Plan(), RolloutState{}, fleet, kT0);
  const ClusterDirective& d = step.directives.at("c0");
  EXPECT_EQ(d.revision, 2);
  EXPECT_EQ(d.previous_revision, 1);
  EXPECT_EQ(d.mode, policies::UpdateMode::kSurge);
  EXPECT_EQ(d.max_surge, 2);
}

TEST(Advance, ClusterThatLeavesThePlacementLeavesTheRollout) {
  FleetView fleet = Fleet(3);
  for (auto& c : fleet.clusters) c.artifacts_cached = true;
  auto step = Advance(Plan(), RolloutState{}, fleet, kT0);
  fleet.clusters[2].placed = false;
  auto next = Advance(Plan(), step.state, fleet, kT0 + std::chrono::seconds(1));
  EXPECT_EQ(next.state.clusters.count("c2"), 0u);
  EXPECT_EQ(next.directives.count("c2"), 0u);
}

TEST(RolloutStateJson, NullIsANewRolloutAndGarbageNamesTheField) {
  auto empty = RolloutStateFromJson(json());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->target_revision, 0);
  auto bad = RolloutStateFromJson(json::parse(R"({"phase": "Exploding"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes()[0].field, "status.rollout.phase");
}

}  // namespace
}  // namespace berth::rollout
