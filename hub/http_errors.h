// The one place Status codes become Kubernetes-style HTTP errors ({"kind":"Status",...}).
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/kinds.h"
#include "api/status.h"

namespace berth::hub {

// Returns the HTTP code and the Status body. `kind`/`name` fill details when known; a
// status with a subject (Status::WithSubject) names that instead.
std::pair<int, nlohmann::json> StatusToHttp(const Status& status, const api::KindInfo* kind,
                                            const std::string& name);

}  // namespace berth::hub
