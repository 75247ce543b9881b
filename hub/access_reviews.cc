#include "hub/access_reviews.h"

#include "hub/api_authorization.h"
#include "hub/api_routing.h"

namespace berth::hub {

using nlohmann::json;

namespace {

constexpr const char* kReviewPrefix = "/apis/authentication.k8s.io/";
constexpr const char* kAccessReviewPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

// The HTTP method a review's verb stands for; empty for verbs the hub has no request for.
std::string MethodOf(const std::string& verb) {
  if (verb == "get" || verb == "list" || verb == "watch") return std::string(methods::GET);
  if (verb == "create") return std::string(methods::POST);
  if (verb == "update") return std::string(methods::PUT);
  if (verb == "patch") return std::string(methods::PATCH);
  if (verb == "delete" || verb == "deletecollection") return std::string(methods::DEL);
  return "";
}

const api::KindInfo* FindKind(const api::KindRegistry& registry, const std::string& group,
                              const std::string& resource) {
  for (const auto* k : registry.All()) {
    if (k->group == group && k->plural == resource) return k;
  }
  return nullptr;
}

// allowed, reason.
std::pair<bool, std::string> DecideResource(const Identity& id, const json& attrs,
                                            const api::KindRegistry& registry) {
  auto str = [&attrs](const char* k) {
    auto it = attrs.find(k);
    return it != attrs.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string verb = str("verb"), group = str("group"), resource = str("resource");
  if (id.admin) return {true, "the admin credential may do everything"};
  const api::KindInfo* kind = FindKind(registry, group, resource);
  const std::string method = MethodOf(verb);
  if (!kind || method.empty()) {
    return {false, "members may only reach their own MemberCluster, Lease and Work"};
  }
  ResourcePath rp{group, kind->version, str("namespace"), resource,
                  verb == "list" || verb == "watch" || verb == "deletecollection" ? "" : str("name"),
                  str("subresource")};
  Status s = AuthorizeObjectRequest(id, *kind, rp, method, QueryParams::Parse(""));
  return {s.ok(), s.ok() ? "allowed by the member rules" : s.message()};
}

std::pair<bool, std::string> DecideNonResource(const Identity& id, const json& attrs) {
  const std::string path = attrs.value("path", "");
  if (path == "/metrics") {
    Status s = AuthorizeMetrics(id);
    return {s.ok(), s.ok() ? "the admin credential may read metrics" : s.message()};
  }
  const bool discovery = path == "/version" || path == "/api" || path == "/apis" || path.rfind("/api/", 0) == 0 ||
                         path.rfind("/apis/", 0) == 0 || path.rfind("/openapi/", 0) == 0 ||
                         path == "/healthz" || path == "/livez" || path == "/readyz";
  const bool read = attrs.value("verb", "") == "get";
  if (id.admin) return {true, "the admin credential may do everything"};
  return {discovery && read, discovery && read ? "discovery is readable by every credential"
                                               : "members may only read discovery and health paths"};
}

}  // namespace

std::string SelfSubjectReviewVersion(const std::string& path) {
  for (const char* v : {"v1", "v1beta1", "v1alpha1"}) {
    if (path == std::string(kReviewPrefix) + v + "/selfsubjectreviews") return std::string("authentication.k8s.io/") + v;
  }
  return "";
}

bool IsSelfSubjectAccessReviewPath(const std::string& path) { return path == kAccessReviewPath; }

json SelfSubjectReview(const Identity& id, const std::string& api_version) {
  const rbac::UserInfo who = UserOf(id);
  return {{"apiVersion", api_version},
          {"kind", "SelfSubjectReview"},
          {"metadata", {{"creationTimestamp", nullptr}}},
          {"status", {{"userInfo", {{"username", who.user}, {"groups", who.groups}}}}}};
}

StatusOr<json> SelfSubjectAccessReview(const Identity& id, const json& review, const api::KindRegistry& registry) {
  if (!review.is_object() || review.value("kind", json("SelfSubjectAccessReview")) != "SelfSubjectAccessReview") {
    return Status::BadRequest("the body must be a SelfSubjectAccessReview");
  }
  const json spec = review.value("spec", json::object());
  const json resource = spec.is_object() ? spec.value("resourceAttributes", json()) : json();
  const json non_resource = spec.is_object() ? spec.value("nonResourceAttributes", json()) : json();
  if (resource.is_object() == non_resource.is_object()) {
    return Status::Invalid("spec: exactly one of resourceAttributes and nonResourceAttributes is required",
                           {{"spec.resourceAttributes", "exactly one of resourceAttributes and nonResourceAttributes "
                                                        "is required"}});
  }
  auto [allowed, reason] = resource.is_object() ? DecideResource(id, resource, registry)
                                                : DecideNonResource(id, non_resource);
  json out = review;
  out["apiVersion"] = "authorization.k8s.io/v1";
  out["kind"] = "SelfSubjectAccessReview";
  if (!out.contains("metadata") || !out["metadata"].is_object()) out["metadata"] = json::object();
  out["metadata"]["creationTimestamp"] = nullptr;
  out["status"] = {{"allowed", allowed}, {"reason", reason}};
  return out;
}

}  // namespace berth::hub
