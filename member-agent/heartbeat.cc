#include "member-agent/heartbeat.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace berth::agent {

std::string FormatRfc3339Millis(Clock::TimePoint t) {
  std::string base = FormatRfc3339(std::chrono::time_point_cast<std::chrono::seconds>(t));
  auto ms = t.time_since_epoch().count() % 1000;
  if (ms < 0) ms += 1000;
  char frac[8];
  std::snprintf(frac, sizeof(frac), ".%03d", static_cast<int>(ms));
  if (!base.empty() && base.back() == 'Z') base.pop_back();
  return base + frac + "Z";
}

Heartbeat::Heartbeat(HubApi* hub, MemberBackend* backend, const Clock* clock,
                     HeartbeatOptions options)
    : hub_(hub), backend_(backend), clock_(clock), options_(std::move(options)) {
  next_lease_ = clock_->Now();
  next_inventory_ = clock_->Now();
}

Clock::Duration Heartbeat::Backoff(int failures) const {
  Clock::Duration d = options_.retry_base;
  for (int i = 1; i < failures && d < options_.period; ++i) d *= 2;
  return std::min(d, options_.period);
}

Clock::TimePoint Heartbeat::Tick() {
  const auto now = clock_->Now();
  if (now >= next_lease_) {
    int lease_seconds = static_cast<int>(
        std::chrono::duration_cast<std::chrono::seconds>(options_.period).count() * 3);
    Status s = hub_->RenewLease(options_.cluster, options_.holder_identity,
                                FormatRfc3339Millis(now), std::max(lease_seconds, 1));
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (s.ok()) {
      if (stats_.consecutive_failures > 0) {
        spdlog::info("lease renewed again after {} failed attempts", stats_.consecutive_failures);
      }
      ++stats_.lease_renewals;
      stats_.consecutive_failures = 0;
      reachable_ = true;
      next_lease_ = now + options_.period;
    } else {
      ++stats_.lease_failures;
      ++stats_.consecutive_failures;
      stats_.last_error = s.ToString();
      reachable_ = false;
      if (stats_.consecutive_failures == 1 || stats_.consecutive_failures % 20 == 0) {
        spdlog::warn("lease renewal failed ({} in a row; workloads stay as they are): {}",
                     stats_.consecutive_failures, s.ToString());
      }
      next_lease_ = now + Backoff(stats_.consecutive_failures);
    }
  }
  if (now >= next_inventory_) {
    auto inventory = backend_->ReadInventory();
    if (!inventory.ok()) {
      spdlog::warn("cannot read the cluster's GPU inventory: {}", inventory.status().ToString());
      next_inventory_ = now + options_.period;
    } else {
      nlohmann::json body =
          InventoryStatusJson(*inventory, kAgentVersion, backend_->name(), backend_->simulated());
      bool stale = last_sent_inventory_.is_null() || body != last_sent_inventory_ ||
                   now - last_sent_time_ >= options_.inventory_max_age;
      if (!stale) {
        next_inventory_ = now + options_.period;
      } else {
        nlohmann::json status = body;
        status["inventoryTime"] = FormatRfc3339(now);
        Status s = hub_->PatchMemberStatus(options_.cluster, status);
        std::lock_guard<std::mutex> lock(stats_mu_);
        if (s.ok()) {
          ++stats_.inventory_writes;
          inventory_failures_in_row_ = 0;
          last_sent_inventory_ = std::move(body);
          last_sent_time_ = now;
          next_inventory_ = now + options_.period;
        } else {
          ++stats_.inventory_failures;
          stats_.last_error = s.ToString();
          next_inventory_ = now + Backoff(++inventory_failures_in_row_);
        }
      }
    }
  }
  return std::min(next_lease_, next_inventory_);
}

HeartbeatStats Heartbeat::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

}  // namespace berth::agent
