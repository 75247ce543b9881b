// Objects are held as JSON (like Kubernetes' unstructured objects); kinds give them a
// schema and components parse the typed parts they own. This header has the strict
// codec and the metadata accessors shared by the hub, the agent and the CLI.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/kinds.h"
#include "api/status.h"

namespace berth::api {

// Largest encoded object the hub accepts (etcd's default request limit is 1.5 MiB).
inline constexpr size_t kMaxObjectBytes = 1536 * 1024;
// Largest total size of an object's annotations (Kubernetes' limit).
inline constexpr size_t kMaxAnnotationBytes = 256 * 1024;

// Decodes a request body as JSON or YAML (by content type; YAML also accepts JSON).
// TooLarge over `max_bytes`; BadRequest with the parser's position on syntax errors;
// BadRequest if the document is not a JSON object.
StatusOr<nlohmann::json> DecodeBody(std::string_view body, std::string_view content_type,
                                    size_t max_bytes = kMaxObjectBytes);

// Strict validation of a whole object against its kind: apiVersion and kind must match
// (BadRequest otherwise), every field must be known to the schema and well typed
// (Invalid with field paths), name/namespace are DNS-1123, label keys/values valid,
// annotations within size. `require_name` is false for generateName creates.
// The fields the hub reads as text (apiVersion, kind, metadata.name, namespace,
// generateName, resourceVersion, uid) are strings (or absent): Invalid naming the field
// otherwise. DecodeBody and ValidateObject check it.
Status CheckMetadataTypes(const nlohmann::json& object);

Status ValidateObject(const KindInfo& kind, const nlohmann::json& object, bool require_name = true);

// Metadata accessors; missing fields read as empty/zero.
std::string NameOf(const nlohmann::json& object);
std::string NamespaceOf(const nlohmann::json& object);
std::string UidOf(const nlohmann::json& object);
int64_t ResourceVersionOf(const nlohmann::json& object);  // 0 if absent or unparsable
int64_t GenerationOf(const nlohmann::json& object);
std::map<std::string, std::string> LabelsOf(const nlohmann::json& object);
// Whether something still holds the object's deletion: metadata.finalizers, and for a core
// v1 Namespace also spec.finalizers (its "kubernetes" finalizer is removed by the namespace
// controller once the namespace is empty, as in Kubernetes).
bool HasFinalizers(const nlohmann::json& object);
bool IsBeingDeleted(const nlohmann::json& object);

// The desired state: the object without apiVersion, kind, metadata and status. A change
// of it bumps metadata.generation (KAITO-style kinds keep it at the top level, others
// under "spec"; both are covered).
nlohmann::json DesiredStateOf(const nlohmann::json& object);

// "ns/name" or "name" for cluster-scoped objects.
std::string KeyOf(const nlohmann::json& object);

}  // namespace berth::api
