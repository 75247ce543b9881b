// "Who am I" and "may I": the Kubernetes review objects kubectl and client libraries send,
// answered from the hub's real authentication and authorization decisions
// (hub/api_authorization.h), never from a separate table.
//   POST /apis/authentication.k8s.io/{v1,v1beta1,v1alpha1}/selfsubjectreviews
//        → status.userInfo (username, groups): `kubectl auth whoami`
//   POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
//        → status.allowed and reason for spec.resourceAttributes or nonResourceAttributes:
//        `kubectl auth can-i VERB RESOURCE [NAME] [-n NS] [--subresource S]`
//   POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews
//        → the rules held in spec.namespace: `kubectl auth can-i --list [-n NS]`
//        (rbac::SelfSubjectRulesReview; the router calls it directly)
// A member agent's resource attributes are decided by its member rules
// (AuthorizeObjectRequest), everything else by RBAC (rbac::Authorize), exactly as the router
// decides the real requests. Pure functions of the identity, the request, the kind registry
// and the RBAC policy.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/auth.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::hub {

// The API version of a SelfSubjectReview path ("authentication.k8s.io/v1"), or "" if the
// path is not one.
std::string SelfSubjectReviewVersion(const std::string& path);
bool IsSelfSubjectAccessReviewPath(const std::string& path);
bool IsSelfSubjectRulesReviewPath(const std::string& path);

nlohmann::json SelfSubjectReview(const Identity& id, const std::string& api_version);

// The review with its status filled in; BadRequest if the body is not a
// SelfSubjectAccessReview with exactly one of resourceAttributes and nonResourceAttributes.
StatusOr<nlohmann::json> SelfSubjectAccessReview(const Identity& id, const nlohmann::json& review,
                                                 const api::KindRegistry& registry,
                                                 const rbac::RbacSnapshot& policy);

}  // namespace berth::hub
