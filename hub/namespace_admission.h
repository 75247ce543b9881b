// Which writes a namespace admits, decided as Kubernetes' NamespaceLifecycle admission
// decides it. Pure functions of the stored Namespace (or its absence); the object handlers
// call them before a write reaches ObjectApi. The hub's own controllers write through
// ObjectApi directly and only into namespaces that exist (`default`, and those of the
// objects they act on).
//
// - A create, update or patch of a namespaced object in a namespace that does not exist is
//   404 `namespaces "ml" not found` (details: kind namespaces, name ml).
// - A create in a namespace being deleted (deletionTimestamp set, or status.phase
//   Terminating) is 403 `<resource> "<name>" is forbidden: unable to create new content in
//   namespace ml because it is being terminated` with a NamespaceTerminating cause. Updates
//   and deletes there are admitted: the namespace controller needs them to empty it.
// - Deleting a namespace the hub itself writes into (`default`) is 403.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::hub {

// Storage key of core/v1 Namespaces.
inline constexpr const char* kNamespacesResource = "namespaces";
// The namespace the hub records cluster-scoped objects' Events in; it always exists.
inline constexpr const char* kDefaultNamespace = "default";

enum class NamespacedWrite { kCreate, kUpdate };

// True when the Namespace is being deleted.
bool IsTerminating(const nlohmann::json& ns);

// `ns_object`: the stored Namespace named `ns`, or null if there is none. `resource` is
// the written kind's resource ("workspaces.berth.dev", "configmaps"); `name` the object's
// name (may be empty for generateName).
Status AdmitNamespacedWrite(const std::string& ns, const nlohmann::json* ns_object, NamespacedWrite op,
                            const std::string& resource, const std::string& name);

// Forbidden for a namespace the hub cannot do without (`default`).
Status AdmitNamespaceDelete(const std::string& name);

}  // namespace berth::hub
