#include "hub/controllers/placement_events.h"

#include "hub/controllers/conditions.h"

namespace berth::hub {

using nlohmann::json;

std::optional<FleetEvent> PlacementChangeEvent(const PlacementChange& c) {
  std::set<std::string> before, after;
  for (const auto& p : *c.old_placements) before.insert(p.value("cluster", ""));
  for (const auto& p : *c.placements) after.insert(p.value("cluster", ""));
  if (before == after || after.empty()) return std::nullopt;
  std::string where;
  for (const auto& p : *c.placements) {
    where += (where.empty() ? "" : ", ") + std::to_string(p.value("replicas", 0)) + " on " + p.value("cluster", "");
  }
  bool failed_over = false;
  for (const auto& m : before) {
    if (!after.count(m) && c.evicted_unreachable->count(m)) failed_over = true;
  }
  for (const auto& [member, n] : *c.capacity_moved) {
    if (n > 0) {
      where += "; " + std::to_string(n) + " replica(s) moved off " + member + " after waiting " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(c.capacity_limit).count()) +
               " s for GPUs there";
    }
  }
  const char* reason = before.empty() ? "Placed"
                       : failed_over  ? "FailedOver"
                       : c.failing_back ? "FailedBack"
                                        : "Rescheduled";
  return FleetEvent{c.workspace, "Normal", reason, where};
}

std::optional<FleetEvent> UnschedulableEvent(const json& workspace, bool scheduled, const std::string& message) {
  if (scheduled) return std::nullopt;
  const json& old = FindCondition(workspace, "Scheduled");
  if (old.is_object() && old.value("status", "") == "False") return std::nullopt;
  return FleetEvent{&workspace, "Warning", "Unschedulable", message};
}

}  // namespace berth::hub
