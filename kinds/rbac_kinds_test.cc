#include "kinds/rbac_kinds.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "kinds/berth_kinds.h"

namespace berth::kinds {
namespace {

using nlohmann::json;

json Role(json rules) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"},
          {"metadata", {{"name", "ws-editor"}, {"namespace", "team-a"}}}, {"rules", std::move(rules)}};
}

json Binding(const std::string& role) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "RoleBinding"},
          {"metadata", {{"name", "alice"}, {"namespace", "team-a"}}},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
          {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "alice"}}}}};
}

TEST(RbacKindsTest, RegisteredUnderTheRbacGroupWithKubernetesScopes) {
  api::KindRegistry registry;
  ASSERT_TRUE(RegisterBerthKinds(registry).ok());
  const auto* roles = registry.ByResource("rbac.authorization.k8s.io", "v1", "roles");
  const auto* cluster_roles = registry.ByResource("rbac.authorization.k8s.io", "v1", "clusterroles");
  const auto* bindings = registry.ByResource("rbac.authorization.k8s.io", "v1", "rolebindings");
  const auto* cluster_bindings = registry.ByResource("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
  ASSERT_TRUE(roles && cluster_roles && bindings && cluster_bindings);
  EXPECT_TRUE(roles->namespaced);
  EXPECT_FALSE(cluster_roles->namespaced);
  EXPECT_TRUE(bindings->namespaced);
  EXPECT_FALSE(cluster_bindings->namespaced);
  EXPECT_FALSE(roles->has_status);
  EXPECT_EQ(registry.ByKind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), cluster_bindings);
}

TEST(RbacKindsTest, ARoleWithValidRulesPassesSchemaAndValidation) {
  json role = Role({{{"verbs", {"get", "list"}}, {"apiGroups", {"berth.dev"}}, {"resources", {"workspaces"}}}});
  ASSERT_TRUE(api::ValidateObject(RoleKind(), role).ok());
  EXPECT_TRUE(RoleKind().validate(role, nullptr).ok());
}

TEST(RbacKindsTest, NamesMayHoldColonsAsKubernetesPathSegments) {
  json role = Role({{{"verbs", {"get"}}, {"apiGroups", {""}}, {"resources", {"configmaps"}}}});
  role["metadata"]["name"] = "system:reader";
  EXPECT_TRUE(api::ValidateObject(RoleKind(), role).ok());
  role["metadata"]["name"] = "a/b";
  EXPECT_FALSE(api::ValidateObject(RoleKind(), role).ok());
}

TEST(RbacKindsTest, ARuleWithoutResourcesIsInvalidWithItsFieldPath) {
  json role = Role({{{"verbs", {"get"}}, {"apiGroups", {"berth.dev"}}}});
  Status s = RoleKind().validate(role, nullptr);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_NE(s.message().find("rules[0].resources"), std::string::npos) << s.message();
}

TEST(RbacKindsTest, ARoleCannotHoldNonResourceUrls) {
  json role = Role({{{"verbs", {"get"}}, {"nonResourceURLs", {"/metrics"}}}});
  EXPECT_EQ(RoleKind().validate(role, nullptr).code(), StatusCode::kInvalid);
}

TEST(RbacKindsTest, RoleRefIsImmutableOnUpdate) {
  api::KindInfo k = RoleBindingKind();
  json old = Binding("view");
  ASSERT_TRUE(k.validate(old, nullptr).ok());
  json same_ref = old;
  same_ref["subjects"].push_back({{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "bob"}});
  EXPECT_TRUE(k.validate(same_ref, &old).ok()) << "subjects may change";
  Status s = k.validate(Binding("edit"), &old);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_NE(s.message().find("cannot change roleRef"), std::string::npos) << s.message();
}

TEST(RbacKindsTest, BindingColumnShowsTheRole) {
  api::KindInfo k = RoleBindingKind();
  ASSERT_EQ(k.columns.size(), 1u);
  EXPECT_EQ(k.columns[0].cell(Binding("edit")), "ClusterRole/edit");
}

}  // namespace
}  // namespace berth::kinds
