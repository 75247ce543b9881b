#include "hub/controllers/make_before_break.h"

#include <algorithm>

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

namespace {

const MemberReport& ReportOf(const MemberReports& reported, const std::string& member, const std::string& key) {
  static const MemberReport kNone;
  auto m = reported.find(member);
  if (m == reported.end()) return kNone;
  auto r = m->second.find(key);
  return r == m->second.end() ? kNone : r->second;
}

template <typename V>
const V* Find(const std::map<std::string, V>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

Superseded KeepUntilReplaced(const std::map<std::string, MemberView>& members,
                             const std::map<std::string, std::shared_ptr<const json>>& works,
                             const std::map<std::string, const json*>& workspaces, const MemberReports& reported,
                             DesiredWork& desired) {
  Superseded superseded;
  for (const auto& [member_name, view] : members) {
    const std::string& name = member_name;  // clang 14 cannot capture a structured binding
    if (view.frozen()) continue;
    auto w = works.find(name);
    if (w == works.end()) continue;
    const json prev = api::JsonPathGet(*w->second, "spec.workspaces");
    if (!prev.is_array()) continue;
    auto& entries = desired.entries[name];
    for (const auto& e : prev) {
      const std::string key = EntryKey(e);
      const json* const* ws = Find(workspaces, key);
      if (entries.count(key) || !ws || api::IsBeingDeleted(**ws)) continue;
      // Keep it until the new placement serves as many replicas as the workspace asks for
      // (or as it placed, if more).
      int want = 0, ready = 0;
      if (const auto* allocations = Find(desired.allocations, key)) {
        for (const auto& a : *allocations) {
          want += a.replicas;
          ready += std::min(a.replicas, ReportOf(reported, a.cluster, key).ready);
        }
      }
      const int* requested = Find(desired.requested, key);
      want = std::max(want, requested ? *requested : 0);
      if (want > 0 && ready >= want) continue;  // replacements are serving: drop it here
      entries[key] = e;
      superseded[key].push_back({{"cluster", name}, {"replicas", e.value("replicas", 0)},
                                 {"readyReplicas", ReportOf(reported, name, key).available},
                                 {"reason", want == 0 ? "NoReplacement" : "ReplacementsNotReady"}});
    }
  }
  return superseded;
}

}  // namespace berth::hub
