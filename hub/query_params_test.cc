#include "hub/query_params.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::hub {
namespace {

// Was: the Python client's watch=True was read as false, so its watches returned a list.
TEST(QueryParamsTest, BooleansParseAsKubernetesDoes) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) {
    auto v = QueryParams::Parse(std::string("watch=") + t).Bool("watch");
    ASSERT_TRUE(v.ok()) << t;
    EXPECT_TRUE(*v) << t;
  }
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    auto v = QueryParams::Parse(std::string("watch=") + f).Bool("watch", true);
    ASSERT_TRUE(v.ok()) << f;
    EXPECT_FALSE(*v) << f;
  }
  EXPECT_FALSE(*QueryParams::Parse("").Bool("watch"));
  EXPECT_TRUE(*QueryParams::Parse("watch=").Bool("watch", true));
  auto bad = QueryParams::Parse("allowWatchBookmarks=yes").Bool("allowWatchBookmarks");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(bad.status().message().find("allowWatchBookmarks"), std::string::npos);
}

TEST(QueryParamsTest, DecodesAndKeepsTheLastValue) {
  auto q = QueryParams::Parse("fieldSelector=metadata.name%3Dx&a=1&a=2&labelSelector=a+in+(b)");
  EXPECT_EQ(q.Get("fieldSelector"), "metadata.name=x");
  EXPECT_EQ(q.Get("a"), "2");
  EXPECT_EQ(q.Get("labelSelector"), "a in (b)");
  EXPECT_EQ(q.Get("missing"), "");
  EXPECT_EQ(QueryParams::Parse("x=%zz%4").Get("x"), "%zz%4");
}

TEST(QueryParamsTest, KnowsWhetherEverythingIsUtf8) {
  EXPECT_TRUE(QueryParams::Parse("labelSelector=team%3Dsuche%C3%BC").AllUtf8());
  EXPECT_FALSE(QueryParams::Parse("labelSelector=%FF").AllUtf8());
  EXPECT_FALSE(QueryParams::Parse("%C3=1").AllUtf8());
}

TEST(QueryParamsTest, IntegersAreWholeAndInRange) {
  EXPECT_EQ(**QueryParams::Parse("limit=500").Int("limit"), 500);
  EXPECT_FALSE(QueryParams::Parse("").Int("limit")->has_value());
  for (const char* bad : {"limit=12abc", "limit=abc", "limit=99999999999999999999", "limit=1.5"}) {
    auto v = QueryParams::Parse(bad).Int("limit");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.status().message().find("limit"), std::string::npos);
  }
}

// Was: DELETE ignored dryRun in the query and in the DeleteOptions body kubectl sends.
TEST(QueryParamsTest, DryRunOnlyAll) {
  EXPECT_TRUE(*QueryParams::Parse("dryRun=All").DryRun());
  EXPECT_FALSE(*QueryParams::Parse("").DryRun());
  EXPECT_FALSE(QueryParams::Parse("dryRun=Some").DryRun().ok());
  EXPECT_TRUE(*DryRunFromDeleteOptions(nlohmann::json::parse(R"({"dryRun":["All"]})")));
  EXPECT_FALSE(*DryRunFromDeleteOptions(nlohmann::json::parse(R"({"propagationPolicy":"Background"})")));
  EXPECT_FALSE(DryRunFromDeleteOptions(nlohmann::json::parse(R"({"dryRun":["Nope"]})")).ok());
  EXPECT_FALSE(DryRunFromDeleteOptions(nlohmann::json::parse(R"({"dryRun":"All"})")).ok());
}

}  // namespace
}  // namespace berth::hub
