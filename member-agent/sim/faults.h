// Faults injected into the simulated cluster (the agent's admin endpoint, docs/AGENT.md
// "Faults") and what they do: a node down loses its pods (NodeLost), failed GPU units evict
// the pods over the node's capacity (GPUsLost), a failing image fails the pulls of it in
// progress (pods: ImagePullBackOff; pre-pulls stall) and, once cleared, those pulls start
// over; unreachable cuts the agent off from the hub (a flag its hub client honours).
//
// SimCluster's fault setters (SetNodeDown, LoseGpus, SetImagePullFailure, ClearFaults) are
// defined in faults.cc; the decisions below are pure functions.
#pragma once

#include <vector>

#include "api/clock.h"
#include "member-agent/sim/cluster_state.h"

namespace berth::agent::sim {

// Unbinds the pods of down nodes (displaced = NodeLost) and, on each node, the pods beyond
// its capacity left after failed units, in pod-key order (displaced = GPUsLost).
void EvictFromFailedNodes(const std::vector<Node>& nodes, Pods& pods);

// A failed pull starts over once its image no longer fails.
bool PullRestarts(bool pull_failed, bool image_failing);

// A pull still in progress at `now` (until `pull_done`) fails while its image fails.
bool PullFailsNow(bool pull_failed, bool image_failing, Clock::TimePoint now,
                  Clock::TimePoint pull_done);

}  // namespace berth::agent::sim
