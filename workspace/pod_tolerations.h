// The tolerations every pod Berth renders carries (inference StatefulSets and pre-pull
// DaemonSets), as Kubernetes Toleration objects. One list, so the placement planner plans
// with exactly what the member's scheduler will see (placement/taints.h): a node pool
// whose NoSchedule/NoExecute taints these do not tolerate takes no replica.
// docs/WORKSPACE.md ("What the renderer emits") says why each is there.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace berth::workspace {

// [{key, operator, [value,] effect}, …]; the same array on every call.
const nlohmann::json& RenderedPodTolerations();

}  // namespace berth::workspace
