// The fleet file: one format (docs/FLEET.md) for `berthctl plan`, the simulated member
// backend and the local dev fleet. Node pools expand to nodes named "<pool>-<i>".
// Pure: callers read the file; these functions parse text or JSON.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "api/status.h"
#include "placement/fleet.h"

namespace berth::placement {

// Parses a fleet document (already converted from YAML). GPU memory defaults from the
// built-in catalog when a pool omits memoryGiB. Invalid names every bad field by path,
// e.g. "clusters[2].nodePools[0].gpusPerNode".
StatusOr<FleetSnapshot> ParseFleet(const nlohmann::json& doc);

// Only the regionLatencies of a fleet document (the rest is not read): the hub's
// --region-latencies file. Invalid names bad entries by path, like ParseFleet.
StatusOr<std::vector<RegionLatency>> ParseRegionLatencies(const nlohmann::json& doc);

// Parses fleet YAML text (one document).
StatusOr<FleetSnapshot> ParseFleetYaml(std::string_view yaml_text);

}  // namespace berth::placement
