// The /scale subresource: an object seen as an autoscaling/v1 Scale (what `kubectl scale`,
// HPA-style autoscalers and client libraries' scale clients read and write), and a Scale
// written back into the object. Only spec.replicas is writable; everything else in a Scale
// is derived from the object. Pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "api/kinds.h"
#include "api/status.h"

namespace berth::hub {

inline constexpr const char* kScaleApiVersion = "autoscaling/v1";

// The Scale of `object`: metadata (name, namespace, uid, resourceVersion,
// creationTimestamp) from the object, spec.replicas from the kind's path, status.replicas and
// status.selector computed by the kind.
nlohmann::json ScaleOf(const api::KindInfo& kind, const nlohmann::json& object);

// `object` with the desired replicas of `scale` (a Scale body sent with PUT, or the result
// of a patch on ScaleOf(object)). Invalid (422 naming spec.replicas) unless spec.replicas is
// an integer ≥ 0; BadRequest if the Scale names another object; Conflict if it carries a
// resourceVersion the object no longer has.
StatusOr<nlohmann::json> WithScale(const api::KindInfo& kind, const nlohmann::json& object,
                                   const nlohmann::json& scale);

}  // namespace berth::hub
