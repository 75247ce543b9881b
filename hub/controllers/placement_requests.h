// Turns the fleet's Workspaces into placement requests for one pass: parses each (an invalid
// one is reported with why, not placed), resolves its policy (with the implicit toleration of
// the unreachable taint), and lets the failover decisions (failover_decisions.h) say which
// current replicas are kept where. Pure: every input is an argument.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/autoscale_stage.h"
#include "hub/controllers/failover_decisions.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/stage_types.h"
#include "hub/controllers/work_reports.h"
#include "hub/controllers/workspace_references.h"
#include "placement/planner.h"
#include "placement/workspace_request.h"

namespace berth::hub {

// PlacementPolicy objects by "namespace/name"; ones that do not parse are left out (the API
// validated them on the way in, so that is a stored object from an older version).
placement::PolicyCatalog PoliciesFrom(const std::vector<nlohmann::json>& policy_objects);

struct PlacementRequestsInput {
  const std::vector<nlohmann::json>* workspaces = nullptr;  // every stored Workspace
  const placement::PolicyCatalog* policies = nullptr;
  const std::map<std::string, MemberView>* members = nullptr;
  const MemberReports* reported = nullptr;
  // The Secrets and ConfigMaps Workspaces reference that exist, by "Kind/ns/name"
  // (workspace_references.h); null = none.
  const std::map<std::string, nlohmann::json>* referenced = nullptr;
  FailoverDefaults defaults;
  Clock::TimePoint now{};
  Clock::Duration autoscale_sync = kDefaultAutoscaleSync;  // autoscale_stage.h
};

struct PlacementRequests {
  std::vector<placement::PlacementRequest> requests;  // one per valid Workspace not being deleted
  std::vector<const nlohmann::json*> objects;         // the Workspace of each request (as stored)
  // The Workspace of each request as the rollout and the Work entries see it: the stored one,
  // or a copy with inference.config applied (owned by `resolved`).
  std::vector<const nlohmann::json*> effective;
  std::map<std::string, ResolvedReferences> resolved;  // workspace key → its references (if any)
  std::map<std::string, const nlohmann::json*> by_key;  // every Workspace, deleted ones included
  std::map<std::string, std::string> invalid;         // workspace key → why it cannot be placed
  FailoverOutcome failover;
  // Workspaces with `autoscaling`: the stage's result (their requests ask for its replicas).
  std::map<std::string, AutoscaleStageResult> autoscaled;
  WakeUp wake;
};

PlacementRequests BuildPlacementRequests(const PlacementRequestsInput& in);

}  // namespace berth::hub
