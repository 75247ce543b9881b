// The events a Workspace's placement change calls for: Placed (first placement), FailedOver
// (a member it left was unreachable), FailedBack, or Rescheduled, with where its replicas now
// run and what capacity re-placement moved; Unschedulable when it stops fitting. Pure.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/stage_types.h"

namespace berth::hub {

struct PlacementChange {
  const nlohmann::json* workspace = nullptr;
  const nlohmann::json* old_placements = nullptr;  // status.placements before this pass
  const nlohmann::json* placements = nullptr;      // status.placements after it
  bool failing_back = false;
  const std::set<std::string>* evicted_unreachable = nullptr;
  const std::map<std::string, int>* capacity_moved = nullptr;
  Clock::Duration capacity_limit{};
};

// Null when the set of members is unchanged or the workspace is placed nowhere now.
std::optional<FleetEvent> PlacementChangeEvent(const PlacementChange& c);

// A Warning when the workspace is not fully scheduled and was not already reported so.
std::optional<FleetEvent> UnschedulableEvent(const nlohmann::json& workspace, bool scheduled,
                                             const std::string& message);

}  // namespace berth::hub
