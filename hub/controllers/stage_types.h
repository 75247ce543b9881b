// Plain data the fleet controller's stages pass along one placement pass (see
// docs/ARCHITECTURE.md, "The placement pass"): when the pass wants to run again, the events
// a stage asks to be recorded, and how workspaces are keyed. No behaviour beyond that.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"

namespace berth::hub {

// A workspace's key in every per-pass map: "namespace/name".
inline std::string WsKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The earliest moment a stage knows something will change without any event (a toleration
// ends, a hysteresis passes, a rollout pause is over). The controller requeues the pass then.
struct WakeUp {
  std::optional<Clock::TimePoint> at;
  void At(Clock::TimePoint t) {
    if (!at || t < *at) at = t;
  }
  void Merge(const WakeUp& other) {
    if (other.at) At(*other.at);
  }
};

// An Event a stage wants recorded about `object` (the controller writes it, best effort).
struct FleetEvent {
  const nlohmann::json* object = nullptr;
  std::string type;  // "Normal" or "Warning"
  std::string reason;
  std::string message;
};

}  // namespace berth::hub
