// Failover, failback and capacity re-placement: which of a workspace's current replicas the
// placement pass keeps where they are. Each function edits one PlacementRequest's `current`
// (cluster → replicas kept, the planner's stickiness) and `avoid`, and records what it did in
// a FailoverOutcome that the status stage turns into status.failedOverFrom and events.
// docs/FAILOVER.md describes the behaviour; this file is where it is decided.
//
// Pure: members, reports, the workspace's status and the time are arguments.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/stage_types.h"
#include "hub/controllers/work_reports.h"
#include "placement/fleet.h"
#include "placement/planner.h"
#include "policies/placement_policy.h"

namespace berth::hub {

// The NoExecute taint an unreachable member carries in the placement snapshot (like
// Kubernetes' node.kubernetes.io/unreachable). Workspaces tolerate it for their policy's
// failover toleration unless they say otherwise.
inline constexpr char kUnreachableTaint[] = "berth.dev/unreachable";
placement::Taint UnreachableTaint();

// Defaults for what a PlacementPolicy's spec.failover leaves unset (berth-hub flags).
struct FailoverDefaults {
  int64_t toleration_seconds = 30;
  int64_t failback_hysteresis_seconds = 300;
  int64_t capacity_pending_seconds = 120;
  int64_t drain_seconds = 30;
};

// The policy as placement applies it: with the implicit toleration of the unreachable taint
// for the policy's failover toleration, unless the policy tolerates that taint itself.
std::shared_ptr<const policies::PlacementPolicySpec> WithUnreachableToleration(
    const policies::PlacementPolicySpec& policy, int64_t default_toleration_seconds);

// How long replicas may wait Pending for GPUs on a member before they are placed elsewhere.
Clock::Duration CapacityPendingLimit(const policies::PlacementPolicySpec& policy, const FailoverDefaults& d);

// How long a cluster's endpoint drains before a planned removal of its replicas.
Clock::Duration DrainGrace(const policies::PlacementPolicySpec& policy, const FailoverDefaults& d);

// NoExecute taints of a member with the time each was added: those in spec.taints (timeAdded,
// stamped by the health reconcile) and the unreachable one while the member is frozen.
std::vector<std::pair<placement::Taint, Clock::TimePoint>> NoExecuteTaints(const MemberView& m,
                                                                          Clock::TimePoint now);

// What failover decided for the workspaces of one pass (by workspace key).
struct FailoverOutcome {
  std::set<std::string> failing_back;                                // decided afresh this pass
  std::map<std::string, std::set<std::string>> evicted_unreachable;  // members left for being unreachable
  std::map<std::string, std::map<std::string, int>> capacity_moved;  // member → replicas moved off
};

// The inputs every decision below reads, for one workspace.
struct FailoverContext {
  const std::string* key = nullptr;                          // the workspace
  const nlohmann::json* status = nullptr;                    // its status (may be null JSON)
  const policies::PlacementPolicySpec* policy = nullptr;     // effective (WithUnreachableToleration)
  const std::map<std::string, MemberView>* members = nullptr;
  const MemberReports* reported = nullptr;
  FailoverDefaults defaults;
  Clock::TimePoint now{};
};

// NoExecute eviction: replicas leave a member whose NoExecute taint (the unreachable one
// included) the workspace tolerates for less time than the taint has been there, and a
// member that no longer exists.
void EvictNoExecute(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out, WakeUp& wake);

// Failback: once a member the workspace failed over from (status.failedOverFrom) has been
// healthy for the policy's hysteresis, the workspace is decided afresh (no stickiness) so
// replicas can return to the preferred clusters; make-before-break keeps the old ones until
// the new are Ready.
void DecideFailback(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out, WakeUp& wake);

// Replicas stuck Pending for lack of GPUs on a healthy member (the agent says
// InsufficientGPU, Unschedulable, GPUsLost or NodeLost) for capacityPendingSeconds are
// re-placed: the member keeps the replicas it serves and the rest go to other clusters first
// (it stays a last resort, so replicas are never dropped for having nowhere better).
void ReplaceCapacityPending(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out,
                            WakeUp& wake);

}  // namespace berth::hub
