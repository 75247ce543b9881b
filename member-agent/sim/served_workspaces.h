// What the simulated Services serve at one step: each workspace whose StatefulSet exists, the
// model names its pods' vLLM arguments give and its Ready replicas with their GPUs. Pure
// function of the sim's state; SimCluster hands the result to its ServingServer.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/clock.h"
#include "member-agent/sim/cluster_state.h"
#include "member-agent/sim/serving_server.h"

namespace berth::agent::sim {

// The names vLLM serves for a container's args: --served-model-name (both `=X` and `X`
// forms; else --model, else `fallback`), then each `name=path` after --lora-modules.
std::vector<std::string> ServedModelNames(const nlohmann::json& args, const std::string& fallback);

// --pipeline-parallel-size of the args (1 when absent): the nodes one replica spans.
int PipelineParallelSize(const nlohmann::json& args);

// Workspaces (by berth.dev/workspace on StatefulSets, surge StatefulSets included) with their
// Ready replicas. A pod serves when scheduled and ready (startup.h); of a multi-node replica
// (pipeline parallel P > 1) only ordinal 0 serves, with the GPUs of all P pods.
// `kv_bytes_cache` memoises KvBytesPerToken per model. `faults` says how replicas running an
// image misbehave (cluster_state.h).
std::vector<ServedWorkspace> ServedWorkspaces(const Objects& objects, const Pods& pods,
                                              const std::vector<Node>& nodes, Clock::TimePoint now,
                                              std::map<std::string, int64_t>& kv_bytes_cache,
                                              const ServingFaults& faults = {});

}  // namespace berth::agent::sim
