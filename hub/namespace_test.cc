// Namespace admission (pure), the start-up bootstrap and the namespace controller, on an
// in-process store.
#include <gtest/gtest.h>

#include "api/object.h"
#include "hub/controllers/namespace_controller.h"
#include "hub/http_errors.h"
#include "hub/namespace_admission.h"
#include "hub/namespace_bootstrap.h"
#include "hub/store_fixture.h"

namespace berth::hub {
namespace {

using nlohmann::json;

TEST(NamespaceAdmissionTest, AMissingNamespaceIsNotFoundAsKubernetesSaysIt) {
  Status s = AdmitNamespacedWrite("ml", nullptr, NamespacedWrite::kCreate, "workspaces.berth.dev", "chat");
  ASSERT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "namespaces \"ml\" not found");
  auto [code, body] = StatusToHttp(s, nullptr, "chat");
  EXPECT_EQ(code, 404);
  EXPECT_EQ(body["reason"], "NotFound");
  EXPECT_EQ(body["details"], json({{"name", "ml"}, {"group", ""}, {"kind", "namespaces"}}));
  // Updates too: nothing can be in a namespace that does not exist.
  EXPECT_EQ(AdmitNamespacedWrite("ml", nullptr, NamespacedWrite::kUpdate, "configmaps", "c").code(),
            StatusCode::kNotFound);
}

TEST(NamespaceAdmissionTest, ATerminatingNamespaceRefusesCreatesOnly) {
  json ns = {{"metadata", {{"name", "ml"}, {"deletionTimestamp", "2026-01-01T00:00:00Z"}}}};
  Status s = AdmitNamespacedWrite("ml", &ns, NamespacedWrite::kCreate, "workspaces.berth.dev", "chat");
  ASSERT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(),
            "workspaces.berth.dev \"chat\" is forbidden: unable to create new content in namespace ml because it "
            "is being terminated");
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.causes()[0].reason, "NamespaceTerminating");
  auto [code, body] = StatusToHttp(s, nullptr, "");
  EXPECT_EQ(code, 403);
  EXPECT_EQ(body["details"]["kind"], "workspaces");
  EXPECT_EQ(body["details"]["group"], "berth.dev");
  EXPECT_TRUE(AdmitNamespacedWrite("ml", &ns, NamespacedWrite::kUpdate, "configmaps", "c").ok());
  json phase_only = {{"metadata", {{"name", "ml"}}}, {"status", {{"phase", "Terminating"}}}};
  EXPECT_FALSE(AdmitNamespacedWrite("ml", &phase_only, NamespacedWrite::kCreate, "configmaps", "c").ok());
  json live = {{"metadata", {{"name", "ml"}}}, {"status", {{"phase", "Active"}}}};
  EXPECT_TRUE(AdmitNamespacedWrite("ml", &live, NamespacedWrite::kCreate, "configmaps", "c").ok());
}

TEST(NamespaceAdmissionTest, DefaultCannotBeDeleted) {
  EXPECT_EQ(AdmitNamespaceDelete("default").code(), StatusCode::kForbidden);
  EXPECT_TRUE(AdmitNamespaceDelete("ml").ok());
}

class NamespaceStoreTest : public StoreFixture {
 protected:
  StatusOr<json> Create(const api::KindInfo& kind, const std::string& ns, json obj) {
    return Wait([&](ObjectCallback cb) { objects_->Create(kind, ns, obj, {}, cb); });
  }
  json ConfigMap(const std::string& name) {
    return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
  }
};

TEST_F(NamespaceStoreTest, BootstrapCreatesDefaultAndTheNamespacesOfStoredObjects) {
  // A store written before namespaces existed: objects in "ml" and "team-a", no Namespaces.
  ASSERT_TRUE(Create(Kind("ConfigMap", "v1"), "ml", ConfigMap("c")).ok());
  ASSERT_TRUE(Create(Kind("Event", "v1"), "team-a",
                     {{"apiVersion", "v1"}, {"kind", "Event"}, {"metadata", {{"name", "e"}}},
                      {"involvedObject", {{"name", "x"}}}}).ok());
  auto created = EnsureNamespaces(*objects_, registry_);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<std::string>{"default", "ml", "team-a"}));
  auto ml = store_->Get({"namespaces", "", "ml"});
  ASSERT_TRUE(ml.ok());
  EXPECT_EQ((*ml)["spec"]["finalizers"], json({"kubernetes"}));
  EXPECT_EQ((*ml)["status"]["phase"], "Active");
  // Idempotent.
  EXPECT_TRUE(EnsureNamespaces(*objects_, registry_)->empty());
}

TEST_F(NamespaceStoreTest, DeletingANamespaceEmptiesItHonouringFinalizersThenRemovesIt) {
  const auto& nsk = Kind("Namespace", "v1");
  const auto& cm = Kind("ConfigMap", "v1");
  ASSERT_TRUE(Create(nsk, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}}}).ok());
  ASSERT_TRUE(Create(cm, "ml", ConfigMap("plain")).ok());
  json held = ConfigMap("held");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(Create(cm, "ml", held).ok());
  ASSERT_TRUE(Create(cm, "other", ConfigMap("elsewhere")).ok());

  NamespaceController controller(*objects_, registry_, clock_);
  ASSERT_TRUE(controller.Start(/*run_worker=*/false).ok());
  auto deleted = Wait([&](ObjectCallback cb) { objects_->Delete(nsk, "", "ml", {}, cb); });
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_TRUE(api::IsBeingDeleted(*deleted));  // held by spec.finalizers

  controller.RunDue();
  auto ns = store_->Get({"namespaces", "", "ml"});
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ((*ns)["status"]["phase"], "Terminating");
  EXPECT_FALSE(store_->Get({"configmaps", "ml", "plain"}).ok());
  auto still = store_->Get({"configmaps", "ml", "held"});
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(api::IsBeingDeleted(*still));
  EXPECT_TRUE(store_->Get({"configmaps", "other", "elsewhere"}).ok());

  // The finalizer's owner lets go: the object goes, then the namespace.
  auto released = Wait([&](ObjectCallback cb) {
    objects_->Patch(cm, "ml", "held", PatchType::kMerge, R"({"metadata":{"finalizers":null}})", {}, cb);
  });
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  controller.RunDue();
  EXPECT_FALSE(store_->Get({"namespaces", "", "ml"}).ok());
  controller.Stop();
}

TEST_F(NamespaceStoreTest, UsersCannotDropTheFinalizerAndNamespaceUpdatesDoNotDeleteIt) {
  const auto& nsk = Kind("Namespace", "v1");
  ASSERT_TRUE(Create(nsk, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}}}).ok());
  ASSERT_TRUE(Create(Kind("ConfigMap", "v1"), "ml", ConfigMap("c")).ok());
  ASSERT_TRUE(Wait([&](ObjectCallback cb) { objects_->Delete(nsk, "", "ml", {}, cb); }).ok());
  // A label change while terminating keeps the namespace (spec.finalizers still hold it).
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(nsk, "", "ml", PatchType::kMerge, R"({"metadata":{"labels":{"a":"b"}},"spec":{"finalizers":[]}})",
                    {}, cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["spec"]["finalizers"], json({"kubernetes"}));
  EXPECT_TRUE(store_->Get({"namespaces", "", "ml"}).ok());
}

}  // namespace
}  // namespace berth::hub
