#include "hub/object_api.h"

#include <random>

#include "api/field_ownership.h"
#include "api/object.h"
#include "api/schema.h"
#include "api/strategic_merge_patch.h"
#include "api/yaml_json.h"

namespace berth::hub {

using nlohmann::json;

namespace {

// Fields the server owns; clients cannot change them through a spec update.
void CarryServerMetadata(const json& current, json& next) {
  json& meta = next["metadata"];
  const json& cur = current["metadata"];
  for (const char* f : {"uid", "creationTimestamp", "generation", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "namespace", "name"}) {
    if (cur.contains(f)) {
      meta[f] = cur[f];
    } else {
      meta.erase(f);
    }
  }
  meta.erase("selfLink");
}

ObjectRef RefFor(const api::KindInfo& kind, const std::string& ns, const std::string& name) {
  return ObjectRef{kind.resource(), kind.namespaced ? ns : "", name};
}

Status CheckPreconditionRv(const json& body, const json& current, const api::KindInfo& kind) {
  int64_t want = api::ResourceVersionOf(body);
  std::string raw = api::JsonPathGet(body, "metadata.resourceVersion").is_string()
                        ? body["metadata"]["resourceVersion"].get<std::string>()
                        : "";
  if (!raw.empty() && want == 0) {
    return Status::BadRequest("metadata.resourceVersion \"" + raw + "\" is not a valid version");
  }
  if (want != 0 && want != api::ResourceVersionOf(current)) {
    return Status::Conflict("Operation cannot be fulfilled on " + kind.resource() + " \"" +
                            api::NameOf(current) +
                            "\": the object has been modified; please apply your changes to "
                            "the latest version and try again");
  }
  return Status::Ok();
}

// Who a write is recorded as in managedFields. In-process writers (the hub's controllers)
// that name no manager are "berth-hub"; the HTTP layer always names one.
api::FieldWriter WriterFor(const api::KindInfo& kind, const WriteOptions& options, const std::string& now) {
  return {options.field_manager.empty() ? "berth-hub" : options.field_manager, kind.api_version(), now,
          options.status ? "status" : "", kind.has_status};
}

// The managedFields an update starts from: the stored ones, or none when the client sends
// `managedFields: [{}]` (Kubernetes' way to reset them). Anything else a client sends is
// ignored: ownership is the server's record.
void StartFromStoredManagedFields(const json& current, json& next) {
  const json sent = api::JsonPathGet(next, "metadata.managedFields");
  const json stored = api::JsonPathGet(current, "metadata.managedFields");
  if (sent == json::array({json::object()})) {
    next["metadata"]["managedFields"] = json::array();
  } else if (stored.is_null()) {
    next["metadata"].erase("managedFields");
  } else {
    next["metadata"]["managedFields"] = stored;
  }
}

}  // namespace

StatusOr<PatchType> PatchTypeFromContentType(const std::string& content_type) {
  if (content_type.find("application/merge-patch+json") == 0) return PatchType::kMerge;
  if (content_type.find("application/json-patch+json") == 0) return PatchType::kJson;
  if (content_type.find("application/apply-patch+yaml") == 0) return PatchType::kApply;
  if (content_type.find("application/strategic-merge-patch+json") == 0) return PatchType::kStrategic;
  return Status(StatusCode::kUnsupportedMedia,
                "unsupported patch content type \"" + content_type +
                    "\": use application/merge-patch+json, application/json-patch+json or "
                    "application/apply-patch+yaml");
}

std::string ObjectApi::NewUid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<uint64_t> dist;
  uint64_t a = dist(rng), b = dist(rng);
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string ObjectApi::RandomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kChars = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += kChars[rng() % 27];
  return s;
}

StatusOr<const api::KindInfo*> ObjectApi::StorageKind(const api::KindInfo& kind) const {
  const api::KindInfo* storage = registry_ ? registry_->ByStorageKey(kind.storage_resource) : nullptr;
  if (!storage) return Status::Internal("no storage kind " + kind.storage_resource + " for " + kind.kind);
  return storage;
}

ObjectCallback ObjectApi::ToView(const api::KindInfo& view, ObjectCallback done) {
  return [&view, done = std::move(done)](StatusOr<json> r) {
    if (!r.ok()) return done(r.status());
    auto v = view.to_view(*r);
    if (!v) return done(Status::Internal("stored object is not visible as " + view.api_version()));
    done(std::move(*v));
  };
}

