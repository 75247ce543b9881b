// The rollout state machine: a pure, level-triggered step function that walks a new revision
// of one Workspace through the stages of its RolloutStrategy.
//
//   RolloutStep step = Advance(plan, state, fleet, now);
//
// reads what should run (plan), what the rollout remembers (state, persisted in the
// Workspace's status.rollout) and what the agents report (fleet), and returns the next state,
// the revision each cluster should run now (the Work generator writes that), pre-pull
// requests, events for the transitions it made, and when to call again. Calling it twice with
// the same inputs gives the same state and no new events, so the controller may run it on
// any wake-up. Operations (approve, pause, resume, undo, retry) are pure state transitions.
//
// Pure: no I/O, no threads, time only as the `now` argument. Thread-compatible values.
// Semantics in docs/ROLLOUTS.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/status.h"
#include "policies/rollout_strategy.h"
#include "rollout/revision.h"

namespace berth::rollout {

// What an agent reports for the workspace on one cluster.
enum class ReplicaPhase { kPending, kStarting, kReady, kFailed };

// One member cluster as the rollout sees it. Only clusters the placement decision gives
// replicas (`placed`) take part; the others are ignored.
struct ClusterObservation {
  std::string name;
  std::map<std::string, std::string> labels;
  DottedVersion driver_version;  // the lowest over the cluster's GPU nodes; empty = unknown
  DottedVersion cuda_version;
  bool placed = true;          // the placement decision gives it replicas of this workspace
  int desired_replicas = 0;    // from the placement decision
  int64_t revision = 0;        // revision the agent reports running (0 = none yet)
  int replicas = 0;            // replicas the agent reports at `revision`
  int ready_replicas = 0;      // of those, Ready
  ReplicaPhase phase = ReplicaPhase::kPending;
  std::string reason;          // ImagePullBackOff, CrashLoopBackOff, InsufficientGPU, …
  int failure_reports = 0;     // failures reported for `revision` (restarts, pull errors, …)
  int surge_capacity = 0;      // extra replicas that fit on spare GPUs right now
  bool artifacts_cached = false;  // the target's image and weights are on the cluster
  // The agent reports that pre-pulling the target failed (the image cannot be pulled):
  // the cluster fails at once instead of waiting out the pre-pull timeout.
  bool pre_pull_failed = false;
  std::string pre_pull_reason;  // ImagePullBackOff, ErrImagePull, …
  // p90 time to first token of the cluster's endpoint now, from the agent's serving signals
  // (whatever revision serves); nullopt when not reported. For the serving gates.
  std::optional<double> ttft_p90_seconds;
  // Failed / all requests (0..1) of the cluster's endpoint now; nullopt when not reported.
  std::optional<double> error_rate;
  // False while the agent has not reported on the cluster's Work entry as it stands (just
  // changed, e.g. by the autoscaler): nothing is known, so a soak neither fails nor ends on it.
  bool reported = true;
};

struct FleetView {
  std::vector<ClusterObservation> clusters;
};

// What the rollout is asked to do.
struct RolloutPlan {
  policies::RolloutStrategySpec strategy;
  Revision target;                   // the revision the Workspace asks for now (number > 0)
  std::optional<Revision> last_good; // the rollback target; none for a first deployment
  int min_available = 1;             // never start an update that could go below this many
                                     // Ready replicas over the whole fleet
};

enum class RolloutPhase {
  kProgressing,
  kAwaitingApproval,
  kPaused,
  kBlocked,      // incompatible clusters (onIncompatible: Block) or minAvailable hold the stage
  kCompleted,
  kFailed,       // failed and not rolled back (rollbackOnFailure false or no last good)
  kRollingBack,
  kRolledBack,
};
std::string_view RolloutPhaseName(RolloutPhase phase);

enum class ClusterProgress { kPending, kPrePulling, kUpdating, kSoaking, kDone, kFailed, kSkipped };
std::string_view ClusterProgressName(ClusterProgress progress);

struct ClusterRollout {
  int stage = 0;                         // index into the stage list (last = "rest")
  ClusterProgress progress = ClusterProgress::kPending;
  int64_t from_revision = 0;             // what it ran when the rollout started
  std::optional<Clock::TimePoint> pre_pull_started;
  std::optional<Clock::TimePoint> update_started;
  std::optional<Clock::TimePoint> ready_since;  // Ready on the target since
  std::string reason;                    // why Failed / Skipped / waiting
  bool surge = false;                    // chosen when the update started (kept to the end)
  int max_surge = 0;
  // The cluster's p90 TTFT when its update started (the revision it ran before): the
  // baseline of the regression gate. nullopt when it served nothing then.
  std::optional<double> baseline_ttft_p90;
  // Ready replicas when the soak began (-1: unknown, from an older status: all desired). The
  // soak fails when Ready falls below it; replicas added meanwhile (the autoscaler scaling
  // out) may still be starting without failing the revision.
  int soak_ready = -1;
  // The way back (RollingBack), decided once when the rollback first writes the cluster's
  // directive: -1 not yet, 0 in place, k > 0 Surge with k replicas of the last good revision
  // beside the ones being left (the agent soon reports the entry's revision, so deciding
  // from observations at every step would flip it to InPlace half way).
  int rollback_surge = -1;
  bool operator==(const ClusterRollout&) const = default;
};

// Persisted in status.rollout. Default-constructed = no rollout yet.
struct RolloutState {
  int64_t target_revision = 0;
  std::string target_hash;
  int64_t rollback_revision = 0;    // last good at the start (0 = first deployment)
  RolloutPhase phase = RolloutPhase::kProgressing;
  int stage = 0;                    // current stage index
  std::vector<std::string> stage_names;  // declared stages + "rest", fixed at the start
  bool stage_started = false;       // StageStarted was emitted for `stage`
  std::optional<Clock::TimePoint> stage_soak_started;
  std::set<int> approved_stages;
  bool paused = false;
  bool undo_requested = false;      // set by Undo, acted on by the next step
  int failed_clusters = 0;
  std::map<std::string, ClusterRollout> clusters;
  // Hashes of revisions that failed here; a target with one of these is not rolled out again
  // until it changes or `Retry` is applied. Bounded to the last 10.
  std::vector<std::string> failed_hashes;
  std::string reason;   // CamelCase, for the RolloutProgressing condition
  std::string message;  // what is happening and what to do
  bool operator==(const RolloutState&) const = default;
};

nlohmann::json RolloutStateToJson(const RolloutState& state);
// Invalid naming the field when `j` is not what RolloutStateToJson writes. null → default.
StatusOr<RolloutState> RolloutStateFromJson(const nlohmann::json& j);

// What one cluster's Work should carry now.
struct ClusterDirective {
  int64_t revision = 0;           // run this revision
  int64_t previous_revision = 0;  // surge: keep these replicas until `revision` is Ready (0 = none)
  policies::UpdateMode mode = policies::UpdateMode::kSurge;
  int max_unavailable = 1;        // in-place: replicas that may be down at once
  int max_surge = 0;              // surge: extra replicas to start beside the old
  bool operator==(const ClusterDirective&) const = default;
};

struct PrePullRequest {
  std::string cluster;
  std::string image;
  std::string model;
  int64_t revision = 0;
  bool operator==(const PrePullRequest&) const = default;
};

struct RolloutEvent {
  std::string type = "Normal";  // or Warning
  std::string reason;           // StageStarted, StageSoaking, AwaitingApproval, StageCompleted,
                                // ClusterFailed, ClusterSkipped, RolloutCompleted, RolloutFailed,
                                // RollbackStarted, RollbackCompleted, RolloutBlocked, …
  std::string message;
  std::string cluster;          // "" when about the whole rollout
};

struct RolloutStep {
  RolloutState state;
  std::map<std::string, ClusterDirective> directives;  // every placed cluster
  std::vector<PrePullRequest> pre_pulls;               // outstanding; repeat until cached
  std::vector<RolloutEvent> events;                    // transitions made by this step
  RolloutPhase phase = RolloutPhase::kProgressing;
  // Set when the target completed in this or an earlier step: the controller marks it good
  // in the RevisionHistory. Likewise `failed_revision` (with state.reason) to mark failed.
  int64_t completed_revision = 0;
  int64_t failed_revision = 0;
  // Call Advance again by this time even if nothing changes (soak end, deadlines).
  std::optional<Clock::TimePoint> requeue_at;
};

// One level-triggered step. Never fails: bad situations become phases and reasons.
RolloutStep Advance(const RolloutPlan& plan, const RolloutState& state, const FleetView& fleet,
                    Clock::TimePoint now);

// Operations (berthctl rollout …). Each returns the new state or FailedPrecondition saying
// why it does not apply now.
// Lets the current stage start when it waits for approval (idempotent once approved).
StatusOr<RolloutState> Approve(const RolloutState& state);
StatusOr<RolloutState> Pause(const RolloutState& state);
StatusOr<RolloutState> Resume(const RolloutState& state);
// Rolls every cluster back to the last good revision and remembers the target as failed.
StatusOr<RolloutState> Undo(const RolloutState& state);
// Forgets that the target failed so the next step rolls it out again from stage 0.
StatusOr<RolloutState> Retry(const RolloutState& state);

}  // namespace berth::rollout
