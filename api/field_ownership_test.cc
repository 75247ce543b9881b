#include "api/field_ownership.h"

#include <gtest/gtest.h>

#include "api/structured_merge.h"

namespace berth::api {
namespace {

using nlohmann::json;

const json& Schema() {
  static const json kSchema = json::parse(R"({
    "type": "object",
    "properties": {
      "apiVersion": {"type": "string"}, "kind": {"type": "string"},
      "metadata": {"type": "object", "properties": {
        "name": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}}},
      "spec": {"type": "object", "properties": {
        "replicas": {"type": "integer"},
        "model": {"type": "string"},
        "args": {"type": "array", "items": {"type": "string"}},
        "stages": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                   "items": {"type": "object", "properties": {"name": {"type": "string"}, "soak": {"type": "integer"}}}},
        "extra": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
      "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})");
  return kSchema;
}

FieldWriter Writer(const std::string& manager, const std::string& now = "2026-12-04T10:00:00Z") {
  return {manager, "berth.dev/v1alpha1", now, "", true};
}

json Obj(const json& spec, const json& labels = nullptr) {
  json o = {{"apiVersion", "berth.dev/v1alpha1"}, {"kind", "Thing"}, {"metadata", {{"name", "t"}}}, {"spec", spec}};
  if (!labels.is_null()) o["metadata"]["labels"] = labels;
  return o;
}

json Apply(const json* live, const json& applied, const std::string& manager, bool force = false) {
  auto r = ApplyWithOwnership(live, applied, Schema(), Writer(manager), force);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : json();
}

std::set<std::string> OwnedBy(const json& object, const std::string& manager) {
  std::set<std::string> out;
  for (const auto& e : ReadManagedFields(object)) {
    if (e.manager != manager) continue;
    for (const auto& p : e.fields.paths()) out.insert(FieldPathString(p));
  }
  return out;
}

TEST(FieldSetTest, FieldsV1RoundTripsWithDotsKeysAndValues) {
  const json v1 = json::parse(R"({"f:metadata":{"f:labels":{".":{},"f:app":{}},
    "f:finalizers":{".":{},"v:\"x\"":{}}},
    "f:spec":{"f:stages":{"k:{\"name\":\"canary\"}":{".":{},"f:name":{},"f:soak":{}}}}})");
  auto set = FieldSet::FromFieldsV1(v1);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->size(), 7u);
  EXPECT_TRUE(set->Contains({"f:metadata", "f:labels"}));
  EXPECT_FALSE(set->Contains({"f:metadata"}));
  EXPECT_EQ(set->ToFieldsV1(), v1);
  EXPECT_EQ(FieldPathString({"f:spec", "f:stages", "k:{\"name\":\"canary\"}", "f:soak"}), ".spec.stages[name=\"canary\"].soak");
  EXPECT_EQ(FieldPathString({"f:metadata", "f:finalizers", "v:\"x\""}), ".metadata.finalizers[=\"x\"]");
}

TEST(FieldSetTest, MalformedFieldsV1IsRefusedNamingTheElement) {
  auto bad = FieldSet::FromFieldsV1(json::parse(R"({"f:spec":{"x:y":{}}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x:y"), std::string::npos);
  EXPECT_FALSE(FieldSet::FromFieldsV1(json::parse(R"({"f:spec":[1]})")).ok());
}

