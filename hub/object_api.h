// Kubernetes object semantics over a Store: create (uid, generation, timestamps,
// generateName), update with optimistic concurrency, the status subresource, merge / JSON /
// apply patches, and deletion that honours finalizers. Shared by the HTTP server and the
// hub's in-process controllers so both follow the same rules.
//
// All calls are asynchronous: `done` runs on the store's writer thread once the result is
// durable, and must not block. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/store.h"

namespace berth::hub {

// kStrategic: only for kinds with KindInfo::strategic_merge_patch (the handler refuses it
// for the others with a 415).
enum class PatchType { kMerge, kJson, kApply, kStrategic };

// Maps a PATCH Content-Type to a PatchType; UnsupportedMedia for anything else.
StatusOr<PatchType> PatchTypeFromContentType(const std::string& content_type);

using ObjectCallback = std::function<void(StatusOr<nlohmann::json>)>;

// Kubernetes' fieldValidation: fields the schema does not know are an error (Strict, the
// default), dropped with a warning (Warn), or dropped silently (Ignore).
enum class FieldValidation { kStrict, kWarn, kIgnore };

// See WriteOptions::admit.
using WriteAdmission = std::function<Status(const nlohmann::json& next, const nlohmann::json* current)>;

struct WriteOptions {
  bool status = false;          // write through the /status subresource
  bool dry_run = false;         // validate and return the result without storing it
  // Recorded in managedFields (required for server-side apply; "berth-hub" when an
  // in-process writer leaves it empty).
  std::string field_manager;
  bool force = false;           // server-side apply: take ownership of conflicting fields
  FieldValidation field_validation = FieldValidation::kStrict;
  // Receives the texts of Warning headers for the reply (e.g. `unknown field "spec.x"` under
  // kWarn); filled on the store's writer thread before `done` runs. May be null.
  std::shared_ptr<std::vector<std::string>> warnings;
  // Admission of the object about to be stored (after validation, on create, update, patch
  // and apply; not on /status writes): an error refuses the write with that Status. Receives
  // the next object and the stored one (null on create). Runs on the store's writer thread:
  // pure and fast (the RBAC escalation checks).
  WriteAdmission admit;
};

struct DeleteOptions {
  std::optional<int64_t> precondition_rv;       // metadata.resourceVersion must match
  std::optional<std::string> precondition_uid;  // metadata.uid must match
  bool dry_run = false;                         // decide, but store nothing
};

class ObjectApi {
 public:
  // `registry` resolves the storage kind of view kinds (KindInfo::is_view); it may be
  // null when no view kinds are served.
  ObjectApi(Store& store, Clock& clock, const api::KindRegistry* registry = nullptr)
      : store_(store), clock_(clock), registry_(registry) {}
  const api::KindRegistry* registry() const { return registry_; }

  // `object` is the decoded body; its namespace defaults to `ns`.
  void Create(const api::KindInfo& kind, const std::string& ns, nlohmann::json object,
              const WriteOptions& options, ObjectCallback done);
  // Full replacement (PUT). A non-empty metadata.resourceVersion must match (Conflict).
  void Update(const api::KindInfo& kind, const std::string& ns, const std::string& name,
              nlohmann::json object, const WriteOptions& options, ObjectCallback done);
  void Patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
             PatchType type, std::string patch, const WriteOptions& options, ObjectCallback done);
  // Read-modify-write inside the store's transaction: `change` maps the stored object to the
  // next one (an error aborts), which then goes through the same checks as an update. Used by
  // subresources that are views of the object (/scale).
  using Change = std::function<StatusOr<nlohmann::json>(const nlohmann::json& current)>;
  void Modify(const api::KindInfo& kind, const std::string& ns, const std::string& name, Change change,
              const WriteOptions& options, ObjectCallback done);
  // Sets deletionTimestamp while finalizers remain; removes the object otherwise.
  // Preconditions (if set) must match. A dry run returns what the object would become
  // (for a removal: its last state) and stores nothing.
  void Delete(const api::KindInfo& kind, const std::string& ns, const std::string& name,
              const DeleteOptions& options, ObjectCallback done);

  Store& store() { return store_; }

  // Stamps uid, generation 1 and creationTimestamp on an object built by the hub itself.
  void InitializeNew(nlohmann::json& object);

 private:
  StatusOr<std::optional<nlohmann::json>> PrepareUpdate(const api::KindInfo& kind,
                                                        const nlohmann::json& current,
                                                        nlohmann::json next,
                                                        const WriteOptions& options,
                                                        bool ownership_recorded = false);
  // Server-side apply onto `current` (view shape; null when the object does not exist):
  // the merged object with its managedFields, or a Conflict naming managers and fields.
  StatusOr<nlohmann::json> ApplyPatch(const api::KindInfo& view, const nlohmann::json* current,
                                      nlohmann::json applied, const WriteOptions& options);
  // An object created by server-side apply: validated, stamped like any new object.
  StatusOr<std::optional<nlohmann::json>> NewFromApply(const api::KindInfo& kind, nlohmann::json obj,
                                                       const WriteOptions& options);
  // Submits the mutation to the store, or for a dry run computes it against the current
  // object and hands `done` the would-be result (a removal yields the current object)
  // without storing anything: no revision, no event, no controller wakes up.
  void SubmitOrDryRun(Mutation mutation, bool dry_run, ObjectCallback done);
  // Under fieldValidation Warn or Ignore, removes the fields `kind`'s schema does not know
  // (noting them in options.warnings for Warn); Strict leaves them for validation to refuse.
  static void DropUnknownFields(const api::KindInfo& kind, nlohmann::json& object, const WriteOptions& options);
  std::string NewUid();
  std::string RandomSuffix();

  // For a view kind: its storage kind, or an error if the registry cannot resolve it.
  StatusOr<const api::KindInfo*> StorageKind(const api::KindInfo& kind) const;
  // Converts a stored result to the view's shape.
  static ObjectCallback ToView(const api::KindInfo& view, ObjectCallback done);

  Store& store_;
  Clock& clock_;
  const api::KindRegistry* registry_;
};

}  // namespace berth::hub
