// What `berthctl rollout status` prints for a Workspace: a header block (revision, strategy,
// phase, stage, message), then one row per cluster of status.rollout.clusters with its stage,
// progress, the revision and readiness of its placement, and why it waits. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace berth::cli {

// The object member `key` of `obj`, or a reference to an empty object when it is absent or
// not an object. The reference lives as long as `obj` (or forever, for the empty object).
const nlohmann::json& Member(const nlohmann::json& obj, const char* key);

std::string RenderRolloutStatus(const nlohmann::json& workspace);

}  // namespace berth::cli
