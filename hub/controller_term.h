// What a hub runs while it leads (hub/leader_election.h): the fleet and namespace controllers,
// writing through a FencedStore so that every write of theirs fails once the term is over,
// and the leader record: the Lease `berth-hub.leader` (cluster-scoped, beside the members'
// heartbeat Leases), whose spec.holderIdentity is "<hub identity>_<term>" and whose renewTime
// the leader refreshes every `record_every`, fenced like the controllers' writes. Operators
// read who leads from it (`kubectl get lease berth-hub.leader`); tests watch it to check
// that terms only move forward. A SQLite hub, which has no election, runs one term with no
// fence and keeps no record.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/controllers/fleet_controller.h"
#include "hub/controllers/namespace_controller.h"
#include "hub/fenced_store.h"
#include "hub/leader_election.h"
#include "hub/object_api.h"

namespace berth::hub {

inline constexpr const char* kLeaderRecordName = "berth-hub.leader";

struct ControllerTermOptions {
  FleetControllerOptions controllers;
  std::chrono::milliseconds record_every{1000};
  int lease_seconds = 3;  // written as spec.leaseDurationSeconds
};

class ControllerTerm {
 public:
  // Starts the controllers. `term` null: no election (SQLite), no fence, no record.
  static StatusOr<std::unique_ptr<ControllerTerm>> Start(Store& store, const api::KindRegistry& registry, Clock& clock,
                                                         const LeaderTerm* term, ControllerTermOptions options);
  ~ControllerTerm();  // stops everything it started

  // The holderIdentity this term writes ("" without a record).
  const std::string& holder() const { return holder_; }

 private:
  ControllerTerm(Store& store, const api::KindRegistry& registry, Clock& clock, const LeaderTerm* term,
                 ControllerTermOptions options);
  // Creates or renews the leader record; a fenced failure means the term is over.
  Status WriteRecord();
  void RecordLoop();

  const api::KindRegistry& registry_;
  Clock& clock_;
  const ControllerTermOptions options_;
  std::unique_ptr<FencedStore> fenced_;  // null without a term
  ObjectApi objects_;
  std::string holder_;
  std::unique_ptr<FleetController> fleet_;
  std::unique_ptr<NamespaceController> namespaces_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread recorder_;
};

}  // namespace berth::hub
