#include "member-agent/sim/faults.h"

#include <gtest/gtest.h>

namespace berth::agent::sim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(SimFaultsTest, PodsOverALossOfGpusAreEvictedInOrder) {
  Node node;
  node.spec.name = "l4-0";
  node.spec.units = 2;
  node.lost = 1;
  Pods pods;
  pods["models/a"].node = "l4-0";
  pods["models/a"].units = 1;
  pods["models/b"].node = "l4-0";
  pods["models/b"].units = 1;
  EvictFromFailedNodes({node}, pods);
  EXPECT_EQ(pods["models/a"].node, "l4-0");
  EXPECT_EQ(pods["models/b"].displaced, "GPUsLost");
  node.down = true;
  EvictFromFailedNodes({node}, pods);
  EXPECT_EQ(pods["models/a"].displaced, "NodeLost");
  EXPECT_TRUE(PullRestarts(true, false));
  EXPECT_FALSE(PullRestarts(true, true));
  EXPECT_TRUE(PullFailsNow(false, true, Clock::TimePoint{}, Clock::TimePoint{} + 1s));
  EXPECT_FALSE(PullFailsNow(false, true, Clock::TimePoint{} + 1s, Clock::TimePoint{} + 1s))
      << "a finished pull does not fail";
}


}  // namespace
}  // namespace berth::agent::sim