TEST(StructuredMergeTest, ListTypesDecideMembersAndMerging) {
  json live = Obj({{"args", {"a"}}, {"stages", {{{"name", "canary"}, {"soak", 60}}}}});
  live["metadata"]["finalizers"] = {"x"};
  const FieldSet set = FieldSetOf(live, Schema());
  EXPECT_TRUE(set.Contains({"f:spec", "f:args"}));  // atomic: one leaf
  EXPECT_FALSE(set.ContainsAtOrBelow({"f:spec", "f:args", "v:\"a\""}));
  EXPECT_TRUE(set.Contains({"f:metadata", "f:finalizers", "v:\"x\""}));
  EXPECT_TRUE(set.Contains({"f:spec", "f:stages", "k:{\"name\":\"canary\"}", "f:soak"}));

  json applied = Obj({{"args", {"b"}}, {"stages", {{{"name", "canary"}, {"soak", 30}}, {{"name", "rest"}}}}});
  applied["metadata"]["finalizers"] = {"y"};
  json merged = MergeApplied(live, applied, Schema());
  EXPECT_EQ(merged["spec"]["args"], json({"b"}));
  EXPECT_EQ(merged["metadata"]["finalizers"], json({"x", "y"}));
  EXPECT_EQ(merged["spec"]["stages"], json::parse(R"([{"name":"canary","soak":30},{"name":"rest"}])"));
}

TEST(FieldOwnershipTest, ApplyCreatesAnApplyEntryOwningExactlyTheAppliedFields) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}}, {{"app", "x"}}), "gitops");
  EXPECT_EQ(OwnedBy(obj, "gitops"), (std::set<std::string>{".metadata.labels", ".metadata.labels.app", ".spec.replicas"}));
  auto entries = ReadManagedFields(obj);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].operation, "Apply");
  EXPECT_EQ(entries[0].time, "2026-12-04T10:00:00Z");
}

TEST(FieldOwnershipTest, AnotherManagersValueIsAConflictNamingManagerAndField) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}, {"model", "phi"}}), "gitops");
  auto r = ApplyWithOwnership(&obj, Obj({{"replicas", 5}}), Schema(), Writer("ops"), false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(r.status().message(),
            "Apply failed with 1 conflict: conflict with \"gitops\" using berth.dev/v1alpha1: .spec.replicas");
  ASSERT_EQ(r.status().causes().size(), 1u);
  EXPECT_EQ(r.status().causes()[0].reason, "FieldManagerConflict");
  EXPECT_EQ(r.status().causes()[0].field, ".spec.replicas");
}

TEST(FieldOwnershipTest, ForceTakesTheFieldOver) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}, {"model", "phi"}}), "gitops");
  json forced = Apply(&obj, Obj({{"replicas", 5}}), "ops", /*force=*/true);
  EXPECT_EQ(forced["spec"]["replicas"], 5);
  EXPECT_EQ(forced["spec"]["model"], "phi");
  EXPECT_EQ(OwnedBy(forced, "ops"), std::set<std::string>{".spec.replicas"});
  EXPECT_EQ(OwnedBy(forced, "gitops"), std::set<std::string>{".spec.model"});
}

TEST(FieldOwnershipTest, SameValueIsSharedAndSurvivesOneManagerLeaving) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}, {"model", "phi"}}), "gitops");
  obj = Apply(&obj, Obj({{"replicas", 2}}), "ops");
  EXPECT_TRUE(OwnedBy(obj, "gitops").count(".spec.replicas"));
  EXPECT_TRUE(OwnedBy(obj, "ops").count(".spec.replicas"));
  obj = Apply(&obj, Obj({{"model", "phi"}}), "gitops");  // gitops stops applying replicas
  EXPECT_EQ(obj["spec"]["replicas"], 2);                 // ops still owns it
}

TEST(FieldOwnershipTest, FieldsAManagerStopsApplyingAreRemovedWithParentsLeftEmpty) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}, {"extra", {{"a", 1}}}}, {{"app", "x"}, {"tier", "gpu"}}), "gitops");
  obj = Apply(&obj, Obj({{"replicas", 2}}, {{"app", "x"}}), "gitops");
  EXPECT_FALSE(obj["metadata"]["labels"].contains("tier"));
  EXPECT_EQ(obj["metadata"]["labels"]["app"], "x");
  EXPECT_FALSE(obj["spec"].contains("extra")) << obj.dump();
  EXPECT_EQ(OwnedBy(obj, "gitops"), (std::set<std::string>{".metadata.labels", ".metadata.labels.app", ".spec.replicas"}));
}

