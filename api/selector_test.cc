#include "api/selector.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

TEST(LabelSelectorTest, ParsesAndMatchesAllOperators) {
  auto sel = LabelSelector::Parse("region=eu,tier!=dev,gpu in (a100, h100),!legacy,owner");
  ASSERT_TRUE(sel.ok()) << sel.status().ToString();
  EXPECT_EQ(sel->requirements().size(), 5u);
  EXPECT_TRUE(sel->Matches({{"region", "eu"}, {"gpu", "h100"}, {"owner", "x"}}));
  EXPECT_FALSE(sel->Matches({{"region", "eu"}, {"gpu", "t4"}, {"owner", "x"}}));
  EXPECT_FALSE(sel->Matches({{"region", "eu"}, {"gpu", "a100"}, {"owner", "x"}, {"legacy", "1"}}));
  EXPECT_FALSE(sel->Matches({{"region", "eu"}, {"gpu", "a100"}, {"owner", "x"}, {"tier", "dev"}}));
  EXPECT_FALSE(sel->Matches({{"region", "eu"}, {"gpu", "a100"}}));
}

TEST(LabelSelectorTest, RejectsMalformedTerms) {
  EXPECT_FALSE(LabelSelector::Parse("gpu in a100").ok());
  EXPECT_FALSE(LabelSelector::Parse("gpu within (a)").ok());
  EXPECT_FALSE(LabelSelector::Parse("a=b,,c=d").ok());
  EXPECT_FALSE(LabelSelector::Parse("gpu in ()").ok());
  EXPECT_FALSE(LabelSelector::Parse("tier===").ok()) << "'=' is not a valid label value";
  EXPECT_FALSE(LabelSelector::Parse("ti er=gold").ok()) << "keys cannot contain spaces";
}

TEST(LabelSelectorTest, FromStructuredForm) {
  auto sel = LabelSelector::FromJson(nlohmann::json::parse(
      R"({"matchLabels":{"env":"prod"},"matchExpressions":[{"key":"region","operator":"NotIn","values":["us"]}]})"),
      "spec.selector");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches({{"env", "prod"}, {"region", "eu"}}));
  EXPECT_FALSE(sel->Matches({{"env", "prod"}, {"region", "us"}}));
  auto bad = LabelSelector::FromJson(nlohmann::json::parse(
      R"({"matchExpressions":[{"key":"r","operator":"Near"}]})"), "spec.selector");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes()[0].field, "spec.selector.matchExpressions[0].operator");
}

TEST(FieldSelectorTest, MatchesPaths) {
  auto sel = FieldSelector::Parse("metadata.name=a,spec.cluster!=b");
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sel->ExactName(), "a");
  EXPECT_TRUE(sel->Matches(nlohmann::json::parse(R"({"metadata":{"name":"a"},"spec":{"cluster":"c"}})")));
  EXPECT_FALSE(sel->Matches(nlohmann::json::parse(R"({"metadata":{"name":"a"},"spec":{"cluster":"b"}})")));
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace berth::api
