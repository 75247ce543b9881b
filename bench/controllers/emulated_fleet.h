// Emulated member agents for berth-controller-bench: many members in one process, talking
// to a real hub over HTTPS with the admin credential (as berth-member-bench
// --credentials admin does). Per member: a MemberCluster with the agent's inventory body
// (docs/AGENT.md), a Lease renewed every heartbeat period with the merge patch berth-agent
// sends, and an instant "agent" that reports every replica of its Work Ready as soon as a
// new placement generation appears (what a sim agent does with a time scale of 0).
// Killing a member stops both, as SIGKILL stops a berth-agent. Bench-only.
//
// Thread safety: Create, Start*, Stop from one thread; Kill and the counters from any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/clock.h"
#include "api/kubeconfig.h"
#include "api/status.h"
#include "bench/controllers/fleet_informer.h"

namespace berth::agent {
class RestHubApi;
}

namespace berth::bench {

// One emulated member cluster: `nodes` nodes of one GPU pool, all GPUs free.
struct MemberShape {
  std::string name;
  double price_per_gpu_hour = 1.0;
  int nodes = 1;
  int gpus_per_node = 8;
  std::string gpu = "L4";  // catalog name
  std::string gfd_product = "NVIDIA-L4";
  double memory_gib = 24;
  nlohmann::json taints;  // MemberCluster spec.taints, or null
};

struct EmulatedFleetOptions {
  std::chrono::milliseconds heartbeat_period{5000};
  int threads = 8;            // setup workers and lease senders
  int responder_threads = 4;  // Work status writers
};

class EmulatedFleet {
 public:
  EmulatedFleet(ClientConfig admin, EmulatedFleetOptions options);
  ~EmulatedFleet();
  EmulatedFleet(const EmulatedFleet&) = delete;
  EmulatedFleet& operator=(const EmulatedFleet&) = delete;

  // Creates each member's MemberCluster (spec, then inventory status) and Lease (renewed
  // at once), in parallel. The first error is returned; members before it exist.
  Status Create(const std::vector<MemberShape>& members);

  // Registers the instant agents' Work listener on `informer` (call before its Start) and
  // starts the status writers.
  void AttachResponder(FleetInformer& informer);
  // Renews every live member's lease each period, members spread evenly over it. A failed
  // renewal (hub down) is retried after 1 s, as berth-agent does.
  void StartHeartbeats();
  void Stop();

  // The member's agent dies: no more renewals, no more Work status. Returns the renewTime
  // of its last accepted renewal (after any renewal in flight has finished).
  Clock::TimePoint Kill(const std::string& name);

  // Writes the hub accepted from the emulator, and requests that failed.
  int64_t lease_renewals() const { return lease_renewals_.load(); }
  int64_t work_status_writes() const { return status_writes_.load(); }
  int64_t setup_writes() const { return setup_writes_.load(); }
  int64_t errors() const { return errors_.load(); }
  size_t size() const { return members_.size(); }

 private:
  struct Member {
    MemberShape shape;
    std::mutex mu;                      // held while a renewal is in flight
    bool alive = true;                  // guarded by mu
    Clock::TimePoint last_renewal{};    // guarded by mu
    Steady::time_point next_renewal{};  // owned by its sender thread
  };
  Status Renew(Member& m);
  void SenderLoop(int index);
  void ResponderLoop();
  bool Alive(const std::string& name);

  const ClientConfig admin_;
  const EmulatedFleetOptions options_;
  std::unique_ptr<agent::RestHubApi> hub_;
  std::vector<std::unique_ptr<Member>> members_;
  std::map<std::string, Member*> by_name_;

  FleetInformer* informer_ = nullptr;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;  // members whose Work needs a status; guarded by queue_mu_
  std::set<std::string> queued_;   // guarded by queue_mu_

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> lease_renewals_{0}, status_writes_{0}, setup_writes_{0}, errors_{0};
  std::vector<std::thread> senders_, responders_;
};

// The body an agent reports for `work` with every replica Ready.
nlohmann::json ReadyWorkStatus(const nlohmann::json& work);

}  // namespace berth::bench