void ObjectApi::InitializeNew(json& object) {
  object["metadata"]["uid"] = NewUid();
  object["metadata"]["generation"] = 1;
  object["metadata"]["creationTimestamp"] = FormatRfc3339(clock_.Now());
}

void ObjectApi::DropUnknownFields(const api::KindInfo& kind, json& object, const WriteOptions& options) {
  if (options.field_validation == FieldValidation::kStrict || !object.is_object()) return;
  std::vector<std::string> pruned;
  api::PruneUnknownFields(kind.schema, object, "", &pruned);
  if (options.field_validation != FieldValidation::kWarn || !options.warnings) return;
  for (const auto& path : pruned) options.warnings->push_back("unknown field \"" + path + "\"");
}

void ObjectApi::Create(const api::KindInfo& kind, const std::string& ns, json object,
                       const WriteOptions& options, ObjectCallback done) {
  DropUnknownFields(kind, object, options);
  if (kind.is_view()) {
    auto storage = StorageKind(kind);
    if (!storage.ok()) return done(storage.status());
    auto converted = kind.to_storage(object);
    if (!converted.ok()) return done(converted.status());
    return Create(**storage, ns, std::move(*converted), options, ToView(kind, std::move(done)));
  }
  if (!object.contains("metadata") || !object["metadata"].is_object()) object["metadata"] = json::object();
  // Built-in (core) kinds take their type from the URL when the body names none, as the
  // Kubernetes API server decodes into the endpoint's type (typed clients such as the Python
  // client's CoreV1Api send no apiVersion/kind unless the caller set them).
  if (kind.group.empty() && !object.contains("apiVersion") && !object.contains("kind")) {
    object["apiVersion"] = kind.api_version();
    object["kind"] = kind.kind;
  }
  json& meta = object["metadata"];
  if (kind.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && !ns.empty() && body_ns != ns) {
      return done(Status::BadRequest("the namespace of the object (" + body_ns +
                                     ") does not match the namespace of the request (" + ns + ")"));
    }
    meta["namespace"] = ns.empty() ? (body_ns.empty() ? "default" : body_ns) : ns;
  }
  if (meta.value("name", "").empty() && !meta.value("generateName", "").empty()) {
    meta["name"] = meta["generateName"].get<std::string>() + RandomSuffix();
  }
  if (options.status) return done(Status(StatusCode::kMethodNotAllowed, "create through /status is not allowed"));
  if (!meta.value("resourceVersion", "").empty()) {
    return done(Status::BadRequest("metadata.resourceVersion must not be set on create"));
  }
  if (Status s = api::ValidateObject(kind, object); !s.ok()) return done(s);
  if (kind.validate) {
    if (Status s = kind.validate(object, nullptr); !s.ok()) return done(s);
  }
  if (options.admit) {
    if (Status s = options.admit(object, nullptr); !s.ok()) return done(s);
  }
  // Status is written by controllers through /status, never by create.
  if (kind.has_status) object.erase("status");
  if (kind.prepare_for_storage) kind.prepare_for_storage(object, nullptr);
  meta["uid"] = NewUid();
  meta["generation"] = 1;
  meta["creationTimestamp"] = FormatRfc3339(clock_.Now());
  meta.erase("deletionTimestamp");
  meta.erase("selfLink");
  meta["managedFields"] = json::array();
  ObjectRef ref = RefFor(kind, meta.value("namespace", ""), meta["name"]);
  object = api::RecordUpdateOwnership(nullptr, std::move(object), kind.schema,
                                      WriterFor(kind, options, FormatRfc3339(clock_.Now())));
  SubmitOrDryRun({ref, [object = std::move(object), kind_name = kind.kind](const json* current)
                           -> StatusOr<std::optional<json>> {
                    if (current) {
                      return Status::AlreadyExists(kind_name + " \"" + api::NameOf(object) +
                                                   "\" already exists");
                    }
                    return std::optional<json>(object);
                  }},
                 options.dry_run, std::move(done));
}

