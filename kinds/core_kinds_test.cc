#include "kinds/core_kinds.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "kinds/berth_kinds.h"

namespace berth::kinds {
namespace {

using nlohmann::json;

TEST(NamespaceKindTest, CreateAddsTheKubernetesFinalizerPhaseAndNameLabel) {
  api::KindInfo k = NamespaceKind();
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}}};
  ASSERT_TRUE(api::ValidateObject(k, ns).ok());
  k.prepare_for_storage(ns, nullptr);
  EXPECT_EQ(ns["spec"]["finalizers"], json({"kubernetes"}));
  EXPECT_EQ(ns["status"]["phase"], "Active");
  EXPECT_EQ(ns["metadata"]["labels"][kNamespaceNameLabel], "ml");
  EXPECT_TRUE(api::HasFinalizers(ns));  // spec.finalizers holds a Namespace's deletion
}

TEST(NamespaceKindTest, UpdatesCannotDropTheFinalizer) {
  api::KindInfo k = NamespaceKind();
  json old = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}},
              {"spec", {{"finalizers", {"kubernetes"}}}}};
  json next = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}, {"labels", {{"a", "b"}}}}},
               {"spec", {{"finalizers", json::array()}}}};
  k.prepare_for_storage(next, &old);
  EXPECT_EQ(next["spec"]["finalizers"], json({"kubernetes"}));
  EXPECT_EQ(next["metadata"]["labels"]["a"], "b");
}

TEST(NamespaceKindTest, NamesAreDnsLabels) {
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "a.b"}}}};
  EXPECT_FALSE(api::ValidateObject(NamespaceKind(), ns).ok());
}

TEST(CoreKindsTest, RegisteredBesideTheUnservedWorkloads) {
  api::KindRegistry r;
  ASSERT_TRUE(RegisterBerthKinds(r).ok());
  for (const char* kind : {"Namespace", "ConfigMap", "Secret", "Pod", "Service", "Endpoints"}) {
    EXPECT_NE(r.ByKind("v1", kind), nullptr) << kind;
  }
  const api::KindInfo* deploy = r.ByKind("apps/v1", "Deployment");
  ASSERT_NE(deploy, nullptr);
  EXPECT_FALSE(deploy->served());
  EXPECT_NE(deploy->unserved_reason.find("Berth does not store deployments"), std::string::npos);
  EXPECT_TRUE(r.ByKind("v1", "Secret")->served());
  EXPECT_TRUE(r.ByKind("v1", "Secret")->strategic_merge_patch);
  EXPECT_FALSE(r.ByKind("berth.dev/v1alpha1", "Workspace")->strategic_merge_patch);
}

TEST(CoreKindsTest, SecretCreateValidatesThroughTheRegistry) {
  api::KindRegistry r;
  ASSERT_TRUE(RegisterBerthKinds(r).ok());
  json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}, {"namespace", "ml"}}},
            {"stringData", {{"token", "abc"}}}, {"immutable", true}};
  EXPECT_TRUE(ValidateForCreate(r, s).ok());
  s["data"] = {{"x", "not base64!"}};
  Status st = ValidateForCreate(r, s);
  EXPECT_EQ(st.code(), StatusCode::kInvalid);
  EXPECT_NE(st.message().find("data[x]"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace berth::kinds