TEST(FieldOwnershipTest, AnUpdateTakesTheFieldsItChangesAndTheNextApplyConflicts) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}, {"model", "phi"}}), "gitops");
  json edited = obj;
  edited["spec"]["replicas"] = 4;  // kubectl edit
  edited = RecordUpdateOwnership(&obj, edited, Schema(), Writer("kubectl-edit", "2026-12-04T10:05:00Z"));
  EXPECT_EQ(OwnedBy(edited, "kubectl-edit"), std::set<std::string>{".spec.replicas"});
  EXPECT_EQ(OwnedBy(edited, "gitops"), std::set<std::string>{".spec.model"});
  auto again = ApplyWithOwnership(&edited, Obj({{"replicas", 2}, {"model", "phi"}}), Schema(), Writer("gitops"), false);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("\"kubectl-edit\""), std::string::npos);
  // A no-op update records nothing and keeps the entries as they were.
  json same = RecordUpdateOwnership(&edited, edited, Schema(), Writer("other"));
  EXPECT_EQ(same, edited);
}

TEST(FieldOwnershipTest, MapListItemsBelongToWhoeverAppliedThem) {
  json obj = Apply(nullptr, Obj({{"stages", {{{"name", "canary"}, {"soak", 60}}}}}), "team-a");
  obj = Apply(&obj, Obj({{"stages", {{{"name", "rest"}, {"soak", 0}}}}}), "team-b");
  ASSERT_EQ(obj["spec"]["stages"].size(), 2u);
  obj = Apply(&obj, Obj({{"model", "phi"}}), "team-a");  // team-a drops its stage
  EXPECT_EQ(obj["spec"]["stages"], json::parse(R"([{"name":"rest","soak":0}])"));
}

TEST(FieldOwnershipTest, ObjectsWithoutManagedFieldsWereSetBeforeTheFirstApply) {
  json legacy = Obj({{"replicas", 3}});
  auto r = ApplyWithOwnership(&legacy, Obj({{"replicas", 1}}), Schema(), Writer("gitops"), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("before-first-apply"), std::string::npos);
  json same = Apply(&legacy, Obj({{"replicas", 3}}), "gitops");  // same value: shared
  EXPECT_TRUE(OwnedBy(same, "gitops").count(".spec.replicas"));
}

TEST(FieldOwnershipTest, StatusIsOwnedThroughTheSubresourceOnly) {
  json obj = Apply(nullptr, Obj({{"replicas", 2}}), "gitops");
  json with_status = obj;
  with_status["status"] = {{"ready", 1}};
  FieldWriter ctl = Writer("berth-hub");
  ctl.subresource = "status";
  with_status = RecordUpdateOwnership(&obj, with_status, Schema(), ctl);
  EXPECT_EQ(OwnedBy(with_status, "berth-hub"), std::set<std::string>{".status.ready"});
  bool status_entry = false;
  for (const auto& e : ReadManagedFields(with_status)) status_entry |= e.subresource == "status";
  EXPECT_TRUE(status_entry);
  EXPECT_EQ(OwnedBy(with_status, "gitops"), std::set<std::string>{".spec.replicas"});
}

TEST(FieldOwnershipTest, FieldManagerComesFromTheUserAgentsProduct) {
  EXPECT_EQ(FieldManagerFromUserAgent("kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3"), "kubectl");
  EXPECT_EQ(FieldManagerFromUserAgent("OpenAPI-Generator/26.1.0/python"), "OpenAPI-Generator");
  EXPECT_EQ(FieldManagerFromUserAgent(""), "unknown");
  EXPECT_EQ(FieldManagerFromUserAgent(std::string(300, 'a')).size(), 128u);
}

}  // namespace
}  // namespace berth::api
