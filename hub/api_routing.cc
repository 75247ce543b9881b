#include "hub/api_routing.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/object.h"
#include "api/selector.h"
#include "api/yaml_json.h"
#include "hub/access_reviews.h"
#include "hub/api_authorization.h"
#include "hub/dashboard_assets.h"
#include "hub/discovery.h"
#include "hub/membership.h"
#include "hub/object_handlers.h"

namespace berth::hub {

using nlohmann::json;
using Ex = std::shared_ptr<HttpExchange>;

namespace {

// The GET paths ServeDiscovery answers (or 404s within: an unknown group is still discovery).
bool IsDiscoveryPath(const std::string& path, const std::vector<std::string>& parts) {
  if (path == "/version" || path == "/metrics" || path == "/api" || path == "/apis" || path == "/openapi/v3") {
    return true;
  }
  if (parts.size() == 2 && (parts[0] == "api" || parts[0] == "apis")) return true;
  if (parts.size() == 3 && parts[0] == "apis") return true;
  return parts.size() >= 4 && parts.size() <= 5 && parts[0] == "openapi" && parts[1] == "v3" &&
         ((parts.size() == 4 && parts[2] == "api") || (parts.size() == 5 && parts[2] == "apis"));
}

// What RBAC sees of an object request: the verb from the method, ?watch, and the name a
// metadata.name field selector pins.
rbac::ResourceRequest RbacRequestOf(const ResourcePath& rp, const std::string& method, const QueryParams& query) {
  rbac::ResourceRequest r{.method = method,
                          .api_group = rp.group,
                          .ns = rp.ns,
                          .resource = rp.plural,
                          .name = rp.name,
                          .subresource = rp.subresource};
  const std::string watch = query.Get("watch");
  r.watch = watch == "true" || watch == "1";
  if (query.Has("fieldSelector")) {
    auto sel = api::FieldSelector::Parse(query.Get("fieldSelector"));
    if (sel.ok()) r.selector_name = sel->ExactName();
  }
  return r;
}

}  // namespace

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(PercentDecode(path.substr(i, j - i), /*plus_is_space=*/false));
    i = j + 1;
  }
  return parts;
}

std::optional<ResourcePath> ParseResourcePath(const std::vector<std::string>& p) {
  ResourcePath r;
  size_t i;
  if (p.size() >= 4 && p[0] == "apis") {
    r.group = p[1];
    r.version = p[2];
    i = 3;
  } else if (p.size() >= 3 && p[0] == "api") {
    r.version = p[1];  // the core group has no name
    i = 2;
  } else {
    return std::nullopt;
  }
  if (p[i] == "namespaces" && p.size() >= i + 3) {
    r.ns = p[i + 1];
    i += 2;
  }
  r.plural = p[i++];
  if (i < p.size()) r.name = p[i++];
  if (i < p.size()) r.subresource = p[i++];
  if (i < p.size()) return std::nullopt;
  return r;
}

