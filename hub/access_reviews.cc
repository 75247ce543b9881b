#include "hub/access_reviews.h"

#include "hub/api_authorization.h"
#include "hub/api_routing.h"

namespace berth::hub {

using nlohmann::json;

namespace {

constexpr const char* kReviewPrefix = "/apis/authentication.k8s.io/";
constexpr const char* kAccessReviewPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
constexpr const char* kRulesReviewPath = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";

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

std::string Str(const json& attrs, const char* key) {
  auto it = attrs.find(key);
  return it != attrs.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A member agent's resource request: its member rules (hub/api_authorization.h).
std::pair<bool, std::string> DecideMemberResource(const Identity& id, const json& attrs,
                                                  const api::KindRegistry& registry) {
  const std::string verb = Str(attrs, "verb"), group = Str(attrs, "group"), resource = Str(attrs, "resource");
  const api::KindInfo* kind = FindKind(registry, group, resource);
  const std::string method = MethodOf(verb);
  if (!kind || method.empty()) {
    return {false, "members may only reach their own MemberCluster, Lease and Work"};
  }
  ResourcePath rp{group, kind->version, Str(attrs, "namespace"), resource,
                  verb == "list" || verb == "watch" || verb == "deletecollection" ? "" : Str(attrs, "name"),
                  Str(attrs, "subresource")};
  Status s = AuthorizeObjectRequest(id, *kind, rp, method, QueryParams::Parse(""));
  return {s.ok(), s.ok() ? "allowed by the member rules" : s.message()};
}

// Everyone else, and every non-resource request: RBAC, as the router decides.
std::pair<bool, std::string> DecideRbac(const Identity& id, const json& attrs, bool resource,
                                        const rbac::RbacSnapshot& policy) {
  const rbac::UserInfo who = UserOf(id);
  rbac::RequestAttributes a;
  if (resource) {
    a.user = who.user;
    a.groups = who.groups;
    a.verb = Str(attrs, "verb");
    a.api_group = Str(attrs, "group");
    a.resource = Str(attrs, "resource");
    a.subresource = Str(attrs, "subresource");
    a.name = Str(attrs, "name");
    a.ns = Str(attrs, "namespace");
  } else {
    a = rbac::NonResourceRequestAttributes(who, "GET", Str(attrs, "path"));
    a.verb = Str(attrs, "verb");
  }
  rbac::Decision d = rbac::Authorize(a, policy);
  return {d.allowed, d.reason};
}

}  // namespace

std::string SelfSubjectReviewVersion(const std::string& path) {
  for (const char* v : {"v1", "v1beta1", "v1alpha1"}) {
    if (path == std::string(kReviewPrefix) + v + "/selfsubjectreviews") return std::string("authentication.k8s.io/") + v;
  }
  return "";
}

bool IsSelfSubjectAccessReviewPath(const std::string& path) { return path == kAccessReviewPath; }

bool IsSelfSubjectRulesReviewPath(const std::string& path) { return path == kRulesReviewPath; }

json SelfSubjectReview(const Identity& id, const std::string& api_version) {
  const rbac::UserInfo who = UserOf(id);
  return {{"apiVersion", api_version},
          {"kind", "SelfSubjectReview"},
          {"metadata", {{"creationTimestamp", nullptr}}},
          {"status", {{"userInfo", {{"username", who.user}, {"groups", who.groups}}}}}};
}

StatusOr<json> SelfSubjectAccessReview(const Identity& id, const json& review, const api::KindRegistry& registry,
                                       const rbac::RbacSnapshot& policy) {
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
  auto [allowed, reason] = resource.is_object() && !id.member_cluster.empty()
                               ? DecideMemberResource(id, resource, registry)
                               : DecideRbac(id, resource.is_object() ? resource : non_resource,
                                            resource.is_object(), policy);
  json out = review;
  out["apiVersion"] = "authorization.k8s.io/v1";
  out["kind"] = "SelfSubjectAccessReview";
  if (!out.contains("metadata") || !out["metadata"].is_object()) out["metadata"] = json::object();
  out["metadata"]["creationTimestamp"] = nullptr;
  out["status"] = {{"allowed", allowed}, {"reason", reason}};
  return out;
}

}  // namespace berth::hub
