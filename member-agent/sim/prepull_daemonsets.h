// Pre-pull DaemonSets in the simulated cluster (member-agent/prepull.h renders them): every
// Ready node whose taints the DaemonSet's pod tolerates and whose labels match its
// nodeSelector and required node affinity pulls the pod's init container image, then the
// weights of its berth.dev/model annotation; the node then has the image cached and the
// cluster the model (inventory cachedImages / cachedModels). A failing image stalls the pull
// (ImagePullBackOff) until cleared.
//
// SimCluster::SyncPrePullsLocked and ReadPrePull are defined in prepull_daemonsets.cc; the
// decisions below are pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/sim/cluster_state.h"
#include "member-agent/sim/settings.h"

namespace berth::agent::sim {

// The image a pre-pull DaemonSet warms: its first init container's (else first container's).
std::string PrePullImage(const nlohmann::json& ds);

// Indices into `nodes` of the nodes the DaemonSet `ds` runs a pod on: Ready, every
// NoSchedule / NoExecute taint tolerated, nodeSelector and required node affinity matched.
std::vector<size_t> NodesOfDaemonSet(const std::vector<Node>& nodes, const nlohmann::json& ds);

// Starts `pull` on `node` at `now`: image_done after the image pull (instant when the node
// has it), weights_done after the weights download (instant when `model_cached`).
void StartPrePull(PrePull& pull, const Node& node, const SimSettings& settings,
                  double weights_gib, bool model_cached, Clock::TimePoint now);

// ImagePullBackOff, ImagePulling, DownloadingWeights or Done (GET /state).
std::string PrePullPhase(const PrePull& pull, Clock::TimePoint now);

// Progress of the DaemonSet `daemonset` (ObjectKey::ToString) warming `image`, from its
// pulls: desired = its nodes, done = image and weights there, failed = image-pull fault.
PrePullState PrePullProgress(const std::string& daemonset, const std::string& image,
                             const PrePulls& pulls, Clock::TimePoint now);

}  // namespace berth::agent::sim
