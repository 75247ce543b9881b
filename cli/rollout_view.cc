#include "cli/rollout_view.h"

#include <iomanip>
#include <map>
#include <sstream>

namespace berth::cli {

using nlohmann::json;

const json& Member(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

std::string RenderRolloutStatus(const json& ws) {
  const json& status = Member(ws, "status");
  const json& ro = Member(status, "rollout");
  const json& revs = Member(status, "revisions");
  std::ostringstream out;
  const json& md = Member(ws, "metadata");
  out << "workspace " << md.value("namespace", "default") << "/" << md.value("name", "")
      << "\n";
  if (ro.empty()) {
    out << "  no rollout yet: the hub has not reconciled this workspace (is its controller running?)\n";
    return out.str();
  }
  const json stages = ro.value("stageNames", json::array());
  const int stage = ro.value("stage", 0);
  out << "  revision   target " << revs.value("target", 0) << ", last good " << revs.value("lastGood", 0)
      << "\n";
  out << "  strategy   " << ro.value("strategy", "default") << "\n";
  out << "  phase      " << ro.value("phase", "") << (ro.value("paused", false) ? " (paused)" : "") << "\n";
  if (!stages.empty() && ro.value("phase", "") != "Completed") {
    out << "  stage      " << (stage + 1) << "/" << stages.size() << " "
        << (stage < static_cast<int>(stages.size()) ? stages[stage].get<std::string>() : "") << "\n";
  }
  if (!ro.value("message", "").empty()) out << "  message    " << ro.value("message", "") << "\n";

  std::map<std::string, json> placements;
  for (const auto& p : status.value("placements", json::array())) placements[p.value("cluster", "")] = p;
  out << "\n  " << std::left << std::setw(24) << "CLUSTER" << std::setw(10) << "STAGE" << std::setw(12)
      << "PROGRESS" << std::setw(10) << "REVISION" << std::setw(8) << "READY"
      << "REASON\n";
  for (const auto& [name, c] : Member(ro, "clusters").items()) {
    if (!c.is_object()) continue;
    const int s = c.value("stage", 0);
    const json p = placements.count(name) ? placements[name] : json::object();
    std::string ready = std::to_string(p.value("readyReplicas", 0)) + "/" + std::to_string(p.value("replicas", 0));
    std::string reason = c.value("reason", "");
    if (reason.empty()) reason = p.value("reason", "");
    out << "  " << std::left << std::setw(24) << name << std::setw(10)
        << (s < static_cast<int>(stages.size()) ? stages[s].get<std::string>() : std::to_string(s))
        << std::setw(12) << c.value("progress", "") << std::setw(10)
        << (p.contains("revision") ? std::to_string(p.value("revision", 0)) : "-") << std::setw(8) << ready
        << reason << "\n";
  }
  return out.str();
}

}  // namespace berth::cli
