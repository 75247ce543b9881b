#include "member-agent/readiness.h"

#include <algorithm>

namespace berth::agent {

namespace {

bool IsFailureReason(const std::string& r) {
  return r == "ImagePullBackOff" || r == "ErrImagePull" || r == "CrashLoopBackOff" ||
         r == "InvalidImageName" || r == "CreateContainerConfigError";
}
bool IsPendingReason(const std::string& r) {
  return r == "InsufficientGPU" || r == "Unschedulable" || r == "NodeLost";
}

}  // namespace

WorkspaceReadiness SummarizeWorkload(const std::string& workspace, const WorkloadState& state,
                                     int desired_replicas) {
  WorkspaceReadiness out;
  out.replicas = desired_replicas;
  for (const auto& sts : state.statefulsets) {
    if (sts.name == workspace) {
      out.ready_replicas += std::min(sts.ready_replicas, sts.replicas);
    } else if (sts.replicas > 0 && sts.ready_replicas >= sts.replicas) {
      out.ready_replicas += 1;  // <ws>-r<i>: one replica spanning several nodes
    }
  }
  out.ready_replicas = std::min(out.ready_replicas, desired_replicas);
  if (out.ready_replicas >= desired_replicas) {
    out.phase = "Ready";
    out.message = std::to_string(out.ready_replicas) + "/" + std::to_string(desired_replicas) +
                  " replicas ready";
    return out;
  }

  const PodState* failed = nullptr;
  const PodState* pending = nullptr;
  const PodState* starting = nullptr;
  for (const auto& pod : state.pods) {
    if (pod.ready || pod.terminating) continue;
    if (IsFailureReason(pod.reason)) {
      if (!failed) failed = &pod;
    } else if (IsPendingReason(pod.reason) || pod.node.empty()) {
      if (!pending) pending = &pod;
    } else if (!starting) {
      starting = &pod;
    }
  }
  auto describe = [](const PodState& p) {
    std::string m = "pod " + p.name;
    if (!p.message.empty()) m += ": " + p.message;
    return m;
  };
  std::string ready_part = std::to_string(out.ready_replicas) + "/" +
                           std::to_string(desired_replicas) + " replicas ready; ";
  if (failed) {
    out.phase = "Failed";
    out.reason = failed->reason;
    out.message = ready_part + describe(*failed);
  } else if (pending) {
    out.phase = "Pending";
    out.reason = pending->reason.empty() ? "Unschedulable" : pending->reason;
    out.message = ready_part + describe(*pending);
  } else if (starting) {
    out.phase = "Starting";
    out.reason = starting->reason.empty() ? "ContainerCreating" : starting->reason;
    out.message = ready_part + describe(*starting);
  } else {
    out.phase = "Pending";
    out.reason = "PodsNotCreated";
    out.message = ready_part + "no pod exists yet for the workspace's StatefulSet(s)";
  }
  return out;
}

}  // namespace berth::agent
