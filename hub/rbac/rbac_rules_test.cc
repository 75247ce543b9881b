#include "hub/rbac/rbac_rules.h"

#include <gtest/gtest.h>

#include "hub/rbac/rbac_test_builders.h"

namespace berth::rbac {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

using test::Bind;
using test::MakeRole;
using test::User;
using test::Group;
using test::Sa;

RequestAttributes Req(std::string user, std::string verb, std::string group, std::string resource,
                      std::string ns = "", std::string name = "", std::string sub = "",
                      Strings groups = {kGroupAuthenticated}) {
  RequestAttributes a;
  a.user = std::move(user);
  a.groups = std::move(groups);
  a.verb = std::move(verb);
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.ns = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

RequestAttributes Path(std::string user, std::string verb, std::string path, Strings groups = {kGroupAuthenticated}) {
  RequestAttributes a;
  a.user = std::move(user);
  a.groups = std::move(groups);
  a.verb = std::move(verb);
  a.resource_request = false;
  a.path = std::move(path);
  return a;
}

TEST(RuleAllowsTest, VerbsGroupsAndResourcesWithWildcards) {
  const PolicyRule r{{"get", "list"}, {"berth.dev"}, {"workspaces"}, {}, {}};
  EXPECT_TRUE(RuleAllows(Req("u", "get", "berth.dev", "workspaces", "a", "chat"), r));
  EXPECT_TRUE(RuleAllows(Req("u", "list", "berth.dev", "workspaces", "a"), r));
  EXPECT_FALSE(RuleAllows(Req("u", "watch", "berth.dev", "workspaces", "a"), r));
  EXPECT_FALSE(RuleAllows(Req("u", "get", "kaito.sh", "workspaces", "a", "chat"), r));
  EXPECT_FALSE(RuleAllows(Req("u", "get", "berth.dev", "placementpolicies", "a", "p"), r));
  const PolicyRule any{{"*"}, {"*"}, {"*"}, {}, {}};
  EXPECT_TRUE(RuleAllows(Req("u", "deletecollection", "", "secrets", "a"), any));
  EXPECT_TRUE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "x", "scale"), any));
}

TEST(RuleAllowsTest, SubresourcesNeedTheirOwnEntry) {
  const PolicyRule main{{"patch"}, {"berth.dev"}, {"workspaces"}, {}, {}};
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "scale"), main));
  const PolicyRule scale{{"patch"}, {"berth.dev"}, {"workspaces/scale"}, {}, {}};
  EXPECT_TRUE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "scale"), scale));
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "status"), scale));
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat"), scale));
  const PolicyRule any_scale{{"patch"}, {"*"}, {"*/scale"}, {}, {}};
  EXPECT_TRUE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "scale"), any_scale));
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "status"), any_scale));
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat"), any_scale));
  // "workspaces/*" is not a wildcard in Kubernetes RBAC.
  const PolicyRule literal{{"patch"}, {"*"}, {"workspaces/*"}, {}, {}};
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "scale"), literal));
  // Another resource's scale is not this one's.
  const PolicyRule other{{"patch"}, {"*"}, {"x/scale"}, {}, {}};
  EXPECT_FALSE(RuleAllows(Req("u", "patch", "berth.dev", "workspaces", "a", "chat", "scale"), other));
}

TEST(RuleAllowsTest, ResourceNamesRestrictNamedRequestsOnly) {
  const PolicyRule r{{"get", "list", "create"}, {"berth.dev"}, {"workspaces"}, {"chat"}, {}};
  EXPECT_TRUE(RuleAllows(Req("u", "get", "berth.dev", "workspaces", "a", "chat"), r));
  EXPECT_FALSE(RuleAllows(Req("u", "get", "berth.dev", "workspaces", "a", "other"), r));
  // A list without a name and a create (the name is in the body) match no resourceNames rule.
  EXPECT_FALSE(RuleAllows(Req("u", "list", "berth.dev", "workspaces", "a"), r));
  EXPECT_FALSE(RuleAllows(Req("u", "create", "berth.dev", "workspaces", "a"), r));
  // A list pinned to the name by a field selector does.
  EXPECT_TRUE(RuleAllows(ResourceRequestAttributes({"u", {}}, {.method = "GET", .api_group = "berth.dev", .ns = "a",
                                                                .resource = "workspaces", .selector_name = "chat"}),
                         r));
}

