#include "hub/api_authorization.h"

#include <gtest/gtest.h>

#include "hub/pki.h"
#include "hub/rbac/builtin_roles.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {
namespace {

class ApiAuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kinds::RegisterBerthKinds(registry_).ok()); }

  // Authorises `method` on `path` for `id`, with the raw query string `query`.
  Status Check(const Identity& id, const std::string& method, const std::string& path,
               const std::string& query = "") {
    auto rp = ParseResourcePath(SplitPath(path));
    EXPECT_TRUE(rp) << path;
    auto kind = ResolveKind(registry_, *rp);
    EXPECT_TRUE(kind.ok()) << path;
    return AuthorizeObjectRequest(id, **kind, *rp, method, QueryParams::Parse(query));
  }

  api::KindRegistry registry_;
  const Identity admin_{"admin", true, "", {}};
  const Identity member_{"member:gpu-1", false, "gpu-1", {}};
};

TEST_F(ApiAuthorizationTest, AdminMayDoEverything) {
  EXPECT_TRUE(Check(admin_, "DELETE", "/apis/berth.dev/v1alpha1/memberclusters/gpu-2").ok());
  EXPECT_TRUE(Check(admin_, "GET", "/apis/berth.dev/v1alpha1/works").ok());
}

TEST_F(ApiAuthorizationTest, MemberReachesOnlyItsOwnObjects) {
  EXPECT_TRUE(Check(member_, "GET", "/apis/berth.dev/v1alpha1/memberclusters/gpu-1").ok());
  EXPECT_TRUE(Check(member_, "PATCH", "/apis/berth.dev/v1alpha1/memberclusters/gpu-1/status").ok());
  EXPECT_TRUE(Check(member_, "PUT", "/apis/berth.dev/v1alpha1/leases/gpu-1").ok());
  EXPECT_TRUE(Check(member_, "PUT", "/apis/berth.dev/v1alpha1/works/gpu-1/status").ok());
  EXPECT_TRUE(Check(member_, "GET", "/apis/berth.dev/v1alpha1/works",
                    "watch=true&fieldSelector=metadata.name%3Dgpu-1")
                  .ok());

  // Not its own status only, nor another member's, nor all Work, nor other kinds.
  EXPECT_FALSE(Check(member_, "PATCH", "/apis/berth.dev/v1alpha1/memberclusters/gpu-1").ok());
  EXPECT_FALSE(Check(member_, "GET", "/apis/berth.dev/v1alpha1/leases/gpu-2").ok());
  EXPECT_FALSE(Check(member_, "GET", "/apis/berth.dev/v1alpha1/works").ok());
  EXPECT_FALSE(
      Check(member_, "GET", "/apis/berth.dev/v1alpha1/works", "fieldSelector=metadata.name%3Dgpu-2")
          .ok());
  EXPECT_FALSE(Check(member_, "DELETE", "/apis/berth.dev/v1alpha1/leases/gpu-1").ok());
  EXPECT_FALSE(Check(member_, "GET", "/apis/berth.dev/v1alpha1/namespaces/a/workspaces").ok());
}

TEST_F(ApiAuthorizationTest, RefusalsSayWhoWasRefusedWhat) {
  Status s = Check(member_, "PATCH", "/apis/berth.dev/v1alpha1/memberclusters/gpu-2/status");
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(),
            "memberclusters \"gpu-2\" is forbidden: user \"member:gpu-1\" cannot PATCH its status; "
            "member credentials reach only their own cluster's MemberCluster, Lease and Work");
  rbac::RequestAttributes metrics = rbac::NonResourceRequestAttributes(UserOf(member_), "GET", "/metrics");
  Status m = AuthorizeRbac(metrics, *BuiltinRbacPolicy()());
  EXPECT_EQ(m.code(), StatusCode::kForbidden);
  EXPECT_EQ(m.message(), "forbidden: User \"member:gpu-1\" cannot get path \"/metrics\"");
  EXPECT_TRUE(AuthorizeRbac(rbac::NonResourceRequestAttributes(UserOf(admin_), "GET", "/metrics"),
                            *BuiltinRbacPolicy()()).ok());
}

