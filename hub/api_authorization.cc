#include "hub/api_authorization.h"

#include <strings.h>

#include "api/selector.h"
#include "hub/dashboard_assets.h"
#include "hub/http_errors.h"
#include "hub/rbac/builtin_roles.h"
#include "hub/rbac/client_cert_identity.h"
#include "hub/rbac/escalation.h"

namespace berth::hub {

using Ex = std::shared_ptr<HttpExchange>;

bool IsUnauthenticatedPath(const std::string& path) {
  // The dashboard's static files hold no data; the page reads with the user's token.
  return path == "/healthz" || path == "/livez" || path == "/readyz" || IsDashboardPath(path);
}

StatusOr<Identity> IdentityOfClientCertificate(const std::string& cert_pem) {
  auto subject = rbac::SubjectOfCertificatePem(cert_pem);
  if (!subject.ok()) return Status::Unauthenticated("Unauthorized: " + subject.status().message());
  auto user = rbac::UserFromCertificateSubject(*subject);
  if (!user.ok()) return user.status();
  Identity id;
  id.user = user->user;
  id.groups = subject->organizations;
  return id;
}

StatusOr<Identity> AuthenticateRequest(const HttpRequest& r, const TokenAuthenticator& auth) {
  // As kube-apiserver's authenticator chain: a verified client certificate first, then the
  // bearer token.
  if (!r.client_cert_pem.empty()) {
    auto id = IdentityOfClientCertificate(r.client_cert_pem);
    if (id.ok()) return id;
  }
  return auth.Authenticate(r.Header("Authorization"));
}

HeaderVerdict AuthenticateHeader(const HttpRequest& r, const TokenAuthenticator& auth,
                                 bool serves_joins, ApiReplies& replies,
                                 AuthenticatedHandler handle) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = NormalizePath(r.path);
  const bool join = serves_joins && path == kJoinPath;
  HeaderVerdict v;
  if (IsUnauthenticatedPath(path) || join) {
    if (join) v.body_limit = kMaxJoinBodyBytes;
    v.handle = [handle = std::move(handle), start](Ex ex) { handle(ex, nullptr, start); };
    return v;
  }
  auto who = AuthenticateRequest(r, auth);
  if (!who.ok()) {
    auto [code, body] = StatusToHttp(who.status(), nullptr, "");
    replies.Record("auth", code, start);
    v.refuse = HttpReply{code, "application/json", body.dump(), {}};
    return v;
  }
  for (const auto& [name, value] : r.headers) {
    if (name.size() >= 12 && strncasecmp(name.c_str(), "Impersonate-", 12) == 0) {
      // Acting as someone else needs RBAC's impersonate verb; never run as the caller instead.
      auto [code, body] = StatusToHttp(
          Status::Forbidden("impersonation (" + name.substr(0, 64) +
                            ") is not supported by the Berth hub: use the other identity's own credential"),
          nullptr, "");
      replies.Record("auth", code, start);
      v.refuse = HttpReply{code, "application/json", body.dump(), {}};
      return v;
    }
  }
  v.handle = [handle = std::move(handle), start, id = std::move(*who)](Ex ex) {
    handle(ex, &id, start);
  };
  return v;
}

Status AuthorizeObjectRequest(const Identity& id, const api::KindInfo& kind, const ResourcePath& rp,
                              const std::string& method, const QueryParams& query) {
  if (id.admin) return Status::Ok();
  const bool read = method == methods::GET;
  const bool write = method == methods::PUT || method == methods::PATCH;
  const bool own = !id.member_cluster.empty() && rp.name == id.member_cluster;
  const bool status = rp.subresource == "status";
  bool allowed = false;
  if (kind.kind == "Work") {
    if (read && rp.name.empty()) {
      if (query.Has("fieldSelector")) {
        auto sel = api::FieldSelector::Parse(query.Get("fieldSelector"));
        allowed = sel.ok() && sel->ExactName() == id.member_cluster;
      }
    } else {
      allowed = own && (read || (write && status));
    }
  } else if (kind.kind == "MemberCluster") {
    allowed = own && (read || (write && status));
  } else if (kind.kind == "Lease") {
    allowed = own && (read || write);
  }
  if (allowed) return Status::Ok();
  return Status::Forbidden(kind.plural + (rp.name.empty() ? "" : " \"" + rp.name + "\"") +
                           " is forbidden: user \"" + id.user + "\" cannot " + method +
                           (status ? " its status" : " it") +
                           "; member credentials reach only their own cluster's MemberCluster, "
                           "Lease and Work");
}

RbacPolicySource BuiltinRbacPolicy() {
  auto builtins = rbac::RbacSnapshot::Build(rbac::BuiltinClusterRoles(), rbac::BuiltinClusterRoleBindings());
  return [builtins] { return builtins; };
}

WriteAdmission RbacEscalationAdmission(const rbac::UserInfo& who, std::shared_ptr<const rbac::RbacSnapshot> policy,
                                       const api::KindInfo& kind) {
  if (kind.group != rbac::kRbacGroup) return {};
  if (kind.kind == "Role" || kind.kind == "ClusterRole") {
    return [who, policy](const nlohmann::json& next, const nlohmann::json* current) -> Status {
      auto role = rbac::ParseRole(next);
      if (!role.ok()) return role.status();
      std::optional<rbac::Role> old;
      if (current) {
        if (auto parsed = rbac::ParseRole(*current); parsed.ok()) old = std::move(*parsed);
      }
      return rbac::CheckRoleEscalation(who, *role, old ? &*old : nullptr, *policy);
    };
  }
  return [who, policy](const nlohmann::json& next, const nlohmann::json* current) -> Status {
    auto binding = rbac::ParseRoleBinding(next);
    if (!binding.ok()) return binding.status();
    std::optional<rbac::RoleBinding> old;
    if (current) {
      if (auto parsed = rbac::ParseRoleBinding(*current); parsed.ok()) old = std::move(*parsed);
    }
    return rbac::CheckBindingEscalation(who, *binding, old ? &*old : nullptr, *policy);
  };
}

Status AuthorizeRbac(const rbac::RequestAttributes& attrs, const rbac::RbacSnapshot& policy) {
  rbac::Decision d = rbac::Authorize(attrs, policy);
  return d.allowed ? Status::Ok() : rbac::ForbiddenStatus(attrs, d);
}

}  // namespace berth::hub
