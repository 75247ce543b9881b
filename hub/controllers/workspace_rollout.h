// The rollout half of a Workspace's reconcile: from the Workspace object, its strategy, the
// placement just decided and what agents report, compute the revision history, the next
// rollout state (rollout/rollout.h Advance), the revision each placed member runs and the
// Work-entry additions that carry it (update mode, pre-pull). The FleetController calls it
// once per workspace per pass and writes the result with the rest of the status, so one
// status write carries placement and rollout together.
//
// Pure: no I/O, time only as `now`. Thread-compatible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "placement/fleet.h"
#include "policies/rollout_strategy.h"
#include "rollout/rollout.h"

namespace berth::hub {

// What an agent reported in its Work status for one workspace (only reports for the Work's
// current placement generation are trusted; see FleetController).
struct MemberReport {
  int replicas = 0;
  int ready = 0;          // Ready pods at `revision`
  int available = 0;      // Ready pods of any revision (what the Services route to)
  int updated = 0;        // pods at `revision`
  int surge = 0;          // pods of the agent's surge StatefulSet (counted in `ready` when Ready)
  int failures = 0;       // failure observations for `revision`
  int64_t revision = 0;
  bool applied = false;
  std::string phase, reason, message, endpoint;
  // Pre-pull of `pre_pull_revision` as the agent reports it: Pulling, Done or Failed.
  int64_t pre_pull_revision = 0;
  std::string pre_pull_phase, pre_pull_reason;
  // Serving signals of the member's endpoint for this workspace (the agent's `serving`
  // object, known numeric fields only; null when not reported) and its serving capacity
  // (concurrent sequences over the Ready replicas; 0 = not reported).
  nlohmann::json serving;
  int capacity = 0;
};

// One member the placement gives replicas of the workspace.
struct PlacedMember {
  const placement::ClusterInventory* cluster = nullptr;  // from the placement snapshot
  int replicas = 0;
  std::string gpu;              // "A100-80GB" or "A100-80GB/1g.10gb"
  int gpus_per_replica = 0;
  int nodes_per_replica = 1;
  int spare_units = 0;          // units of `gpu` free after every reservation this pass
  const MemberReport* report = nullptr;  // null: nothing reported yet
};

struct WorkspaceRolloutInput {
  const nlohmann::json* workspace = nullptr;  // the stored object (status included)
  policies::RolloutStrategySpec strategy;
  std::string strategy_source;  // "default", "inline" or the RolloutStrategy name
  std::map<std::string, PlacedMember> placed;  // by member name
  int min_available = 1;
  Clock::TimePoint now{};
};

// What the Work entry for one member carries beyond workspace/replicas/gpu.
struct MemberDirective {
  int64_t revision = 0;
  nlohmann::json template_fields;  // ModelAffectingFields of `revision` (inference, resource)
  nlohmann::json update;           // {"mode","maxUnavailable","maxSurge","previousRevision"}
  nlohmann::json pre_pull;         // null or {"revision","image","model"}
  int surge_units = 0;             // GPUs the surge holds beyond the replicas (for the ledger)
};

struct WorkspaceRolloutResult {
  nlohmann::json revisions;  // status.revisions (RevisionHistory::ToJson)
  nlohmann::json rollout;    // status.rollout (RolloutStateToJson + strategy/phase summary)
  int64_t target_revision = 0;
  std::map<std::string, MemberDirective> directives;  // every placed member
  std::vector<rollout::RolloutEvent> events;
  std::optional<Clock::TimePoint> requeue_at;
  // The running stage's trafficPercent (policies::RolloutStage), or the last started stage's
  // while the rollout waits for approval, is paused or blocked: the endpoint map weighs the
  // endpoints on target_revision to this share of the model's traffic. nullopt: by capacity.
  std::optional<int> traffic_percent;
  // The RolloutProgressing condition.
  bool progressing = true;
  std::string reason, message;
};

// Invalid (naming the field) only when the Workspace's driver/CUDA annotations are not
// versions; a damaged status.revisions / status.rollout is replaced, not fatal.
StatusOr<WorkspaceRolloutResult> ReconcileWorkspaceRollout(const WorkspaceRolloutInput& in);

// The image a revision runs ("" in the spec means Berth's pinned vLLM image).
std::string RevisionImage(const rollout::Revision& rev);

}  // namespace berth::hub