TEST_F(ApiAuthorizationTest, OnlyHealthProbesAndJoinsPassWithoutACredential) {
  TokenAuthenticator auth;
  prometheus::Registry metrics;
  ApiReplies replies(metrics);
  auto verdict = [&](const std::string& path, bool serves_joins) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    return AuthenticateHeader(
        r, auth, serves_joins, replies,
        [](const std::shared_ptr<HttpExchange>&, const Identity*, RequestStart) {});
  };
  for (const char* probe : {"/healthz", "/livez/", "/readyz"}) {
    auto v = verdict(probe, false);
    EXPECT_FALSE(v.refuse) << probe;
    EXPECT_TRUE(v.handle) << probe;
  }
  auto join = verdict(std::string(kJoinPath), true);
  EXPECT_FALSE(join.refuse);
  EXPECT_EQ(join.body_limit, kMaxJoinBodyBytes);

  auto no_joins = verdict(std::string(kJoinPath), false);
  ASSERT_TRUE(no_joins.refuse);
  EXPECT_EQ(no_joins.refuse->code, 401);
  auto api = verdict("/apis", true);
  ASSERT_TRUE(api.refuse);
  EXPECT_EQ(api.refuse->code, 401);
  EXPECT_FALSE(api.handle);
}

TEST_F(ApiAuthorizationTest, AClientCertificateAuthenticatesItsSubjectBeforeABearerToken) {
  const auto now = std::chrono::system_clock::now();
  auto ca = CreateCa("test-ca", now, std::chrono::hours(1));
  ASSERT_TRUE(ca.ok());
  auto dana = IssueClientCert(ca->cert_pem, ca->key_pem, "dana", {"team-a", "qa"}, now, std::chrono::hours(1));
  ASSERT_TRUE(dana.ok());
  TokenAuthenticator auth;
  auth.AddTokenHash(Sha256Hex("tok"), Identity{"tokuser", false, "", {"ops"}});

  HttpRequest r;
  r.client_cert_pem = dana->cert_pem;
  r.headers = {{"Authorization", "Bearer tok"}};
  auto id = AuthenticateRequest(r, auth);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->user, "dana");
  EXPECT_FALSE(id->admin);
  EXPECT_TRUE(id->member_cluster.empty());
  EXPECT_EQ(UserOf(*id).groups, (std::vector<std::string>{"team-a", "qa", "system:authenticated"}));

  r.client_cert_pem.clear();  // no certificate: the token decides
  ASSERT_TRUE(AuthenticateRequest(r, auth).ok());
  EXPECT_EQ(AuthenticateRequest(r, auth)->user, "tokuser");
  r.headers.clear();
  EXPECT_EQ(AuthenticateRequest(r, auth).status().code(), StatusCode::kUnauthenticated);
  r.client_cert_pem = "not a certificate";
  EXPECT_EQ(AuthenticateRequest(r, auth).status().code(), StatusCode::kUnauthenticated);

  auto root = IssueClientCert(ca->cert_pem, ca->key_pem, "root", {"system:masters"}, now, std::chrono::hours(1));
  ASSERT_TRUE(root.ok());
  r.client_cert_pem = root->cert_pem;
  auto superuser = AuthenticateRequest(r, auth);
  ASSERT_TRUE(superuser.ok());
  EXPECT_EQ(UserOf(*superuser).groups.front(), "system:masters");
}

TEST_F(ApiAuthorizationTest, RbacWritesCannotGrantMoreThanTheWriterHolds) {
  rbac::RoleBinding lead;  // lead may edit team-a
  lead.name = "lead-edit";
  lead.ns = "team-a";
  lead.role_ref = {"ClusterRole", "edit"};
  lead.subjects = {{rbac::Subject::Kind::kUser, "lead", ""}};
  auto bindings = rbac::BuiltinClusterRoleBindings();
  bindings.push_back(lead);
  std::shared_ptr<const rbac::RbacSnapshot> policy = rbac::RbacSnapshot::Build(rbac::BuiltinClusterRoles(), bindings);
  const Identity lead_id{"lead", false, "", {}};
  const api::KindInfo* kind = registry_.ByKind("rbac.authorization.k8s.io/v1", "RoleBinding");
  ASSERT_NE(kind, nullptr);
  WriteAdmission admit = RbacEscalationAdmission(UserOf(lead_id), policy, *kind);
  ASSERT_TRUE(admit);
  auto binding = [](const std::string& role) {
    return nlohmann::json{{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "RoleBinding"},
                          {"metadata", {{"name", "me"}, {"namespace", "team-a"}}},
                          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
                          {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", "dev"}}}}};
  };
  EXPECT_TRUE(admit(binding("view"), nullptr).ok()) << "edit covers view";
  Status s = admit(binding("admin"), nullptr);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("attempting to grant RBAC permissions not currently held"), std::string::npos) << s.message();
  EXPECT_FALSE(RbacEscalationAdmission(UserOf(lead_id), policy, *registry_.ByKind("v1", "ConfigMap")))
      << "other kinds need no escalation check";
}

}  // namespace
}  // namespace berth::hub
