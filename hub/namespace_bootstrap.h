// The namespaces that exist from the start. At every hub start, before the API is served:
// `default` (the hub records the Events of cluster-scoped objects there, and it is where
// objects go that name no namespace), and every namespace an object is stored in. The
// latter matters on upgrade: a store written by a hub that had no Namespace kind holds
// Workspaces, policies and Events in namespaces nobody created, and they must not become
// unreachable (writes into a missing namespace are refused, hub/namespace_admission.h).
// Blocking: call it before the controllers and the API server start.
#pragma once

#include <string>
#include <vector>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/object_api.h"

namespace berth::hub {

// Creates the missing namespaces through ObjectApi (so they get their finalizer, phase and
// name label) and returns their names.
StatusOr<std::vector<std::string>> EnsureNamespaces(ObjectApi& objects, const api::KindRegistry& registry);

}  // namespace berth::hub
