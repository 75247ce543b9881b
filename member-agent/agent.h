// The agent process minus flag parsing: obtains the member credential (join or state dir),
// then runs three loops on their own threads —
//   heartbeat:  Heartbeat::Tick (lease + inventory),
//   work watch: list this member's Work, watch it from the list's resourceVersion, resume
//               from the last seen resourceVersion after a broken stream, re-list on 410;
//   reconcile:  Resync every resync_period, ProcessReady, FlushStatus;
// and serves the admin endpoint (/healthz, /metrics, /state, sim faults).
// Fail static: hub errors only ever delay; nothing is deleted because the hub is silent.
//
// Thread safety: Start/Stop from one thread; HandleAdmin and Metrics from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/clock.h"
#include "api/kubeconfig.h"
#include "member-agent/admin_server.h"
#include "member-agent/agent_state.h"
#include "member-agent/backend.h"
#include "member-agent/heartbeat.h"
#include "member-agent/hub_api.h"
#include "member-agent/reconciler.h"
#include "member-agent/sim/sim_cluster.h"

namespace berth::agent {

struct AgentOptions {
  ClientConfig hub;        // server + CA; the bearer token is the member credential
  std::string join_token;  // bootstrap token; needed only without a stored credential
  JoinRequest join;        // cluster name, backend, labels, region/zone/provider
  std::string state_dir;
  std::string holder_identity;
  Clock::Duration heartbeat_period{std::chrono::seconds(5)};
  Clock::Duration resync_period{std::chrono::seconds(2)};
  std::string admin_listen;  // "" = no admin endpoint
};

// Loads the member credential from the state dir, or joins with the bootstrap token and
// stores it (0600). Retries while the hub is unreachable until `should_stop`; any other
// join error (expired/used/unknown token: Unauthenticated) is returned as is.
StatusOr<std::string> ObtainCredential(const AgentOptions& options, const AgentStateDir& state,
                                       const std::function<bool()>& should_stop);

class Agent {
 public:
  // `backend` is owned; `sim` is the same object when the backend is sim (else null).
  Agent(AgentOptions options, std::unique_ptr<MemberBackend> backend, SimCluster* sim,
        const Clock* clock);
  ~Agent();

  // Gets the credential, starts the loops and the admin endpoint.
  Status Start();
  // Stops the loops (workloads keep running: the agent never tears down on exit).
  void Stop();

  AdminResponse HandleAdmin(const AdminRequest& request);
  std::string Metrics() const;

 private:
  void HeartbeatLoop();
  void WatchLoop();
  void ReconcileLoop();
  void WakeReconciler();
  // Sleeps up to `d` of real time, or until Stop. False when stopping.
  bool SleepFor(Clock::Duration d);

  AgentOptions options_;
  std::unique_ptr<MemberBackend> backend_;
  SimCluster* sim_;
  const Clock* clock_;
  std::atomic<bool> never_cut_off_{false};
  std::unique_ptr<AgentStateDir> state_;
  std::unique_ptr<RestHubApi> rest_hub_;
  std::unique_ptr<PartitionableHubApi> hub_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Heartbeat> heartbeat_;
  std::unique_ptr<AdminServer> admin_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> watch_connected_{false};
  std::atomic<int64_t> watch_restarts_{0};
  std::atomic<int64_t> work_relists_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;  // guarded by wake_mu_
  std::thread heartbeat_thread_, watch_thread_, reconcile_thread_;
};

}  // namespace berth::agent