std::string NormalizePath(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

StatusOr<const api::KindInfo*> ResolveKind(const api::KindRegistry& registry,
                                           const ResourcePath& rp) {
  const api::KindInfo* kind = registry.ByResource(rp.group, rp.version, rp.plural);
  if (!kind) {
    return Status::NotFound("the server could not find the requested resource (" + rp.plural + "." +
                            rp.group + "/" + rp.version + ")");
  }
  const bool served = (rp.subresource == "status" && kind->has_status) ||
                      (rp.subresource == "scale" && kind->has_scale() && !rp.name.empty()) ||
                      (rp.subresource == "httproute" && kind->kind == "Workspace" && !rp.name.empty());
  if (!rp.subresource.empty() && !served) {
    return Status::NotFound(kind->kind + " has no subresource " + rp.subresource);
  }
  if (!kind->namespaced && !rp.ns.empty()) {
    return Status::NotFound(kind->kind + " is cluster-scoped; drop the namespace from the path");
  }
  return kind;
}

ApiRouter::ApiRouter(const api::KindRegistry& registry, ApiReplies& replies,
                     ObjectHandlers& objects, Membership* membership,
                     const std::atomic<bool>& ready, std::function<std::string()> metrics_text,
                     RbacPolicySource policy)
    : registry_(registry),
      replies_(replies),
      objects_(objects),
      membership_(membership),
      ready_(ready),
      metrics_text_(std::move(metrics_text)),
      policy_(policy ? std::move(policy) : BuiltinRbacPolicy()) {}

bool ApiRouter::Allowed(const Ex& req, const rbac::RequestAttributes& attrs, const std::string& verb,
                        RequestStart start, const api::KindInfo* kind) {
  Status s = AuthorizeRbac(attrs, *policy_());
  if (s.ok()) return true;
  replies_.ReplyError(req, s, verb, start, kind, attrs.name);
  return false;
}

void ApiRouter::Dispatch(const Ex& req, const Identity* who, RequestStart start) {
  try {
    Route(req, who, start);
  } catch (const std::exception& e) {
    spdlog::error("handler error: {}", e.what());
    replies_.ReplyErrorNoThrow(req, Status::Internal(std::string("internal error: ") + e.what()),
                               "unknown", start);
  } catch (...) {
    spdlog::error("handler error: non-standard exception");
    replies_.ReplyErrorNoThrow(req, Status::Internal("internal error"), "unknown", start);
  }
}

void ApiRouter::Route(const Ex& req, const Identity* who, RequestStart start) {
  const std::string path = NormalizePath(req->request().path);
  const auto parts = SplitPath(path);
  const auto query = QueryParams::Parse(req->request().query);
  const std::string& method = req->request().method;
  // Names and values end up in JSON replies, which must be UTF-8.
  if (!std::all_of(parts.begin(), parts.end(),
                   [](const std::string& p) { return api::IsValidUtf8(p); }) ||
      !query.AllUtf8()) {
    return replies_.ReplyError(
        req, Status::BadRequest("the request path or a query parameter is not valid UTF-8"),
        "unknown", start);
  }

  if (path == "/healthz" || path == "/livez") {
    return replies_.ReplyText(req, 200, "ok", "text/plain");
  }
  if (path == "/readyz") {
    return replies_.ReplyText(req, ready_ ? 200 : 503, ready_ ? "ok" : "starting", "text/plain");
  }
  if (IsJoinPath(path)) return Join(req, start);
  // The dashboard's files, by the path as sent: "/ui" and "/ui/" differ (relative URLs).
  if (IsDashboardPath(req->request().path)) return req->Reply(DashboardReply(method, req->request().path));
  if (!who) {
    return replies_.ReplyError(req, Status::Unauthenticated("no credential"), "auth", start);
  }
  if (method == methods::GET && ServeDiscovery(req, *who, path, parts, start)) return;
  if (method == methods::POST && ServeReview(req, *who, path, start)) return;
  RouteObject(req, *who, path, parts, query, start);
}

bool ApiRouter::ServeReview(const Ex& req, const Identity& who, const std::string& path, RequestStart start) {
  const std::string version = SelfSubjectReviewVersion(path);
  const bool access = IsSelfSubjectAccessReviewPath(path), rules = IsSelfSubjectRulesReviewPath(path);
  if (version.empty() && !access && !rules) return false;
  // A review is a create of its resource (system:basic-user grants them to everyone).
  const rbac::ResourceRequest create{
      .method = "POST",
      .api_group = version.empty() ? "authorization.k8s.io" : "authentication.k8s.io",
      .resource = !version.empty() ? "selfsubjectreviews"
                  : access         ? "selfsubjectaccessreviews"
                                   : "selfsubjectrulesreviews"};
  if (!Allowed(req, rbac::ResourceRequestAttributes(UserOf(who), create), "create", start)) return true;
  if (!version.empty()) {
    replies_.Reply(req, 201, SelfSubjectReview(who, version), "create", start);
    return true;
  }
  auto body = api::DecodeBody(req->request().body, req->request().Header("Content-Type"));
  const auto policy = policy_();
  StatusOr<json> review = !body.ok() ? StatusOr<json>(body.status())
                          : access   ? SelfSubjectAccessReview(who, *body, registry_, *policy)
                                     : rbac::SelfSubjectRulesReview(UserOf(who), *body, *policy);
  if (!review.ok()) {
    replies_.ReplyError(req, review.status(), "create", start);
  } else {
    replies_.Reply(req, 201, *review, "create", start);
  }
  return true;
}

void ApiRouter::Join(const Ex& req, RequestStart start) {
  if (req->request().method != methods::POST) {
    return replies_.ReplyError(req, Status(StatusCode::kMethodNotAllowed, "join takes POST"),
                               "join", start);
  }
  auto body = api::ParseJson(req->request().body, "invalid join request");
  if (!body.ok()) return replies_.ReplyError(req, body.status(), "join", start);
  membership_->Join(req->request().Header("Authorization"), *body,
                    [this, req, start](StatusOr<json> r) {
                      if (!r.ok()) return replies_.ReplyError(req, r.status(), "join", start);
                      replies_.Reply(req, 200, *r, "join", start);
                    });
}

bool ApiRouter::ServeDiscovery(const Ex& req, const Identity& id, const std::string& path,
                               const std::vector<std::string>& parts, RequestStart start) {
  if (!IsDiscoveryPath(path, parts)) return false;
  if (!Allowed(req, rbac::NonResourceRequestAttributes(UserOf(id), "GET", path),
               path == "/metrics" ? "metrics" : "discovery", start)) {
    return true;
  }
  // Found: `body` is the document. Not found (null): 404 with `missing`.
  auto answer = [&](const json& body, const std::string& missing, const std::string& verb) {
    if (body.is_null()) return replies_.ReplyError(req, Status::NotFound(missing), verb, start);
    replies_.Reply(req, 200, body, verb, start);
  };
  if (path == "/version") {
    replies_.Reply(req, 200, VersionInfo(), "discovery", start);
  } else if (path == "/metrics") {
    replies_.ReplyText(req, 200, metrics_text_(), "text/plain; version=0.0.4");
    replies_.Record("metrics", 200, start);
  } else if (path == "/api") {
    replies_.Reply(req, 200, ApiVersions(), "discovery", start);
  } else if (parts.size() == 2 && parts[0] == "api") {
    answer(ApiResourceList(registry_, "", parts[1]), "no API " + parts[1], "discovery");
  } else if (parts.size() == 4 && parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "api") {
    answer(OpenApiV3Group(registry_, "", parts[3]), "no OpenAPI document for " + parts[3],
           "openapi");
  } else if (path == "/apis") {
    replies_.Reply(req, 200, ApiGroupList(registry_), "discovery", start);
  } else if (parts.size() == 2 && parts[0] == "apis") {
    answer(ApiGroup(registry_, parts[1]), "no API group " + parts[1], "discovery");
  } else if (parts.size() == 3 && parts[0] == "apis") {
    answer(ApiResourceList(registry_, parts[1], parts[2]), "no API " + parts[1] + "/" + parts[2],
           "discovery");
  } else if (path == "/openapi/v3") {
    replies_.Reply(req, 200, OpenApiV3Root(registry_), "openapi", start);
  } else if (parts.size() == 5 && parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "apis") {
    answer(OpenApiV3Group(registry_, parts[3], parts[4]),
           "no OpenAPI document for " + parts[3] + "/" + parts[4], "openapi");
  } else {
    return false;
  }
  return true;
}

void ApiRouter::RouteObject(const Ex& req, const Identity& id, const std::string& path,
                            const std::vector<std::string>& parts, const QueryParams& query,
                            RequestStart start) {
  const std::string& method = req->request().method;
  auto rp = ParseResourcePath(parts);
  if (!rp) {
    return replies_.ReplyError(
        req, Status::NotFound("the server could not find the requested resource " + path),
        "unknown", start);
  }
  auto resolved = ResolveKind(registry_, *rp);
  if (!resolved.ok()) return replies_.ReplyError(req, resolved.status(), "unknown", start);
  const api::KindInfo* kind = *resolved;
  // Member agents: their own objects only; everyone else: RBAC. Writes of RBAC objects are also
  // checked for escalation, with the policy the request was authorized by.
  WriteAdmission admit;
  if (!id.member_cluster.empty()) {
    if (Status s = AuthorizeObjectRequest(id, *kind, *rp, method, query); !s.ok()) {
      return replies_.ReplyError(req, s, "auth", start, kind, rp->name);
    }
  } else {
    const auto policy = policy_();
    const rbac::RequestAttributes attrs = rbac::ResourceRequestAttributes(UserOf(id), RbacRequestOf(*rp, method, query));
    if (Status s = AuthorizeRbac(attrs, *policy); !s.ok()) {
      return replies_.ReplyError(req, s, "auth", start, kind, rp->name);
    }
    admit = RbacEscalationAdmission(UserOf(id), policy, *kind);
  }

  if (method == methods::GET) {
    if (rp->name.empty()) return objects_.ListOrWatch(req, *kind, *rp, query, start);
    return objects_.Get(req, *kind, *rp, query, start);
  }
  if (rp->subresource == "httproute") {
    return replies_.ReplyError(req,
                               Status(StatusCode::kMethodNotAllowed,
                                      "httproute is read-only: it is derived from the Workspace's status.endpoints"),
                               "unknown", start, kind, rp->name);
  }
  if (method == methods::POST || method == methods::PUT || method == methods::PATCH) {
    return objects_.Write(req, *kind, *rp, query, start, std::move(admit));
  }
  if (method == methods::DEL) return objects_.Delete(req, *kind, *rp, query, start);
  replies_.ReplyError(
      req, Status(StatusCode::kMethodNotAllowed, "method " + method + " is not allowed here"),
      "unknown", start);
}

}  // namespace berth::hub
