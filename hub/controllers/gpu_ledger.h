// The GPU ledger of one placement pass: which GPUs the replicas Berth has already asked
// members for hold, so the planner never hands the same GPUs out twice, and how many of each
// GPU shape stay spare on each member after this pass's decisions (the rollout reads it to
// size a surge). docs/PLACEMENT.md "Reservations".
//
// Every replica in a Work entry holds its GPUs: running ones (the agent reports them as
// berthGpus, added back to free in the snapshot) and ones the agent has not started yet
// alike, so nothing depends on the order agent reports arrive in. A surge in progress holds
// its extra GPUs too (update.maxSurge), so they are not handed to another workspace while
// the new replicas start beside the old.
//
// Pure: the snapshot, Work objects and workspace facts are arguments.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "placement/fleet.h"
#include "placement/planner.h"

namespace berth::hub {

struct GpuLedger {
  std::map<std::string, std::map<std::string, int>> reserved_by;  // workspace key → member → GPU units
  std::map<std::string, std::map<std::string, int>> spare;        // member → GPU shape → free units

  // Spare units of `gpu` ("A100-80GB" or "A100-80GB/1g.10gb") on `member`, never below 0.
  int Spare(const std::string& member, const std::string& gpu) const;
  // New allocations take what they need beyond their own reservations out of `spare`.
  void TakeAllocations(const std::vector<placement::PlacementDecision>& decisions);
  // A surge the rollout starts holds `units` more of `gpu` on `member`.
  void TakeSurge(const std::string& member, const std::string& gpu, int units) { spare[member][gpu] -= units; }
};

// Reserves the GPUs of every entry in each member's Work on the snapshot's nodes (appending
// to snapshot.reservations) and returns the ledger. Entries of workspaces failing back are
// left out (they are decided afresh and must not block themselves), and so are entries their
// workspace's status does not list (`status_knows(key, member)` false: the pass that wrote
// them failed before its status write; reserving them would make the workspace compete with
// itself).
GpuLedger ReserveGpus(placement::FleetSnapshot& snapshot,
                      const std::map<std::string, std::shared_ptr<const nlohmann::json>>& works,
                      const std::set<std::string>& failing_back,
                      const std::function<bool(const std::string& key, const std::string& member)>& status_knows);

// True when the Workspace `workspace` lists `member` in status.placements or
// status.superseded, or is null (unknown: keep the reservation, to be safe).
bool StatusKnowsMember(const nlohmann::json* workspace, const std::string& member);

}  // namespace berth::hub
