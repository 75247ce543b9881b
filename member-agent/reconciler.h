// The reconciler: makes the member cluster run what this member's Work asks for, and
// reports per-workspace status back to the hub.
//
// Level-triggered: every pass reads the desired state (the last accepted Work) and the
// observed state (objects labelled managed-by=berth in the backend) and converges; it
// never depends on which event woke it. Keys are "<namespace>/<workspace>".
//   - desired key: render with workspace/ (plus the pre-pull DaemonSet when the entry asks
//     for one), plan the update (update_plan.h: update strategy, surge StatefulSet, objects
//     held at their revision this pass), apply objects whose berth.dev/applied-hash
//     differs from the cluster's, delete this workspace's managed objects that are neither
//     planned nor held, read readiness at the entry's revision (readiness.h) and the
//     pre-pull's progress (prepull.h); the status entry echoes the entry's entryGeneration;
//   - key not desired: delete its managed objects (prune) — only once the agent holds an
//     authoritative desired state (a Work from the hub or from the state dir), never
//     because the hub is silent or failing (fail static).
// A pass with nothing changed makes zero backend writes and zero hub writes: status is
// written only when it differs from what the hub already holds.
//
// Fencing: a Work whose spec.placementGeneration is lower than the highest applied one
// (kept in the state dir) is ignored.
//
// Thread safety: ObserveWork/ObserveNoWork may be called from a watch thread while one
// other thread calls Resync/ProcessReady/FlushStatus. State below is guarded by mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "api/clock.h"
#include "member-agent/agent_state.h"
#include "member-agent/backend.h"
#include "member-agent/hub_api.h"
#include "member-agent/readiness.h"
#include "member-agent/work_queue.h"

namespace berth::agent {

struct ReconcilerOptions {
  std::string cluster;
  Clock::Duration backoff_base{std::chrono::seconds(1)};
  Clock::Duration backoff_cap{std::chrono::seconds(60)};
  // A workspace that is not Ready yet is looked at again after this long.
  Clock::Duration not_ready_recheck{std::chrono::seconds(2)};
  // A Ready workspace whose backend reports serving signals is looked at again after this
  // long, so changed signals reach the hub (they are re-reported only when they moved
  // enough: ServingMoved).
  Clock::Duration serving_recheck{std::chrono::seconds(2)};
};

struct ReconcilerStats {
  int64_t backend_applies = 0;
  int64_t backend_deletes = 0;
  int64_t hub_status_writes = 0;
  int64_t reconciles = 0;
  int64_t reconcile_errors = 0;
  int64_t fenced_works = 0;  // Works ignored for an old placementGeneration
  int64_t backend_writes() const { return backend_applies + backend_deletes; }
};

// FNV-1a 64 of the object's compact JSON, hex: the berth.dev/applied-hash value.
std::string ObjectHash(const nlohmann::json& object);

// The report's "serving" object: {requestsPerSecond, running, waiting, kvCacheUsage,
// ttftSeconds: {p50, p90, p99}, latencySeconds: {p50, p90, p99}, capacity, errorRate (0..1,
// only when the backend knows it)}.
nlohmann::json ServingReport(const ServingSignals& signals);
// True when `now` differs from `reported` (a ServingReport, or null) enough to report again:
// running or waiting by >= 1 and >= 10 %, capacity at all, kvCacheUsage by >= 0.05,
// requestsPerSecond and each latency percentile by >= 10 % (of at least 0.1 req/s, 1 ms),
// errorRate appearing, going or moving by >= 0.005.
bool ServingMoved(const nlohmann::json& reported, const nlohmann::json& now);

class Reconciler {
 public:
  // `state` may be null (no persistence: tests). None are owned.
  Reconciler(MemberBackend* backend, HubApi* hub, const AgentStateDir* state, const Clock* clock,
             ReconcilerOptions options);

  // Loads the last applied Work from the state dir so the agent can keep (not prune)
  // workloads while the hub is unreachable after a restart.
  void LoadPersisted();

