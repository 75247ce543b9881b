// A keyed work queue in the controller-runtime style: a key is queued at most once
// (duplicates merge), failures retry with per-item exponential backoff, and time comes
// from an injected Clock so tests step through backoff without sleeping.
//
// Thread safety: all methods are safe to call concurrently. The agent has a single
// reconcile worker, so a key is never processed by two workers at once.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "api/clock.h"

namespace berth::agent {

class WorkQueue {
 public:
  WorkQueue(const Clock* clock, Clock::Duration base_delay, Clock::Duration max_delay)
      : clock_(clock), base_(base_delay), max_(max_delay) {}

  // Queues `key` to run now. A key already queued keeps its place, except that `urgent`
  // (the desired state changed) cuts any backoff short.
  void Add(const std::string& key, bool urgent = false);
  // Queues `key` after its backoff: base × 2^(failures), capped; counts a failure.
  void AddAfterFailure(const std::string& key);
  // Queues `key` after `delay` unless it is already queued sooner.
  void AddAfter(const std::string& key, Clock::Duration delay);
  // Resets the failure count (after a success).
  void Forget(const std::string& key);

  // Removes and returns a key that is due now (earliest first), or nullopt.
  std::optional<std::string> PopReady();
  // When the earliest queued key becomes due, or nullopt when empty.
  std::optional<Clock::TimePoint> NextDue() const;

  size_t size() const;
  int failures(const std::string& key) const;

 private:
  const Clock* clock_;
  const Clock::Duration base_, max_;
  mutable std::mutex mu_;
  std::map<std::string, Clock::TimePoint> due_;  // guarded by mu_
  std::map<std::string, int> failures_;          // guarded by mu_
};

}  // namespace berth::agent
