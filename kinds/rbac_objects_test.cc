#include "kinds/rbac_objects.h"

#include <gtest/gtest.h>

namespace berth::rbac {
namespace {

using nlohmann::json;

std::vector<std::string> Fields(const Status& s) {
  std::vector<std::string> out;
  for (const FieldCause& c : s.causes()) out.push_back(c.field);
  return out;
}

TEST(RbacObjectsTest, ParsesRoleWithRulesAndRoundTrips) {
  const json role = json::parse(R"({
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
    "metadata": {"name": "ws-editor", "namespace": "team-a", "labels": {"team": "a"}},
    "rules": [
      {"apiGroups": ["berth.dev"], "resources": ["workspaces", "workspaces/scale"],
       "verbs": ["get", "patch"], "resourceNames": ["chat"]},
      {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}
    ]})");
  auto r = ParseRole(role);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "ws-editor");
  EXPECT_EQ(r->ns, "team-a");
  EXPECT_FALSE(r->cluster_role());
  ASSERT_EQ(r->rules.size(), 2u);
  EXPECT_EQ(r->rules[0].resources, (std::vector<std::string>{"workspaces", "workspaces/scale"}));
  EXPECT_EQ(r->rules[0].resource_names, std::vector<std::string>{"chat"});
  EXPECT_EQ(RoleToJson(*r), role);
}

TEST(RbacObjectsTest, RuleErrorsNameTheirFields) {
  const json role = json::parse(R"({
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
    "metadata": {"name": "bad", "namespace": "team-a"},
    "rules": [
      {"apiGroups": ["berth.dev"], "resources": ["workspaces"]},
      {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
      {"verbs": ["get"], "resources": ["pods"]},
      {"verbs": ["get"], "apiGroups": [""], "resources": [7]}
    ]})");
  auto r = ParseRole(role);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(Fields(r.status()),
            (std::vector<std::string>{"rules[0].verbs", "rules[1].nonResourceURLs", "rules[2].apiGroups",
                                      "rules[3].resources[0]", "rules[3].resources"}));
  EXPECT_EQ(r.status().message().rfind("Role.rbac.authorization.k8s.io \"bad\" is invalid: rules[0].verbs", 0), 0u)
      << r.status().message();
}

TEST(RbacObjectsTest, ClusterRoleTakesNonResourceUrlsButNotBothKinds) {
  json cr = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "ClusterRole"},
             {"metadata", {{"name", "metrics"}}},
             {"rules", {{{"nonResourceURLs", {"/metrics"}}, {"verbs", {"get"}}}}}};
  auto ok = ParseRole(cr);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->cluster_role());
  cr["rules"][0]["resources"] = {"pods"};
  auto both = ParseRole(cr);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(Fields(both.status()), std::vector<std::string>{"rules[0].nonResourceURLs"});
  cr["metadata"]["namespace"] = "team-a";
  EXPECT_EQ(Fields(ParseRole(cr).status())[0], "metadata.namespace");
}

TEST(RbacObjectsTest, AggregationRuleIsParsedForClusterRolesOnly) {
  json cr = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
             {"kind", "ClusterRole"},
             {"metadata", {{"name", "monitoring"}}},
             {"aggregationRule",
              {{"clusterRoleSelectors", {{{"matchLabels", {{"rbac.example.com/aggregate-to-monitoring", "true"}}}}}}}}};
  auto r = ParseRole(cr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->aggregation_selectors.size(), 1u);
  EXPECT_EQ(RoleToJson(*r)["aggregationRule"], cr["aggregationRule"]);
  cr["aggregationRule"]["clusterRoleSelectors"][0] = {{"matchExpressions", {{{"key", "a"}, {"operator", "Near"}}}}};
  EXPECT_EQ(Fields(ParseRole(cr).status()),
            std::vector<std::string>{"aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator"});
}

TEST(RbacObjectsTest, ParsesBindingSubjectsAndRoundTrips) {
  const json rb = json::parse(R"({
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
    "metadata": {"name": "dev", "namespace": "team-a"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
    "subjects": [
      {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
      {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "search"},
      {"kind": "ServiceAccount", "name": "ci"},
      {"kind": "ServiceAccount", "name": "deployer", "namespace": "ops"}
    ]})");
  auto b = ParseRoleBinding(rb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->role_ref, (RoleRef{"ClusterRole", "edit"}));
  ASSERT_EQ(b->subjects.size(), 4u);
  EXPECT_EQ(b->subjects[2], (Subject{Subject::Kind::kServiceAccount, "ci", ""}));
  EXPECT_EQ(RoleBindingToJson(*b), rb);
}

TEST(RbacObjectsTest, BindingErrorsNameTheirFields) {
  const json crb = json::parse(R"({
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "x"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "edit"},
    "subjects": [
      {"kind": "ServiceAccount", "name": "ci"},
      {"kind": "User", "name": "bob"},
      {"kind": "Robot", "name": "r2"},
      {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io"}
    ]})");
  auto b = ParseRoleBinding(crb);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(Fields(b.status()),
            (std::vector<std::string>{"roleRef.kind", "subjects[0].namespace", "subjects[1].apiGroup",
                                      "subjects[2].kind", "subjects[3].name"}));
}

TEST(RbacObjectsTest, WrongApiVersionOrKindIsRefused) {
  json rb = {{"apiVersion", "rbac.authorization.k8s.io/v1beta1"},
             {"kind", "RoleBinding"},
             {"metadata", {{"name", "x"}, {"namespace", "a"}}},
             {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "r"}}}};
  EXPECT_EQ(Fields(ParseRoleBinding(rb).status()), std::vector<std::string>{"apiVersion"});
  rb["apiVersion"] = "rbac.authorization.k8s.io/v1";
  rb["kind"] = "Role";
  EXPECT_EQ(Fields(ParseRoleBinding(rb).status())[0], "kind");
}

TEST(RbacObjectsTest, DescribeRuleIsKubernetesCompactString) {
  PolicyRule r{{"get", "list"}, {"berth.dev"}, {"secrets"}, {"x"}, {}};
  EXPECT_EQ(DescribeRule(r),
            "{APIGroups:[\"berth.dev\"], Resources:[\"secrets\"], ResourceNames:[\"x\"], Verbs:[\"get\" \"list\"]}");
  EXPECT_EQ(DescribeRule({{"get"}, {}, {}, {}, {"/metrics"}}), "{NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}");
}

}  // namespace
}  // namespace berth::rbac
