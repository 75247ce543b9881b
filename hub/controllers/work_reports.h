// What member agents report, read from Work objects: per workspace, the replicas a member
// runs, how many are Ready and Available, the revision, phase and endpoint (MemberReport),
// trusted only when it answers the Work entry as it stands now. Also the facts the failover
// stages read from those reports and from Workspace status. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/workspace_rollout.h"

namespace berth::hub {

// member → workspace key → report.
using MemberReports = std::map<std::string, std::map<std::string, MemberReport>>;

// The workspace key ("namespace/name") of one spec.workspaces entry of a Work.
std::string EntryKey(const nlohmann::json& entry);

// The reports in a Work's status, by workspace key. Only a report about the Work entry as it
// stands now counts: one the agent wrote for an older version of the entry may describe
// replicas that are no longer asked for. Each entry carries entryGeneration (the
// placementGeneration at which it last changed) and the agent echoes it per workspace as
// observedEntryGeneration, so a change to another workspace on the same member does not make
// this one look unready. A report without the echo counts only when the agent has seen the
// whole Work (observedPlacementGeneration).
std::map<std::string, MemberReport> ReportedByWorkspace(const nlohmann::json& work);

// The agent says the workspace's replicas on this member wait for GPUs the member does not
// have free (as opposed to starting, pulling or failing).
bool IsCapacityPending(const MemberReport& r);

// status.placements[cluster].capacityPendingSince of a Workspace status, if set.
std::optional<Clock::TimePoint> CapacityPendingSince(const nlohmann::json& status, const std::string& cluster);

}  // namespace berth::hub
