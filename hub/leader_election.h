// Leader election among hub replicas that share an etcd store (issue #22): exactly one
// replica runs the controllers.
//
// Each replica holds an etcd lease (TTL `lease_ttl`) and tries to create the election key
// attached to it; the replica whose create succeeds leads. Its term is identified by the
// key's create_revision, and every write its controllers make is fenced on it
// (Fence{key, create_revision}, hub/store.h): once the key is gone (the lease expired or was
// revoked) or belongs to a successor, those writes fail in etcd's own transaction. So a
// leader that was paused or cut off and does not yet know it has lost cannot overwrite its
// successor's work; nothing here depends on clocks agreeing.
//
// The leader renews its lease every lease_ttl / 3. It steps down (on_deposed) when a renewal
// says the lease is gone, when the key no longer carries its lease, or when it has not
// renewed for lease_ttl * 2 / 3 (etcd unreachable: its successor may be elected soon).
// Standbys keep their own lease alive and retry the create every `retry_interval`, so after
// a leader dies its successor starts within lease_ttl + retry_interval. Stop() resigns:
// it stops the leader's work, then revokes the lease, so another replica takes over at once.
//
// Threading: one thread runs the election; on_elected and on_deposed run on it, in
// alternation, and may block (starting and stopping controllers).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "api/status.h"
#include "hub/etcd_client.h"
#include "hub/store.h"

namespace berth::hub {

struct LeaderElectionOptions {
  std::string key;       // the election key (outside the store's object prefix)
  std::string identity;  // this replica's name, stored as the key's value
  std::chrono::seconds lease_ttl{3};
  std::chrono::milliseconds retry_interval{250};
};

// What a term knows about itself.
struct LeaderTerm {
  Fence fence;           // fences the leader's writes
  int64_t lease = 0;     // the etcd lease the key is attached to
  std::string identity;  // this replica
};

class LeaderElection {
 public:
  using Elected = std::function<void(const LeaderTerm&)>;
  using Deposed = std::function<void(const std::string& why)>;

  LeaderElection(EtcdClient& etcd, LeaderElectionOptions options, Elected on_elected, Deposed on_deposed);
  ~LeaderElection();

  // Validates the options and starts campaigning; returns at once.
  Status Start();
  // Resigns if leading (on_deposed runs first), revokes the lease and stops.
  void Stop();

  bool leading() const { return leading_.load(); }
  // The identity that held the key when this replica last looked ("" if nobody).
  std::string last_seen_leader() const;

 private:
  void Run();
  // Holds leadership until it is lost or Stop(); returns why it ended.
  std::string Lead(const EtcdKeyValue& key);
  // Renews the lease now; false if it is gone. Updates last_renewal_ on success.
  bool Renew(std::string* why);
  // Sleeps up to `d`; false if Stop() was called.
  bool Pause(std::chrono::milliseconds d);

  EtcdClient& etcd_;
  const LeaderElectionOptions options_;
  Elected on_elected_;
  Deposed on_deposed_;

  std::atomic<bool> leading_{false};
  int64_t lease_ = 0;  // election thread only
  std::chrono::steady_clock::time_point last_renewal_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;        // guarded by mu_
  std::string last_seen_leader_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::hub
