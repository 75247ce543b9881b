#include "hub/rbac/builtin_roles.h"

#include <gtest/gtest.h>

#include "hub/rbac/escalation.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::rbac {
namespace {

using Strings = std::vector<std::string>;

RoleBinding Bind(std::string ns, std::string name, std::string cluster_role, Subject who) {
  RoleBinding b;
  b.ns = std::move(ns);
  b.name = std::move(name);
  b.role_ref = {"ClusterRole", std::move(cluster_role)};
  b.subjects = {std::move(who)};
  return b;
}

Subject User(std::string name) { return {Subject::Kind::kUser, std::move(name), ""}; }

// Built-ins plus: viewer has view, editor edit and lead admin, each in team-a; oncall has view
// cluster-wide.
std::shared_ptr<const RbacSnapshot> TeamSnapshot() {
  std::vector<RoleBinding> bindings = BuiltinClusterRoleBindings();
  bindings.push_back(Bind("team-a", "viewer", "view", User("viewer")));
  bindings.push_back(Bind("team-a", "editor", "edit", User("editor")));
  bindings.push_back(Bind("team-a", "lead", "admin", User("lead")));
  bindings.push_back(Bind("", "oncall", "view", User("oncall")));
  return RbacSnapshot::Build(BuiltinClusterRoles(), std::move(bindings));
}

bool Can(const RbacSnapshot& snap, const std::string& user, const std::string& verb, const std::string& group,
         const std::string& resource, const std::string& ns, const std::string& name = "",
         const std::string& sub = "") {
  RequestAttributes a;
  a.user = user;
  a.groups = {kGroupAuthenticated};
  a.verb = verb;
  a.api_group = group;
  a.resource = resource;
  a.ns = ns;
  a.name = name;
  a.subresource = sub;
  return Authorize(a, snap).allowed;
}

TEST(BuiltinRolesTest, ValidateAsKubernetesClusterRoles) {
  for (const Role& r : BuiltinClusterRoles()) {
    auto parsed = ParseRole(RoleToJson(r));
    ASSERT_TRUE(parsed.ok()) << r.name << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->rules, r.rules) << r.name;
  }
  for (const RoleBinding& b : BuiltinClusterRoleBindings()) {
    EXPECT_TRUE(ParseRoleBinding(RoleBindingToJson(b)).ok()) << b.name;
  }
  EXPECT_TRUE(ParseRole(RoleToJson(MemberClusterRole("gpu-1"))).ok());
  EXPECT_TRUE(ParseRoleBinding(RoleBindingToJson(MemberClusterRoleBinding("gpu-1"))).ok());
}

TEST(BuiltinRolesTest, ViewReadsButNeverSecretsNorWrites) {
  auto snap = TeamSnapshot();
  for (const char* verb : {"get", "list", "watch"}) {
    EXPECT_TRUE(Can(*snap, "viewer", verb, "berth.dev", "workspaces", "team-a", verb == std::string("get") ? "chat" : ""));
    EXPECT_TRUE(Can(*snap, "viewer", verb, "", "configmaps", "team-a"));
    EXPECT_TRUE(Can(*snap, "viewer", verb, "", "events", "team-a"));
    EXPECT_FALSE(Can(*snap, "viewer", verb, "", "secrets", "team-a")) << verb;
    EXPECT_FALSE(Can(*snap, "oncall", verb, "", "secrets", "team-b")) << verb;
  }
  EXPECT_TRUE(Can(*snap, "viewer", "get", "berth.dev", "workspaces", "team-a", "chat", "scale"));
  EXPECT_TRUE(Can(*snap, "viewer", "get", "kaito.sh", "workspaces", "team-a", "chat"));
  EXPECT_TRUE(Can(*snap, "viewer", "list", "apps", "deployments", "team-a"));  // kubectl apply --prune
  EXPECT_FALSE(Can(*snap, "viewer", "patch", "berth.dev", "workspaces", "team-a", "chat"));
  EXPECT_FALSE(Can(*snap, "viewer", "patch", "berth.dev", "workspaces", "team-a", "chat", "scale"));
  EXPECT_FALSE(Can(*snap, "viewer", "create", "berth.dev", "workspaces", "team-a"));
  EXPECT_FALSE(Can(*snap, "viewer", "get", "berth.dev", "workspaces", "team-b", "chat"));
  // The namespace object itself is in its namespace; through a RoleBinding, cluster-scoped
  // kinds stay out of reach.
  EXPECT_TRUE(Can(*snap, "viewer", "get", "", "namespaces", "team-a", "team-a"));
  EXPECT_FALSE(Can(*snap, "viewer", "list", "berth.dev", "memberclusters", ""));
  EXPECT_TRUE(Can(*snap, "oncall", "list", "berth.dev", "memberclusters", ""));
  EXPECT_FALSE(Can(*snap, "oncall", "list", "berth.dev", "works", ""));
  EXPECT_FALSE(Can(*snap, "oncall", "list", "berth.dev", "bootstraptokens", ""));
}

