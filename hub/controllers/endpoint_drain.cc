#include "hub/controllers/endpoint_drain.h"

#include "api/kinds.h"
#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

std::optional<Clock::TimePoint> DrainingSince(const json& entry) {
  auto d = entry.find(kDrainingField);
  if (d == entry.end() || !d->is_object()) return std::nullopt;
  Clock::TimePoint since;
  if (!ParseRfc3339(d->value("since", ""), &since)) return std::nullopt;
  return since;
}

namespace {

const MemberReport* ReportOf(const MemberReports& reported, const std::string& member, const std::string& key) {
  auto m = reported.find(member);
  if (m == reported.end()) return nullptr;
  auto r = m->second.find(key);
  return r == m->second.end() ? nullptr : &r->second;
}

// RFC 3339 in the Work keeps whole seconds: a drain starting now is stamped at the next whole
// second, so reading it back never shortens it.
Clock::TimePoint WholeSecondAtOrAfter(Clock::TimePoint t) {
  auto s = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (s < t) s += std::chrono::seconds(1);
  return Clock::TimePoint(std::chrono::duration_cast<Clock::Duration>(s.time_since_epoch()));
}

}  // namespace

Draining DrainBeforeRemoval(const DrainInput& in, DesiredWork& desired, WakeUp& wake) {
  Draining draining;
  for (const auto& [member, view] : *in.members) {
    if (view.frozen()) continue;
    auto w = in.works->find(member);
    if (w == in.works->end()) continue;
    const json prev = api::JsonPathGet(*w->second, "spec.workspaces");
    if (!prev.is_array()) continue;
    auto& entries = desired.entries[member];
    for (const auto& e : prev) {
      const std::string key = EntryKey(e);
      if (entries.count(key)) continue;  // still wanted here (a changed entry drains in the cluster)
      auto ws = in.workspaces->find(key);
      if (ws == in.workspaces->end() || api::IsBeingDeleted(*ws->second)) continue;
      const std::optional<Clock::TimePoint> was = DrainingSince(e);
      const MemberReport* r = ReportOf(*in.reported, member, key);
      const int available = r ? r->available : 0;
      if (!was && available == 0) continue;  // serves nothing: nothing to drain
      const Clock::TimePoint since = was ? *was : WholeSecondAtOrAfter(in.now);
      const Clock::TimePoint until = since + in.grace(key);
      if (in.now >= until) continue;  // drained: the entry goes
      json kept = e;
      kept[kDrainingField] = {{"since", FormatRfc3339(since)}};
      entries[key] = std::move(kept);
      wake.At(until);
      draining[key].push_back({member, until, e.value("replicas", 0), available});
    }
  }
  return draining;
}

}  // namespace berth::hub
