// The hub's controllers: member health from leases, placement of every Workspace with the
// placement engine, one Work per member, Workspace status aggregated from what agents
// report, and automatic failover / failback. Level-triggered: each pass reads desired and
// observed state from the store and converges; nothing depends on which event woke it.
// Writes go through ObjectApi, so the hub's own changes follow the API's rules.
//
// Failover (docs/FAILOVER.md): a member whose lease is older than heartbeat period ×
// missed heartbeats is Unhealthy. After the policy's tolerationSeconds its replicas are
// placed elsewhere at once, but its Work is frozen, not emptied (make-before-break: it may
// be alive behind a partition). A member healthy again for failbackHysteresisSeconds takes
// new replicas again; a replica moved off any member is kept there ("superseded") until its
// replacements are Ready, so a workspace never drops below what it had.
//
// Threading: reconcilers run on the ControllerLoop's one worker thread (or the test's).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/controllers/controller_loop.h"
#include "hub/object_api.h"

namespace berth::hub {

struct FleetControllerOptions {
  int64_t default_heartbeat_seconds = 5;   // MemberCluster spec.heartbeatPeriodSeconds default
  int64_t default_missed_heartbeats = 3;   // spec.unhealthyAfterMissedHeartbeats default
  // Used when no policy says otherwise (PlacementPolicy spec.failover).
  int64_t toleration_seconds = 30;
  int64_t failback_hysteresis_seconds = 300;
  Clock::Duration resync = std::chrono::seconds(10);  // safety net; events drive the rest
};

class FleetController {
 public:
  FleetController(ObjectApi& objects, const api::KindRegistry& registry, Clock& clock,
                  FleetControllerOptions options = {});
  ~FleetController();

  // Subscribes to store changes and, if `run_worker`, starts the worker thread.
  Status Start(bool run_worker = true);
  void Stop();

  // Runs every reconcile that is due now (tests drive the controller with a FakeClock).
  int RunDue() { return loop_.RunDue(); }
  ControllerLoop& loop() { return loop_; }

  // Reconcilers (public for tests).
  ReconcileResult ReconcileHealth(const std::string& member);
  ReconcileResult ReconcilePlacement();

 private:
  StatusOr<nlohmann::json> Write(const std::function<void(ObjectCallback)>& call);
  void RecordEvent(const nlohmann::json& object, const std::string& type, const std::string& reason,
                   const std::string& message);

  ObjectApi& objects_;
  const api::KindRegistry& registry_;
  Clock& clock_;
  FleetControllerOptions options_;
  ControllerLoop loop_;
  std::vector<uint64_t> watches_;
  uint64_t event_counter_ = 0;
  Clock::TimePoint started_at_{};  // Start(): lease grace after a hub restart counts from here
};

}  // namespace berth::hub
