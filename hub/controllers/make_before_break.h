// Make-before-break: a Work entry leaving a member (failover, failback, rebalancing, capacity
// re-placement) stays on that member until the workspace's new placement serves as many Ready
// replicas as it asks for, so a workspace never trades serving replicas for unready ones.
// Frozen members (suspect or failed) keep their Work untouched and are not looked at here.
// Pure: the previous Work, the desired entries and reports are arguments.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub/controllers/desired_work.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/work_reports.h"

namespace berth::hub {

// status.superseded entries by workspace key: {cluster, replicas, readyReplicas, reason}.
using Superseded = std::map<std::string, std::vector<nlohmann::json>>;

// Adds to `desired.entries` every previous entry that must stay, and says which they are.
// `workspaces` is every Workspace by key (one that is gone or being deleted keeps nothing).
Superseded KeepUntilReplaced(const std::map<std::string, MemberView>& members,
                             const std::map<std::string, std::shared_ptr<const nlohmann::json>>& works,
                             const std::map<std::string, const nlohmann::json*>& workspaces,
                             const MemberReports& reported, DesiredWork& desired);

}  // namespace berth::hub
