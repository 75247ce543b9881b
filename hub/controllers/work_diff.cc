#include "hub/controllers/work_diff.h"

#include "api/kinds.h"
#include "api/object.h"
#include "hub/controllers/work_reports.h"

namespace berth::hub {

using nlohmann::json;

json WhatRuns(const json& entry) {
  const json& ws = entry.value("workspace", json::object());
  return {{"inference", ws.value("inference", json())}, {"resource", ws.value("resource", json())},
          {"replicas", entry.value("replicas", 0)}, {"revision", entry.value("revision", int64_t{0})},
          {"gpu", entry.value("gpu", json())}};
}

namespace {

// The entries `desired` asks of a member whose Work is `previous` (null: none yet), each
// with its entryGeneration: kept while its content is unchanged, else `generation`.
json EntriesWithGenerations(const std::map<std::string, json>& desired, const json& previous, int64_t generation) {
  std::map<std::string, json> prev_by_key;
  for (const auto& e : previous.is_array() ? previous : json::array()) prev_by_key[EntryKey(e)] = e;
  json entries = json::array();
  for (const auto& [key, e] : desired) {
    json entry = e;
    auto prev = prev_by_key.find(key);
    const bool same = prev != prev_by_key.end() && prev->second.contains("entryGeneration") &&
                      WhatRuns(prev->second) == WhatRuns(entry);
    entry["entryGeneration"] = same ? prev->second["entryGeneration"] : json(generation);
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

std::vector<WorkWrite> DiffWork(const std::map<std::string, MemberView>& members,
                                const std::map<std::string, std::shared_ptr<const json>>& works,
                                const std::map<std::string, std::map<std::string, json>>& desired) {
  static const std::map<std::string, json> kNothing;
  std::vector<WorkWrite> writes;
  for (const auto& [name, view] : members) {
    if (view.frozen()) continue;
    auto w = works.find(name);
    const bool exists = w != works.end();
    const json prev_entries = exists ? api::JsonPathGet(*w->second, "spec.workspaces") : json(nullptr);
    // A Work without an integer placementGeneration (written by hand) starts again at 1.
    const json stored = exists ? api::JsonPathGet(*w->second, "spec.placementGeneration") : json();
    const int64_t generation = stored.is_number_integer() ? stored.get<int64_t>() + 1 : 1;
    auto d = desired.find(name);
    json entries = EntriesWithGenerations(d == desired.end() ? kNothing : d->second, prev_entries, generation);
    if (exists && prev_entries == entries) continue;
    json work = exists ? *w->second
                       : json{{"apiVersion", api::kApiVersion}, {"kind", "Work"}, {"metadata", {{"name", name}}}};
    work["spec"] = {{"cluster", name}, {"placementGeneration", generation}, {"workspaces", std::move(entries)}};
    writes.push_back({exists ? WorkWrite::Op::kUpdate : WorkWrite::Op::kCreate, name, std::move(work)});
  }
  for (const auto& [name, w] : works) {
    if (!members.count(name)) writes.push_back({WorkWrite::Op::kDelete, name, nullptr});
  }
  return writes;
}

}  // namespace berth::hub
