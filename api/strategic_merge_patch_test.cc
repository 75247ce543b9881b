#include "api/strategic_merge_patch.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

using nlohmann::json;

json Apply(const json& original, const json& patch) {
  auto r = ApplyStrategicMergePatch(original, patch, ObjectMetaMergeKeys());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : json();
}

TEST(StrategicMergePatchTest, MapsMergeAndNullDeletesAsInAMergePatch) {
  json cm = {{"metadata", {{"name", "c"}, {"labels", {{"a", "1"}, {"b", "2"}}}}},
             {"data", {{"k", "v"}, {"old", "x"}}}};
  json out = Apply(cm, {{"data", {{"k", "v2"}, {"old", nullptr}, {"new", "n"}}},
                        {"metadata", {{"labels", {{"b", nullptr}}}}}});
  EXPECT_EQ(out["data"], json({{"k", "v2"}, {"new", "n"}}));
  EXPECT_EQ(out["metadata"]["labels"], json({{"a", "1"}}));
}

TEST(StrategicMergePatchTest, UnnamedListsAreReplaced) {
  json ns = {{"spec", {{"finalizers", {"kubernetes", "x"}}}}};
  EXPECT_EQ(Apply(ns, {{"spec", {{"finalizers", {"y"}}}}})["spec"]["finalizers"], json({"y"}));
}

TEST(StrategicMergePatchTest, FinalizersMergeAsASetAndDirectivesRemoveAndOrder) {
  // What kubectl apply sends when a file adds finalizer "b" and drops "a".
  json obj = {{"metadata", {{"finalizers", {"a", "keep"}}}}};
  json out = Apply(obj, {{"metadata", {{"finalizers", {"b"}},
                                       {"$deleteFromPrimitiveList/finalizers", {"a"}},
                                       {"$setElementOrder/finalizers", {"b", "keep"}}}}});
  EXPECT_EQ(out["metadata"]["finalizers"], json({"b", "keep"}));
}

TEST(StrategicMergePatchTest, OwnerReferencesMergeByUid) {
  json obj = {{"metadata", {{"ownerReferences", {{{"uid", "1"}, {"name", "a"}}, {{"uid", "2"}, {"name", "b"}}}}}}};
  json out = Apply(obj, {{"metadata", {{"ownerReferences", {{{"uid", "2"}, {"name", "B"}},
                                                            {{"uid", "1"}, {"$patch", "delete"}},
                                                            {{"uid", "3"}, {"name", "c"}}}}}}});
  EXPECT_EQ(out["metadata"]["ownerReferences"],
            json({{{"uid", "2"}, {"name", "B"}}, {{"uid", "3"}, {"name", "c"}}}));
}

TEST(StrategicMergePatchTest, PatchReplaceAndDeleteOnMaps) {
  json obj = {{"data", {{"a", "1"}, {"b", "2"}}}, {"binaryData", {{"x", "eA=="}}}};
  json out = Apply(obj, {{"data", {{"$patch", "replace"}, {"c", "3"}}}, {"binaryData", {{"$patch", "delete"}}}});
  EXPECT_EQ(out["data"], json({{"c", "3"}}));
  EXPECT_FALSE(out.contains("binaryData"));
}

TEST(StrategicMergePatchTest, RetainKeysDropsTheOthers) {
  json obj = {{"spec", {{"a", 1}, {"b", 2}}}};
  EXPECT_EQ(Apply(obj, {{"spec", {{"$retainKeys", {"b"}}, {"b", 3}}}})["spec"], json({{"b", 3}}));
}

TEST(StrategicMergePatchTest, UnknownDirectivesAndMissingMergeKeysAreBadRequests) {
  auto r = ApplyStrategicMergePatch(json::object(), {{"data", {{"$frobnicate", 1}}}}, ObjectMetaMergeKeys());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("$frobnicate"), std::string::npos);
  r = ApplyStrategicMergePatch(json::object(), {{"metadata", {{"ownerReferences", {{{"name", "x"}}}}}}},
                               ObjectMetaMergeKeys());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("merge key \"uid\""), std::string::npos);
  EXPECT_FALSE(ApplyStrategicMergePatch(json::object(), json::array(), ObjectMetaMergeKeys()).ok());
  EXPECT_FALSE(ApplyStrategicMergePatch(json::object(), {{"$patch", "delete"}}, ObjectMetaMergeKeys()).ok());
}

}  // namespace
}  // namespace berth::api
