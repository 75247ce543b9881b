#include "hub/api_authorization.h"

#include <gtest/gtest.h>

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
  EXPECT_TRUE(AuthorizeMetrics(admin_).ok());
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
  Status metrics = AuthorizeMetrics(member_);
  EXPECT_EQ(metrics.code(), StatusCode::kForbidden);
  EXPECT_EQ(metrics.message(), "/metrics is forbidden: user \"member:gpu-1\" is not an admin");
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

}  // namespace
}  // namespace berth::hub
