// The simulated StatefulSet controller: a StatefulSet becomes pods <sts>-<ordinal> from its
// pod template, and a changed template rolls them like Kubernetes' RollingUpdate (highest
// ordinal first, at most spec.updateStrategy.rollingUpdate.maxUnavailable unavailable at
// once, default 1, so a new pod that never becomes Ready stops the roll); OnDelete never
// replaces. Pods carry the template's berth.dev/revision label.
//
// Pure functions over the applied objects and the pods; the caller holds the cluster's lock.
#pragma once

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/sim/cluster_state.h"

namespace berth::agent::sim {

// Pod `ordinal` of the StatefulSet `sts` as created from its current template: GPU resource
// and units from the first container's limits, required node affinity, anti-affinity,
// tolerations, image, the Secrets / ConfigMaps it reads, and the berth.dev/model and
// berth.dev/weights-gib annotations. Not scheduled.
Pod PodFromStatefulSet(const ObjectKey& sts_key, const nlohmann::json& sts, int ordinal);

// spec.updateStrategy.rollingUpdate.maxUnavailable of a StatefulSet: an integer or a
// percentage of the replicas (rounded up, as Kubernetes does), at least 1; default 1.
int MaxUnavailable(const nlohmann::json& sts_spec, int replicas);

// Brings `pods` to what the StatefulSets among `objects` want at `now`: creates missing
// pods, replaces pods of an old template as the update strategy allows (readiness by
// PodReady at `now`), and deletes pods no StatefulSet wants.
void SyncStatefulSetPods(const Objects& objects, Clock::TimePoint now, Pods& pods);

}  // namespace berth::agent::sim
