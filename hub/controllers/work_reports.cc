#include "hub/controllers/work_reports.h"

#include <algorithm>

#include "api/object.h"
#include "hub/controllers/stage_types.h"

namespace berth::hub {

using nlohmann::json;

std::string EntryKey(const json& entry) {
  // Work objects are stored as written (the schema does not pin entries), so read defensively.
  const json md = api::JsonPathGet(entry, "workspace.metadata");
  if (!md.is_object()) return WsKey("default", "");
  return WsKey(md.value("namespace", "default"), md.value("name", ""));
}

namespace {

// The agent's serving signals, only the numeric fields the hub knows (docs/GATEWAY.md).
json ServingFrom(const json& w) {
  auto s = w.find("serving");
  if (s == w.end() || !s->is_object()) return nullptr;
  json out = json::object();
  for (const char* k : {"requestsPerSecond", "running", "waiting", "kvCacheUsage", "capacity", "errorRate"}) {
    if (auto v = s->find(k); v != s->end() && v->is_number()) out[k] = *v;
  }
  for (const char* k : {"ttftSeconds", "latencySeconds"}) {
    auto q = s->find(k);
    if (q == s->end() || !q->is_object()) continue;
    for (const char* p : {"p50", "p90", "p99"}) {
      if (auto v = q->find(p); v != q->end() && v->is_number()) out[k][p] = *v;
    }
  }
  return out;
}

MemberReport ReportFrom(const json& w) {
  MemberReport r;
  r.replicas = w.value("replicas", 0);
  r.ready = w.value("readyReplicas", 0);
  r.updated = w.value("updatedReplicas", r.ready);
  r.available = w.value("availableReplicas", r.ready);
  r.surge = w.value("surgeReplicas", 0);
  r.failures = w.value("failures", 0);
  r.revision = w.value("revision", int64_t{0});
  r.applied = w.value("applied", false);
  r.phase = w.value("phase", "");
  r.reason = w.value("reason", "");
  r.message = w.value("message", "");
  r.endpoint = w.value("endpoint", "");
  r.serving = ServingFrom(w);
  if (r.serving.is_object() && r.serving.contains("capacity")) {
    r.capacity = std::max(0, static_cast<int>(std::min(r.serving["capacity"].get<double>(), 1e6)));
  }
  if (auto pp = w.find("prePull"); pp != w.end() && pp->is_object()) {
    r.pre_pull_revision = pp->value("revision", int64_t{0});
    r.pre_pull_phase = pp->value("phase", "");
    r.pre_pull_reason = pp->value("reason", "");
  }
  return r;
}

}  // namespace

std::map<std::string, MemberReport> ReportedByWorkspace(const json& work) {
  std::map<std::string, MemberReport> out;
  json observed = api::JsonPathGet(work, "status.observedPlacementGeneration");
  json wanted = api::JsonPathGet(work, "spec.placementGeneration");
  const bool whole_work_seen = observed.is_number_integer() && wanted.is_number_integer() &&
                               observed.get<int64_t>() >= wanted.get<int64_t>();
  std::map<std::string, int64_t> entry_generation;  // ws key → entryGeneration
  json entries = api::JsonPathGet(work, "spec.workspaces");
  for (const auto& e : entries.is_array() ? entries : json::array()) {
    entry_generation[EntryKey(e)] = e.value("entryGeneration", int64_t{-1});
  }
  json list = api::JsonPathGet(work, "status.workspaces");
  if (!list.is_array()) return out;
  for (const auto& w : list) {
    const std::string key = WsKey(w.value("namespace", "default"), w.value("name", ""));
    if (auto echo = w.find("observedEntryGeneration"); echo != w.end() && echo->is_number_integer()) {
      auto g = entry_generation.find(key);
      if (g == entry_generation.end() || g->second != echo->get<int64_t>()) continue;
    } else if (!whole_work_seen) {
      continue;
    }
    out[key] = ReportFrom(w);
  }
  return out;
}

bool IsCapacityPending(const MemberReport& r) {
  return r.phase == "Pending" && (r.reason == "InsufficientGPU" || r.reason == "Unschedulable" ||
                                  r.reason == "GPUsLost" || r.reason == "NodeLost");
}

std::optional<Clock::TimePoint> CapacityPendingSince(const json& status, const std::string& cluster) {
  if (!status.is_object()) return std::nullopt;
  auto placements = status.find("placements");
  if (placements == status.end() || !placements->is_array()) return std::nullopt;
  for (const auto& p : *placements) {
    if (p.value("cluster", "") != cluster) continue;
    auto since = p.find("capacityPendingSince");
    Clock::TimePoint t;
    if (since != p.end() && since->is_string() && ParseRfc3339(since->get<std::string>(), &t)) return t;
  }
  return std::nullopt;
}

}  // namespace berth::hub
