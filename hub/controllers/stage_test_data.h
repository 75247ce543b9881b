// Data the placement stages' unit tests share: a fixed instant, a workspace key, planner
// allocations and member objects. Test-only.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "placement/planner.h"

namespace berth::hub::stage_test {

inline const Clock::TimePoint kT0(Clock::Duration(1'767'225'600'000));  // 2026-01-01T00:00:00Z
inline const std::string kKey = "default/llama";

// `replicas` replicas of `gpus` × `gpu` on `cluster`.
inline placement::Allocation Alloc(const std::string& cluster, int replicas, int gpus = 1,
                                   const std::string& gpu = "A100-80GB") {
  placement::Allocation a;
  a.cluster = cluster;
  a.gpu = gpu;
  a.gpus_per_replica = gpus;
  a.replicas = replicas;
  return a;
}

// A MemberCluster object with these spec.taints.
inline nlohmann::json MemberObject(const std::string& name, nlohmann::json taints = nlohmann::json::array()) {
  return {{"metadata", {{"name", name}}}, {"spec", {{"taints", taints}}}};
}

// A Work entry of workspace default/<name>: `replicas` at revision 1, entryGeneration 4.
inline nlohmann::json WorkEntry(const std::string& name, int replicas) {
  return {{"workspace", {{"metadata", {{"name", name}, {"namespace", "default"}}}}},
          {"replicas", replicas},
          {"revision", 1},
          {"entryGeneration", 4}};
}

// The Work of `member` with these spec.workspaces entries, at placementGeneration 4.
inline std::shared_ptr<const nlohmann::json> WorkOf(const std::string& member, nlohmann::json entries) {
  return std::make_shared<const nlohmann::json>(
      nlohmann::json{{"metadata", {{"name", member}}},
                     {"spec", {{"cluster", member}, {"placementGeneration", 4}, {"workspaces", entries}}}});
}

}  // namespace berth::hub::stage_test
