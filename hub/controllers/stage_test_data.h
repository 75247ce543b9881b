// Data the placement stages' unit tests share: a fixed instant, a workspace key, planner
// allocations and member objects. Test-only.
#pragma once

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

}  // namespace berth::hub::stage_test
