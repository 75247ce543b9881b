// The hub's controllers: member health from leases, and one placement pass over the whole
// fleet that places every Workspace with the placement engine, writes one Work per member
// and Workspace status, and fails over / fails back. Level-triggered: each pass reads desired
// and observed state and converges; nothing depends on which event woke it. Writes go
// through ObjectApi, so the hub's own changes follow the API's rules.
//
// This class keeps only the store I/O, the informer caches and the order of the stages; what
// each stage decides lives in its own file beside this one, as a pure function of plain data
// (docs/ARCHITECTURE.md, "The placement pass", lists them):
//   member_health       Healthy/Joined conditions from leases; each member's phase
//   work_reports        what agents report per workspace, trusted only for the current entry
//   placement_requests  Workspaces → placement requests (policies resolved)
//   failover_decisions  NoExecute/unreachable eviction, failback, capacity re-placement
//   gpu_ledger          GPUs held by replicas already asked for; spare GPUs after the pass
//   desired_work        the Work entry each member should carry (rollout: workspace_rollout)
//   make_before_break   old entries kept until their replacements are Ready
//   work_diff           which Work objects to create, update or delete
//   workspace_status    status.placements and the conditions; placement_events: events
//
// Threading: reconcilers run on the ControllerLoop's one worker thread (or the test's).
#pragma once

#include <map>
#include <set>
#include <memory>
#include <future>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/controllers/controller_loop.h"
#include "hub/controllers/endpoint_drain.h"
#include "hub/controllers/failover_decisions.h"
#include "hub/controllers/make_before_break.h"
#include "hub/controllers/placement_requests.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/stage_types.h"
#include "hub/object_api.h"
#include "placement/fleet.h"

namespace berth::hub {

struct FleetControllerOptions {
  int64_t default_heartbeat_seconds = 5;   // MemberCluster spec.heartbeatPeriodSeconds default
  int64_t default_missed_heartbeats = 3;   // spec.unhealthyAfterMissedHeartbeats default
  // Used when no policy says otherwise (PlacementPolicy spec.failover).
  int64_t toleration_seconds = 30;
  int64_t failback_hysteresis_seconds = 300;
  int64_t capacity_pending_seconds = 120;  // stuck Pending for lack of GPUs → re-place
  int64_t drain_seconds = 30;              // endpoint drain before a planned removal
  Clock::Duration resync = std::chrono::seconds(10);  // safety net; events drive the rest
  // A placement pass over the whole fleet runs at most this often because of member
  // inventory reports (free GPUs, cached images); spec, label and health changes, and every
  // Workspace, policy and Work change, still start one at once. 0 = no coalescing.
  Clock::Duration inventory_coalesce = std::chrono::seconds(2);
  // Round-trip latencies between regions for the locality score (berth-hub
  // --region-latencies); the placement engine's defaults fill the pairs not listed.
  std::vector<placement::RegionLatency> region_latencies;
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
  // Member watch: what of a member the placement pass reads, in two fingerprints, so that an
  // inventory report which only refreshes its timestamp wakes no pass and one that changes
  // free GPUs wakes a coalesced one.
  void OnMemberEvent(const WatchEvent& e);
  // Starts a store write (`call` passes the callback on) and returns its result to come;
  // Write waits for it.
  std::future<StatusOr<nlohmann::json>> WriteAsync(const std::function<void(ObjectCallback)>& call);
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
  std::shared_ptr<const nlohmann::json> CachedMember(const std::string& name);

  // Members as the watch last delivered them (an informer cache: a placement pass or a
  // health check reads them without copying 1,000 objects out of the store), and what of
  // each the placement pass reads, in two fingerprints. Written on the store's writer thread.
  struct CachedMemberEntry {
    std::shared_ptr<const nlohmann::json> object;
    size_t spec_print = 0, inventory_print = 0;
    bool healthy = false;  // Healthy=True: its lease renewals need no check until expiry
  };
  std::mutex members_mu_;
  std::map<std::string, CachedMemberEntry> members_;  // guarded by members_mu_
  // Work objects by member, as the watch delivered them (same reasons).
  std::mutex works_mu_;
  std::map<std::string, std::shared_ptr<const nlohmann::json>> works_;  // guarded by works_mu_
  // "Kind/ns/name" of the Secrets and ConfigMaps Workspaces referenced at the last pass: a
  // change to one of them starts a pass, a change to any other does not.
  std::mutex referenced_mu_;
  std::set<std::string> referenced_keys_;  // guarded by referenced_mu_
  // Placement snapshot entries by member, rebuilt only when the member object changed.
  // Controller thread only.
  struct CachedInventory {
    std::shared_ptr<const nlohmann::json> object;  // held so its address is not reused
    bool healthy = false;
    placement::ClusterInventory inventory;
  };
  std::map<std::string, CachedInventory> inventories_;
  // When this hub moved a member's Healthy condition, to the millisecond: lastTransitionTime
  // has whole seconds (the Kubernetes convention), which alone would end a toleration up to
  // a second early. Controller thread only. See HealthySince in member_health.h.
  HealthTransitions healthy_transitions_;

  FailoverDefaults failover_defaults() const {
    return {options_.toleration_seconds, options_.failback_hysteresis_seconds, options_.capacity_pending_seconds,
            options_.drain_seconds};
  }
  // The steps of a placement pass that touch the store or the caches (the .cc).
  struct FleetState;
  StatusOr<FleetState> ReadFleetState();
  placement::FleetSnapshot BuildSnapshot(const FleetState& state, Clock::TimePoint now,
                                         std::map<std::string, MemberView>& members, WakeUp& wake);
  struct PassResult;
  Draining DrainEndpoints(const FleetState& state, const std::map<std::string, MemberView>& members,
                          const PlacementRequests& requests, const MemberReports& reported, Clock::TimePoint now,
                          DesiredWork& desired, Superseded& superseded, WakeUp& wake);
  Status WriteWork(const PassResult& pass);
  Status WriteStatuses(const PassResult& pass, Clock::TimePoint now, WakeUp& wake);
};

}  // namespace berth::hub
