// Heartbeat and inventory: renews this member's Lease every `period` and patches the
// MemberCluster status with the GPU inventory when it changed and at least every
// `inventory_max_age`. Driven by Tick() so tests step a FakeClock; the agent's loop calls
// Tick() and sleeps until the time it returns.
//
// Cheap by design: a renewal is one small merge patch; inventory is compared with the
// last one the hub accepted and sent only when different or stale. Failures retry with
// exponential backoff capped at `period` (so renewals resume within one period after the
// hub returns). Thread safety: one thread calls Tick(); stats() may be read from others.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "api/clock.h"
#include "member-agent/backend.h"
#include "member-agent/hub_api.h"

namespace berth::agent {

struct HeartbeatOptions {
  std::string cluster;
  std::string holder_identity;  // agent instance, e.g. "<cluster>/<hostname>/<pid>"
  Clock::Duration period{std::chrono::seconds(5)};
  Clock::Duration inventory_max_age{std::chrono::seconds(60)};
  Clock::Duration retry_base{std::chrono::seconds(1)};
};

struct HeartbeatStats {
  int64_t lease_renewals = 0;
  int64_t lease_failures = 0;
  int64_t inventory_writes = 0;
  int64_t inventory_failures = 0;
  int consecutive_failures = 0;  // lease renewals failed in a row
  std::string last_error;
};

// RFC 3339 with milliseconds, as the Lease's renewTime: 2026-11-23T06:00:05.123Z.
std::string FormatRfc3339Millis(Clock::TimePoint t);

class Heartbeat {
 public:
  Heartbeat(HubApi* hub, MemberBackend* backend, const Clock* clock, HeartbeatOptions options);

  // Does whatever is due now (lease renewal, inventory check). Returns when to call again.
  Clock::TimePoint Tick();

  HeartbeatStats stats() const;
  // The hub answered the last lease renewal.
  bool hub_reachable() const { return reachable_.load(); }

 private:
  Clock::Duration Backoff(int failures) const;

  HubApi* hub_;
  MemberBackend* backend_;
  const Clock* clock_;
  const HeartbeatOptions options_;
  Clock::TimePoint next_lease_{};
  Clock::TimePoint next_inventory_{};
  int inventory_failures_in_row_ = 0;
  nlohmann::json last_sent_inventory_;  // without inventoryTime; null = never sent
  Clock::TimePoint last_sent_time_{};
  std::atomic<bool> reachable_{false};
  mutable std::mutex stats_mu_;
  HeartbeatStats stats_;  // guarded by stats_mu_
};

}  // namespace berth::agent
