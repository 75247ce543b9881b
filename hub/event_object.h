// The core v1 Event the hub records about an object (controllers, joins, write findings): one
// shape for every recorder, so `kubectl events --for` and `describe` read them all alike.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"

namespace berth::hub {

// An Event about `involved` (its apiVersion, kind, name, uid; namespace when it has one) in
// the object's namespace ("default" for cluster-scoped ones), count 1, first = last = `now`,
// source berth-hub. metadata carries generateName "<name>." — set metadata.name instead for
// an Event that must be recorded once.
nlohmann::json EventObject(const nlohmann::json& involved, const std::string& type, const std::string& reason,
                           const std::string& message, Clock::TimePoint now);

}  // namespace berth::hub
