// Who may do what on the hub API.
//
// On the request header alone, before any body byte is read (AuthenticateHeader): health
// probes need no credential, nor does the join endpoint when joins are served (a join is
// authenticated by the bootstrap token in its body, which may be at most kMaxJoinBodyBytes).
// Every other request needs a credential: a client certificate signed by the hub's CA (the
// TLS layer verified it; CN = user, O = groups, as Kubernetes reads them) or a bearer token
// TokenAuthenticator knows. Without one it is refused with 401 (counted as verb "auth") and
// costs the hub one token lookup, never its body.
//
// On what the request names: Kubernetes RBAC (hub/rbac/rbac_rules.h, docs/ACCESS.md) decides
// every request of every identity (the admin is in system:masters), except a member agent's
// requests on objects: a member credential (docs/API.md) reaches only its own MemberCluster
// (read, write status), Lease (read, write) and Work (read by name, list or watch with a
// metadata.name field selector naming itself, write status), decided by
// AuthorizeObjectRequest (the built-in berth-member role states the same rules; a parity test
// keeps them equal). A refusal is a Forbidden Status saying who was refused what and why.
// Pure, except that AuthenticateHeader reads the authenticator and counts refusals.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/api_replies.h"
#include "hub/api_routing.h"
#include "hub/auth.h"
#include "hub/https_server.h"
#include "hub/object_api.h"
#include "hub/query_params.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::hub {

// The largest join request: a cluster name, a few strings, labels and taints.
inline constexpr size_t kMaxJoinBodyBytes = 64 << 10;

// Health probes: /healthz, /livez, /readyz.
bool IsUnauthenticatedPath(const std::string& path);  // health probes and /ui (static files)

// Who sent `request`: its verified client certificate's subject if it has one with a
// CommonName, else its bearer token's identity; Unauthenticated otherwise.
StatusOr<Identity> AuthenticateRequest(const HttpRequest& request, const TokenAuthenticator& auth);

// Runs with the whole request once its header passed; `who` is null when the path needs no
// credential.
using AuthenticatedHandler = std::function<void(const std::shared_ptr<HttpExchange>& req,
                                                const Identity* who, RequestStart start)>;

// The verdict on a request header (HttpsServer's HeaderHandler). `serves_joins`: whether the
// join path is open to callers without a bearer token.
HeaderVerdict AuthenticateHeader(const HttpRequest& request, const TokenAuthenticator& auth,
                                 bool serves_joins, ApiReplies& replies,
                                 AuthenticatedHandler handle);

// Whether `id` may send `method` to the object or collection `rp` of `kind`, with `query`
// (a member's Work list needs its field selector).
Status AuthorizeObjectRequest(const Identity& id, const api::KindInfo& kind, const ResourcePath& rp,
                              const std::string& method, const QueryParams& query);

// A RbacPolicySource (hub/api_routing.h) holding only the built-in roles and bindings
// (tests, and servers without a store watcher).
RbacPolicySource BuiltinRbacPolicy();

// The escalation checks (hub/rbac/escalation.h) for a write of a Role, ClusterRole,
// RoleBinding or ClusterRoleBinding by `who`, decided on `policy` (the policy the request was
// authorized with); empty for every other kind. Unparsable objects are left to validation.
WriteAdmission RbacEscalationAdmission(const rbac::UserInfo& who, std::shared_ptr<const rbac::RbacSnapshot> policy,
                                       const api::KindInfo& kind);

// The RBAC decision on `attrs`: Ok, or Kubernetes' Forbidden Status
// (`workspaces.berth.dev "x" is forbidden: User "bob" cannot …`).
Status AuthorizeRbac(const rbac::RequestAttributes& attrs, const rbac::RbacSnapshot& policy);

}  // namespace berth::hub
