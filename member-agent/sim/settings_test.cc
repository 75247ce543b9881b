#include "member-agent/sim/settings.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using nlohmann::json;

TEST(SimSettingsTest, BadSimBlockNamesTheField) {
  auto s = ParseSimSettings(json{{"imagePullMiBps", -1}, {"bogus", 1}}, "clusters[a].sim", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("clusters[a].sim.imagePullMiBps"), std::string::npos);
  EXPECT_EQ(s.status().causes().size(), 2u);
}

}  // namespace
}  // namespace berth::agent
