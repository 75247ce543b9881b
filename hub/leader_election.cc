#include "hub/leader_election.h"

#include <spdlog/spdlog.h>

namespace berth::hub {

namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Logs the first failure of a kind and then every 20th, so a standby that cannot reach
// etcd says so without writing a line four times a second.
class ThrottledWarning {
 public:
  void Warn(const std::string& what) {
    if (count_++ % 20 == 0) spdlog::warn("leader election: {} (seen {} times)", what, count_);
  }
  void Reset() { count_ = 0; }

 private:
  uint64_t count_ = 0;
};

}  // namespace

LeaderElection::LeaderElection(EtcdClient& etcd, LeaderElectionOptions options, Elected on_elected,
                               Deposed on_deposed)
    : etcd_(etcd),
      options_(std::move(options)),
      on_elected_(std::move(on_elected)),
      on_deposed_(std::move(on_deposed)) {}

LeaderElection::~LeaderElection() { Stop(); }

Status LeaderElection::Start() {
  if (options_.key.empty()) return Status::BadRequest("leader election: the election key is empty");
  if (options_.identity.empty()) return Status::BadRequest("leader election: this hub's identity is empty");
  if (options_.lease_ttl < std::chrono::seconds(2)) {
    return Status::BadRequest("leader election: the lease TTL must be at least 2s (got " +
                              std::to_string(options_.lease_ttl.count()) + "s)");
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void LeaderElection::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string LeaderElection::last_seen_leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seen_leader_;
}

bool LeaderElection::Pause(milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

bool LeaderElection::Renew(std::string* why) {
  auto left = etcd_.KeepAlive(lease_);
  if (left.ok() && *left > 0) {
    last_renewal_ = Steady::now();
    return true;
  }
  if (left.ok() || left.status().code() == StatusCode::kNotFound) {
    *why = fmt::format("lease {:x} expired", lease_);
    lease_ = 0;
    return false;
  }
  *why = left.status().message();
  return true;  // unknown: the caller decides by the time since the last renewal
}

void LeaderElection::Run() {
  const auto renew_every = duration_cast<milliseconds>(options_.lease_ttl) / 3;
  ThrottledWarning warning;
  while (Pause(milliseconds(0))) {
    if (lease_ == 0) {
      auto granted = etcd_.GrantLease(options_.lease_ttl.count());
      if (!granted.ok()) {
        warning.Warn("cannot grant a lease: " + granted.status().message());
        Pause(options_.retry_interval);
        continue;
      }
      lease_ = *granted;
      last_renewal_ = Steady::now();
    } else if (Steady::now() - last_renewal_ >= renew_every) {
      std::string why;
      if (!Renew(&why)) continue;
    }
    auto claim = etcd_.CreateIfAbsent(options_.key, options_.identity, lease_);
    if (!claim.ok()) {
      if (claim.status().code() == StatusCode::kNotFound) lease_ = 0;  // the lease expired meanwhile
      warning.Warn("cannot read or claim " + options_.key + ": " + claim.status().message());
      Pause(options_.retry_interval);
      continue;
    }
    warning.Reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_seen_leader_ = claim->holder.value;
    }
    if (claim->acquired) {
      const std::string why = Lead(claim->holder);
      spdlog::warn("leader election: {} no longer leads: {}", options_.identity, why);
    }
    Pause(options_.retry_interval);
  }
  if (lease_ != 0) {
    // Resigning: the key goes with the lease, so a standby's next try wins.
    if (Status s = etcd_.RevokeLease(lease_); !s.ok()) {
      spdlog::warn("leader election: could not revoke lease {} ({}); it expires in {}s", lease_, s.message(),
                   options_.lease_ttl.count());
    }
    lease_ = 0;
  }
}

std::string LeaderElection::Lead(const EtcdKeyValue& key) {
  LeaderTerm term{Fence{options_.key, key.create_revision, std::nullopt}, lease_, options_.identity};
  spdlog::info("leader election: {} leads (term {}, lease {:x})", options_.identity, key.create_revision, lease_);
  leading_ = true;
  on_elected_(term);
  const auto renew_every = duration_cast<milliseconds>(options_.lease_ttl) / 3;
  const auto give_up_after = duration_cast<milliseconds>(options_.lease_ttl) * 2 / 3;
  std::string why;
  while (why.empty()) {
    if (!Pause(renew_every)) {
      why = "stopping";
      break;
    }
    std::string failure;
    if (!Renew(&failure)) {
      why = failure;
    } else if (Steady::now() - last_renewal_ >= give_up_after) {
      why = "could not renew its lease for " +
            std::to_string(duration_cast<milliseconds>(Steady::now() - last_renewal_).count()) + " ms: " + failure;
    } else if (failure.empty()) {
      auto owns = etcd_.StillOwns(options_.key, lease_);
      if (owns.ok() && !*owns) why = options_.key + " is no longer attached to its lease";
    }
  }
  leading_ = false;
  on_deposed_(why);
  if (why != "stopping" && lease_ != 0) {
    // A new lease for the next campaign, so this replica never mistakes the old key for its own.
    (void)etcd_.RevokeLease(lease_);
    lease_ = 0;
  }
  return why;
}

}  // namespace berth::hub
