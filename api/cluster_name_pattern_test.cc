#include "api/cluster_name_pattern.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

TEST(ClusterNamePatternTest, AcceptsGlobsWithALiteralPart) {
  for (const char* p : {"gpu-east-*", "*-east", "gpu-*-a100", "a*", "*a*", "gpu-*-*"}) {
    EXPECT_EQ(CheckClusterNamePattern(p), "") << p;
  }
}

TEST(ClusterNamePatternTest, RefusesPatternsThatBindNothingOrCannotMatch) {
  EXPECT_NE(CheckClusterNamePattern(""), "");
  EXPECT_NE(CheckClusterNamePattern("*"), "");
  EXPECT_NE(CheckClusterNamePattern("-*-"), "");
  EXPECT_NE(CheckClusterNamePattern("gpu-east-1"), "") << "no '*': that is spec.clusterName";
  EXPECT_NE(CheckClusterNamePattern("gpu-**"), "");
  EXPECT_NE(CheckClusterNamePattern("GPU-*"), "");
  EXPECT_NE(CheckClusterNamePattern("gpu.east*"), "");
  EXPECT_NE(CheckClusterNamePattern("gpu?"), "");
  EXPECT_NE(CheckClusterNamePattern("-gpu*"), "");
  EXPECT_NE(CheckClusterNamePattern("gpu*-"), "");
  EXPECT_NE(CheckClusterNamePattern(std::string(63, 'a') + "*"), "");
}

TEST(ClusterNamePatternTest, MatchesLikeAShellGlob) {
  EXPECT_TRUE(ClusterNameMatchesPattern("gpu-east-*", "gpu-east-1"));
  EXPECT_TRUE(ClusterNameMatchesPattern("gpu-east-*", "gpu-east-"));
  EXPECT_FALSE(ClusterNameMatchesPattern("gpu-east-*", "gpu-west-1"));
  EXPECT_FALSE(ClusterNameMatchesPattern("gpu-east-*", "gpu-east"));
  EXPECT_FALSE(ClusterNameMatchesPattern("gpu-east-*", "xgpu-east-1")) << "anchored at the start";
  EXPECT_TRUE(ClusterNameMatchesPattern("*-a100", "eu-1-a100"));
  EXPECT_FALSE(ClusterNameMatchesPattern("*-a100", "eu-1-a100x")) << "anchored at the end";
  EXPECT_TRUE(ClusterNameMatchesPattern("gpu-*-a100", "gpu-east-2-a100"));
  EXPECT_TRUE(ClusterNameMatchesPattern("gpu-*-a100", "gpu--a100"));
  EXPECT_FALSE(ClusterNameMatchesPattern("gpu-*-a100", "gpu-a100"));
  EXPECT_TRUE(ClusterNameMatchesPattern("*a*b*", "xxaxxbxx"));
  EXPECT_FALSE(ClusterNameMatchesPattern("*a*b*", "xxbxxaxx"));
  EXPECT_FALSE(ClusterNameMatchesPattern("gpu-*", ""));
}

TEST(ClusterNamePatternTest, LongNamesMatchWithoutBlowingUp) {
  const std::string name = std::string(100000, 'a') + "b";
  EXPECT_TRUE(ClusterNameMatchesPattern("*a*a*a*b", name));
  EXPECT_FALSE(ClusterNameMatchesPattern("*a*a*a*c", name));
}

}  // namespace
}  // namespace berth::api