StatusOr<std::optional<json>> ObjectApi::PrepareUpdate(const api::KindInfo& kind, const json& current,
                                                       json next, const WriteOptions& options,
                                                       bool ownership_recorded) {
  if (!next.is_object()) return Status::BadRequest("the object must be a JSON object");
  BERTH_RETURN_IF_ERROR(api::CheckMetadataTypes(next));
  if (!next.contains("metadata") || !next["metadata"].is_object()) next["metadata"] = json::object();
  std::string body_name = next["metadata"].value("name", "");
  if (!body_name.empty() && body_name != api::NameOf(current)) {
    return Status::BadRequest("the name of the object (" + body_name +
                              ") does not match the name on the URL (" + api::NameOf(current) + ")");
  }
  BERTH_RETURN_IF_ERROR(CheckPreconditionRv(next, current, kind));
  if (options.status) {
    // Only status changes through /status; everything else stays as stored.
    json merged = current;
    if (next.contains("status")) {
      merged["status"] = next["status"];
    } else {
      merged.erase("status");
    }
    // A server-side apply through /status has recorded its ownership of the status fields.
    if (ownership_recorded) merged["metadata"]["managedFields"] = api::JsonPathGet(next, "metadata.managedFields");
    next = std::move(merged);
  } else {
    CarryServerMetadata(current, next);
    if (kind.has_status) {
      if (current.contains("status")) {
        next["status"] = current["status"];
      } else {
        next.erase("status");
      }
    }
    if (api::IsBeingDeleted(current)) {
      // Kubernetes allows removing finalizers during deletion but not adding new ones.
      json cur_f = api::JsonPathGet(current, "metadata.finalizers");
      json new_f = api::JsonPathGet(next, "metadata.finalizers");
      if (new_f.is_array()) {
        for (const auto& f : new_f) {
          bool known = cur_f.is_array() && std::find(cur_f.begin(), cur_f.end(), f) != cur_f.end();
          if (!known) {
            return Status::Invalid("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers " + f.dump(),
                                   {{"metadata.finalizers", "no new finalizers can be added if the object is being deleted", "FieldValueForbidden"}});
          }
        }
      }
    }
  }
  next["apiVersion"] = next.value("apiVersion", kind.api_version());
  next["kind"] = next.value("kind", kind.kind);
  BERTH_RETURN_IF_ERROR(api::ValidateObject(kind, next));
  if (kind.validate && !options.status) BERTH_RETURN_IF_ERROR(kind.validate(next, &current));
  if (options.admit && !options.status) BERTH_RETURN_IF_ERROR(options.admit(next, &current));
  if (kind.prepare_for_storage && !options.status) kind.prepare_for_storage(next, &current);
  if (!ownership_recorded) {  // of what is stored (a Secret's stringData is data by now)
    StartFromStoredManagedFields(current, next);
    next = api::RecordUpdateOwnership(&current, std::move(next), kind.schema,
                                      WriterFor(kind, options, FormatRfc3339(clock_.Now())));
  }
  if (api::DesiredStateOf(next) != api::DesiredStateOf(current)) {
    next["metadata"]["generation"] = api::GenerationOf(current) + 1;
  }
  if (api::IsBeingDeleted(next) && !api::HasFinalizers(next)) return std::optional<json>();  // delete now
  json cmp_next = next, cmp_cur = current;
  cmp_next["metadata"].erase("resourceVersion");
  cmp_cur["metadata"].erase("resourceVersion");
  if (cmp_next == cmp_cur) {
    // A no-op write keeps the resourceVersion, as Kubernetes does; the store re-stamps it,
    // so signal "unchanged" by returning the current object itself.
    return std::optional<json>(current);
  }
  return std::optional<json>(std::move(next));
}

void ObjectApi::Update(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                       json object, const WriteOptions& options, ObjectCallback done) {
  if (!options.status) DropUnknownFields(kind, object, options);
  if (kind.is_view()) {
    auto storage = StorageKind(kind);
    if (!storage.ok()) return done(storage.status());
    auto converted = kind.to_storage(object);
    if (!converted.ok()) return done(converted.status());
    return Update(**storage, ns, name, std::move(*converted), options, ToView(kind, std::move(done)));
  }
  ObjectRef ref = RefFor(kind, ns, name);
  SubmitOrDryRun({ref, [this, &kind, object = std::move(object), options](const json* current)
                           -> StatusOr<std::optional<json>> {
                    if (!current) {
                      return Status::NotFound(kind.kind + " \"" + api::NameOf(object) + "\" not found");
                    }
                    return PrepareUpdate(kind, *current, object, options);
                  }},
                 options.dry_run, std::move(done));
}

