#include "hub/controllers/conditions.h"

namespace berth::hub {

using nlohmann::json;

const json& FindCondition(const json& object, const std::string& type) {
  static const json kNone;
  auto status = object.find("status");
  if (status == object.end() || !status->is_object()) return kNone;
  auto conds = status->find("conditions");
  if (conds == status->end() || !conds->is_array()) return kNone;
  for (const auto& c : *conds) {
    auto t = c.find("type");
    if (t != c.end() && t->is_string() && t->get_ref<const std::string&>() == type) return c;
  }
  return kNone;
}

void SetCondition(json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, Clock::TimePoint now, int64_t generation) {
  if (!conditions.is_array()) conditions = json::array();
  json c = {{"type", type}, {"status", status ? "True" : "False"}, {"reason", reason},
            {"message", message}, {"lastTransitionTime", FormatRfc3339(now)}};
  if (generation > 0) c["observedGeneration"] = generation;
  for (auto& old : conditions) {
    if (old.value("type", "") != type) continue;
    if (old.value("status", "") == c["status"]) c["lastTransitionTime"] = old.value("lastTransitionTime", FormatRfc3339(now));
    old = c;
    return;
  }
  conditions.push_back(c);
}

Clock::TimePoint TimeOf(const json& v, Clock::TimePoint fallback) {
  Clock::TimePoint t;
  if (v.is_string() && ParseRfc3339(v.get<std::string>(), &t)) return t;
  return fallback;
}

}  // namespace berth::hub
