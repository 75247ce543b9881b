// Kubernetes' strategic merge patch (application/strategic-merge-patch+json), for the core
// kinds kubectl sends it for (Namespace, ConfigMap, Secret): kubectl has their Go types
// compiled in, so `kubectl apply`, `edit` and `patch` use it instead of a JSON merge patch.
//
// Semantics: maps merge recursively and a null deletes a key (as a JSON merge patch);
// lists are replaced, except the lists named in `ListMergeKeys`, which merge: a list of
// scalars as a union, a list of maps by its merge key. Directives:
//   "$patch": "replace" | "delete" in a map (replace it / remove it), "$patch": "delete" in
//   an element of a keyed list (remove the element with that key), {"$patch": "replace"}
//   as an element (the list is the other elements), "$retainKeys": [...] (keys of the
//   stored map not listed are dropped), "$setElementOrder/<list>": [...] (the order of a
//   merged list), "$deleteFromPrimitiveList/<list>": [...] (values removed from a scalar list).
// Anything else starting with "$" is a BadRequest naming it. Pure; never throws.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

// Dotted path of a list ("metadata.finalizers") → its merge key ("" for a list of scalars,
// merged as a set). Lists not named here are replaced by the patch.
using ListMergeKeys = std::map<std::string, std::string>;

// The merge keys ObjectMeta's lists have in Kubernetes: finalizers (a set) and
// ownerReferences (by uid).
const ListMergeKeys& ObjectMetaMergeKeys();

// Applies `patch` (a JSON object) to `original`. BadRequest for a malformed patch or an
// unknown directive.
StatusOr<nlohmann::json> ApplyStrategicMergePatch(const nlohmann::json& original,
                                                  const nlohmann::json& patch,
                                                  const ListMergeKeys& merge_keys);

}  // namespace berth::api
