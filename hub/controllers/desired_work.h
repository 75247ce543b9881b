// Desired Work of one placement pass: from the planner's decisions, the Work entry each member
// should carry for each workspace — one GPU shape per member, the revision the rollout
// (workspace_rollout.h) lets that member run, the workspace's model fields as of that
// revision, the update mode and pre-pull. Also what the status stage needs to describe it.
//
// Pure: decisions, Workspaces, strategies, the snapshot, reports and the time are arguments.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/gpu_ledger.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/work_reports.h"
#include "hub/controllers/workspace_references.h"
#include "hub/controllers/workspace_rollout.h"
#include "placement/planner.h"
#include "policies/rollout_strategy.h"

namespace berth::hub {

// RolloutStrategy objects by "namespace/name"; ones that do not parse are left out.
std::map<std::string, policies::RolloutStrategySpec> StrategiesFrom(const std::vector<nlohmann::json>& objects);

// The strategy a Workspace's rollout follows: rollout.strategy inline, else the
// RolloutStrategy rollout.strategyRef names (the default when it does not exist, and the
// source says so), else the default.
void ResolveStrategy(const nlohmann::json& workspace,
                     const std::map<std::string, policies::RolloutStrategySpec>& strategies,
                     WorkspaceRolloutInput& in);

// One Work entry runs one GPU shape per member: the decision's allocations by member, the
// larger one kept where a member got two shapes; `dropped` counts the replicas lost so.
std::map<std::string, placement::Allocation> OneShapePerMember(const placement::PlacementDecision& d, int* dropped);

struct DesiredWorkInput {
  const std::vector<placement::PlacementDecision>* decisions = nullptr;
  const std::vector<placement::PlacementRequest>* requests = nullptr;  // same order as decisions
  const std::vector<const nlohmann::json*>* objects = nullptr;          // the Workspace of each (effective)
  // Secrets / ConfigMaps to deliver with each Workspace's entries (workspace_references.h).
  const std::map<std::string, ResolvedReferences>* resolved = nullptr;
  const std::map<std::string, policies::RolloutStrategySpec>* strategies = nullptr;
  const placement::FleetSnapshot* snapshot = nullptr;
  const std::map<std::string, MemberView>* members = nullptr;
  const MemberReports* reported = nullptr;
  Clock::TimePoint now{};
};

struct DesiredWork {
  std::map<std::string, std::map<std::string, nlohmann::json>> entries;  // member → workspace key → entry
  std::map<std::string, std::vector<placement::Allocation>> allocations;  // workspace key → kept allocations
  std::map<std::string, int> requested;                                   // workspace key → replicas asked
  std::map<std::string, int> split_dropped;  // workspace key → replicas lost to a second GPU shape
  std::map<std::string, WorkspaceRolloutResult> rollouts;                 // workspace key → this pass's rollout
  std::map<std::string, std::string> invalid;                            // workspace key → why (rollout refused)
};

// `ledger` gives each member's spare GPUs to the rollout and takes the surges it starts.
DesiredWork BuildDesiredWork(const DesiredWorkInput& in, GpuLedger& ledger);

}  // namespace berth::hub