void ObjectApi::Patch(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                      PatchType type, std::string patch, const WriteOptions& options,
                      ObjectCallback done) {
  json patch_doc;
  if (type == PatchType::kApply) {
    auto parsed = api::YamlToJson(patch);
    if (!parsed.ok()) return done(parsed.status());
    patch_doc = std::move(*parsed);
    if (!patch_doc.is_object()) return done(Status::BadRequest("apply patch must be an object"));
    if (Status st = api::CheckMetadataTypes(patch_doc); !st.ok()) return done(st);
    if (options.field_manager.empty()) {
      return done(Status::BadRequest("fieldManager is required for apply patch"));
    }
  } else {
    auto parsed = api::ParseJson(patch, "invalid patch");
    if (!parsed.ok()) return done(parsed.status());
    patch_doc = std::move(*parsed);
    if (type == PatchType::kStrategic && !patch_doc.is_object()) {
      return done(Status::BadRequest("a strategic merge patch must be a JSON object"));
    }
    if (type == PatchType::kJson && !patch_doc.is_array()) {
      return done(Status::BadRequest("a JSON patch must be an array of operations"));
    }
    if (type == PatchType::kMerge && !patch_doc.is_object()) {
      return done(Status::BadRequest("a merge patch must be a JSON object"));
    }
  }
  const api::KindInfo* target = &kind;  // the kind objects are stored as
  if (kind.is_view()) {
    auto storage = StorageKind(kind);
    if (!storage.ok()) return done(storage.status());
    target = *storage;
    done = ToView(kind, std::move(done));
  }
  ObjectRef ref = RefFor(*target, ns, name);
  auto transform = [this, &view = kind, &kind = *target, type, patch_doc, options, ns, name](
                       const json* stored) -> StatusOr<std::optional<json>> {
    // For a view kind the patch applies to the view's shape, then converts back.
    std::optional<json> view_current;
    const json* current = stored;
    if (view.is_view() && stored) {
      view_current = view.to_view(*stored);
      if (!view_current) return Status::NotFound(view.kind + " \"" + name + "\" not found");
      current = &*view_current;
    }
    auto to_store = [&](json obj) -> StatusOr<json> {
      if (!view.is_view()) return obj;
      return view.to_storage(obj);
    };
    if (type == PatchType::kApply) {
      if (!current && options.status) return Status::NotFound(view.kind + " \"" + name + "\" not found");
      auto applied = ApplyPatch(view, current, patch_doc, options);
      if (!applied.ok()) return applied.status();
      if (!current) {  // server-side apply creates the object when it is missing
        (*applied)["metadata"]["name"] = name;
        if (kind.namespaced) (*applied)["metadata"]["namespace"] = ns;
        auto converted = to_store(std::move(*applied));
        if (!converted.ok()) return converted.status();
        return NewFromApply(kind, std::move(*converted), options);
      }
      auto converted = to_store(std::move(*applied));
      if (!converted.ok()) return converted.status();
      return PrepareUpdate(kind, *stored, std::move(*converted), options, /*ownership_recorded=*/true);
    }
    if (!current) return Status::NotFound(kind.kind + " \"" + name + "\" not found");
    json next;
    try {
      if (type == PatchType::kJson) {
        next = current->patch(patch_doc);
      } else if (type == PatchType::kStrategic) {
        auto patched = api::ApplyStrategicMergePatch(*current, patch_doc, api::ObjectMetaMergeKeys());
        if (!patched.ok()) return patched.status();
        next = std::move(*patched);
      } else {
        next = *current;
        next.merge_patch(patch_doc);
      }
    } catch (const json::exception& e) {
      return Status::Invalid(std::string("the patch cannot be applied: ") + e.what());
    }
    if (!options.status) DropUnknownFields(view, next, options);
    // A patch that names no resourceVersion is unconditional: `next` started from the
    // current object, so it already carries the current version.
    auto converted = to_store(std::move(next));
    if (!converted.ok()) return converted.status();
    return PrepareUpdate(kind, *stored, std::move(*converted), options);
  };
  SubmitOrDryRun({ref, std::move(transform)}, options.dry_run, std::move(done));
}

void ObjectApi::Modify(const api::KindInfo& kind, const std::string& ns, const std::string& name, Change change,
                       const WriteOptions& options, ObjectCallback done) {
  ObjectRef ref = RefFor(kind, ns, name);
  SubmitOrDryRun({ref, [this, &kind, name, change = std::move(change), options](const json* current)
                           -> StatusOr<std::optional<json>> {
                    if (!current) return Status::NotFound(kind.kind + " \"" + name + "\" not found");
                    auto next = change(*current);
                    if (!next.ok()) return next.status();
                    return PrepareUpdate(kind, *current, std::move(*next), options);
                  }},
                 options.dry_run, std::move(done));
}

