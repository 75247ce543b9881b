// Who set which field of an object — Kubernetes' `metadata.managedFields` — and the two
// ways ownership changes:
//   - Server-side apply (PATCH application/apply-patch+yaml): the applier owns exactly the
//     fields of its applied configuration. Setting a field another manager owns to another
//     value is a conflict (409 naming the manager and the fields) unless forced, which takes
//     the field over. A field the applier owned before and no longer applies is removed from
//     the object unless another manager owns it too. Applying a value another manager
//     already set shares the field.
//   - Any other write (create, update, merge or JSON patch, status update): the writer takes
//     the fields it changed, from whoever owned them; fields it removed belong to nobody.
// Entries are per (manager, operation, subresource). What the server owns (apiVersion,
// kind, name, namespace, uid, resourceVersion, generation, timestamps, managedFields) is in
// no set; `status` is in the /status subresource's sets when the kind has one.
// Pure functions of their inputs: the caller passes the time.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/field_set.h"
#include "api/status.h"

namespace berth::api {

struct ManagedFieldsEntry {
  std::string manager;
  std::string operation;    // "Apply" | "Update"
  std::string api_version;
  std::string time;         // RFC 3339
  std::string subresource;  // "" | "status"
  FieldSet fields;
};

// The entries of `object`'s metadata.managedFields; entries that do not parse are skipped
// (the hub writes them, so a bad one is an old or hand-edited store, not input).
std::vector<ManagedFieldsEntry> ReadManagedFields(const nlohmann::json& object);
nlohmann::json ManagedFieldsJson(const std::vector<ManagedFieldsEntry>& entries);

// The manager of a write. `status_subresource`: the kind serves /status, so `status` is
// owned through it and not through the main resource.
struct FieldWriter {
  std::string manager;
  std::string api_version;
  std::string now;                  // RFC 3339, stamped on entries that change
  std::string subresource;          // "" | "status"
  bool status_subresource = true;
};

// The fields of `object` a writer through `subresource` can own.
FieldSet OwnableFields(const nlohmann::json& object, const nlohmann::json& schema,
                       const FieldWriter& writer);

// Server-side apply of `applied` onto `live` (null: the object does not exist yet).
// Returns the new object, its managedFields updated, or a Conflict whose causes name each
// conflicting field (reason FieldManagerConflict). The caller validates the result.
StatusOr<nlohmann::json> ApplyWithOwnership(const nlohmann::json* live, nlohmann::json applied,
                                            const nlohmann::json& schema, const FieldWriter& writer,
                                            bool force);

// Records a non-apply write: `next` carries the managedFields to start from (normally
// the stored object's); `old` is the stored object (null on create). Returns `next` with
// its managedFields updated.
nlohmann::json RecordUpdateOwnership(const nlohmann::json* old, nlohmann::json next,
                                     const nlohmann::json& schema, const FieldWriter& writer);

// A fieldManager as Kubernetes derives one from a User-Agent: the part before the first
// "/" ("kubectl/v1.28.2 (linux/amd64)" → "kubectl"), at most 128 characters; "unknown"
// when there is none.
std::string FieldManagerFromUserAgent(const std::string& user_agent);

}  // namespace berth::api