TEST(BuiltinRolesTest, EditWritesWorkspacesAndScaleButNotRbacOrStatusOfOthers) {
  auto snap = TeamSnapshot();
  EXPECT_TRUE(Can(*snap, "editor", "create", "berth.dev", "workspaces", "team-a"));
  EXPECT_TRUE(Can(*snap, "editor", "patch", "berth.dev", "workspaces", "team-a", "chat", "scale"));
  EXPECT_TRUE(Can(*snap, "editor", "update", "berth.dev", "workspaces", "team-a", "chat", "scale"));
  EXPECT_TRUE(Can(*snap, "editor", "patch", "berth.dev", "workspaces", "team-a", "chat", "status"));  // rollout approve
  EXPECT_TRUE(Can(*snap, "editor", "delete", "kaito.sh", "workspaces", "team-a", "chat"));
  EXPECT_TRUE(Can(*snap, "editor", "create", "berth.dev", "placementpolicies", "team-a"));
  EXPECT_TRUE(Can(*snap, "editor", "get", "", "secrets", "team-a", "hf-token"));
  EXPECT_TRUE(Can(*snap, "editor", "create", "", "secrets", "team-a"));
  EXPECT_FALSE(Can(*snap, "editor", "patch", "berth.dev", "placementpolicies", "team-a", "p", "status"));
  EXPECT_FALSE(Can(*snap, "editor", "create", "berth.dev", "workspaces", "team-b"));
  EXPECT_FALSE(Can(*snap, "editor", "create", kRbacGroup, "rolebindings", "team-a"));
  EXPECT_FALSE(Can(*snap, "editor", "delete", "", "namespaces", "team-a", "team-a"));
  EXPECT_TRUE(Can(*snap, "lead", "create", kRbacGroup, "rolebindings", "team-a"));
  EXPECT_FALSE(Can(*snap, "lead", "create", kRbacGroup, "clusterroles", ""));
}

TEST(BuiltinRolesTest, AdminMayDelegateEditButNotClusterAdmin) {
  auto snap = TeamSnapshot();
  const UserInfo lead{"lead", {kGroupAuthenticated}};
  EXPECT_TRUE(CheckBindingEscalation(lead, Bind("team-a", "intern", "edit", User("intern")), nullptr, *snap).ok());
  EXPECT_TRUE(CheckBindingEscalation(lead, Bind("team-a", "intern", "view", User("intern")), nullptr, *snap).ok());
  EXPECT_FALSE(CheckBindingEscalation(lead, Bind("team-a", "me", "cluster-admin", User("lead")), nullptr, *snap).ok());
  EXPECT_FALSE(CheckBindingEscalation(lead, Bind("team-b", "intern", "edit", User("intern")), nullptr, *snap).ok());
  // The escalation check is on top of authorization: an editor holds view's rules, but may not
  // create the binding at all.
  const UserInfo editor{"editor", {kGroupAuthenticated}};
  EXPECT_TRUE(CheckBindingEscalation(editor, Bind("team-a", "x", "view", User("x")), nullptr, *snap).ok());
  EXPECT_FALSE(Can(*snap, "editor", "create", kRbacGroup, "rolebindings", "team-a"));
}

TEST(BuiltinRolesTest, EveryAuthenticatedUserMayDiscoverAndAskReviews) {
  auto snap = TeamSnapshot();
  RequestAttributes a;
  a.user = "nobody";
  a.groups = {kGroupAuthenticated};
  a.verb = "get";
  a.resource_request = false;
  for (const char* path : {"/version", "/api", "/api/v1", "/apis", "/apis/berth.dev/v1alpha1", "/openapi/v3",
                           "/openapi/v3/apis/berth.dev/v1alpha1", "/healthz", "/livez", "/readyz"}) {
    a.path = path;
    EXPECT_TRUE(Authorize(a, *snap).allowed) << path;
  }
  a.path = "/metrics";
  EXPECT_FALSE(Authorize(a, *snap).allowed);
  a.groups = {};  // not authenticated: nothing
  a.path = "/version";
  EXPECT_FALSE(Authorize(a, *snap).allowed);
  EXPECT_TRUE(Can(*snap, "nobody", "create", "authorization.k8s.io", "selfsubjectrulesreviews", ""));
  EXPECT_TRUE(Can(*snap, "nobody", "create", "authorization.k8s.io", "selfsubjectaccessreviews", ""));
  EXPECT_TRUE(Can(*snap, "nobody", "create", "authentication.k8s.io", "selfsubjectreviews", ""));
  EXPECT_FALSE(Can(*snap, "nobody", "create", "authorization.k8s.io", "subjectaccessreviews", ""));
}

