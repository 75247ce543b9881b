// Time as a dependency: nothing outside RealClock reads the system clock, so heartbeat
// timeouts, tolerations, soaks and backoff are driven by a FakeClock in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace berth {

class Clock {
 public:
  using Duration = std::chrono::milliseconds;
  using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;
  virtual ~Clock() = default;
  // Wall-clock time (for timestamps users read and for lease comparisons).
  virtual TimePoint Now() const = 0;
};

class RealClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
  static RealClock& Instance() {
    static RealClock clock;
    return clock;
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(Duration(1'767'225'600'000)))  // 2026-01-01
      : now_(start) {}
  TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_;  // guarded by mu_
};

// RFC 3339 in UTC with second precision, as Kubernetes writes timestamps: 2026-01-01T00:00:00Z.
std::string FormatRfc3339(Clock::TimePoint t);
// The same with milliseconds, 2026-01-01T00:00:00.123Z: for audit records and stored times
// that must round-trip exactly.
std::string FormatRfc3339Millis(Clock::TimePoint t);
// Parses what FormatRfc3339 writes (fractions and 'Z' or +00:00 accepted). False on error.
bool ParseRfc3339(const std::string& text, Clock::TimePoint* out);

}  // namespace berth
