// berth-hub's HTTPS API server: Kubernetes paths and semantics over ObjectApi, served by
// HttpsServer (hub/https_server.h: connection limits and timeouts). Credentials are checked
// on the request header, before any body byte is read. Handlers never block the I/O
// threads: reads are served from the store's memory, writes complete in store callbacks,
// watches stream through per-client queues that the server bounds.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "api/clock.h"
#include "api/kinds.h"
#include "api/status.h"
#include "hub/api_routing.h"
#include "hub/audit_log.h"
#include "hub/auth.h"
#include "hub/https_server.h"
#include "hub/membership.h"
#include "hub/object_api.h"

namespace berth::hub {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  int port = 6443;
  std::string cert_pem;    // serving certificate (PEM)
  std::string key_pem;     // its private key (PEM)
  // Client certificates chaining to this CA authenticate their subject (CN = user, O =
  // groups, hub/rbac/client_cert_identity.h); empty: no client certificates.
  std::string client_ca_pem;
  int io_threads = 0;      // 0: one per core, at least 2
  HttpsLimits limits;      // timeouts and sizes (max_body_bytes is the API's own 3 MiB)
  std::chrono::seconds keepalive_interval{5};  // bookmark / keep-alive cadence on watches
  std::chrono::seconds max_watch{1800};        // server-side cap on one watch's length
  size_t max_watch_backlog_bytes = 16 << 20;   // a watcher this far behind is disconnected
                                               // (all watchers: limits.max_total_stream_backlog_bytes)
  // The RBAC policy every request is authorized with; empty: the built-in roles only.
  RbacPolicySource rbac_policy;
  // Receives a record of every mutating request (hub/request_audit.h); null: no audit. Must
  // outlive the server.
  AuditLog* audit_log = nullptr;
};

class ApiServer {
 public:
  // `membership` serves the join endpoint (may be null in tests that need no joins).
  ApiServer(ApiServerOptions options, const api::KindRegistry& registry, ObjectApi& objects,
            TokenAuthenticator& auth, Clock& clock, Membership* membership = nullptr);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Opens the listener. Unavailable with the reason if the port cannot be bound or the
  // certificate cannot be loaded.
  Status Start();
  // Closes watches and the listener; waits for in-flight handlers to finish.
  void Stop();

  // Prometheus text exposition of the server's metrics.
  std::string MetricsText() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::hub
