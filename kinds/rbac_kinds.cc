#include "kinds/rbac_kinds.h"

#include <algorithm>

#include "api/object.h"
#include "kinds/rbac_objects.h"

namespace berth::kinds {

using nlohmann::json;

namespace {

api::KindInfo RbacKind(std::string kind, std::string plural, bool namespaced, std::string description) {
  api::KindInfo k;
  k.group = rbac::kRbacGroup;
  k.version = "v1";
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.singular = k.kind;
  std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
  k.categories = {};
  k.namespaced = namespaced;
  k.has_status = false;
  k.description = std::move(description);
  // kubectl has these kinds' Go types and sends strategic merge patches (their lists are atomic).
  k.strategic_merge_patch = true;
  return k;
}

json StringList() { return {{"type", "array"}, {"items", {{"type", "string"}}}}; }

json RulesSchema() {
  json rule = {{"type", "object"},
               {"required", {"verbs"}},
               {"properties",
                {{"verbs", StringList()},
                 {"apiGroups", StringList()},
                 {"resources", StringList()},
                 {"resourceNames", StringList()},
                 {"nonResourceURLs", StringList()}}}};
  return {{"type", "array"}, {"items", rule}};
}

json RoleRefSchema() {
  return {{"type", "object"},
          {"required", {"apiGroup", "kind", "name"}},
          {"properties",
           {{"apiGroup", {{"type", "string"}}}, {"kind", {{"type", "string"}}}, {"name", {{"type", "string"}}}}}};
}

json SubjectsSchema() {
  json subject = {{"type", "object"},
                  {"required", {"kind", "name"}},
                  {"properties",
                   {{"kind", {{"type", "string"}}},
                    {"apiGroup", {{"type", "string"}}},
                    {"name", {{"type", "string"}}},
                    {"namespace", {{"type", "string"}}}}}};
  return {{"type", "array"}, {"items", subject}};
}

Status ValidateRole(const json& object) { return rbac::ParseRole(object).status(); }

// Kubernetes' ValidateRoleBindingUpdate: roleRef is immutable.
Status ValidateBinding(const json& object, const json* old) {
  BERTH_RETURN_IF_ERROR(rbac::ParseRoleBinding(object).status());
  if (old && api::JsonPathGet(*old, "roleRef") != api::JsonPathGet(object, "roleRef")) {
    const std::string kind = object.value("kind", "RoleBinding");
    return Status::Invalid(kind + ".rbac.authorization.k8s.io \"" + api::NameOf(object) +
                               "\" is invalid: roleRef: Invalid value: " +
                               api::JsonPathGet(object, "roleRef").dump() +
                               ": cannot change roleRef",
                           {{"roleRef", "cannot change roleRef", "FieldValueInvalid"}});
  }
  return Status::Ok();
}

json RoleRefCell(const json& o) {
  json ref = api::JsonPathGet(o, "roleRef");
  if (!ref.is_object()) return nullptr;
  return ref.value("kind", "") + "/" + ref.value("name", "");
}

json CreatedCell(const json& o) { return api::JsonPathGet(o, "metadata.creationTimestamp"); }

api::KindInfo RoleLike(std::string kind, std::string plural, bool namespaced, std::string description) {
  api::KindInfo k = RbacKind(std::move(kind), std::move(plural), namespaced, std::move(description));
  json body = {{"rules", RulesSchema()}};
  if (!namespaced) {
    body["aggregationRule"] = {{"type", "object"},
                               {"properties",
                                {{"clusterRoleSelectors",
                                  {{"type", "array"},
                                   {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}};
  }
  k.schema = api::MakeObjectSchema(k.description, body, nullptr);
  k.schema["properties"]["metadata"]["properties"]["name"]["x-berth-name-format"] = "path-segment";
  k.validate = [](const json& object, const json*) { return ValidateRole(object); };
  k.columns = {{"Created At", "string", "When the role was created", 0, CreatedCell}};
  return k;
}

api::KindInfo BindingLike(std::string kind, std::string plural, bool namespaced, std::string description) {
  api::KindInfo k = RbacKind(std::move(kind), std::move(plural), namespaced, std::move(description));
  k.schema = api::MakeObjectSchema(k.description, {{"roleRef", RoleRefSchema()}, {"subjects", SubjectsSchema()}},
                                   nullptr, {"roleRef"});
  k.schema["properties"]["metadata"]["properties"]["name"]["x-berth-name-format"] = "path-segment";
  k.validate = ValidateBinding;
  k.columns = {{"Role", "string", "The role granted", 0, RoleRefCell}};
  return k;
}

}  // namespace

api::KindInfo RoleKind() {
  return RoleLike("Role", "roles", true, "Rules granting access to resources of one namespace.");
}

api::KindInfo ClusterRoleKind() {
  return RoleLike("ClusterRole", "clusterroles", false,
                  "Rules granting access to resources of any namespace, cluster-scoped resources "
                  "or non-resource URLs, depending on how it is bound.");
}

api::KindInfo RoleBindingKind() {
  return BindingLike("RoleBinding", "rolebindings", true,
                     "Grants a Role or ClusterRole to users, groups and service accounts in its "
                     "namespace. roleRef cannot change.");
}

api::KindInfo ClusterRoleBindingKind() {
  return BindingLike("ClusterRoleBinding", "clusterrolebindings", false,
                     "Grants a ClusterRole to users, groups and service accounts everywhere. "
                     "roleRef cannot change.");
}

}  // namespace berth::kinds