  // A Work from the hub (list or watch event). False when fenced off (older generation).
  bool ObserveWork(const nlohmann::json& work);
  // The hub answered that this member has no Work (list without it, or DELETED).
  void ObserveNoWork();

  // Queues every desired workspace and every managed workspace found in the backend.
  Status Resync();
  // Every desired workspace is due now, also one waiting for its next serving poll or
  // not-ready recheck: the cluster changed under it (a sim fault, as a watch event would say).
  void RequeueAllNow();
  // Reconciles every key that is due now. Returns how many it processed.
  int ProcessReady();
  // Patches the Work status when it differs from what the hub holds. Ok when nothing to do.
  Status FlushStatus();

  // When the queue next has a due key.
  std::optional<Clock::TimePoint> NextDue() const { return queue_.NextDue(); }
  ReconcilerStats stats() const;
  int64_t applied_generation() const;
  size_t desired_count() const;
  // The status the agent would report now (for /state and tests).
  nlohmann::json CurrentStatus() const;

 private:
  struct DesiredWorkspace {
    nlohmann::json workspace;  // the Workspace object as stored at the hub
    int replicas = 1;
    int64_t revision = 1;
    nlohmann::json gpu;  // {product, gfdProduct, memoryGiB, gpusPerNode, migProfile}
    nlohmann::json update;    // {mode, maxUnavailable, maxSurge, previousRevision}; null = none
    nlohmann::json pre_pull;  // {revision, image, model}; null = none
    std::vector<nlohmann::json> references;  // delivered Secrets / ConfigMaps (renderer.h)
    // The entry's entryGeneration (per-entry fencing token), echoed as
    // observedEntryGeneration; nullopt when the hub sends none. A change of only this
    // re-reconciles the key (to echo it) but renders the same objects: no backend write.
    std::optional<int64_t> entry_generation;
    bool operator==(const DesiredWorkspace&) const = default;
  };
  struct Outcome {
    nlohmann::json entry;  // status entry (without lastTransitionTime), null = remove
    bool retry = false;    // failed: back off
    bool recheck = false;  // not Ready: look again soon
    bool poll_serving = false;  // Ready with serving signals: look again after serving_recheck
  };

  bool AcceptWorkLocked(const nlohmann::json& work, bool from_hub);
  Outcome ReconcileDesired(const std::string& ns, const std::string& name,
                           const DesiredWorkspace& desired);
  Outcome ReconcileUndesired(const std::string& ns, const std::string& name);
  // Applies `objects` whose applied-hash differs from the live one and deletes live objects
  // in neither `objects` nor `held`. Returns how many writes it made.
  // Sets the entry's endpoint (when the backend knows its URL) and serving signals (the
  // ones already reported unless ServingMoved). True when the backend gave signals.
  bool ReportServing(const std::string& ns, const std::string& name, nlohmann::json& entry);
  StatusOr<int> SyncObjects(const std::vector<ManagedObject>& live,
                            const std::vector<nlohmann::json>& objects,
                            const std::set<ObjectKey>& held, const std::string& ns,
                            const std::string& name);
  nlohmann::json BuildStatusLocked() const;

  MemberBackend* backend_;
  HubApi* hub_;
  const AgentStateDir* state_;
  const Clock* clock_;
  const ReconcilerOptions options_;
  WorkQueue queue_;

  mutable std::mutex mu_;
  // --- guarded by mu_ ---
  std::map<std::string, DesiredWorkspace> desired_;
  bool authoritative_ = false;       // desired_ came from the hub or the state dir
  bool work_exists_at_hub_ = false;  // a Work object exists, so its status can be patched
  int64_t generation_ = -1;          // placementGeneration of desired_
  nlohmann::json applied_spec_;      // spec of the accepted Work (persisted)
  std::map<std::string, nlohmann::json> entries_;  // per-workspace status entries
  struct Transition {
    std::string phase;  // phase (workspace) or condition status ("#Applied")
    std::string time;   // lastTransitionTime
  };
  std::map<std::string, Transition> transitions_;
  nlohmann::json hub_status_;  // our fields of Work.status as the hub holds them
  ReconcilerStats stats_;
};

}  // namespace berth::agent
