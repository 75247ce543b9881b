// berth-member must be exactly what member agents are allowed today: every request in a
// matrix of methods, kinds, names, subresources and field selectors gets the same verdict from
// RBAC (built-ins plus the per-member role and binding) as from AuthorizeObjectRequest in
// hub/api_authorization.cc. When the member rules change, this test says which request moved.
#include <gtest/gtest.h>

#include "api/selector.h"
#include "hub/access_reviews.h"
#include "hub/api_authorization.h"
#include "hub/rbac/builtin_roles.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::rbac {
namespace {

using hub::AuthorizeObjectRequest;
using hub::Identity;
using hub::QueryParams;
using hub::ResourcePath;
using hub::SelfSubjectAccessReview;

// The kinds a member could name: its own three, an admin-only one and a few namespaced and
// core ones. Only group, plural, scope and kind matter to either authorizer.
std::vector<api::KindInfo> Kinds() {
  auto plain = [](std::string group, std::string version, std::string kind, std::string plural, bool namespaced,
                  bool has_status) {
    api::KindInfo k;
    k.group = std::move(group);
    k.version = std::move(version);
    k.kind = std::move(kind);
    k.plural = std::move(plural);
    k.namespaced = namespaced;
    k.has_status = has_status;
    return k;
  };
  return {api::MemberClusterKind(),
          api::WorkKind(),
          api::LeaseKind(),
          api::BootstrapTokenKind(),
          plain("berth.dev", "v1alpha1", "Workspace", "workspaces", true, true),
          plain("", "v1", "Secret", "secrets", true, false),
          plain("", "v1", "Namespace", "namespaces", false, true)};
}

TEST(MemberRoleParityTest, SameVerdictAsTodaysMemberCheck) {
  std::vector<Role> roles = BuiltinClusterRoles();
  std::vector<RoleBinding> bindings = BuiltinClusterRoleBindings();
  for (const char* c : {"gpu-1", "gpu-2"}) {
    roles.push_back(MemberClusterRole(c));
    bindings.push_back(MemberClusterRoleBinding(c));
  }
  auto snap = RbacSnapshot::Build(std::move(roles), std::move(bindings));
  const Identity today{"member:gpu-1", false, "gpu-1", {}};
  const UserInfo who{std::string(kMemberUserPrefix) + "gpu-1", {kGroupMembers, kGroupAuthenticated}};

  int checked = 0, allowed = 0;
  for (const api::KindInfo& kind : Kinds()) {
    for (const char* name : {"", "gpu-1", "gpu-2"}) {
      for (const char* sub : {"", "status"}) {
        // The router answers these with a 404 before authorization.
        if (*sub && (!*name || !kind.has_status)) continue;
        const ResourcePath rp{kind.group, kind.version, kind.namespaced ? "default" : "", kind.plural, name, sub};
        for (const char* method : {"GET", "PUT", "PATCH", "POST", "DELETE"}) {
          if (std::string(method) == "POST" && *name) continue;
          for (const char* query : {"", "fieldSelector=metadata.name%3Dgpu-1", "fieldSelector=metadata.name%3Dgpu-2",
                                    "watch=true&fieldSelector=metadata.name%3Dgpu-1", "watch=true"}) {
            const QueryParams q = QueryParams::Parse(query);
            const bool old_verdict = AuthorizeObjectRequest(today, kind, rp, method, q).ok();
            std::string selector_name;
            if (q.Has("fieldSelector")) {
              auto sel = api::FieldSelector::Parse(q.Get("fieldSelector"));
              ASSERT_TRUE(sel.ok());
              selector_name = sel->ExactName();
            }
            RequestAttributes a = ResourceRequestAttributes(
                who, {.method = method, .api_group = rp.group, .ns = rp.ns, .resource = rp.plural, .name = rp.name,
                      .subresource = rp.subresource, .watch = q.Get("watch") == "true", .selector_name = selector_name});
            const bool new_verdict = Authorize(a, *snap).allowed;
            EXPECT_EQ(new_verdict, old_verdict)
                << method << " " << kind.plural << "/" << name << (*sub ? "/status" : "") << "?" << query;
            ++checked;
            allowed += old_verdict ? 1 : 0;
          }
        }
      }
    }
  }
  // The matrix must exercise both answers, or it proves nothing.
  EXPECT_GT(checked, 300);
  EXPECT_GT(allowed, 10);
}

// Paths outside the resource tree, now decided by RBAC for every identity: discovery and health
// readable by every credential, /metrics and anything else for admins only, as before RBAC;
// can-i (hub/access_reviews.cc) gives the same verdict.
TEST(MemberRoleParityTest, NonResourcePathsAsBeforeRbac) {
  const api::KindRegistry registry;
  auto snap = RbacSnapshot::Build(BuiltinClusterRoles(), BuiltinClusterRoleBindings());
  const Identity member{"member:gpu-1", false, "gpu-1", {}};
  const Identity admin{"admin", true, "", {}};
  const UserInfo member_info{std::string(kMemberUserPrefix) + "gpu-1", {kGroupMembers, kGroupAuthenticated}};
  const UserInfo admin_info{"admin", {kGroupMasters, kGroupAuthenticated}};
  for (const char* path : {"/version", "/api", "/api/v1", "/apis", "/apis/berth.dev", "/apis/berth.dev/v1alpha1",
                           "/openapi/v3", "/openapi/v3/apis/berth.dev/v1alpha1", "/healthz", "/livez", "/readyz",
                           "/metrics", "/debug/pprof", "/logs"}) {
    for (const char* verb : {"get", "post"}) {
      const nlohmann::json review = {
          {"apiVersion", "authorization.k8s.io/v1"},
          {"kind", "SelfSubjectAccessReview"},
          {"spec", {{"nonResourceAttributes", {{"path", path}, {"verb", verb}}}}}};
      for (const auto& [today, who] : {std::pair{member, member_info}, std::pair{admin, admin_info}}) {
        const std::string p = path;
        const bool before_rbac = today.admin || (std::string(verb) == "get" && p != "/metrics" &&
                                                 p != "/debug/pprof" && p != "/logs");
        const bool verdict = Authorize(NonResourceRequestAttributes(who, verb, path), *snap).allowed;
        EXPECT_EQ(verdict, before_rbac) << who.user << " " << verb << " " << path;
        auto review_answer = SelfSubjectAccessReview(today, review, registry, *snap);
        ASSERT_TRUE(review_answer.ok());
        EXPECT_EQ((*review_answer)["status"]["allowed"].get<bool>(), verdict) << who.user << " " << verb << " " << path;
      }
    }
  }
}

}  // namespace
}  // namespace berth::rbac
