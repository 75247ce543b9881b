// Turns what the cluster runs for one workspace (StatefulSets and pods) into the
// per-workspace phase the agent reports to the hub. Pure.
#pragma once

#include <string>

#include "member-agent/backend.h"

namespace berth::agent {

struct WorkspaceReadiness {
  int replicas = 0;        // desired replicas (from the Work)
  int ready_replicas = 0;  // replicas whose every pod is Ready
  std::string phase;       // Pending | Starting | Ready | Failed
  std::string reason;      // CamelCase, "" when Ready
  std::string message;     // what is going on / what to do
  bool operator==(const WorkspaceReadiness&) const = default;
};

// `workspace` is the Workspace name. Single-node replicas are the pods of StatefulSet
// <workspace> (one pod per replica); multi-node replicas are StatefulSets <workspace>-r<i>
// (a replica is ready when all its pods are). Phase: Ready when ready ≥ desired; Failed
// when a pod is in ImagePullBackOff/ErrImagePull/CrashLoopBackOff; Pending when a pod
// cannot be scheduled (InsufficientGPU, NodeLost) or no pod exists yet; else Starting
// with the most telling pod reason (ImagePulling, LoadingWeights, ...).
WorkspaceReadiness SummarizeWorkload(const std::string& workspace, const WorkloadState& state,
                                     int desired_replicas);

}  // namespace berth::agent
