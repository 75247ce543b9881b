#include "member-agent/work_queue.h"

#include <algorithm>

namespace berth::agent {

void WorkQueue::Add(const std::string& key, bool urgent) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_->Now();
  auto it = due_.find(key);
  if (it == due_.end()) {
    due_[key] = now;
  } else if (urgent) {
    it->second = std::min(it->second, now);
  }
}

void WorkQueue::AddAfterFailure(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = failures_[key]++;
  Clock::Duration delay = base_;
  for (int i = 0; i < n && delay < max_; ++i) delay *= 2;
  delay = std::min(delay, max_);
  due_[key] = clock_->Now() + delay;  // a failure replaces any earlier slot
}

void WorkQueue::AddAfter(const std::string& key, Clock::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  auto when = clock_->Now() + delay;
  auto it = due_.find(key);
  if (it == due_.end()) {
    due_[key] = when;
  } else {
    it->second = std::min(it->second, when);
  }
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(key);
}

std::optional<std::string> WorkQueue::PopReady() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_->Now();
  auto best = due_.end();
  for (auto it = due_.begin(); it != due_.end(); ++it) {
    if (it->second <= now && (best == due_.end() || it->second < best->second)) best = it;
  }
  if (best == due_.end()) return std::nullopt;
  std::string key = best->first;
  due_.erase(best);
  return key;
}

std::optional<Clock::TimePoint> WorkQueue::NextDue() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Clock::TimePoint> next;
  for (const auto& [key, when] : due_) {
    if (!next || when < *next) next = when;
  }
  return next;
}

size_t WorkQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return due_.size();
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

}  // namespace berth::agent
