// A watch-fed cache of a hub's objects for whole-process benches: one thread per resource
// lists it, then watches from the list's resourceVersion, resumes from the last
// resourceVersion it saw when the stream breaks (the hub was killed or restarted) and
// lists again on 410 Gone. Every change reaches the listeners with the object as it was
// before, and the moment it arrived, so a bench can time what the hub wrote and tell
// who wrote it. Bench-only (berth-controller-bench); not part of any product binary.
//
//   FleetInformer informer(admin_config, {"memberclusters", "works", "workspaces"});
//   informer.AddListener([&](const ObjectChange& c) { ... });   // runs under the lock
//   informer.Start(std::chrono::seconds(10));
//   informer.WaitUntil([&] { return informer.Objects("works").size() == 3; }, 30s);
//
// Thread safety: listeners and WaitUntil predicates run with the informer's lock held and
// may call Objects()/Find() (and nothing that blocks); everything else may be called from
// any thread. AddListener only before Start.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/kubeconfig.h"
#include "api/status.h"

namespace berth::bench {

using Steady = std::chrono::steady_clock;
using SystemTime = std::chrono::system_clock::time_point;

struct ObjectChange {
  std::string resource;  // plural: "works", "workspaces", "memberclusters", "leases", "events"
  std::string type;      // "SYNC" (from a list), "ADDED", "MODIFIED", "DELETED"
  std::string key;       // "<namespace>/<name>", or "<name>" for cluster-scoped objects
  int64_t resource_version = 0;
  nlohmann::json object;    // for DELETED: the last state
  nlohmann::json previous;  // the cached object before this change; null when none
  Steady::time_point received;
  SystemTime received_system;  // the same moment on the system clock (hub timestamps)
};

// "<namespace>/<name>" or "<name>".
std::string ObjectKey(const nlohmann::json& object);

// The API path of a Berth resource (events live in the core group: /api/v1/events).
std::string ResourcePath(const std::string& plural);

class FleetInformer {
 public:
  FleetInformer(ClientConfig admin, std::vector<std::string> resources);
  ~FleetInformer();
  FleetInformer(const FleetInformer&) = delete;
  FleetInformer& operator=(const FleetInformer&) = delete;

  void AddListener(std::function<void(const ObjectChange&)> listener);

  // Starts the threads and waits until every resource has been listed once.
  // Unavailable when that takes longer than `sync_timeout`.
  Status Start(Steady::duration sync_timeout);
  void Stop();

  // Waits until `pred` (run under the lock, after every change) holds; false on timeout.
  bool WaitUntil(const std::function<bool()>& pred, Steady::duration timeout);
  // Runs `f` under the lock.
  void With(const std::function<void()>& f);

  // Under the lock only (listeners, predicates, With).
  const std::map<std::string, nlohmann::json>& Objects(const std::string& resource) const;
  const nlohmann::json* Find(const std::string& resource, const std::string& key) const;

  // Lists after the first one (a 410 Gone, i.e. changes this informer could not see).
  int64_t relists() const { return relists_.load(); }
  // Changes seen since Start (SYNCs excluded).
  int64_t changes() const { return changes_.load(); }

 private:
  void Run(const std::string& resource);
  void Apply(const std::string& resource, const std::string& type, const nlohmann::json& object);

  const ClientConfig config_;
  const std::vector<std::string> resources_;
  std::vector<std::function<void(const ObjectChange&)>> listeners_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // State below is guarded by mu_.
  std::map<std::string, std::map<std::string, nlohmann::json>> objects_;  // resource → key → object
  int synced_ = 0;
  bool stopping_ = false;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> relists_{0}, changes_{0};
  std::vector<std::thread> threads_;
};

}  // namespace berth::bench
