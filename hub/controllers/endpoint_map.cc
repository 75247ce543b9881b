#include "hub/controllers/endpoint_map.h"

#include <algorithm>
#include <cmath>

#include "api/kinds.h"
#include "api/object.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

using nlohmann::json;

namespace {

const MemberReport* ReportOf(const MemberReports& reported, const std::string& member, const std::string& key) {
  auto m = reported.find(member);
  if (m == reported.end()) return nullptr;
  auto r = m->second.find(key);
  return r == m->second.end() ? nullptr : &r->second;
}

std::string DownReason(const MemberView& v) {
  switch (v.phase) {
    case MemberPhase::kSuspect:
    case MemberPhase::kFailed:
      return "MemberUnhealthy";
    case MemberPhase::kNew:
      return "MemberNotJoined";
    default:
      return "";
  }
}

std::optional<Clock::TimePoint> DrainingUntil(const Draining& draining, const std::string& key,
                                              const std::string& member) {
  auto d = draining.find(key);
  if (d == draining.end()) return std::nullopt;
  for (const auto& e : d->second) {
    if (e.cluster == member) return e.until;
  }
  return std::nullopt;
}

// What one endpoint serves with (for its weight): the reported capacity, else Ready replicas.
int CapacityOf(const MemberReport& r) { return r.capacity > 0 ? r.capacity : r.available; }

json OldEndpoint(const json& old_endpoints, const std::string& cluster) {
  if (!old_endpoints.is_array()) return json::object();
  for (const auto& e : old_endpoints) {
    if (e.is_object() && e.value("cluster", "") == cluster) return e;
  }
  return json::object();
}

// Until the agent answers a changed entry (its report is fenced by entryGeneration), what it
// last reported still serves: its pods are untouched until it acts. The previous map entry
// stands in for the report.
MemberReport LastKnown(const json& old) {
  MemberReport r;
  if (!old.is_object() || !old.contains("url") || !old["url"].is_string()) return r;
  r.endpoint = old["url"];
  r.available = r.ready = old.value("readyReplicas", 0);
  if (auto sv = old.find("serving"); sv != old.end() && sv->is_object()) {
    r.serving = *sv;
    r.capacity = sv->value("capacity", 0);
  }
  return r;
}

}  // namespace

std::map<std::string, std::vector<EndpointSource>> EndpointSources(
    const std::map<std::string, MemberView>& members, const std::map<std::string, std::shared_ptr<const json>>& works,
    const std::map<std::string, std::map<std::string, json>>& desired, const MemberReports& reported,
    const Draining& draining) {
  std::map<std::string, std::vector<EndpointSource>> out;
  for (const auto& [member, view] : members) {
    std::vector<json> entries;
    if (view.frozen()) {  // its Work stays as it is
      auto w = works.find(member);
      const json list = w == works.end() ? json() : api::JsonPathGet(*w->second, "spec.workspaces");
      if (list.is_array()) entries.assign(list.begin(), list.end());
    } else if (auto d = desired.find(member); d != desired.end()) {
      for (const auto& [key, e] : d->second) entries.push_back(e);
    }
    for (const json& e : entries) {
      const std::string key = EntryKey(e);
      EndpointSource s;
      s.cluster = member;
      s.revision = e.value("revision", int64_t{0});
      s.report = ReportOf(reported, member, key);
      s.down_reason = DownReason(view);
      s.draining_until = DrainingUntil(draining, key, member);
      out[key].push_back(std::move(s));
    }
  }
  return out;
}

