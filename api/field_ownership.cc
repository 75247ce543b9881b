#include "api/field_ownership.h"

#include <map>

#include "api/structured_merge.h"

namespace berth::api {

using nlohmann::json;

namespace {

// Fields the server sets: never in anyone's set.
const std::vector<FieldPath>& ServerFields() {
  static const std::vector<FieldPath> kFields = [] {
    std::vector<FieldPath> out = {{"f:apiVersion"}, {"f:kind"}, {"f:metadata"}};
    for (const char* f : {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                          "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}) {
      out.push_back({"f:metadata", std::string("f:") + f});
    }
    return out;
  }();
  return kFields;
}

json ManagedFieldsOf(const json& object) {
  if (!object.is_object()) return nullptr;
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return nullptr;
  auto mf = md->find("managedFields");
  return mf == md->end() ? json(nullptr) : *mf;
}

// apiVersion, kind, metadata itself and the metadata fields the server sets (or below them).
bool IsServerField(const FieldPath& path) {
  if (path.empty()) return false;
  if (path[0] == "f:apiVersion" || path[0] == "f:kind") return true;
  if (path[0] != "f:metadata") return false;
  if (path.size() == 1) return true;
  for (const auto& f : ServerFields()) {
    if (f.size() == 2 && f[1] == path[1]) return true;
  }
  return false;
}

// A field of a map-list item that is one of the item's keys ("f:name" under k:{"name":..}).
bool IsItemKey(const FieldPath& path) {
  if (path.size() < 2 || path.back().rfind("f:", 0) != 0) return false;
  const std::string& parent = path[path.size() - 2];
  if (parent.rfind("k:", 0) != 0) return false;
  const json keys = json::parse(parent.substr(2), nullptr, false);
  return keys.is_object() && keys.contains(path.back().substr(2));
}

// Removes what nobody owns any more, then parents this leaves empty that nobody owns.
void RemoveUnowned(json& object, const FieldSet& removal, const FieldSet& retained) {
  for (const auto& path : removal.paths()) {
    if (retained.ContainsAtOrBelow(path) || IsItemKey(path)) continue;
    if (!RemoveAtPath(object, path)) continue;
    FieldPath parent(path.begin(), path.end() - 1);
    while (parent.size() > 1 && parent.back().rfind("f:", 0) == 0 && !retained.ContainsAtOrBelow(parent)) {
      const json* v = ValueAtPath(object, parent);
      if (!v || !(v->is_object() || v->is_array()) || !v->empty()) break;
      RemoveAtPath(object, parent);
      parent.pop_back();
    }
  }
}

struct Conflict {
  std::string manager;
  std::string api_version;
  std::vector<FieldPath> fields;
};

Status ConflictStatus(const std::vector<Conflict>& conflicts) {
  size_t total = 0;
  std::string detail;
  std::vector<FieldCause> causes;
  for (const auto& c : conflicts) {
    total += c.fields.size();
    const std::string who = "\"" + c.manager + "\"" + (c.api_version.empty() ? "" : " using " + c.api_version);
    if (!detail.empty()) detail += "\n";
    if (c.fields.size() == 1) {
      detail += "conflict with " + who + ": " + FieldPathString(c.fields[0]);
    } else {
      detail += "conflicts with " + who + ":";
      for (const auto& f : c.fields) detail += "\n- " + FieldPathString(f);
    }
    for (const auto& f : c.fields) {
      causes.push_back({FieldPathString(f), "conflict with " + who, "FieldManagerConflict"});
    }
  }
  std::string msg = "Apply failed with " + std::to_string(total) + (total == 1 ? " conflict: " : " conflicts: ") + detail;
  return Status::Conflict(std::move(msg), std::move(causes));
}

// Fields of `applied` that `entry` owns with another value in `live`.
std::vector<FieldPath> Conflicting(const FieldSet& applied_set, const json& applied, const json& live,
                                   const ManagedFieldsEntry& entry) {
  std::vector<FieldPath> out;
  const FieldSet common = applied_set.Intersection(entry.fields);
  for (const auto& path : common.paths()) {
    const json* now = ValueAtPath(live, path);
    if (!now) continue;  // gone from the object: nothing to conflict with
    if (applied_set.HasMembersBelow(path)) continue;  // a map or list item both want to exist
    const json* want = ValueAtPath(applied, path);
    if (want && *want != *now) out.push_back(path);
  }
  return out;
}

void DropEmpty(std::vector<ManagedFieldsEntry>& entries) {
  std::erase_if(entries, [](const ManagedFieldsEntry& e) { return e.fields.empty(); });
}

ManagedFieldsEntry& EntryFor(std::vector<ManagedFieldsEntry>& entries, const FieldWriter& w,
                             const std::string& operation) {
  for (auto& e : entries) {
    if (e.manager == w.manager && e.operation == operation && e.subresource == w.subresource) return e;
  }
  entries.push_back({w.manager, operation, w.api_version, w.now, w.subresource, {}});
  return entries.back();
}

}  // namespace

std::vector<ManagedFieldsEntry> ReadManagedFields(const json& object) {
  std::vector<ManagedFieldsEntry> out;
  const json mf = ManagedFieldsOf(object);
  if (!mf.is_array()) return out;
  for (const auto& e : mf) {
    if (!e.is_object()) continue;
    auto str = [&e](const char* k) {
      auto it = e.find(k);
      return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto fields = FieldSet::FromFieldsV1(e.contains("fieldsV1") ? e["fieldsV1"] : json());
    if (!fields.ok() || str("manager").empty()) continue;
    out.push_back({str("manager"), str("operation"), str("apiVersion"), str("time"), str("subresource"),
                   std::move(*fields)});
  }
  return out;
}

json ManagedFieldsJson(const std::vector<ManagedFieldsEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries) {
    json j = {{"manager", e.manager}, {"operation", e.operation}, {"apiVersion", e.api_version},
              {"time", e.time}, {"fieldsType", "FieldsV1"}, {"fieldsV1", e.fields.ToFieldsV1()}};
    if (!e.subresource.empty()) j["subresource"] = e.subresource;
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

// The part of `object` a writer can own: for a /status write only `status`, for a
// main-resource write everything but `status` (when the kind has the subresource). Walking
// only that part is what keeps a status write from paying for the whole object.
json ScopedTo(const json& object, const FieldWriter& writer) {
  if (!writer.status_subresource || !object.is_object()) return object;
  if (writer.subresource == "status") {
    auto it = object.find("status");
    return it == object.end() ? json::object() : json{{"status", *it}};
  }
  if (!object.contains("status")) return object;
  json out = json::object();
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (it.key() != "status") out[it.key()] = *it;
  }
  return out;
}

}  // namespace

FieldSet OwnableFields(const json& object, const json& schema, const FieldWriter& writer) {
  // One pass over the sorted paths (filtering per server field copied the set each time).
  const FieldSet all = FieldSetOf(ScopedTo(object, writer), schema);
  FieldSet out;
  for (const auto& path : all.paths()) {
    if (!IsServerField(path)) out.Insert(path);
  }
  return out;
}

StatusOr<json> ApplyWithOwnership(const json* live, json applied, const json& schema, const FieldWriter& writer,
                                  bool force) {
  DropNulls(applied);
  const FieldSet applied_set = OwnableFields(applied, schema, writer);
  std::vector<ManagedFieldsEntry> entries;
  if (live) {
    entries = ReadManagedFields(*live);
    if (!ManagedFieldsOf(*live).is_array()) {
      // An object nobody has recorded ownership of: everything in it was set before the first
      // apply, so the first applier does not silently overwrite other values.
      entries.push_back({"before-first-apply", "Update", writer.api_version, writer.now, writer.subresource,
                         OwnableFields(*live, schema, writer)});
    }
  }
  std::vector<Conflict> conflicts;
  for (const auto& e : entries) {
    if (e.manager == writer.manager || e.subresource != writer.subresource || !live) continue;
    auto fields = Conflicting(applied_set, applied, *live, e);
    if (!fields.empty()) conflicts.push_back({e.manager, e.api_version, std::move(fields)});
  }
  if (!conflicts.empty() && !force) return ConflictStatus(conflicts);
  for (const auto& c : conflicts) {  // forced: the applier takes these fields over
    FieldSet taken;
    for (const auto& f : c.fields) taken.Insert(f);
    for (auto& e : entries) {
      if (e.manager == c.manager) e.fields = e.fields.Difference(taken);
    }
  }
  json merged = live ? MergeApplied(*live, applied, schema) : applied;
  ManagedFieldsEntry& mine = EntryFor(entries, writer, "Apply");
  const FieldSet before = mine.fields;
  mine.fields = applied_set;
  FieldSet retained;
  for (const auto& e : entries) retained = retained.Union(e.fields);
  RemoveUnowned(merged, before.Difference(retained), retained);
  json compare_live = live ? *live : json();
  if (compare_live.is_object() && compare_live.contains("metadata")) compare_live["metadata"].erase("managedFields");
  json compare_merged = merged;
  if (compare_merged.contains("metadata") && compare_merged["metadata"].is_object()) {
    compare_merged["metadata"].erase("managedFields");
  }
  if (!live || before != applied_set || compare_merged != compare_live) {
    mine.time = writer.now;  // `mine` is still valid: nothing was added to `entries` since
    mine.api_version = writer.api_version;
  }
  DropEmpty(entries);
  merged["metadata"]["managedFields"] = ManagedFieldsJson(entries);
  return merged;
}

json RecordUpdateOwnership(const json* old, json next, const json& schema, const FieldWriter& writer) {
  std::vector<ManagedFieldsEntry> entries = ReadManagedFields(next);
  const json next_part = ScopedTo(next, writer);
  const json old_part = old ? ScopedTo(*old, writer) : json();
  const FieldSet now_owned = OwnableFields(next_part, schema, writer);
  const FieldSet changed = ChangedFields(old ? &old_part : nullptr, next_part, schema).Intersection(now_owned);
  const FieldSet removed = old ? OwnableFields(old_part, schema, writer).Difference(now_owned) : FieldSet();
  if (changed.empty() && removed.empty()) return next;
  for (auto& e : entries) e.fields = e.fields.Difference(changed).Difference(removed);
  if (!changed.empty()) {
    ManagedFieldsEntry& mine = EntryFor(entries, writer, "Update");
    mine.fields = mine.fields.Union(changed);
    mine.time = writer.now;
    mine.api_version = writer.api_version;
  }
  DropEmpty(entries);
  next["metadata"]["managedFields"] = ManagedFieldsJson(entries);
  return next;
}

std::string FieldManagerFromUserAgent(const std::string& user_agent) {
  std::string m = user_agent.substr(0, user_agent.find('/'));
  while (!m.empty() && m.back() == ' ') m.pop_back();
  if (m.size() > 128) m.resize(128);
  return m.empty() ? "unknown" : m;
}

}  // namespace berth::api