TEST(RuleAllowsTest, NonResourceUrlsExactAndPrefix) {
  const PolicyRule r{{"get"}, {}, {}, {}, {"/metrics", "/apis/*", "/version"}};
  EXPECT_TRUE(RuleAllows(Path("u", "get", "/metrics"), r));
  EXPECT_FALSE(RuleAllows(Path("u", "post", "/metrics"), r));
  EXPECT_FALSE(RuleAllows(Path("u", "get", "/metrics/extra"), r));
  EXPECT_TRUE(RuleAllows(Path("u", "get", "/apis/berth.dev"), r));
  EXPECT_TRUE(RuleAllows(Path("u", "get", "/apis/"), r));
  EXPECT_FALSE(RuleAllows(Path("u", "get", "/apis"), r));
  EXPECT_FALSE(RuleAllows(Path("u", "get", "/version/"), r));
  // A resource rule never grants a path, and a URL rule never grants a resource.
  EXPECT_FALSE(RuleAllows(Path("u", "get", "/metrics"), {{"*"}, {"*"}, {"*"}, {}, {}}));
  EXPECT_FALSE(RuleAllows(Req("u", "get", "", "secrets", "a", "s"), {{"*"}, {}, {}, {}, {"*"}}));
}

TEST(RequestAttributesTest, VerbsAndNamespaceObjects) {
  EXPECT_EQ(VerbFor("GET", true, false), "get");
  EXPECT_EQ(VerbFor("GET", false, false), "list");
  EXPECT_EQ(VerbFor("GET", false, true), "watch");
  EXPECT_EQ(VerbFor("GET", true, true), "get");  // Kubernetes: only collections are watched by query
  EXPECT_EQ(VerbFor("POST", false, false), "create");
  EXPECT_EQ(VerbFor("PUT", true, false), "update");
  EXPECT_EQ(VerbFor("PATCH", true, false), "patch");
  EXPECT_EQ(VerbFor("DELETE", true, false), "delete");
  EXPECT_EQ(VerbFor("DELETE", false, false), "deletecollection");
  EXPECT_EQ(VerbFor("OPTIONS", true, false), "");
  auto ns = ResourceRequestAttributes({"bob", {}}, {.method = "GET", .resource = "namespaces", .name = "team-a"});
  EXPECT_EQ(ns.ns, "team-a");
  EXPECT_EQ(ns.name, "team-a");
  EXPECT_EQ(ns.verb, "get");
  auto list = ResourceRequestAttributes({"bob", {}}, {.method = "GET", .resource = "namespaces"});
  EXPECT_EQ(list.ns, "");
  // A selector name does not rename a get.
  auto get = ResourceRequestAttributes(
      {"bob", {}}, {.method = "GET", .api_group = "berth.dev", .ns = "a", .resource = "workspaces", .name = "x",
                    .selector_name = "y"});
  EXPECT_EQ(get.name, "x");
  auto watch = ResourceRequestAttributes(
      {"bob", {}}, {.method = "GET", .ns = "a", .resource = "configmaps", .watch = true, .selector_name = "y"});
  EXPECT_EQ(watch.verb, "watch");
  EXPECT_EQ(watch.name, "y");
  auto metrics = NonResourceRequestAttributes({"bob", {"g"}}, "GET", "/metrics");
  EXPECT_FALSE(metrics.resource_request);
  EXPECT_EQ(metrics.verb, "get");
  EXPECT_EQ(metrics.path, "/metrics");
  EXPECT_EQ(metrics.groups, Strings{"g"});
}

class AuthorizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Role> roles = {
        MakeRole("", "ws-edit", {{{"get", "list", "watch", "create", "patch"}, {"berth.dev"}, {"workspaces"}, {}, {}}}),
        MakeRole("", "secret-read", {{{"get"}, {""}, {"secrets"}, {}, {}}}),
        MakeRole("", "fleet-read", {{{"get", "list"}, {"berth.dev"}, {"memberclusters"}, {}, {}},
                                    {{"get"}, {}, {}, {}, {"/metrics"}}}),
        MakeRole("team-a", "cm-read", {{{"get"}, {""}, {"configmaps"}, {}, {}}}),
    };
    std::vector<RoleBinding> bindings = {
        // alice edits workspaces in team-a only, through a ClusterRole.
        Bind("team-a", "alice-edit", {"ClusterRole", "ws-edit"}, {User("alice")}),
        // The group "oncall" reads the fleet everywhere.
        Bind("", "oncall", {"ClusterRole", "fleet-read"}, {Group("oncall")}),
        // team-a's ci service account reads secrets in team-a (namespace defaulted).
        Bind("team-a", "ci-secrets", {"ClusterRole", "secret-read"}, {Sa("ci")}),
        // ops' deployer reads configmaps in team-a.
        Bind("team-a", "deployer-cm", {"Role", "cm-read"}, {Sa("deployer", "ops")}),
        // Every service account of team-b may create workspaces in team-b.
        Bind("team-b", "sas", {"ClusterRole", "ws-edit"}, {Group("system:serviceaccounts:team-b")}),
        Bind("team-a", "dangling", {"ClusterRole", "gone"}, {User("carol")}),
    };
    snap_ = RbacSnapshot::Build(std::move(roles), std::move(bindings));
  }
  bool Allowed(const RequestAttributes& a) { return Authorize(a, *snap_).allowed; }
  std::shared_ptr<const RbacSnapshot> snap_;
};

