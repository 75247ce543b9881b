// How the agent moves one workspace from the revision its pods run to the revision its
// Work entry asks for (docs/AGENT.md, "Rollouts on the member"). Pure: the reconciler hands
// in the rendered objects, the workspace's managed objects as the cluster holds them and
// the pods it runs; the plan says what to converge this pass and what to leave alone.
// Level-triggered: every decision comes from that observed state (revision labels of the
// live StatefulSets and of the pods, pod readiness), never from what an earlier pass did.
//
//   - InPlace (and no `update`): every StatefulSet gets updateStrategy RollingUpdate with
//     maxUnavailable N; Kubernetes (or the sim) replaces pods N at a time. Multi-node
//     replicas (StatefulSets <ws>-r<i>, one per replica) are switched to the new revision
//     by the agent at most N replicas at a time, each replaced whole.
//   - Surge (previousRevision ≠ 0, maxSurge k > 0, single-node replicas only): while the
//     main StatefulSet <ws> is not switched yet, or still has pods of another revision, a
//     StatefulSet <ws>-surge with k pods of the new revision runs beside it; the main one
//     is held (left as the cluster has it) until the k surge pods are Ready, then updated
//     with maxUnavailable k; the surge StatefulSet is dropped from the plan (so pruned)
//     once every main pod is Ready at the new revision, or when the entry stops asking.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "api/status.h"
#include "member-agent/backend.h"

namespace berth::agent {

// The Work entry's `update` block, resolved to counts.
struct UpdateSpec {
  enum class Mode { kInPlace, kSurge };
  Mode mode = Mode::kInPlace;
  int max_unavailable = 1;        // ≥ 1
  int max_surge = 0;              // ≥ 0
  int64_t previous_revision = 0;  // 0 = none
  bool operator==(const UpdateSpec&) const = default;
};

// Parses the entry's `update` (null or absent: InPlace, maxUnavailable 1, Kubernetes'
// StatefulSet default). maxUnavailable and maxSurge are integers or percentages of
// `replicas` ("25%", rounded up); maxUnavailable 0 counts as 1. Invalid names the field
// ("update.mode: must be Surge or InPlace").
StatusOr<UpdateSpec> ParseUpdateSpec(const nlohmann::json& update, int replicas);

struct UpdatePlan {
  // Objects to converge (applied when their berth.dev/applied-hash differs from the live
  // one). Live managed objects of the workspace in neither list are deleted.
  std::vector<nlohmann::json> objects;
  std::set<ObjectKey> held;  // live objects left exactly as they are this pass
  int surge_replicas = 0;    // > 0 when `objects` holds the surge StatefulSet
  std::string note;          // what the update waits for (status message); "" when nothing
};

// `rendered`: RenderWorkspace's objects for `revision` (labels and annotations added, no
// applied-hash yet). `live`: the workspace's managed objects (ListManaged). `observed`:
// ReadWorkload before this pass's writes. Sets spec.updateStrategy on every StatefulSet.
UpdatePlan PlanUpdate(const std::string& workspace, int64_t revision, int replicas,
                      const UpdateSpec& update, std::vector<nlohmann::json> rendered,
                      const std::vector<ManagedObject>& live, const WorkloadState& observed);

}  // namespace berth::agent
