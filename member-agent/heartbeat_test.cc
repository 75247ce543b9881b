#include "member-agent/heartbeat.h"

#include <gtest/gtest.h>

#include "member-agent/sim/sim_cluster.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"

namespace berth::agent {
namespace {

using namespace std::chrono_literals;

class HeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = SimCluster::FromFleetYaml(testing::kTestFleet, "sim-a", {}, &clock_);
    ASSERT_TRUE(sim.ok());
    sim_ = std::move(*sim);
    HeartbeatOptions o;
    o.cluster = "sim-a";
    o.holder_identity = "sim-a/test";
    heartbeat_ = std::make_unique<Heartbeat>(&hub_, sim_.get(), &clock_, o);
  }
  // Runs the heartbeat loop as the agent does, for `d` of fake time.
  void RunFor(Clock::Duration d) {
    auto end = clock_.Now() + d;
    while (true) {
      auto next = heartbeat_->Tick();
      if (next > end) break;
      clock_.Advance(next - clock_.Now());
    }
    clock_.Advance(end - clock_.Now());
  }
  FakeClock clock_;
  testing::FakeHubApi hub_;
  std::unique_ptr<SimCluster> sim_;
  std::unique_ptr<Heartbeat> heartbeat_;
};

TEST_F(HeartbeatTest, RenewsEveryPeriodAndSendsInventoryOnlyWhenChangedOrStale) {
  RunFor(59s);
  EXPECT_EQ(hub_.Calls("RenewLease").size(), 12u);  // t = 0, 5, ..., 55
  EXPECT_EQ(hub_.Calls("PatchMemberStatus").size(), 1u);
  auto lease = hub_.Calls("RenewLease")[1].body;
  EXPECT_EQ(lease["renewTime"], FormatRfc3339Millis(FakeClock().Now() + 5s));
  EXPECT_EQ(lease["seconds"], 15);
  RunFor(2s);  // crosses 60 s since the last inventory: sent again though unchanged
  EXPECT_EQ(hub_.Calls("PatchMemberStatus").size(), 2u);

  ASSERT_TRUE(sim_->SetNodeDown("l4-1", true).ok());  // inventory changes
  RunFor(5s);
  auto writes = hub_.Calls("PatchMemberStatus");
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(writes.back().body["nodes"][1]["ready"], false);
  EXPECT_EQ(writes.back().body["simulated"], true);
  EXPECT_TRUE(writes.back().body.contains("inventoryTime"));
}

TEST_F(HeartbeatTest, RetriesWithBackoffCappedAtThePeriodAndRecovers) {
  RunFor(1s);
  hub_.set_down(true);
  RunFor(60s);
  // Retries at 1, 2, 4, then every 5 s: no storm, and never slower than the period.
  EXPECT_LE(hub_.failed_calls(), 2 * 16);
  EXPECT_GE(hub_.failed_calls(), 12);
  EXPECT_FALSE(heartbeat_->hub_reachable());
  hub_.set_down(false);
  RunFor(5s);
  EXPECT_TRUE(heartbeat_->hub_reachable());
  EXPECT_EQ(heartbeat_->stats().consecutive_failures, 0);
}

TEST(Rfc3339MillisTest, Formats) {
  Clock::TimePoint t(Clock::Duration(1'767'225'605'123));
  EXPECT_EQ(FormatRfc3339Millis(t), "2026-01-01T00:00:05.123Z");
}

}  // namespace
}  // namespace berth::agent
