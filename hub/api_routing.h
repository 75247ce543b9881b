// Which handler an API request goes to; the normalised path and the method decide:
//   /healthz, /livez, /readyz          health probes (no credential)
//   POST kJoinPath                     Membership::Join, when joins are served
//   GET /version, /api[/<v>], /apis[/<g>[/<v>]], /openapi/v3[/…]   discovery and OpenAPI
//   GET /metrics                       the server's metrics
//   POST …/selfsubjectreviews, …/selfsubjectaccessreviews, …/selfsubjectrulesreviews
//                                      whoami, can-i and can-i --list (hub/access_reviews.h)
//   /api/<v>/… and /apis/<g>/<v>/…     object handlers (hub/object_handlers.h) by method
// Every request but the health probes and joins is authorized first (hub/api_authorization.h):
// discovery, OpenAPI and /metrics as non-resource requests, reviews as creates of their
// resource, objects by their resource attributes; a denial is a 403 Forbidden Status.
// Anything else is answered with a Kubernetes Status (404 for an unknown path, kind or
// subresource, 405 for a method a path does not take; a path segment or query parameter that
// is not UTF-8 is a 400). The path functions are pure.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/api_replies.h"
#include "hub/auth.h"
#include "hub/https_server.h"
#include "hub/query_params.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::hub {

class Membership;
class ObjectHandlers;

// The RBAC policy requests are decided on, read once per request (the hub's
// RbacPolicyWatcher::Current). Never returns null.
using RbacPolicySource = std::function<std::shared_ptr<const rbac::RbacSnapshot>()>;

namespace methods {
inline constexpr std::string_view GET = "GET", POST = "POST", PUT = "PUT", PATCH = "PATCH",
                                  DEL = "DELETE";
}

inline constexpr std::string_view kJoinPath = "/apis/berth.dev/v1alpha1/join";

// /apis/<g>/<v>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]
struct ResourcePath {
  std::string group, version, ns, plural, name, subresource;
};

// The path's segments, each percent-decoded ('+' stays a '+'); empty segments are dropped.
std::vector<std::string> SplitPath(const std::string& path);
// The resource the segments name under /api/<v> (the core group) or /apis/<g>/<v>;
// nullopt for any other path.
std::optional<ResourcePath> ParseResourcePath(const std::vector<std::string>& p);
// "/apis/" is "/apis", as the Kubernetes API server (and the Python client) have it.
std::string NormalizePath(std::string path);
// The kind a resource path names: NotFound if the kind is not served, if it has no such
// subresource ("status" for kinds with a status, "scale" on a named object of a kind with one) or if a cluster-scoped kind is
// named under a namespace.
StatusOr<const api::KindInfo*> ResolveKind(const api::KindRegistry& registry,
                                           const ResourcePath& rp);

// Routes requests whose header has passed authentication. The references must outlive it;
// Dispatch may be called from any thread.
class ApiRouter {
 public:
  // `membership` null: no join endpoint. `ready` answers /readyz; `metrics_text` /metrics.
  // `policy` empty: the built-in RBAC roles only.
  ApiRouter(const api::KindRegistry& registry, ApiReplies& replies, ObjectHandlers& objects,
            Membership* membership, const std::atomic<bool>& ready,
            std::function<std::string()> metrics_text, RbacPolicySource policy = {});

  // `who` is null when the path needed no credential. Never throws: an exception from a
  // handler is answered with a 500 (if nothing was sent yet) and logged.
  void Dispatch(const std::shared_ptr<HttpExchange>& req, const Identity* who, RequestStart start);

 private:
  void Route(const std::shared_ptr<HttpExchange>& req, const Identity* who, RequestStart start);
  void Join(const std::shared_ptr<HttpExchange>& req, RequestStart start);
  // GET paths outside the resource tree; false if `path` is none of them.
  bool ServeDiscovery(const std::shared_ptr<HttpExchange>& req, const Identity& id,
                      const std::string& path, const std::vector<std::string>& parts,
                      RequestStart start);
  // whoami / can-i reviews (POST); false if `path` is not one.
  bool ServeReview(const std::shared_ptr<HttpExchange>& req, const Identity& who, const std::string& path,
                   RequestStart start);
  void RouteObject(const std::shared_ptr<HttpExchange>& req, const Identity& id,
                   const std::string& path, const std::vector<std::string>& parts,
                   const QueryParams& query, RequestStart start);
  bool IsJoinPath(const std::string& path) const { return membership_ && path == kJoinPath; }
  // False after answering 403 when RBAC denies `attrs` (`verb` is the refusal's metrics verb).
  bool Allowed(const std::shared_ptr<HttpExchange>& req, const rbac::RequestAttributes& attrs,
               const std::string& verb, RequestStart start, const api::KindInfo* kind = nullptr);

  const api::KindRegistry& registry_;
  ApiReplies& replies_;
  ObjectHandlers& objects_;
  Membership* membership_;
  const std::atomic<bool>& ready_;
  std::function<std::string()> metrics_text_;
  RbacPolicySource policy_;
};

}  // namespace berth::hub
