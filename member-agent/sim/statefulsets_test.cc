#include "member-agent/sim/statefulsets.h"

#include <gtest/gtest.h>

namespace berth::agent::sim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(SimStatefulSetsTest, MaxUnavailableIsACountOrAPercentageRoundedUp) {
  EXPECT_EQ(MaxUnavailable(json::object(), 4), 1);
  EXPECT_EQ(MaxUnavailable(json::parse(R"({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 3}}})"), 4), 3);
  EXPECT_EQ(MaxUnavailable(json::parse(R"({"updateStrategy": {"rollingUpdate": {"maxUnavailable": "30%"}}})"), 4), 2);
  EXPECT_EQ(MaxUnavailable(json::parse(R"({"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0}}})"), 4), 1);
}


}  // namespace
}  // namespace berth::agent::sim