void ApplyTrafficSplit(std::vector<json>& list, const TrafficSplit& split) {
  const auto on_new = [&](const json& e) { return e.value("revision", int64_t{0}) == split.revision; };
  const auto serving = [](const json& e) { return e.value("state", "") == "Serving"; };
  double new_sum = 0, old_sum = 0;
  for (const json& e : list) {
    if (serving(e)) (on_new(e) ? new_sum : old_sum) += e.value("weight", 0);
  }
  if (new_sum <= 0 || old_sum <= 0 || split.percent < 1 || split.percent > 99) return;
  const double total = new_sum + old_sum, p = split.percent / 100.0;
  const double scale_new = p * total / new_sum, scale_old = (1 - p) * total / old_sum;
  double largest = 0;
  for (const json& e : list) {
    if (serving(e)) largest = std::max(largest, e.value("weight", 0) * (on_new(e) ? scale_new : scale_old));
  }
  for (json& e : list) {
    if (!serving(e)) continue;
    const double w = e.value("weight", 0) * (on_new(e) ? scale_new : scale_old) * kMaxEndpointWeight / largest;
    e["weight"] = std::clamp(static_cast<int>(std::lround(w)), 1, kMaxEndpointWeight);
  }
}

json EndpointMap(const std::vector<EndpointSource>& sources, const json& old_endpoints, Clock::TimePoint now,
                 std::optional<TrafficSplit> split) {
  std::vector<MemberReport> reports;  // each source's report, or its last known one
  reports.reserve(sources.size());
  for (const auto& s : sources) {
    reports.push_back(s.report ? *s.report : LastKnown(OldEndpoint(old_endpoints, s.cluster)));
  }
  int max_capacity = 0;
  for (size_t i = 0; i < sources.size(); ++i) {
    const EndpointSource& s = sources[i];
    if (s.down_reason.empty() && !s.draining_until && reports[i].available > 0) {
      max_capacity = std::max(max_capacity, CapacityOf(reports[i]));
    }
  }
  std::vector<json> list;
  for (size_t i = 0; i < sources.size(); ++i) {
    const EndpointSource& s = sources[i];
    const MemberReport& r = reports[i];
    json e = {{"cluster", s.cluster}, {"revision", s.revision}, {"readyReplicas", r.available}, {"weight", 0}};
    if (!r.endpoint.empty()) e["url"] = r.endpoint;
    std::string state = "Down", reason;
    if (!s.down_reason.empty()) {
      reason = s.down_reason;
    } else if (s.draining_until) {
      state = "Draining";
      reason = "PlannedRemoval";
      e["drainingUntil"] = FormatRfc3339(*s.draining_until);
    } else if (r.endpoint.empty()) {
      reason = "NotReported";
    } else if (r.available == 0) {
      reason = "NoReadyReplicas";
    } else {
      state = "Serving";
      const double share = max_capacity > 0 ? static_cast<double>(CapacityOf(r)) / max_capacity : 1.0;
      e["weight"] = std::clamp(static_cast<int>(std::lround(share * kMaxEndpointWeight)), 1, kMaxEndpointWeight);
    }
    e["state"] = state;
    if (!reason.empty()) e["reason"] = reason;
    if (r.serving.is_object()) e["serving"] = r.serving;
    const json old = OldEndpoint(old_endpoints, s.cluster);
    const bool same = old.value("state", "") == state && old.contains("lastTransitionTime");
    e["lastTransitionTime"] = same ? old["lastTransitionTime"] : json(FormatRfc3339(now));
    list.push_back(std::move(e));
  }
  if (split) ApplyTrafficSplit(list, *split);
  std::sort(list.begin(), list.end(),
            [](const json& a, const json& b) { return a.value("cluster", "") < b.value("cluster", ""); });
  return json(list);
}

json ServedModels(const json& workspace) {
  const json inf = api::JsonPathGet(workspace, "inference");  // top level, as KAITO's Workspace
  auto str = [&](const char* path) {
    const json v = api::JsonPathGet(inf, path);
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  json names = json::array();
  names.push_back(workspace::ServedModelNameOf(str("servedModelName"), str("preset.name"), str("model.huggingFaceId"),
                                               api::NameOf(workspace)));
  const json adapters = api::JsonPathGet(inf, "adapters");
  for (const auto& a : adapters.is_array() ? adapters : json::array()) {
    const json n = a.is_object() ? api::JsonPathGet(a, "source.name") : json();
    const std::string name = n.is_string() ? n.get<std::string>() : "";
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace berth::hub
