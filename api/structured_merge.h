// How an object's fields are identified and merged, per the kind's OpenAPI schema, as
// Kubernetes' structured merge does for server-side apply:
//   - an object with `properties` is a struct: each field is its own path, the object is not;
//   - an object with only `additionalProperties` is a granular map: the map is a member
//     (".") and so is each key; `x-kubernetes-map-type: atomic` makes it one leaf;
//   - a list is `x-kubernetes-list-type: atomic` unless the schema says otherwise (one leaf,
//     replaced whole), `set` (items by value, merged as a union) or `map` (items by the
//     values of `x-kubernetes-list-map-keys`, merged field by field);
//   - fields without a schema (x-kubernetes-preserve-unknown-fields) merge like structs,
//     and their lists are atomic.
// Pure functions of their inputs.
#pragma once

#include <nlohmann/json.hpp>

#include "api/field_set.h"

namespace berth::api {

// Every member path of `value` (nothing stripped: callers drop server-owned fields).
FieldSet FieldSetOf(const nlohmann::json& value, const nlohmann::json& schema);

// The members of `after` that are new or hold another value than in `before` (null: every
// member of `after`). A member with members below it (a map, a list item) counts as changed
// only when it did not exist.
FieldSet ChangedFields(const nlohmann::json* before, const nlohmann::json& after,
                       const nlohmann::json& schema);

// `live` with `applied` merged in: applied fields win, struct and granular-map fields the
// applied object does not name stay, set-lists are a union (live order, new values after)
// and map-lists merge item by item (live order, new items after). Atomic values replace.
nlohmann::json MergeApplied(const nlohmann::json& live, const nlohmann::json& applied,
                            const nlohmann::json& schema);

// Removes nulls from objects at every depth (an applied null names no field).
void DropNulls(nlohmann::json& value);

}  // namespace berth::api
