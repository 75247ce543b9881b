#include "hub/access_reviews.h"

#include <gtest/gtest.h>

#include "hub/rbac/builtin_roles.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {
namespace {

using nlohmann::json;

const api::KindRegistry& Registry() {
  static const api::KindRegistry* r = [] {
    auto* reg = new api::KindRegistry();
    kinds::RegisterBerthKinds(*reg);
    return reg;
  }();
  return *r;
}

json Review(json attrs, bool resource = true) {
  return {{"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SelfSubjectAccessReview"},
          {"spec", {{resource ? "resourceAttributes" : "nonResourceAttributes", attrs}}}};
}

// The built-ins plus alice bound to `edit` in team-a.
const rbac::RbacSnapshot& Policy() {
  static const auto snapshot = [] {
    rbac::RoleBinding alice;
    alice.name = "alice-edit";
    alice.ns = "team-a";
    alice.role_ref = {"ClusterRole", "edit"};
    alice.subjects = {{rbac::Subject::Kind::kUser, "alice", ""}};
    std::vector<rbac::RoleBinding> bindings = rbac::BuiltinClusterRoleBindings();
    bindings.push_back(alice);
    return rbac::RbacSnapshot::Build(rbac::BuiltinClusterRoles(), bindings);
  }();
  return *snapshot;
}

bool Allowed(const Identity& id, const json& review) {
  auto r = SelfSubjectAccessReview(id, review, Registry(), Policy());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && (*r)["status"]["allowed"].get<bool>();
}

const Identity kAdmin{"admin", true, "", {}};
const Identity kMember{"system:member:gpu-1", false, "gpu-1", {}};
const Identity kAlice{"alice", false, "", {"search"}};

TEST(AccessReviewsTest, WhoamiNamesUserAndGroups) {
  EXPECT_EQ(SelfSubjectReviewVersion("/apis/authentication.k8s.io/v1/selfsubjectreviews"), "authentication.k8s.io/v1");
  EXPECT_EQ(SelfSubjectReviewVersion("/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"),
            "authentication.k8s.io/v1beta1");
  EXPECT_EQ(SelfSubjectReviewVersion("/apis/authentication.k8s.io/v2/selfsubjectreviews"), "");
  const json me = SelfSubjectReview(kMember, "authentication.k8s.io/v1");
  EXPECT_EQ(me["kind"], "SelfSubjectReview");
  EXPECT_EQ(me["status"]["userInfo"]["username"], "system:member:gpu-1");
  EXPECT_EQ(me["status"]["userInfo"]["groups"], json({"berth:members", "system:authenticated"}));
  EXPECT_EQ(SelfSubjectReview(kAdmin, "authentication.k8s.io/v1")["status"]["userInfo"]["groups"][0], "system:masters");
  EXPECT_EQ(SelfSubjectReview(kAlice, "authentication.k8s.io/v1")["status"]["userInfo"]["groups"],
            json({"search", "system:authenticated"}));
}

TEST(AccessReviewsTest, CanIAnswersTokenUsersFromRbac) {
  const json create_a = Review({{"verb", "create"}, {"group", "berth.dev"}, {"resource", "workspaces"}, {"namespace", "team-a"}});
  const json create_b = Review({{"verb", "create"}, {"group", "berth.dev"}, {"resource", "workspaces"}, {"namespace", "team-b"}});
  EXPECT_TRUE(Allowed(kAlice, create_a));
  EXPECT_FALSE(Allowed(kAlice, create_b));
  EXPECT_FALSE(Allowed(kAlice, Review({{"verb", "get"}, {"path", "/metrics"}}, false)));
  EXPECT_TRUE(Allowed(kAlice, Review({{"verb", "get"}, {"path", "/apis"}}, false)));
  auto r = SelfSubjectAccessReview(kAlice, create_b, Registry(), Policy());
  ASSERT_TRUE(r.ok());
  EXPECT_NE((*r)["status"]["reason"].get<std::string>().find("User \"alice\" cannot create"), std::string::npos)
      << (*r)["status"]["reason"];
}

TEST(AccessReviewsTest, CanIFollowsTheRealAuthorizer) {
  const json create_ws = Review({{"verb", "create"}, {"group", "berth.dev"}, {"resource", "workspaces"}, {"namespace", "default"}});
  EXPECT_TRUE(Allowed(kAdmin, create_ws));
  EXPECT_FALSE(Allowed(kMember, create_ws));
  // A member reads and renews its own Lease, writes its own Work's status, and nothing of another member.
  EXPECT_TRUE(Allowed(kMember, Review({{"verb", "update"}, {"group", "berth.dev"}, {"resource", "leases"}, {"name", "gpu-1"}})));
  EXPECT_FALSE(Allowed(kMember, Review({{"verb", "update"}, {"group", "berth.dev"}, {"resource", "leases"}, {"name", "gpu-2"}})));
  EXPECT_TRUE(Allowed(kMember, Review({{"verb", "patch"}, {"group", "berth.dev"}, {"resource", "works"}, {"name", "gpu-1"},
                                       {"subresource", "status"}})));
  EXPECT_FALSE(Allowed(kMember, Review({{"verb", "patch"}, {"group", "berth.dev"}, {"resource", "works"}, {"name", "gpu-1"}})));
  EXPECT_FALSE(Allowed(kMember, Review({{"verb", "get"}, {"group", "nope"}, {"resource", "things"}})));
  EXPECT_FALSE(Allowed(kMember, Review({{"verb", "get"}, {"path", "/metrics"}}, false)));
  EXPECT_TRUE(Allowed(kMember, Review({{"verb", "get"}, {"path", "/version"}}, false)));
  EXPECT_TRUE(Allowed(kAdmin, Review({{"verb", "get"}, {"path", "/metrics"}}, false)));
}

TEST(AccessReviewsTest, MalformedReviewsAreRefused) {
  EXPECT_EQ(SelfSubjectAccessReview(kAdmin, json::array(), Registry(), Policy()).status().code(), StatusCode::kBadRequest);
  json both = Review({{"verb", "get"}});
  both["spec"]["nonResourceAttributes"] = {{"path", "/version"}};
  EXPECT_EQ(SelfSubjectAccessReview(kAdmin, both, Registry(), Policy()).status().code(), StatusCode::kInvalid);
  EXPECT_EQ(SelfSubjectAccessReview(kAdmin, {{"spec", json::object()}}, Registry(), Policy()).status().code(), StatusCode::kInvalid);
}

}  // namespace
}  // namespace berth::hub
