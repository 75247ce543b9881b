// Turns a parsed Workspace into a PlacementRequest: the replica sizer (GPU estimator with
// the Workspace's options, restricted to its resource.gpuProducts / instanceType), the
// policy (inline placement.policy, or placement.policyRef looked up by namespace/name, or
// the default), the replicas now running (status.placements, for stickiness), and the
// priority (annotation berth.dev/priority, default 0). Pure.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "placement/planner.h"
#include "policies/placement_policy.h"
#include "workspace/workspace_types.h"

namespace berth::placement {

// Policies by "namespace/name".
using PolicyCatalog = std::map<std::string, std::shared_ptr<const policies::PlacementPolicySpec>>;

// NotFound when policyRef names no known policy; Invalid (field paths under
// "placement.policy") when the inline policy is bad.
StatusOr<PlacementRequest> RequestFromWorkspace(const workspace::Workspace& ws, const PolicyCatalog& policies);

}  // namespace berth::placement
