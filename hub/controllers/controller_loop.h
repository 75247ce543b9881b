// A small controller runtime: named reconcilers fed by a keyed work queue. Keys are
// deduplicated, one key is never reconciled twice at once (one worker thread), failures
// retry with per-key exponential backoff, and a reconciler may ask to be called again
// after a delay (e.g. when a lease will expire). Time comes from the injected Clock; the
// worker sleeps on a condition variable, so tests can instead call RunDue() themselves.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "api/clock.h"
#include "api/status.h"

namespace berth::hub {

struct ReconcileResult {
  ReconcileResult(Status s = Status::Ok(), std::optional<Clock::Duration> again = std::nullopt)  // NOLINT
      : status(std::move(s)), requeue_after(again) {}
  Status status;                                    // non-OK: retry with backoff
  std::optional<Clock::Duration> requeue_after;     // OK but look again later
};

using ReconcileFn = std::function<ReconcileResult(const std::string& key)>;

class ControllerLoop {
 public:
  explicit ControllerLoop(Clock& clock) : clock_(clock) {}
  ~ControllerLoop();

  // Registers a reconciler for keys "<name>/<rest>". Before Start only.
  void Register(const std::string& name, ReconcileFn fn);

  // Queues "<name>/<rest>" now (duplicates merge) or after a delay.
  void Enqueue(const std::string& key);
  void EnqueueAfter(const std::string& key, Clock::Duration delay);
  // Queues `key` no sooner than `min_gap` after its last run started: a burst of triggers
  // (e.g. inventory reports from many members) becomes at most one run per gap. An earlier
  // time already queued wins.
  void EnqueueCoalesced(const std::string& key, Clock::Duration min_gap);

  // Runs a worker thread until Stop. `poll` bounds how long it sleeps when the clock is
  // not the system clock (a FakeClock does not wake it).
  void Start(std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  void Stop();

  // Reconciles every key that is due now, in due order; returns how many ran.
  int RunDue();

  size_t pending() const;

 private:
  Clock& clock_;
  std::map<std::string, ReconcileFn> reconcilers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Sets `key` due at `when` unless it is already due earlier. Requires mu_.
  void ScheduleLocked(const std::string& key, Clock::TimePoint when);

  // The queue: key → when, and the same pairs ordered by time, so the next due key is found
  // without scanning (a fleet keeps one health key per member queued). Guarded by mu_.
  std::map<std::string, Clock::TimePoint> due_;
  std::set<std::pair<Clock::TimePoint, std::string>> by_time_;
  std::map<std::string, int> failures_;           // key → consecutive failures; guarded by mu_
  std::map<std::string, Clock::TimePoint> last_started_;  // coalesced key → last run's start; guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  std::thread worker_;
};

}  // namespace berth::hub