TEST(BuiltinRolesTest, MastersHoldClusterAdminThroughTheBindingToo) {
  auto snap = TeamSnapshot();
  // The binding alone grants it (the privileged-group shortcut is not what is tested here).
  std::vector<std::string> errors;
  bool found = false;
  VisitRulesFor(
      *snap, "admin", {kGroupMasters}, "",
      [&found](const std::string& source, const PolicyRule& r) {
        found = found || (r == PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}} &&
                          source == "ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group "
                                    "\"system:masters\"");
        return true;
      },
      &errors);
  EXPECT_TRUE(found);
  EXPECT_TRUE(errors.empty());
}

TEST(BuiltinRolesTest, MemberRoleReachesOnlyItsOwnCluster) {
  std::vector<Role> roles = BuiltinClusterRoles();
  std::vector<RoleBinding> bindings = BuiltinClusterRoleBindings();
  for (const char* c : {"gpu-1", "gpu-2"}) {
    roles.push_back(MemberClusterRole(c));
    bindings.push_back(MemberClusterRoleBinding(c));
  }
  auto snap = RbacSnapshot::Build(std::move(roles), std::move(bindings));
  const std::string me = std::string(kMemberUserPrefix) + "gpu-1";
  EXPECT_TRUE(Can(*snap, me, "patch", "berth.dev", "memberclusters", "", "gpu-1", "status"));
  EXPECT_FALSE(Can(*snap, me, "patch", "berth.dev", "memberclusters", "", "gpu-2", "status"));
  EXPECT_FALSE(Can(*snap, me, "patch", "berth.dev", "memberclusters", "", "gpu-1"));
  EXPECT_TRUE(Can(*snap, me, "watch", "berth.dev", "works", "", "gpu-1"));
  EXPECT_FALSE(Can(*snap, me, "watch", "berth.dev", "works", ""));
  // The unnarrowed template is bound to nobody.
  for (const RoleBinding& b : BuiltinClusterRoleBindings()) EXPECT_NE(b.role_ref.name, kMemberRoleName);
}

TEST(BuiltinRolesTest, ReconcileCreatesAddsMissingRulesAndRespectsOptOut) {
  const Role builtin = BuiltinClusterRoles()[3];  // view
  ASSERT_EQ(builtin.name, "view");
  auto created = ReconcileBuiltinRole(nullptr, builtin);
  ASSERT_TRUE(created.has_value());
  EXPECT_FALSE(ReconcileBuiltinRole(&*created, builtin).has_value());  // already there: no write

  Role trimmed = builtin;
  trimmed.rules.erase(trimmed.rules.begin());
  trimmed.rules.push_back({{"get"}, {""}, {"secrets"}, {"public"}, {}});  // an administrator's addition
  auto fixed = ReconcileBuiltinRole(&trimmed, builtin);
  ASSERT_TRUE(fixed.has_value());
  EXPECT_TRUE(Covers(fixed->rules, builtin.rules, nullptr));
  EXPECT_NE(std::find(fixed->rules.begin(), fixed->rules.end(), trimmed.rules.back()), fixed->rules.end());

  trimmed.annotations[kAutoupdateAnnotation] = "false";
  EXPECT_FALSE(ReconcileBuiltinRole(&trimmed, builtin).has_value());
}

TEST(BuiltinRolesTest, ReconcileBindingsKeepsAddedSubjectsAndFixesRoleRef) {
  const RoleBinding builtin = BuiltinClusterRoleBindings()[0];
  RoleBinding stored = builtin;
  stored.subjects = {User("root")};
  auto fixed = ReconcileBuiltinBinding(&stored, builtin);
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(fixed->subjects.size(), 2u);
  EXPECT_FALSE(ReconcileBuiltinBinding(&*fixed, builtin).has_value());
  stored.role_ref.name = "view";
  EXPECT_EQ(ReconcileBuiltinBinding(&stored, builtin)->role_ref, builtin.role_ref);
}

}  // namespace
}  // namespace berth::rbac
