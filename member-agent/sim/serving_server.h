// The simulated cluster's Services: one plain HTTP/1.1 (keep-alive) listener on 127.0.0.1 per
// (namespace, workspace) that answers like vLLM's OpenAI-compatible server, with replies timed
// by the queueing model (serving_model.h). Every reply says it is simulated: header
// `X-Berth-Simulated: true`, generated text starting "[simulated]". Completions also name
// who answered: `X-Berth-Cluster`, `X-Berth-Pod`, `X-Berth-Revision` (for tests and demos).
//
//   GET  /v1/models            the served model names (--served-model-name, --lora-modules)
//   POST /v1/completions       also "stream": true (server-sent events, then data: [DONE])
//   POST /v1/chat/completions  likewise
//   GET  /health               200 while a replica is Ready, else 503
//   GET  /metrics              vLLM's metric names, a `pod` label per replica
// Errors use vLLM's error JSON: 404 unknown model, 503 no Ready replica, 400 bad JSON or
// fields, 413 a body over ServingOptions::max_body_bytes.
//
// Requests go to the Ready replica with the fewest requests in flight (WorkspaceServing).
// The reply is written when the model says the request completes (a stream: its first chunk
// at the first token); asio timers wait, the io thread never blocks.
//
// Threading: one io thread owns the sockets. Sync / SetUnreachable / Url / Signals may be
// called from any thread; each workspace's model is guarded by a mutex of its own, taken by
// the io thread per request. Sync must not be called from the io thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/sim/serving_model.h"

namespace berth::agent::sim {

struct ServingOptions {
  double time_scale = 1.0;  // SimSettings::time_scale
  // 0: each listener takes an ephemeral port. Else the n-th workspace seen gets base + n
  // (an ephemeral one when that is taken).
  int base_port = 0;
  size_t max_body_bytes = 1 << 20;
  std::string cluster;  // the X-Berth-Cluster header of completions
};

// A workspace whose StatefulSet exists, as the sim sees it at one step.
struct ServedWorkspace {
  std::string ns, workspace;
  // The names clients may ask for: the base model's first, then LoRA adapters.
  std::vector<std::string> model_names;
  std::vector<ReplicaSpec> ready;  // its Ready replicas
  bool operator==(const ServedWorkspace&) const = default;
};

class ServingServer {
 public:
  // Starts the io thread; listeners open with the first Sync. `clock` is not owned.
  ServingServer(const Clock* clock, ServingOptions options);
  ~ServingServer();  // closes every listener and connection, joins the io thread
  ServingServer(const ServingServer&) = delete;
  ServingServer& operator=(const ServingServer&) = delete;

  // The workspaces that exist now: listeners open for new ones (not while unreachable) and
  // close for those gone (their connections too); replicas and model names are updated.
  void Sync(const std::vector<ServedWorkspace>& workspaces);
  // Unreachable closes every listener and connection (connection refused); reachable again
  // reopens them on the same ports.
  void SetUnreachable(bool unreachable);

  // "http://127.0.0.1:<port>", "" when the workspace has no listener (gone, or never seen).
  // While unreachable the URL is still given: it is where clients will find it again.
  std::string Url(const std::string& ns, const std::string& workspace) const;
  // nullopt for a workspace Sync has not given.
  std::optional<ServingSignals> Signals(const std::string& ns, const std::string& workspace);
  // The /metrics text of one workspace ("" when unknown).
  std::string MetricsText(const std::string& ns, const std::string& workspace);
  // [{namespace, workspace, url, listening, models, readyReplicas}] for /state.
  nlohmann::json Describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent::sim
