// What the hub tells clients about itself: version, API discovery, OpenAPI v3 documents
// and meta.k8s.io Tables for `kubectl get`. Pure functions of the kind registry.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"

namespace berth::hub {

nlohmann::json VersionInfo();
nlohmann::json ApiVersions();                                    // GET /api
nlohmann::json ApiGroupList(const api::KindRegistry& registry);  // GET /apis
nlohmann::json ApiGroup(const api::KindRegistry& registry, const std::string& group);
nlohmann::json ApiResourceList(const api::KindRegistry& registry, const std::string& group,
                               const std::string& version);
nlohmann::json OpenApiV3Root(const api::KindRegistry& registry);  // GET /openapi/v3
nlohmann::json OpenApiV3Group(const api::KindRegistry& registry, const std::string& group,
                              const std::string& version);

// True if the Accept header asks for a meta.k8s.io Table (as kubectl get does).
bool WantsTable(const std::string& accept);
// A Table of `items` with the kind's columns (Name first, Age last). `include_object`
// follows the includeObject query parameter ("None" | "Metadata" | "Object").
nlohmann::json ToTable(const api::KindInfo& kind, const std::vector<nlohmann::json>& items,
                       Clock::TimePoint now, const std::string& include_object,
                       const std::string& list_resource_version, const std::string& continue_token);

// "3d4h", "12m", "45s": Kubernetes' short human duration.
std::string HumanDuration(Clock::Duration d);

}  // namespace berth::hub
