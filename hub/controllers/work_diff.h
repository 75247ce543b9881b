// Which Work objects a placement pass writes: for each member that is not frozen, its Work
// with the desired entries when they differ from what it has (a new placementGeneration; an
// entry keeps its entryGeneration while what it runs is unchanged, so agents and reports can
// tell which entries changed), and a delete for the Work of a member that no longer exists.
// Pure: it returns the writes; the FleetController performs them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub/controllers/member_health.h"

namespace berth::hub {

struct WorkWrite {
  enum class Op { kCreate, kUpdate, kDelete };
  Op op = Op::kUpdate;
  std::string member;     // the Work's name
  nlohmann::json object;  // the whole Work to create or update (null for a delete)
};

// The part of a Work entry that decides what runs on the member: a change to anything else
// (pre-pull request, update mode, the Workspace's generation or placement policy) leaves the
// running replicas as they are, so it keeps the entry's fencing token (entryGeneration).
nlohmann::json WhatRuns(const nlohmann::json& entry);

// `desired` is member → workspace key → entry (a member not listed wants no entries).
std::vector<WorkWrite> DiffWork(const std::map<std::string, MemberView>& members,
                                const std::map<std::string, std::shared_ptr<const nlohmann::json>>& works,
                                const std::map<std::string, std::map<std::string, nlohmann::json>>& desired);

}  // namespace berth::hub
