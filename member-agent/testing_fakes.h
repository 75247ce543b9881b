// Test doubles for the agent: a scripted hub (records every call, can be "down") and a
// backend wrapper that counts writes. Header-only, used by member-agent tests and
// tests/agent.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "member-agent/backend.h"
#include "member-agent/hub_api.h"

namespace berth::agent::testing {

class FakeHubApi : public HubApi {
 public:
  struct Call {
    std::string method;  // RenewLease, PatchMemberStatus, ListWork, WatchWork, PatchWorkStatus
    nlohmann::json body;
  };

  Status RenewLease(const std::string& cluster, const std::string& holder,
                    const std::string& renew_time, int seconds) override {
    return Record("RenewLease",
                  {{"cluster", cluster}, {"renewTime", renew_time}, {"seconds", seconds}});
  }
  Status PatchMemberStatus(const std::string& cluster, const nlohmann::json& status) override {
    return Record("PatchMemberStatus", status);
  }
  StatusOr<WorkList> ListWork(const std::string& cluster) override {
    BERTH_RETURN_IF_ERROR(Record("ListWork", cluster));
    std::lock_guard<std::mutex> lock(mu_);
    return WorkList{work_, "1"};
  }
  Status WatchWork(const std::string&, const std::string&,
                   const std::function<void(const nlohmann::json&)>&,
                   const std::function<bool()>&) override {
    return Record("WatchWork", nullptr);
  }
  Status PatchWorkStatus(const std::string& cluster, const nlohmann::json& status) override {
    BERTH_RETURN_IF_ERROR(Record("PatchWorkStatus", status));
    std::lock_guard<std::mutex> lock(mu_);
    if (work_.is_object()) work_["status"] = status;
    return Status::Ok();
  }

  void set_down(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  void set_work(nlohmann::json work) {
    std::lock_guard<std::mutex> lock(mu_);
    work_ = std::move(work);
  }
  nlohmann::json work() const {
    std::lock_guard<std::mutex> lock(mu_);
    return work_;
  }
  // Successful calls of one method.
  std::vector<Call> Calls(const std::string& method) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Call> out;
    for (const auto& c : calls_) {
      if (c.method == method) out.push_back(c);
    }
    return out;
  }
  int failed_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

 private:
  Status Record(const std::string& method, nlohmann::json body) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) {
      ++failed_;
      return Status::Unavailable("fake hub is down");
    }
    calls_.push_back({method, std::move(body)});
    return Status::Ok();
  }
  mutable std::mutex mu_;
  bool down_ = false;
  int failed_ = 0;
  nlohmann::json work_;
  std::vector<Call> calls_;
};

// Forwards to a real backend and counts writes (applies, deletes) and what was deleted.
class CountingBackend : public MemberBackend {
 public:
  explicit CountingBackend(MemberBackend* inner) : inner_(inner) {}
  std::string name() const override { return inner_->name(); }
  bool simulated() const override { return inner_->simulated(); }
  Status Apply(const nlohmann::json& object) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++applies_;
    last_applied_[KeyOf(object)] = object;
    return inner_->Apply(object);
  }
  StatusOr<std::vector<ManagedObject>> ListManaged(const std::string& ns,
                                                   const std::string& ws) override {
    return inner_->ListManaged(ns, ws);
  }
  Status Delete(const ObjectKey& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    deleted_.push_back(key);
    return inner_->Delete(key);
  }
  StatusOr<WorkloadState> ReadWorkload(const std::string& ns, const std::string& ws) override {
    return inner_->ReadWorkload(ns, ws);
  }
  StatusOr<PrePullState> ReadPrePull(const std::string& ns, const std::string& ws) override {
    return inner_->ReadPrePull(ns, ws);
  }
  StatusOr<GpuInventory> ReadInventory() override { return inner_->ReadInventory(); }
  StatusOr<ServingState> ReadServing(const std::string& ns, const std::string& ws) override {
    return inner_->ReadServing(ns, ws);
  }

  int applies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applies_;
  }
  std::vector<ObjectKey> deleted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return deleted_;
  }
  // The last object applied under `key` (null when none was).
  nlohmann::json last_applied(const ObjectKey& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = last_applied_.find(key);
    return it == last_applied_.end() ? nlohmann::json() : it->second;
  }
  int writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applies_ + static_cast<int>(deleted_.size());
  }

 private:
  MemberBackend* inner_;
  mutable std::mutex mu_;
  int applies_ = 0;
  std::vector<ObjectKey> deleted_;
  std::map<ObjectKey, nlohmann::json> last_applied_;
};

}  // namespace berth::agent::testing
