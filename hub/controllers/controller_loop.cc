#include "hub/controllers/controller_loop.h"

#include <spdlog/spdlog.h>

namespace berth::hub {

ControllerLoop::~ControllerLoop() { Stop(); }

void ControllerLoop::Register(const std::string& name, ReconcileFn fn) {
  reconcilers_[name] = std::move(fn);
}

void ControllerLoop::Enqueue(const std::string& key) { EnqueueAfter(key, Clock::Duration(0)); }

void ControllerLoop::ScheduleLocked(const std::string& key, Clock::TimePoint when) {
  auto [it, added] = due_.try_emplace(key, when);
  if (!added) {
    if (it->second <= when) return;  // the earlier time wins
    by_time_.erase({it->second, key});
    it->second = when;
  }
  by_time_.emplace(when, key);
}

void ControllerLoop::EnqueueAfter(const std::string& key, Clock::Duration delay) {
  const auto when = clock_.Now() + delay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ScheduleLocked(key, when);
  }
  cv_.notify_one();
}

void ControllerLoop::EnqueueCoalesced(const std::string& key, Clock::Duration min_gap) {
  const auto now = clock_.Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Only coalesced keys are tracked (health keys of deleted members would pile up).
    auto last = last_started_.try_emplace(key, Clock::TimePoint{}).first;
    const auto when = last->second == Clock::TimePoint{} ? now : std::max(now, last->second + min_gap);
    ScheduleLocked(key, when);
  }
  cv_.notify_one();
}

size_t ControllerLoop::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return due_.size();
}

int ControllerLoop::RunDue() {
  int ran = 0;
  while (true) {
    std::string key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = clock_.Now();
      if (by_time_.empty() || by_time_.begin()->first > now || stopping_) return ran;
      key = by_time_.begin()->second;
      by_time_.erase(by_time_.begin());
      due_.erase(key);
      if (auto last = last_started_.find(key); last != last_started_.end()) last->second = now;
    }
    const std::string name = key.substr(0, key.find('/'));
    auto fn = reconcilers_.find(name);
    if (fn == reconcilers_.end()) {
      spdlog::error("no reconciler for key {}", key);
      continue;
    }
    ReconcileResult r;
    try {
      r = fn->second(key);
    } catch (const std::exception& e) {
      r.status = Status::Internal(std::string("reconcile threw: ") + e.what());
    }
    ++ran;
    if (!r.status.ok()) {
      int n;
      {
        std::lock_guard<std::mutex> lock(mu_);
        n = ++failures_[key];
      }
      // 100 ms doubling, capped at 30 s.
      auto backoff = std::chrono::milliseconds(100) * (1 << std::min(n - 1, 9));
      backoff = std::min<std::chrono::milliseconds>(backoff, std::chrono::seconds(30));
      spdlog::warn("reconcile {} failed ({} in a row), retry in {} ms: {}", key, n, backoff.count(),
                   r.status.ToString());
      EnqueueAfter(key, backoff);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      failures_.erase(key);
    }
    if (r.requeue_after) EnqueueAfter(key, *r.requeue_after);
  }
}

void ControllerLoop::Start(std::chrono::milliseconds poll) {
  worker_ = std::thread([this, poll] {
    while (true) {
      RunDue();
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      // Sleep until the next due key (system time) or `poll`, whichever is first.
      auto wait = poll;
      if (!by_time_.empty()) {
        auto d = std::chrono::ceil<std::chrono::milliseconds>(by_time_.begin()->first - clock_.Now());
        wait = std::min(wait, std::max(d, std::chrono::milliseconds(0)));
      }
      cv_.wait_for(lock, wait);
      if (stopping_) return;
    }
  });
}

void ControllerLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

}  // namespace berth::hub
