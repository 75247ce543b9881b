// The endpoint map of a Workspace (status.endpoints): per member that runs it, the URL of its
// cluster endpoint, a state and a weight for the gateway (docs/GATEWAY.md).
//
//   Serving   — the member is healthy, the entry is not draining and Ready replicas serve;
//               weight ∝ its serving capacity (reported concurrent sequences, else Ready
//               replicas), scaled so the largest endpoint of the workspace has 256; ≥ 1.
//   Draining  — a planned removal waits for in-flight requests (endpoint_drain.h): weight 0.
//   Down      — the member is Unhealthy (at once, before any failover toleration), or no
//               replica is Ready, or the agent has not reported an endpoint: weight 0.
//
// Also status.servedModels: the names clients send as the OpenAI `model` field.
// Pure: sources, the previous map (for lastTransitionTime) and `now` are arguments.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/endpoint_drain.h"
#include "hub/controllers/member_health.h"
#include "hub/controllers/work_reports.h"

namespace berth::hub {

inline constexpr int kMaxEndpointWeight = 256;  // HAProxy's server weight range is 0..256

// One member that has a Work entry for the workspace.
struct EndpointSource {
  std::string cluster;
  int64_t revision = 0;                  // of the entry
  const MemberReport* report = nullptr;  // null: nothing (trusted) reported
  std::string down_reason;               // non-empty: the member is Down (MemberUnhealthy, ...)
  std::optional<Clock::TimePoint> draining_until;
};

// Workspace key → its sources, from every member's Work as this pass leaves it: `desired`
// for members the pass writes, the stored Work for frozen members (left untouched).
std::map<std::string, std::vector<EndpointSource>> EndpointSources(
    const std::map<std::string, MemberView>& members,
    const std::map<std::string, std::shared_ptr<const nlohmann::json>>& works,
    const std::map<std::string, std::map<std::string, nlohmann::json>>& desired, const MemberReports& reported,
    const Draining& draining);

// A rollout stage's trafficPercent: the Serving endpoints on `revision` get `percent` of the
// model's traffic together, the other Serving ones the rest.
struct TrafficSplit {
  int64_t revision = 0;
  int percent = 0;  // 1..99
};

// status.endpoints, sorted by cluster. With `split`, weights follow it (each side keeps its
// capacity ratios, the largest weight is kMaxEndpointWeight, none below 1) when endpoints on
// both sides serve; otherwise, and without it, each Serving endpoint's weight is its share of
// the largest capacity.
nlohmann::json EndpointMap(const std::vector<EndpointSource>& sources, const nlohmann::json& old_endpoints,
                           Clock::TimePoint now, std::optional<TrafficSplit> split = std::nullopt);

// Rescales the weights of the Serving endpoints of `list` to `split` (see EndpointMap).
void ApplyTrafficSplit(std::vector<nlohmann::json>& list, const TrafficSplit& split);

// status.servedModels of a Workspace object (its served model name, then its adapters').
nlohmann::json ServedModels(const nlohmann::json& workspace);

}  // namespace berth::hub
