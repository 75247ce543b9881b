// Status conditions as the Kubernetes API conventions define them (type, status, reason,
// message, lastTransitionTime, observedGeneration), read and written on plain JSON. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"

namespace berth::hub {

// The condition of `type` in object.status.conditions (null if absent), without copying.
const nlohmann::json& FindCondition(const nlohmann::json& object, const std::string& type);

// Sets a condition in `conditions` (made an array if it is not one), keeping
// lastTransitionTime when the status is unchanged. `generation` > 0 sets observedGeneration.
void SetCondition(nlohmann::json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, Clock::TimePoint now, int64_t generation = 0);

// An RFC 3339 timestamp field as a time, or `fallback` when it is missing or not one.
Clock::TimePoint TimeOf(const nlohmann::json& v, Clock::TimePoint fallback);

}  // namespace berth::hub
