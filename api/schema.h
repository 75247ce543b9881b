// Validation of JSON values against OpenAPI v3 structural schemas (the subset Kubernetes
// CRDs use). The same schema documents are served to kubectl at /openapi/v3, so what
// kubectl validates and what the hub enforces cannot drift apart.
//
// Supported keywords: type, properties, required, additionalProperties (bool or schema),
// items, enum, minimum, maximum, minLength, maxLength, pattern (only the patterns in
// PatternMatchers(), each matched by hand-written code), minItems, maxItems,
// nullable, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string, and
// x-berth-name-format ("dns1123-subdomain" | "dns1123-label") for names.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

// Appends one FieldCause per violation (e.g. {"spec.resource.gpuu", "unknown field"}) to
// `causes`. `path` is the JSON path of `value` ("" for the root). Never throws.
void CollectSchemaViolations(const nlohmann::json& schema, const nlohmann::json& value,
                             const std::string& path, std::vector<FieldCause>* causes);

// Removes the fields `schema` does not know (what CollectSchemaViolations reports as "unknown
// field"), appending each removed field's path to `pruned`: Kubernetes' fieldValidation=Ignore
// and Warn. Never throws; recursion follows the schema, not the value.
void PruneUnknownFields(const nlohmann::json& schema, nlohmann::json& value, const std::string& path,
                        std::vector<std::string>* pruned);

// OK, or Invalid listing every violation (at most 50, then a summary cause).
Status ValidateAgainstSchema(const nlohmann::json& schema, const nlohmann::json& value,
                             const std::string& what);

// DNS-1123 checks used for object names and label values (empty string on success,
// otherwise the reason).
// The schema `pattern`s the hub can enforce, with their matchers. A schema naming another
// pattern fails validation with an InternalError cause (kinds_test checks every kind's).
const std::map<std::string, bool (*)(std::string_view)>& PatternMatchers();

std::string CheckDns1123Subdomain(const std::string& s);
std::string CheckDns1123Label(const std::string& s);
// Kubernetes' ValidatePathSegmentName, for kinds whose names may hold ':' (RBAC roles such as
// "system:discovery"): not empty, not "." or "..", no '/' or '%'. Schema format "path-segment".
std::string CheckPathSegmentName(const std::string& s);
// Label keys ([prefix/]name) and values, per Kubernetes rules.
std::string CheckLabelKey(const std::string& key);
std::string CheckLabelValue(const std::string& value);

}  // namespace berth::api
