// berth-hub assembled: PKI, durable store, kinds, authentication and the API server.
// main.cc only parses flags and calls Hub::Start; tests start a Hub in-process the same way.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/clock.h"
#include "api/kinds.h"
#include "api/status.h"
#include "hub/controllers/fleet_controller.h"
#include "hub/etcd_client.h"
#include "hub/https_server.h"
#include "hub/pki.h"

namespace berth::hub {

struct HubOptions {
  std::string data_dir;                 // created if missing (0700)
  std::string host = "127.0.0.1";
  int port = 6443;
  std::vector<std::string> extra_sans;  // extra names/IPs for the serving certificate
  // The URL clients use to reach the hub (written into admin.kubeconfig), e.g. a Service or
  // LoadBalancer in front of it: "https://HOST[:PORT]". Empty: https://<host>:<port>, with
  // 127.0.0.1 for a wildcard host. Not validated here (berth-hub's --advertise-url is).
  std::string advertise_url;
  Clock* clock = nullptr;               // nullptr: the real clock
  FleetControllerOptions controllers;   // health, failover and failback timing
  bool run_controllers = true;          // false: API server and store only
  int io_threads = 0;                   // HTTPS threads; 0: one per core, at least 2
  HttpsLimits limits;                   // connection timeouts and sizes
  size_t max_watch_backlog_bytes = 16 << 20;
  // Key file for Secrets at rest (hub/encryption_key_file.h); empty: <data_dir>/encryption.key,
  // created on first start.
  std::string encryption_key_file;
  // Where objects live: "sqlite" (<data_dir>/berth.db, the embedded default) or "etcd" (an
  // etcd cluster, hub/etcd_store.h). The PKI and the encryption key stay in data_dir either
  // way, except that hubs on one etcd prefix share the CA and the admin token through it.
  std::string store = "sqlite";
  EtcdClientOptions etcd;              // store "etcd": endpoints and TLS files
  std::string etcd_prefix = "/berth";  // store "etcd": the keys' prefix (no trailing '/')
  // store "etcd": several hubs may share the prefix. One of them, elected on an etcd lease of
  // this TTL, runs the controllers (hub/leader_election.h); they share the CA and admin token
  // through etcd (hub/shared_pki.h) and need the same encryption key file. hub_id names this
  // replica in the election (empty: <hostname>:<port>).
  std::string hub_id;
  std::chrono::seconds leader_lease{3};
  // The audit log of mutating requests (docs/OPERATIONS.md "Audit log"): a file rotated at
  // audit_log_max_size_mb keeping audit_log_max_backups old files, and/or every line on stdout.
  // Neither a path nor stdout: no audit log.
  std::string audit_log_path;
  uint64_t audit_log_max_size_mb = 100;
  int audit_log_max_backups = 5;
  bool audit_log_stdout = false;
};

class Hub {
 public:
  static StatusOr<std::unique_ptr<Hub>> Start(const HubOptions& options);
  ~Hub();
  void Stop();

  const HubPki& pki() const;
  const std::string& server_url() const;
  class Impl;

 private:
  explicit Hub(std::unique_ptr<Impl> impl);
  Status StartControllers(const HubOptions& options, Clock& clock);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::hub
