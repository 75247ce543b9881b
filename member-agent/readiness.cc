#include "member-agent/readiness.h"

#include <algorithm>
#include <map>
#include <set>

namespace berth::agent {

namespace {

// CreateContainerConfigError (a Secret or ConfigMap the pod reads is missing) is not a
// failure: the kubelet retries it, and the hub delivers referenced objects asynchronously and
// says what is missing in the Workspace's ReferencesResolved condition. The pod is Starting.
bool IsFailureReason(const std::string& r) {
  return r == "ImagePullBackOff" || r == "ErrImagePull" || r == "CrashLoopBackOff" || r == "InvalidImageName";
}
bool IsPendingReason(const std::string& r) {
  return r == "InsufficientGPU" || r == "Unschedulable" || r == "NodeLost" || r == "GPUsLost";
}

std::string Fraction(int a, int b) { return std::to_string(a) + "/" + std::to_string(b); }

}  // namespace

bool SchedulerMessageIsGpuShortage(const std::string& message) {
  return message.find("Insufficient nvidia.com/") != std::string::npos;
}

WorkspaceReadiness SummarizeWorkload(const std::string& workspace, const WorkloadState& state,
                                     int desired_replicas, int64_t revision) {
  WorkspaceReadiness out;
  out.replicas = desired_replicas;
  const std::string rev = std::to_string(revision);
  const std::string surge = SurgeStatefulSetName(workspace);

  // Per multi-node replica StatefulSet: pods at the revision, and how many are Ready.
  struct Counts {
    int at_revision = 0;
    int ready_at_revision = 0;
    int ready = 0;                          // any revision
    std::set<std::string> ready_revisions;  // a replica serves on one revision only
  };
  std::map<std::string, Counts> replica_sets;
  for (const auto& sts : state.statefulsets) {
    if (sts.name != workspace && sts.name != surge) replica_sets[sts.name];
  }
  int pods_at_revision = 0;
  for (const auto& pod : state.pods) {
    if (pod.terminating) continue;
    if (pod.ready) {
      if (pod.statefulset == workspace || pod.statefulset == surge) {
        ++out.available_replicas;
      } else if (auto it = replica_sets.find(pod.statefulset); it != replica_sets.end()) {
        ++it->second.ready;
        it->second.ready_revisions.insert(pod.revision);
      }
    }
    const bool at_revision = pod.revision == rev;
    if (!at_revision) {
      if (pod.ready) ++out.other_revision_ready;
      continue;
    }
    ++pods_at_revision;
    out.failures += pod.restarts + (IsFailureReason(pod.reason) ? 1 : 0);
    if (pod.statefulset == workspace || pod.statefulset == surge) {
      if (pod.ready) ++out.ready_replicas;
      if (pod.statefulset == workspace) ++out.updated_replicas;
    } else if (auto it = replica_sets.find(pod.statefulset); it != replica_sets.end()) {
      ++it->second.at_revision;
      if (pod.ready) ++it->second.ready_at_revision;
    }
  }
  for (const auto& pod : state.pods) {
    if (!pod.terminating && pod.statefulset == surge) ++out.surge_replicas;
  }
  for (const auto& sts : state.statefulsets) {
    auto it = replica_sets.find(sts.name);
    if (it == replica_sets.end() || sts.replicas <= 0) continue;
    if (it->second.ready_at_revision >= sts.replicas) ++out.ready_replicas;
    if (it->second.at_revision >= sts.replicas) ++out.updated_replicas;
    if (it->second.ready >= sts.replicas && it->second.ready_revisions.size() == 1)
      ++out.available_replicas;
  }
  out.available_replicas = std::min(out.available_replicas, desired_replicas);
  out.ready_replicas = std::min(out.ready_replicas, desired_replicas);
  out.updated_replicas = std::min(out.updated_replicas, desired_replicas);

  const std::string ready_part =
      Fraction(out.ready_replicas, desired_replicas) + " replicas ready at revision " + rev;
  if (out.ready_replicas >= desired_replicas) {
    out.phase = "Ready";
    out.message = ready_part;
    if (out.updated_replicas < desired_replicas || out.surge_replicas > 0) {
      out.message +=
          "; updating: " + Fraction(out.updated_replicas, desired_replicas) + " replicas updated";
      if (out.surge_replicas > 0)
        out.message += ", " + std::to_string(out.surge_replicas) + " surge pod(s)";
    }
    return out;
  }

  const PodState* failed = nullptr;
  const PodState* pending = nullptr;
  const PodState* starting = nullptr;
  for (const auto& pod : state.pods) {
    if (pod.ready || pod.terminating || pod.revision != rev) continue;
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
  std::string serving;
  if (out.other_revision_ready > 0) {
    serving =
        "; " + std::to_string(out.other_revision_ready) + " pod(s) of another revision still serve";
  }
  if (failed) {
    out.phase = "Failed";
    out.reason = failed->reason;
    out.message = ready_part + "; " + describe(*failed) + serving;
  } else if (pending) {
    out.phase = "Pending";
    out.reason = pending->reason.empty() ? "Unschedulable" : pending->reason;
    out.message = ready_part + "; " + describe(*pending) + serving;
  } else if (starting) {
    out.phase = "Starting";
    out.reason = starting->reason.empty() ? "ContainerCreating" : starting->reason;
    out.message = ready_part + "; " + describe(*starting) + serving;
  } else if (pods_at_revision == 0 && !state.pods.empty()) {
    out.phase = "Starting";
    out.reason = "RolloutPending";
    out.message = ready_part + "; no pod runs revision " + rev + " yet" + serving;
  } else {
    out.phase = "Pending";
    out.reason = "PodsNotCreated";
    out.message = ready_part + "; no pod exists yet for the workspace's StatefulSet(s)";
  }
  return out;
}

}  // namespace berth::agent
