#include "hub/controllers/gpu_ledger.h"

#include <algorithm>

#include "api/object.h"
#include "hub/controllers/work_reports.h"

namespace berth::hub {

using nlohmann::json;

int GpuLedger::Spare(const std::string& member, const std::string& gpu) const {
  auto m = spare.find(member);
  if (m == spare.end()) return 0;
  auto g = m->second.find(gpu);
  return g == m->second.end() ? 0 : std::max(0, g->second);
}

void GpuLedger::TakeAllocations(const std::vector<placement::PlacementDecision>& decisions) {
  for (const auto& d : decisions) {
    for (const auto& a : d.allocations) {
      const int units = a.replicas * a.gpus_per_replica;
      spare[a.cluster][a.gpu] -= std::max(0, units - reserved_by[d.workspace][a.cluster]);
    }
  }
}

bool StatusKnowsMember(const json* workspace, const std::string& member) {
  if (!workspace) return true;
  for (const char* list : {"status.placements", "status.superseded"}) {
    json l = api::JsonPathGet(*workspace, list);
    for (const auto& p : l.is_array() ? l : json::array()) {
      if (p.value("cluster", "") == member) return true;
    }
  }
  return false;
}

namespace {

// Reserves one Work entry's units on the member's nodes of its GPU shape, first come first
// served; `used` counts what earlier entries took per node.
void ReserveEntry(const json& e, const placement::ClusterInventory& cluster, std::map<std::string, int>& used,
                  GpuLedger& ledger, std::vector<placement::Reservation>& reservations) {
  const std::string key = EntryKey(e);
  const int surge = e.value("update", json::object()).value("maxSurge", 0);
  const json gpu = e.value("gpu", json::object());
  if (!gpu.is_object()) return;
  int pending_units = (e.value("replicas", 0) + surge) * gpu.value("gpusPerReplica", 0);
  const std::string product = gpu.value("product", "");
  const std::string profile = gpu.value("migProfile", "");
  for (const auto& node : cluster.nodes) {
    if (pending_units <= 0) break;
    if (node.gpu_product != product || node.mig_profile != profile) continue;
    const int take = std::min(pending_units, node.free_units - used[node.name]);
    if (take <= 0) continue;
    used[node.name] += take;
    pending_units -= take;
    ledger.reserved_by[key][cluster.name] += take;
    reservations.push_back({key, cluster.name, node.name, take});
  }
}

}  // namespace

GpuLedger ReserveGpus(placement::FleetSnapshot& snapshot,
                      const std::map<std::string, std::shared_ptr<const json>>& works,
                      const std::set<std::string>& failing_back,
                      const std::function<bool(const std::string& key, const std::string& member)>& status_knows) {
  GpuLedger ledger;
  for (const auto& cluster : snapshot.clusters) {
    std::map<std::string, int> used;  // node → reserved units
    auto w = works.find(cluster.name);
    const json entries = w == works.end() ? json() : api::JsonPathGet(*w->second, "spec.workspaces");
    for (const auto& e : entries.is_array() ? entries : json::array()) {
      const std::string key = EntryKey(e);
      if (failing_back.count(key) || !status_knows(key, cluster.name)) continue;
      ReserveEntry(e, cluster, used, ledger, snapshot.reservations);
    }
    for (const auto& node : cluster.nodes) {
      const std::string gpu = node.mig_profile.empty() ? node.gpu_product : node.gpu_product + "/" + node.mig_profile;
      ledger.spare[cluster.name][gpu] += std::max(0, node.free_units - used[node.name]);
    }
  }
  return ledger;
}

}  // namespace berth::hub