TEST_F(AuthorizeTest, RoleBindingToClusterRoleGrantsOnlyInItsNamespace) {
  EXPECT_TRUE(Allowed(Req("alice", "create", "berth.dev", "workspaces", "team-a")));
  EXPECT_FALSE(Allowed(Req("alice", "create", "berth.dev", "workspaces", "team-b")));
  // Nor cluster-wide: a list across namespaces has no namespace.
  EXPECT_FALSE(Allowed(Req("alice", "list", "berth.dev", "workspaces", "")));
  EXPECT_FALSE(Allowed(Req("alice", "delete", "berth.dev", "workspaces", "team-a", "chat")));
  EXPECT_FALSE(Allowed(Req("bob", "create", "berth.dev", "workspaces", "team-a")));
}

TEST_F(AuthorizeTest, ClusterRoleBindingGrantsEverywhere) {
  Strings groups = {"oncall", kGroupAuthenticated};
  EXPECT_TRUE(Allowed(Req("dave", "list", "berth.dev", "memberclusters", "", "", "", groups)));
  EXPECT_TRUE(Allowed(Req("dave", "get", "berth.dev", "memberclusters", "", "gpu-1", "", groups)));
  EXPECT_TRUE(Allowed(Path("dave", "get", "/metrics", groups)));
  EXPECT_FALSE(Allowed(Req("dave", "patch", "berth.dev", "memberclusters", "", "gpu-1", "", groups)));
  EXPECT_FALSE(Allowed(Req("dave", "get", "berth.dev", "memberclusters", "", "gpu-1", "status", groups)));
  EXPECT_FALSE(Allowed(Path("dave", "get", "/metrics")));
}

TEST_F(AuthorizeTest, ServiceAccountSubjectsMatchByUserName) {
  const std::string ci = ServiceAccountUser("team-a", "ci");
  EXPECT_EQ(ci, "system:serviceaccount:team-a:ci");
  EXPECT_TRUE(Allowed(Req(ci, "get", "", "secrets", "team-a", "hf-token")));
  EXPECT_FALSE(Allowed(Req(ci, "get", "", "secrets", "team-b", "hf-token")));
  // The same account name in another namespace is another account.
  EXPECT_FALSE(Allowed(Req(ServiceAccountUser("team-b", "ci"), "get", "", "secrets", "team-a", "x")));
  // An explicit subject namespace wins over the binding's.
  EXPECT_TRUE(Allowed(Req(ServiceAccountUser("ops", "deployer"), "get", "", "configmaps", "team-a", "c")));
  EXPECT_FALSE(Allowed(Req(ServiceAccountUser("team-a", "deployer"), "get", "", "configmaps", "team-a", "c")));
  // A User subject named like the service account does not match a ServiceAccount subject's
  // plain name.
  EXPECT_FALSE(Allowed(Req("ci", "get", "", "secrets", "team-a", "hf-token")));
}

TEST_F(AuthorizeTest, ServiceAccountGroupsAreOrdinaryGroups) {
  const Strings sa_groups = {kGroupServiceAccounts, ServiceAccountNamespaceGroup("team-b"), kGroupAuthenticated};
  EXPECT_TRUE(Allowed(Req(ServiceAccountUser("team-b", "any"), "create", "berth.dev", "workspaces", "team-b", "", "",
                          sa_groups)));
  EXPECT_FALSE(Allowed(Req(ServiceAccountUser("team-b", "any"), "create", "berth.dev", "workspaces", "team-a", "", "",
                           sa_groups)));
}

TEST_F(AuthorizeTest, MastersAreAllowedWithoutBindings) {
  auto d = Authorize(Req("admin", "delete", "berth.dev", "memberclusters", "", "gpu-1", "", {kGroupMasters}), *snap_);
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(Authorize(Path("admin", "post", "/anything", {kGroupMasters}), *snap_).allowed);
}

