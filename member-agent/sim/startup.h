// When a scheduled pod of the simulated cluster serves: its image is pulled (size / pull
// bandwidth, instant when the node has the image), its containers are created once every
// Secret and ConfigMap they read exists (like the kubelet: CreateContainerConfigError until
// then, and the weight load starts after), then its weights load (weights GiB / load
// bandwidth, faster when the cluster caches the model). Each modelled duration is
// multiplied by SimSettings::time_scale.
//
// Pure functions of a pod, its node, the settings and `now`.
#pragma once

#include <set>
#include <string>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/sim/cluster_state.h"
#include "member-agent/sim/settings.h"

namespace berth::agent::sim {

// `seconds` of modelled time as clock time: × settings.time_scale, in whole milliseconds.
Clock::Duration Scaled(const SimSettings& settings, double seconds);

// Seconds to pull `image` onto a node holding `node_images`: 0 when it is there.
double ImagePullSeconds(const SimSettings& settings, const std::set<std::string>& node_images,
                        const std::string& image);

// Starts the pod's pull on `node` at `now` (clears a failed pull): pull_done, then ready_at
// after its weight load, at the cached rate when `model_cached`.
void StartPull(Pod& pod, const Node& node, const SimSettings& settings, bool model_cached,
               Clock::TimePoint now);

// Creates the pod's containers once its image is pulled and every Secret / ConfigMap it reads
// is among `objects`; while one is missing, config_error names it and ready_at moves later
// by the time spent waiting. A created pod stays created.
void CreateContainers(Pod& pod, const Objects& objects, Clock::TimePoint now);

// Scheduled, pulled, created and loaded by `now`.
bool PodReady(const Pod& pod, Clock::TimePoint now);

// The state of a scheduled pod at `now`: ImagePullBackOff, CreateContainerConfigError,
// ImagePulling, LoadingWeights, ContainerCreating, or ready.
PodState StartupState(const Pod& pod, Clock::TimePoint now);

}  // namespace berth::agent::sim
