#include "hub/discovery.h"

#include <gtest/gtest.h>

#include "hub/hub.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {
namespace {

using nlohmann::json;

TEST(DiscoveryTest, ResourceListNamesEveryKindWithShortNames) {
  api::KindRegistry r;
  ASSERT_TRUE(kinds::RegisterBerthKinds(r).ok());
  json list = ApiResourceList(r, "berth.dev", "v1alpha1");
  std::map<std::string, json> by_name;
  for (const auto& res : list["resources"]) by_name[res["name"]] = res;
  for (const char* plural : {"workspaces", "memberclusters", "placementpolicies", "rolloutstrategies", "works"}) {
    ASSERT_TRUE(by_name.count(plural)) << plural;
    EXPECT_EQ(by_name[plural]["categories"], json::array({"berth"}));
    EXPECT_TRUE(by_name.count(std::string(plural) + "/status"));
  }
  EXPECT_EQ(by_name["workspaces"]["shortNames"], json::array({"ws"}));
  EXPECT_EQ(by_name["memberclusters"]["namespaced"], false);
  EXPECT_TRUE(ApiResourceList(r, "nope", "v1").is_null());
}

TEST(DiscoveryTest, OpenApiAdvertisesServerSideFieldValidation) {
  api::KindRegistry r;
  ASSERT_TRUE(kinds::RegisterBerthKinds(r).ok());
  json doc = OpenApiV3Group(r, "berth.dev", "v1alpha1");
  const json& patch = doc["paths"]["/apis/berth.dev/v1alpha1/namespaces/{namespace}/workspaces/{name}"]["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"]["kind"], "Workspace");
  bool has = false;
  for (const auto& p : patch["parameters"]) has = has || (p["name"] == "fieldValidation" && p["in"] == "query");
  EXPECT_TRUE(has);
  EXPECT_TRUE(doc["components"]["schemas"].contains("dev.berth.v1alpha1.MemberCluster"));
}

TEST(DiscoveryTest, TableHasNameColumnsAndAge) {
  api::KindInfo k = api::MemberClusterKind();
  json mc = {{"metadata", {{"name", "gpu-1"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}},
             {"spec", {{"region", "eu"}}},
             {"status", {{"gpus", {{"free", 3}, {"total", 8}}},
                         {"conditions", {{{"type", "Healthy"}, {"status", "True"}}}}}}};
  Clock::TimePoint now;
  ASSERT_TRUE(ParseRfc3339("2026-01-01T01:30:00Z", &now));
  json t = ToTable(k, {mc}, now, "", "7", "");
  EXPECT_EQ(t["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(t["rows"][0]["cells"], json::array({"gpu-1", "eu", "3/8", "True", "", "", "90m"}));
  EXPECT_EQ(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST(DiscoveryTest, HumanDurations) {
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(seconds(125)), "2m5s");
  EXPECT_EQ(HumanDuration(seconds(3600 * 5 + 60 * 7)), "5h7m");
  EXPECT_EQ(HumanDuration(seconds(86400 * 3 + 3600)), "3d1h");
}

}  // namespace
}  // namespace berth::hub