TEST_F(AuthorizeTest, AllowReasonNamesTheBinding) {
  auto d = Authorize(Req("alice", "get", "berth.dev", "workspaces", "team-a", "chat"), *snap_);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.reason, "RBAC: allowed by RoleBinding \"alice-edit/team-a\" of ClusterRole \"ws-edit\" to User \"alice\"");
  auto sa = Authorize(Req(ServiceAccountUser("team-a", "ci"), "get", "", "secrets", "team-a", "x"), *snap_);
  EXPECT_EQ(sa.reason,
            "RBAC: allowed by RoleBinding \"ci-secrets/team-a\" of ClusterRole \"secret-read\" to ServiceAccount "
            "\"ci/team-a\"");
}

TEST_F(AuthorizeTest, DenialIsKubernetesForbiddenText) {
  auto a = Req("alice", "patch", "berth.dev", "workspaces", "team-b", "chat", "scale");
  auto d = Authorize(a, *snap_);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.reason,
            "User \"alice\" cannot patch resource \"workspaces/scale\" in API group \"berth.dev\" in the namespace "
            "\"team-b\"");
  Status s = ForbiddenStatus(a, d);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(), "workspaces.berth.dev \"chat\" is forbidden: " + d.reason);
  auto cluster = Req("bob", "list", "", "namespaces");
  EXPECT_EQ(ForbiddenStatus(cluster, Authorize(cluster, *snap_)).message(),
            "namespaces is forbidden: User \"bob\" cannot list resource \"namespaces\" in API group \"\" at the "
            "cluster scope");
  auto path = Path("bob", "get", "/metrics");
  EXPECT_EQ(ForbiddenStatus(path, Authorize(path, *snap_)).message(),
            "forbidden: User \"bob\" cannot get path \"/metrics\"");
}

TEST_F(AuthorizeTest, MissingRoleIsReportedNotGranted) {
  auto d = Authorize(Req("carol", "get", "", "configmaps", "team-a", "c"), *snap_);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.reason.find(": RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"), std::string::npos)
      << d.reason;
}

TEST(RbacSnapshotTest, LaterObjectsReplaceEarlierOnesAndRolesAreScoped) {
  auto snap = RbacSnapshot::Build(
      {MakeRole("", "r", {{{"get"}, {""}, {"secrets"}, {}, {}}}), MakeRole("", "r", {{{"list"}, {""}, {"secrets"}, {}, {}}}),
       MakeRole("team-a", "local", {{{"get"}, {""}, {"configmaps"}, {}, {}}})},
      {Bind("team-b", "b", {"Role", "local"}, {User("u")})});
  ASSERT_NE(snap->FindRole("", "r"), nullptr);
  EXPECT_EQ(snap->FindRole("", "r")->rules[0].verbs, Strings{"list"});
  // A RoleBinding in team-b cannot reach team-a's Role.
  EXPECT_FALSE(Authorize(Req("u", "get", "", "configmaps", "team-b", "c"), *snap).allowed);
  EXPECT_FALSE(snap->RulesOf({"Role", "local"}, "team-b").ok());
  EXPECT_TRUE(snap->RulesOf({"Role", "local"}, "team-a").ok());
}

TEST(RbacSnapshotTest, AggregatedClusterRoleTakesRulesOfMatchingRoles) {
  Role agg = MakeRole("", "monitoring", {});
  agg.aggregation_rule = json::object();
  agg.aggregation_selectors.push_back(*api::LabelSelector::Parse("aggregate-to-monitoring=true"));
  Role a = MakeRole("", "a", {{{"get"}, {"berth.dev"}, {"memberclusters"}, {}, {}}});
  a.labels["aggregate-to-monitoring"] = "true";
  Role b = MakeRole("", "b", {{{"get"}, {}, {}, {}, {"/metrics"}}, {{"get"}, {"berth.dev"}, {"memberclusters"}, {}, {}}});
  b.labels["aggregate-to-monitoring"] = "true";
  Role c = MakeRole("", "c", {{{"get"}, {""}, {"secrets"}, {}, {}}});
  auto snap = RbacSnapshot::Build({agg, a, b, c}, {Bind("", "mon", {"ClusterRole", "monitoring"}, {User("m")})});
  EXPECT_EQ(snap->FindRole("", "monitoring")->rules.size(), 2u);  // duplicates merged
  EXPECT_TRUE(Authorize(Path("m", "get", "/metrics"), *snap).allowed);
  EXPECT_TRUE(Authorize(Req("m", "get", "berth.dev", "memberclusters", "", "x"), *snap).allowed);
  EXPECT_FALSE(Authorize(Req("m", "get", "", "secrets", "a", "x"), *snap).allowed);
}