StatusOr<json> ObjectApi::ApplyPatch(const api::KindInfo& view, const json* current, json applied,
                                     const WriteOptions& options) {
  // The applied configuration names fields; the server's own (status through its
  // subresource, the version, the ownership record) are not the applier's to set.
  if (options.status) {
    // Through /status only status is applied (and owned); the rest is the object's as stored.
    json only = json::object();
    for (const char* key : {"apiVersion", "kind", "status"}) {
      if (applied.contains(key)) only[key] = applied[key];
    }
    if (applied.contains("metadata") && applied["metadata"].is_object()) {
      for (const char* key : {"name", "namespace"}) {
        if (applied["metadata"].contains(key)) only["metadata"][key] = applied["metadata"][key];
      }
    }
    applied = std::move(only);
  } else if (view.has_status) {
    applied.erase("status");
  }
  DropUnknownFields(view, applied, options);
  if (applied.contains("metadata") && applied["metadata"].is_object()) {
    applied["metadata"].erase("resourceVersion");
    applied["metadata"].erase("managedFields");
  }
  return api::ApplyWithOwnership(current, std::move(applied), view.schema,
                                 WriterFor(view, options, FormatRfc3339(clock_.Now())), options.force);
}

StatusOr<std::optional<json>> ObjectApi::NewFromApply(const api::KindInfo& kind, json obj,
                                                       const WriteOptions& options) {
  BERTH_RETURN_IF_ERROR(api::ValidateObject(kind, obj));
  if (kind.validate) BERTH_RETURN_IF_ERROR(kind.validate(obj, nullptr));
  if (options.admit) BERTH_RETURN_IF_ERROR(options.admit(obj, nullptr));
  if (kind.has_status) obj.erase("status");
  if (kind.prepare_for_storage) kind.prepare_for_storage(obj, nullptr);
  InitializeNew(obj);
  return std::optional<json>(std::move(obj));
}

void ObjectApi::Delete(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                       const DeleteOptions& options, ObjectCallback done) {
  const api::KindInfo* target = &kind;
  if (kind.is_view()) {
    auto storage = StorageKind(kind);
    if (!storage.ok()) return done(storage.status());
    target = *storage;
    done = ToView(kind, std::move(done));
  }
  ObjectRef ref = RefFor(*target, ns, name);
  const auto& precondition_rv = options.precondition_rv;
  const auto& precondition_uid = options.precondition_uid;
  SubmitOrDryRun(
      {ref, [this, &kind, name, precondition_rv, precondition_uid](const json* current)
                -> StatusOr<std::optional<json>> {
         if (!current || (kind.is_view() && !kind.to_view(*current))) {
           return Status::NotFound(kind.kind + " \"" + name + "\" not found");
         }
         if (precondition_rv && *precondition_rv != api::ResourceVersionOf(*current)) {
           return Status::Conflict("Precondition failed: resourceVersion " +
                                   std::to_string(*precondition_rv) + " does not match " +
                                   std::to_string(api::ResourceVersionOf(*current)));
         }
         if (precondition_uid && *precondition_uid != api::UidOf(*current)) {
           return Status::Conflict("Precondition failed: UID " + *precondition_uid +
                                   " does not match " + api::UidOf(*current));
         }
         if (!api::HasFinalizers(*current)) return std::optional<json>();
         if (api::IsBeingDeleted(*current)) return std::optional<json>(*current);
         json next = *current;
         next["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
         next["metadata"]["deletionGracePeriodSeconds"] = 0;
         return std::optional<json>(std::move(next));
       }},
      options.dry_run, std::move(done));
}

void ObjectApi::SubmitOrDryRun(Mutation mutation, bool dry_run, ObjectCallback done) {
  if (!dry_run) return store_.Submit(std::move(mutation), std::move(done));
  auto stored = store_.Get(mutation.ref);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) return done(stored.status());
  const json* current = stored.ok() ? &*stored : nullptr;
  // As the store runs a transform: an exception is our bug, answered as a 500.
  StatusOr<std::optional<json>> next = RunTransform(mutation.transform, current);
  if (!next.ok()) return done(next.status());
  if (next->has_value()) return done(std::move(**next));
  if (current) return done(*current);  // a removal: the object as it was last stored
  done(Status::Internal("dry run of " + mutation.ref.name + " produced no object"));
}

}  // namespace berth::hub
