// Drain before removal: a Work entry that a pass would take off a healthy member (failback,
// rebalancing, re-placement, a workspace no longer placed there) while that member's endpoint
// still serves Ready replicas first stays on the member marked `draining: {since}`. The
// endpoint map gives a draining endpoint weight 0 (the gateway sends it no new requests) and
// in-flight requests and streams finish; once the policy's drain grace
// (spec.failover.drainSeconds, else berth-hub --drain-grace) has passed the entry goes.
//
// Not drained: entries of a deleted workspace, of a member that serves nothing for it, and of
// frozen members (Suspect or Failed: their endpoint is Down at once and their Work is left
// untouched anyway). Replicas removed inside a cluster that keeps the workspace (fewer
// replicas there, a rollout's surge) drain in the cluster: its Service stops sending to a
// terminating pod and the pod finishes what it serves.
//
// Pure: the previous Work, the desired entries and reports are arguments.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/desired_work.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/stage_types.h"
#include "hub/controllers/work_reports.h"

namespace berth::hub {

// The field of a Work entry that marks it draining: {"since": RFC 3339}.
inline constexpr char kDrainingField[] = "draining";

struct DrainingEndpoint {
  std::string cluster;
  Clock::TimePoint until;
  int replicas = 0;
  int available = 0;  // Ready replicas still serving in-flight requests
};

// Workspace key → the members its endpoint drains on.
using Draining = std::map<std::string, std::vector<DrainingEndpoint>>;

struct DrainInput {
  const std::map<std::string, MemberView>* members = nullptr;
  const std::map<std::string, std::shared_ptr<const nlohmann::json>>* works = nullptr;
  const std::map<std::string, const nlohmann::json*>* workspaces = nullptr;  // every Workspace by key
  const MemberReports* reported = nullptr;
  std::function<Clock::Duration(const std::string& key)> grace;  // per workspace
  Clock::TimePoint now{};
};

// Adds to `desired.entries` every previous entry that must drain first (marked draining),
// and says which they are. `wake` learns when the first drain ends.
Draining DrainBeforeRemoval(const DrainInput& in, DesiredWork& desired, WakeUp& wake);

// When a Work entry started draining; nullopt when it does not drain.
std::optional<Clock::TimePoint> DrainingSince(const nlohmann::json& entry);

}  // namespace berth::hub