TEST_F(AuthorizeTest, RulesForListsClusterAndNamespaceGrants) {
  SubjectRules a = RulesFor("alice", {"oncall", kGroupAuthenticated}, "team-a", *snap_);
  ASSERT_EQ(a.resource_rules.size(), 2u);
  EXPECT_EQ(a.resource_rules[0].resources, Strings{"memberclusters"});  // cluster grants first
  EXPECT_EQ(a.resource_rules[1].resources, Strings{"workspaces"});
  ASSERT_EQ(a.non_resource_rules.size(), 1u);
  EXPECT_EQ(a.non_resource_rules[0].non_resource_urls, Strings{"/metrics"});
  EXPECT_TRUE(a.errors.empty());
  // In team-b alice has only the cluster-wide grant.
  EXPECT_EQ(RulesFor("alice", {"oncall"}, "team-b", *snap_).resource_rules.size(), 1u);

  const json status = SelfSubjectRulesReviewStatus(a);
  EXPECT_EQ(status, json::parse(R"({
    "resourceRules": [
      {"verbs": ["get", "list"], "apiGroups": ["berth.dev"], "resources": ["memberclusters"]},
      {"verbs": ["get", "list", "watch", "create", "patch"], "apiGroups": ["berth.dev"], "resources": ["workspaces"]}],
    "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}],
    "incomplete": false})"));
}

TEST_F(AuthorizeTest, SelfSubjectRulesReviewAnswersWhatKubectlSends) {
  // kubectl auth can-i --list -n team-a
  const json body = json::parse(R"({"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1",
    "metadata":{"creationTimestamp":null},"spec":{"namespace":"team-a"},
    "status":{"resourceRules":null,"nonResourceRules":null,"incomplete":false}})");
  auto r = SelfSubjectRulesReview({"alice", {kGroupAuthenticated}}, body, *snap_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["spec"], body["spec"]);
  EXPECT_EQ((*r)["status"]["resourceRules"].size(), 1u);
  EXPECT_EQ((*r)["status"]["resourceRules"][0]["resources"], json({"workspaces"}));
  EXPECT_EQ((*r)["status"]["nonResourceRules"], json::array());
  EXPECT_EQ((*r)["status"]["incomplete"], false);
  json no_ns = body;
  no_ns["spec"].erase("namespace");
  EXPECT_EQ(SelfSubjectRulesReview({"alice", {}}, no_ns, *snap_).status().code(), StatusCode::kBadRequest);
  json wrong = body;
  wrong["kind"] = "SelfSubjectAccessReview";
  EXPECT_EQ(SelfSubjectRulesReview({"alice", {}}, wrong, *snap_).status().code(), StatusCode::kBadRequest);
}

TEST_F(AuthorizeTest, RulesForReportsUnresolvedRolesAsIncomplete) {
  const json status = SelfSubjectRulesReviewStatus(RulesFor("carol", {}, "team-a", *snap_));
  EXPECT_EQ(status["incomplete"], true);
  EXPECT_EQ(status["evaluationError"], "clusterrole.rbac.authorization.k8s.io \"gone\" not found");
}

TEST_F(AuthorizeTest, RulesForMastersIsEverything) {
  SubjectRules m = RulesFor("admin", {kGroupMasters}, "default", *snap_);
  ASSERT_FALSE(m.resource_rules.empty());
  EXPECT_EQ(m.resource_rules[0], (PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}}));
  EXPECT_EQ(m.non_resource_rules[0], (PolicyRule{{"*"}, {}, {}, {}, {"*"}}));
}

// What RulesFor reports must be what Authorize decides: every (verb, resource) pair a
// returned rule names is allowed, and a pair no rule names is denied.
TEST_F(AuthorizeTest, RulesForAgreesWithAuthorize) {
  const Strings groups = {"oncall", kGroupAuthenticated};
  SubjectRules rules = RulesFor("alice", groups, "team-a", *snap_);
  for (const PolicyRule& r : rules.resource_rules) {
    for (const std::string& verb : r.verbs) {
      for (const std::string& res : r.resources) {
        const bool cluster_scoped = res == "memberclusters";
        EXPECT_TRUE(Allowed(Req("alice", verb, r.api_groups[0], res, cluster_scoped ? "" : "team-a", "", "", groups)))
            << verb << " " << res;
      }
    }
  }
  EXPECT_FALSE(Allowed(Req("alice", "delete", "berth.dev", "workspaces", "team-a", "x", "", groups)));
}

}  // namespace
}  // namespace berth::rbac
