#include "kinds/core_kinds.h"

#include <algorithm>

#include "api/object.h"
#include "kinds/config_data.h"

namespace berth::kinds {

using nlohmann::json;

namespace {

api::KindInfo CoreKind(std::string kind, std::string plural, std::vector<std::string> short_names,
                       std::string description) {
  api::KindInfo k;
  k.group = "";
  k.version = "v1";
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.singular = k.kind;
  std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
  k.short_names = std::move(short_names);
  k.categories = {};
  k.has_status = false;
  k.description = std::move(description);
  // kubectl sends strategic merge patches for these kinds (it has their Go types).
  k.strategic_merge_patch = true;
  return k;
}

const json kStringMap = {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};

json CountOf(const json& o, std::initializer_list<const char*> maps) {
  size_t n = 0;
  for (const char* m : maps) {
    json v = api::JsonPathGet(o, m);
    if (v.is_object()) n += v.size();
  }
  return n;
}

}  // namespace

api::KindInfo NamespaceKind() {
  api::KindInfo k = CoreKind("Namespace", "namespaces", {"ns"},
                             "A scope for names. Deleting one deletes everything in it.");
  k.namespaced = false;
  k.has_status = true;
  json spec = {{"type", "object"},
               {"properties",
                {{"finalizers", {{"type", "array"}, {"items", {{"type", "string"}}},
                                 {"description", "Deletion waits until the namespace controller "
                                                 "has emptied the namespace and removed "
                                                 "\"kubernetes\" from this list."}}}}}};
  json status = {{"type", "object"},
                 {"properties",
                  {{"phase", {{"type", "string"}, {"enum", {"Active", "Terminating"}}}},
                   {"conditions", {{"type", "array"},
                                   {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}};
  k.schema = api::MakeObjectSchema(k.description, {{"spec", spec}}, status);
  // Namespace names are DNS-1123 labels (they become parts of other names).
  k.schema["properties"]["metadata"]["properties"]["name"]["x-berth-name-format"] = "dns1123-label";
  k.columns = {{"Status", "string", "Active, or Terminating once deleted", 0, [](const json& o) -> json {
                  if (api::IsBeingDeleted(o)) return "Terminating";
                  json phase = api::JsonPathGet(o, "status.phase");
                  return phase.is_string() ? phase : json("Active");
                }}};
  k.prepare_for_storage = [](json& ns, const json* old) {
    ns["metadata"]["labels"][kNamespaceNameLabel] = api::NameOf(ns);
    if (old) {  // as Kubernetes: spec.finalizers and status change only through the controller
      json fin = api::JsonPathGet(*old, "spec.finalizers");
      if (fin.is_array()) {
        ns["spec"]["finalizers"] = fin;
      } else if (ns.contains("spec") && ns["spec"].is_object()) {
        ns["spec"].erase("finalizers");
      }
      return;
    }
    json& fin = ns["spec"]["finalizers"];
    if (!fin.is_array()) fin = json::array();
    if (std::find(fin.begin(), fin.end(), kNamespaceFinalizer) == fin.end()) fin.push_back(kNamespaceFinalizer);
    ns["status"] = {{"phase", "Active"}};
  };
  return k;
}

api::KindInfo ConfigMapKind() {
  api::KindInfo k = CoreKind("ConfigMap", "configmaps", {"cm"}, "Configuration data as key/value pairs.");
  k.schema = api::MakeObjectSchema(
      k.description,
      {{"data", kStringMap},
       {"binaryData", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}},
                       {"description", "Base64-encoded values."}}},
       {"immutable", {{"type", "boolean"}}}},
      nullptr);
  k.validate = [](const json& object, const json* old) { return ValidateConfigMap(object, old); };
  k.columns = {{"Data", "integer", "Number of keys in data and binaryData", 0,
                [](const json& o) -> json { return CountOf(o, {"data", "binaryData"}); }}};
  return k;
}

api::KindInfo SecretKind() {
  api::KindInfo k = CoreKind("Secret", "secrets", {},
                             "Confidential data (base64 in data; plain text may be written as "
                             "stringData). Encrypted at rest by the hub.");
  k.schema = api::MakeObjectSchema(
      k.description,
      {{"data", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}},
                 {"description", "Base64-encoded values."}}},
       {"stringData", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}},
                       {"description", "Write-only plain-text values, merged into data."}}},
       {"type", {{"type", "string"}, {"description", "Opaque (default), kubernetes.io/tls, ..."}}},
       {"immutable", {{"type", "boolean"}}}},
      nullptr);
  k.selectable_fields = {"metadata.name", "metadata.namespace", "type"};
  k.validate = [](const json& object, const json* old) { return ValidateSecret(object, old); };
  k.prepare_for_storage = [](json& secret, const json*) { FoldSecretStringData(secret); };
  k.columns = {
      {"Type", "string", "Secret type", 0, [](const json& o) -> json { return api::JsonPathGet(o, "type"); }},
      {"Data", "integer", "Number of keys", 0, [](const json& o) -> json { return CountOf(o, {"data"}); }},
  };
  return k;
}

}  // namespace berth::kinds
