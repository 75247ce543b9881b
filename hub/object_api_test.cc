#include "hub/object_api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "api/object.h"
#include "hub/sqlite_store.h"

namespace berth::hub {
namespace {

using nlohmann::json;

class ObjectApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-objapi-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    store_ = OpenSqliteStore(o).value();
    objects_ = std::make_unique<ObjectApi>(*store_, clock_);
    kind_ = api::MemberClusterKind();
    namespaced_ = api::MemberClusterKind();
    namespaced_.namespaced = true;  // any namespaced kind will do
  }
  void TearDown() override {
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename F>
  StatusOr<json> Wait(F call) {
    std::promise<StatusOr<json>> p;
    call([&](StatusOr<json> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  StatusOr<json> Create(json obj, const api::KindInfo* k = nullptr, std::string ns = "") {
    return Wait([&](ObjectCallback cb) { objects_->Create(k ? *k : kind_, ns, obj, {}, cb); });
  }
  StatusOr<json> Update(const std::string& name, json obj, bool status = false) {
    WriteOptions o;
    o.status = status;
    return Wait([&](ObjectCallback cb) { objects_->Update(kind_, "", name, obj, o, cb); });
  }
  StatusOr<json> Patch(const std::string& name, PatchType t, std::string p, bool status = false) {
    WriteOptions o;
    o.status = status;
    o.field_manager = "test";
    return Wait([&](ObjectCallback cb) { objects_->Patch(kind_, "", name, t, p, o, cb); });
  }
  StatusOr<json> Delete(const std::string& name, bool dry_run = false) {
    DeleteOptions o;
    o.dry_run = dry_run;
    return Wait([&](ObjectCallback cb) { objects_->Delete(kind_, "", name, o, cb); });
  }
  static json Member(const std::string& name) {
    return {{"apiVersion", "berth.dev/v1alpha1"}, {"kind", "MemberCluster"},
            {"metadata", {{"name", name}}}, {"spec", {{"region", "eu"}}}};
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ObjectApi> objects_;
  api::KindInfo kind_, namespaced_;
};

// Was: DELETE ignored dryRun, so `kubectl delete --dry-run=server` deleted the object.
TEST_F(ObjectApiTest, DryRunDeleteKeepsTheObjectAndStoresNothing) {
  ASSERT_TRUE(Create(Member("a")).ok());
  const int64_t before = store_->CurrentRevision();
  auto r = Delete("a", /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(api::NameOf(*r), "a");
  EXPECT_TRUE(store_->Get({kind_.storage_key(), "", "a"}).ok());
  EXPECT_EQ(store_->CurrentRevision(), before);
  EXPECT_EQ(Delete("missing", true).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Delete("a").ok());
  EXPECT_FALSE(store_->Get({kind_.storage_key(), "", "a"}).ok());
}

TEST_F(ObjectApiTest, FieldValidationWarnAndIgnoreDropUnknownFields) {
  json odd = Member("a");
  odd["spec"]["regoin"] = "typo";
  odd["extra"] = 1;
  EXPECT_EQ(Create(odd).status().code(), StatusCode::kInvalid) << "Strict is the default";
  WriteOptions warn;
  warn.field_validation = FieldValidation::kWarn;
  warn.warnings = std::make_shared<std::vector<std::string>>();
  auto created = Wait([&](ObjectCallback cb) { objects_->Create(kind_, "", odd, warn, cb); });
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE((*created)["spec"].contains("regoin"));
  EXPECT_FALSE(created->contains("extra"));
  EXPECT_EQ((*created)["spec"]["region"], "eu");
  EXPECT_EQ(*warn.warnings, (std::vector<std::string>{"unknown field \"extra\"", "unknown field \"spec.regoin\""}));
  // A patch's result is pruned the same way; Ignore says nothing.
  WriteOptions ignore;
  ignore.field_validation = FieldValidation::kIgnore;
  ignore.warnings = std::make_shared<std::vector<std::string>>();
  auto patched = Wait([&](ObjectCallback cb) {
    objects_->Patch(kind_, "", "a", PatchType::kMerge, R"({"spec":{"regoin":"x","region":"us"}})", ignore, cb);
  });
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["spec"]["region"], "us");
  EXPECT_FALSE((*patched)["spec"].contains("regoin"));
  EXPECT_TRUE(ignore.warnings->empty());
}

// Was: an apply through /status dropped the status and changed nothing.
TEST_F(ObjectApiTest, ServerSideApplyThroughStatusAppliesOnlyStatus) {
  ASSERT_TRUE(Create(Member("a")).ok());
  WriteOptions st;
  st.status = true;
  st.field_manager = "agent";
  auto applied = Wait([&](ObjectCallback cb) {
    objects_->Patch(kind_, "", "a", PatchType::kApply,
                    R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster","metadata":{"name":"a"},)"
                    R"("spec":{"region":"moon"},"status":{"gpus":{"L4":2}}})",
                    st, cb);
  });
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["status"]["gpus"]["L4"], 2);
  EXPECT_EQ((*applied)["spec"]["region"], "eu") << "spec does not change through /status";
  bool owns_status = false;
  for (const auto& e : (*applied)["metadata"]["managedFields"]) {
    owns_status = owns_status || (e["manager"] == "agent" && e["subresource"] == "status" &&
                                  e["fieldsV1"].contains("f:status"));
  }
  EXPECT_TRUE(owns_status) << applied->dump();
  auto missing = Wait([&](ObjectCallback cb) {
    objects_->Patch(kind_, "", "nope", PatchType::kApply, R"({"metadata":{"name":"nope"},"status":{}})", st, cb);
  });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ObjectApiTest, DryRunOfEveryVerbStoresNothing) {
  ASSERT_TRUE(Create(Member("a")).ok());
  const int64_t before = store_->CurrentRevision();
  WriteOptions dry;
  dry.dry_run = true;
  dry.field_manager = "test";
  auto created = Wait([&](ObjectCallback cb) { objects_->Create(kind_, "", Member("b"), dry, cb); });
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(api::NameOf(*created), "b");
  // A dry-run create of an existing object answers what a real one would.
  auto dup = Wait([&](ObjectCallback cb) { objects_->Create(kind_, "", Member("a"), dry, cb); });
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  json changed = Member("a");
  changed["spec"]["region"] = "us";
  auto updated = Wait([&](ObjectCallback cb) { objects_->Update(kind_, "", "a", changed, dry, cb); });
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["spec"]["region"], "us");
  auto patched = Wait([&](ObjectCallback cb) {
    objects_->Patch(kind_, "", "a", PatchType::kMerge, R"({"spec":{"region":"asia"}})", dry, cb);
  });
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["spec"]["region"], "asia");
  EXPECT_EQ(store_->CurrentRevision(), before);
  EXPECT_FALSE(store_->Get({kind_.storage_key(), "", "b"}).ok());
  EXPECT_EQ((*store_->Get({kind_.storage_key(), "", "a"}))["spec"]["region"], "eu");
}

TEST_F(ObjectApiTest, CreateSetsServerFieldsAndRejectsDuplicates) {
  auto r = Create(Member("a"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(api::GenerationOf(*r), 1);
  EXPECT_EQ(api::UidOf(*r).size(), 36u);
  EXPECT_EQ((*r)["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(Create(Member("a")).status().code(), StatusCode::kAlreadyExists);
  json with_status = Member("b");
  with_status["status"] = {{"conditions", json::array()}};
  auto b = Create(with_status);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->contains("status")) << "status is written only through /status";
}

TEST_F(ObjectApiTest, NamespacedCreateDefaultsAndChecksNamespace) {
  json w = {{"apiVersion", "berth.dev/v1alpha1"}, {"kind", "MemberCluster"}, {"metadata", {{"name", "w"}}}};
  auto r = Create(w, &namespaced_, "team-a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::NamespaceOf(*r), "team-a");
  w["metadata"]["namespace"] = "team-b";
  EXPECT_EQ(Create(w, &namespaced_, "team-a").status().code(), StatusCode::kBadRequest);
}

TEST_F(ObjectApiTest, GenerationBumpsOnSpecChangeOnly) {
  auto a = Create(Member("a"));
  ASSERT_TRUE(a.ok());
  json labelled = *a;
  labelled["metadata"]["labels"] = {{"x", "y"}};
  auto l = Update("a", labelled);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(api::GenerationOf(*l), 1) << "metadata changes do not bump generation";
  json spec = *l;
  spec["spec"]["region"] = "us";
  auto s = Update("a", spec);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(api::GenerationOf(*s), 2);
  auto st = Patch("a", PatchType::kMerge, R"({"status":{"agentVersion":"1"}})", /*status=*/true);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(api::GenerationOf(*st), 2) << "status writes never bump generation";
  EXPECT_EQ((*st)["status"]["agentVersion"], "1");
  EXPECT_EQ((*st)["spec"]["region"], "us");
}

TEST_F(ObjectApiTest, StaleResourceVersionConflicts) {
  auto a = Create(Member("a"));
  json first = *a, second = *a;
  first["spec"]["zone"] = "1";
  second["spec"]["zone"] = "2";
  ASSERT_TRUE(Update("a", first).ok());
  auto stale = Update("a", second);
  ASSERT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_NE(stale.status().message().find("the object has been modified"), std::string::npos);
}

TEST_F(ObjectApiTest, SpecUpdateCannotChangeStatusOrServerFields) {
  auto a = Create(Member("a"));
  ASSERT_TRUE(Patch("a", PatchType::kMerge, R"({"status":{"agentVersion":"1"}})", true).ok());
  auto cur = store_->Get({kind_.resource(), "", "a"});
  json next = *cur;
  next["status"]["agentVersion"] = "evil";
  next["metadata"]["uid"] = "forged";
  next["spec"]["zone"] = "z";
  auto r = Update("a", next);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["status"]["agentVersion"], "1");
  EXPECT_EQ(api::UidOf(*r), api::UidOf(*a));
}

TEST_F(ObjectApiTest, PatchesValidateTheResult) {
  ASSERT_TRUE(Create(Member("a")).ok());
  auto bad = Patch("a", PatchType::kMerge, R"({"spec":{"regoin":"x"}})");
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(bad.status().causes()[0].field, "spec.regoin");
  auto j = Patch("a", PatchType::kJson, R"([{"op":"replace","path":"/spec/region","value":"us"}])");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["spec"]["region"], "us");
  auto test_fail = Patch("a", PatchType::kJson, R"([{"op":"test","path":"/spec/region","value":"eu"}])");
  EXPECT_EQ(test_fail.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(Patch("missing", PatchType::kMerge, "{}").status().code(), StatusCode::kNotFound);
}

TEST_F(ObjectApiTest, ApplyPatchCreatesThenUpdates) {
  auto c = Patch("new", PatchType::kApply, "apiVersion: berth.dev/v1alpha1\nkind: MemberCluster\nmetadata: {name: new}\nspec: {region: eu}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(api::GenerationOf(*c), 1);
  auto u = Patch("new", PatchType::kApply, "apiVersion: berth.dev/v1alpha1\nkind: MemberCluster\nmetadata: {name: new}\nspec: {region: us}\n");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(api::GenerationOf(*u), 2);
  EXPECT_EQ((*u)["metadata"]["managedFields"][0]["manager"], "test");
}

TEST_F(ObjectApiTest, DeleteHonoursFinalizers) {
  json m = Member("a");
  m["metadata"]["finalizers"] = {"berth.dev/cleanup"};
  ASSERT_TRUE(Create(m).ok());
  auto d = Delete("a");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(api::IsBeingDeleted(*d));
  ASSERT_TRUE(store_->Get({kind_.resource(), "", "a"}).ok()) << "kept while finalizers remain";
  auto add = Patch("a", PatchType::kMerge, R"({"metadata":{"finalizers":["berth.dev/cleanup","other"]}})");
  EXPECT_EQ(add.status().code(), StatusCode::kInvalid) << "422, as Kubernetes validates object metadata";
  auto done = Patch("a", PatchType::kMerge, R"({"metadata":{"finalizers":null}})");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(store_->Get({kind_.resource(), "", "a"}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Create(Member("b")).ok());
  ASSERT_TRUE(Delete("b").ok());
  EXPECT_EQ(Delete("b").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::hub
