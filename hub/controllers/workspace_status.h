// Workspace status, computed: from the pass's placement decision, the rollout, what agents
// report and what failover did, the status the hub writes — status.placements (per member:
// replicas, ready, available, revision, GPU, cost, endpoint, phase), superseded replicas kept
// by make-before-break, failedOverFrom, revisions and rollout, the placement explanation, and
// the endpoint map (status.endpoints, status.servedModels: endpoint_map.h),
// the conditions Scheduled, Applied, Available, Degraded, RolloutProgressing, MixedRevisions, and
// ReferencesResolved for a Workspace that references Secrets or ConfigMaps.
// Also the events a change of placement calls for (placement_events.h).
//
// Pure: every input is an argument; the FleetController writes the status if it changed.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/autoscale_stage.h"
#include "hub/controllers/endpoint_map.h"
#include "hub/controllers/stage_types.h"
#include "hub/controllers/work_reports.h"
#include "hub/controllers/workspace_references.h"
#include "hub/controllers/workspace_rollout.h"
#include "placement/planner.h"
#include "policies/placement_policy.h"

namespace berth::hub {

struct WorkspaceStatusInput {
  const nlohmann::json* workspace = nullptr;            // the stored object
  const placement::PlacementDecision* decision = nullptr;
  const WorkspaceRolloutResult* rollout = nullptr;
  std::vector<placement::Allocation> allocations;        // one per placed member
  const MemberReports* reported = nullptr;
  std::vector<nlohmann::json> superseded;                // make_before_break.h
  const policies::PlacementPolicySpec* policy = nullptr;  // the effective policy
  bool failing_back = false;
  std::set<std::string> evicted_unreachable;            // members left for being unreachable
  std::map<std::string, int> capacity_moved;            // member → replicas moved off
  int split_dropped = 0;                                 // replicas lost to a second GPU shape
  Clock::Duration capacity_limit{};                      // CapacityPendingLimit of the policy
  nlohmann::json placement_decision;                     // the planner's explanation
  const ResolvedReferences* references = nullptr;        // null: it references nothing
  const std::vector<EndpointSource>* endpoints = nullptr;  // endpoint_map.h; null: none
  const AutoscaleStageResult* autoscale = nullptr;  // autoscale_stage.h; null: not autoscaled
  Clock::TimePoint now{};
};

struct WorkspaceStatusResult {
  nlohmann::json status;
  std::vector<FleetEvent> events;  // in the order to record them
  WakeUp wake;                     // a capacity-pending deadline started this pass
};

WorkspaceStatusResult AggregateWorkspaceStatus(const WorkspaceStatusInput& in);

// The status of a Workspace that cannot be placed: Scheduled=False, reason InvalidSpec.
nlohmann::json InvalidWorkspaceStatus(const nlohmann::json& workspace, const std::string& why, Clock::TimePoint now);

// Placed members that run another revision than `target` get a revisionReason (why, from
// the rollout: the cluster's reason, else its progress). Returns "" when every member runs
// the target, else a sentence naming which members run what and why.
std::string DescribeMixedRevisions(nlohmann::json& placements, const nlohmann::json& rollout_state, int64_t target,
                                   bool* any_skipped);

}  // namespace berth::hub
