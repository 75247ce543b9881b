// Turns what the cluster runs for one workspace (StatefulSets and pods) into the
// per-workspace status the agent reports to the hub (docs/AGENT.md, "Rollouts on the
// member"). Pure.
#pragma once

#include <cstdint>
#include <string>

#include "member-agent/backend.h"

namespace berth::agent {

struct WorkspaceReadiness {
  int replicas = 0;  // desired replicas (from the Work)
  // Replicas Ready at the asked-for revision (pods of the surge StatefulSet count: they
  // serve), capped at `replicas`. Pods of any other revision never count.
  int ready_replicas = 0;
  // Replicas of the workspace's own StatefulSet(s) that run the asked-for revision, Ready
  // or not, capped at `replicas`. Surge pods are not replicas and do not count, so
  // updated == replicas means the update of this member is done.
  int updated_replicas = 0;
  int surge_replicas = 0;  // pods of the surge StatefulSet <workspace>-surge
  // Failure observations at the asked-for revision: pods in ImagePullBackOff, ErrImagePull,
  // CrashLoopBackOff (or another failure reason) plus container restarts of its pods.
  int failures = 0;
  int other_revision_ready = 0;  // Ready pods of other revisions (still serving)
  // What the workspace's Services route to now: Ready replicas of ANY revision, surge pods
  // included, capped at `replicas` (multi-node: replicas whose every pod is Ready, all at
  // one revision).
  int available_replicas = 0;
  std::string phase;             // Pending | Starting | Ready | Failed
  std::string reason;            // CamelCase, "" when Ready
  std::string message;           // what is going on / what to do
  bool operator==(const WorkspaceReadiness&) const = default;
};

// `workspace` is the Workspace name, `revision` the revision the Work entry asks for.
// Single-node replicas are the pods of StatefulSet <workspace> (one pod per replica), plus
// the pods of <workspace>-surge during a surge; multi-node replicas are StatefulSets
// <workspace>-r<i> (a replica is ready when all its pods are Ready at `revision`).
// Terminating pods are ignored. Phase: Ready when ready ≥ desired; otherwise, looking only
// at pods of `revision`: Failed when one is in ImagePullBackOff/ErrImagePull/
// CrashLoopBackOff; Pending when one cannot be scheduled (InsufficientGPU, NodeLost);
// Starting with the most telling reason (ImagePulling, LoadingWeights, ...); Starting with
// reason RolloutPending when only pods of other revisions exist; Pending PodsNotCreated
// when there is no pod at all.
WorkspaceReadiness SummarizeWorkload(const std::string& workspace, const WorkloadState& state,
                                     int desired_replicas, int64_t revision);

// True when a scheduler's "0/N nodes are available: …" message counts nodes short of GPUs
// ("Insufficient nvidia.com/gpu" or a MIG resource): such a pod is InsufficientGPU, any
// other unschedulable pod (taints, affinity, readiness) Unschedulable. A taint key under
// nvidia.com/ ("untolerated taint {nvidia.com/gpu: present}") is not a GPU shortage.
bool SchedulerMessageIsGpuShortage(const std::string& message);

}  // namespace berth::agent
