#include "bench/controllers/emulated_fleet.h"

#include <spdlog/spdlog.h>

#include "api/rest_client.h"
#include "member-agent/heartbeat.h"
#include "member-agent/hub_api.h"
#include "member-agent/inventory.h"

namespace berth::bench {

using agent::HubPath;
using nlohmann::json;

namespace {

json InventoryStatus(const MemberShape& m) {
  agent::GpuInventory inv;
  for (int n = 0; n < m.nodes; ++n) {
    agent::NodeInventory node;
    node.name = "node-" + std::to_string(n);
    node.pool = "gpu";
    node.gpu_product = m.gpu;
    node.gfd_product = m.gfd_product;
    node.memory_gib = m.memory_gib;
    node.gpus = m.gpus_per_node;
    node.free_gpus = m.gpus_per_node;  // free + berth is what placement counts: keep it constant
    node.driver_version = "550.54.15";
    node.cuda_version = "12.4";
    inv.nodes.push_back(node);
  }
  inv.prices_per_gpu_hour[m.gpu] = m.price_per_gpu_hour;
  json s = agent::InventoryStatusJson(inv, agent::kAgentVersion, "sim", true);
  s["inventoryTime"] = FormatRfc3339(RealClock::Instance().Now());
  return s;
}

}  // namespace

json ReadyWorkStatus(const json& work) {
  json list = json::array();
  for (const auto& e : work.value("/spec/workspaces"_json_pointer, json::array())) {
    const json md = e.value("/workspace/metadata"_json_pointer, json::object());
    const int replicas = e.value("replicas", 0);
    list.push_back({{"name", md.value("name", "")},
                    {"namespace", md.value("namespace", "default")},
                    {"revision", e.value("revision", 0)},
                    {"applied", true},
                    {"replicas", replicas},
                    {"readyReplicas", replicas},
                    {"phase", "Ready"},
                    {"endpoint", "http://" + md.value("name", "") + "." +
                                     md.value("namespace", "") + ".svc:80"}});
  }
  const std::string now = agent::FormatRfc3339Millis(RealClock::Instance().Now());
  return {{"observedPlacementGeneration", work.value("/spec/placementGeneration"_json_pointer, 0)},
          {"workspaces", list},
          {"conditions",
           {{{"type", "Applied"},
             {"status", "True"},
             {"reason", "Applied"},
             {"message", "every workspace applied"},
             {"lastTransitionTime", now}}}}};
}

EmulatedFleet::EmulatedFleet(ClientConfig admin, EmulatedFleetOptions options)
    : admin_(std::move(admin)), options_(options) {
  auto hub = agent::RestHubApi::Create(admin_);
  if (!hub.ok()) {
    spdlog::critical("emulated fleet: {}", hub.status().ToString());
    std::abort();
  }
  hub_ = std::move(*hub);
}

EmulatedFleet::~EmulatedFleet() { Stop(); }

Status EmulatedFleet::Create(const std::vector<MemberShape>& shapes) {
  const size_t first = members_.size();
  for (const auto& s : shapes) {
    auto m = std::make_unique<Member>();
    m->shape = s;
    by_name_[s.name] = m.get();
    members_.push_back(std::move(m));
  }
  std::mutex err_mu;
  Status first_error;
  std::vector<std::thread> workers;
  for (int t = 0; t < options_.threads; ++t) {
    workers.emplace_back([&, t] {
      auto client = RestClient::Create(admin_);
      if (!client.ok()) return;
      for (size_t i = first + t; i < members_.size(); i += options_.threads) {
        Member& m = *members_[i];
        json mc = {{"apiVersion", "berth.dev/v1alpha1"},
                   {"kind", "MemberCluster"},
                   {"metadata", {{"name", m.shape.name}}},
                   {"spec", {{"region", "bench"}, {"provider", "sim"}}}};
        if (!m.shape.taints.is_null()) mc["spec"]["taints"] = m.shape.taints;
        json lease = {
            {"apiVersion", "berth.dev/v1alpha1"},
            {"kind", "Lease"},
            {"metadata", {{"name", m.shape.name}}},
            {"spec", {{"holderIdentity", m.shape.name + "/bench"}, {"leaseDurationSeconds", 15}}}};
        Status s = (*client)->Post(HubPath("memberclusters"), mc).status();
        if (s.ok()) s = hub_->PatchMemberStatus(m.shape.name, InventoryStatus(m.shape));
        if (s.ok()) s = (*client)->Post(HubPath("leases"), lease).status();
        if (s.ok()) {
          setup_writes_ += 3;
          s = Renew(m);
        }
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.ok()) first_error = s.WithContext("creating member " + m.shape.name);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return first_error;
}

Status EmulatedFleet::Renew(Member& m) {
  std::lock_guard<std::mutex> lock(m.mu);
  if (!m.alive) return Status::Ok();
  const auto now = RealClock::Instance().Now();
  Status s =
      hub_->RenewLease(m.shape.name, m.shape.name + "/bench", agent::FormatRfc3339Millis(now), 15);
  if (s.ok()) {
    m.last_renewal = now;
    ++lease_renewals_;
  } else {
    ++errors_;
  }
  return s;
}

void EmulatedFleet::StartHeartbeats() {
  const auto start = Steady::now();
  const auto period = options_.heartbeat_period;
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i]->next_renewal =
        start + period * static_cast<int64_t>(i) / static_cast<int64_t>(members_.size());
  }
  for (int t = 0; t < options_.threads; ++t) senders_.emplace_back([this, t] { SenderLoop(t); });
}

void EmulatedFleet::SenderLoop(int index) {
  const auto period = options_.heartbeat_period;
  const auto retry = std::min<Steady::duration>(std::chrono::seconds(1), period);
  while (!stop_) {
    Member* next = nullptr;
    for (size_t i = index; i < members_.size(); i += options_.threads) {
      if (!next || members_[i]->next_renewal < next->next_renewal) next = members_[i].get();
    }
    if (!next) return;
    // Sleep in short steps so Stop is prompt.
    while (!stop_ && Steady::now() < next->next_renewal) {
      std::this_thread::sleep_until(
          std::min(next->next_renewal, Steady::now() + std::chrono::milliseconds(100)));
    }
    if (stop_) return;
    Status s = Renew(*next);
    next->next_renewal = s.ok() ? next->next_renewal + period : Steady::now() + retry;
    if (next->next_renewal < Steady::now())
      next->next_renewal = Steady::now() + period;  // fell behind
  }
}

bool EmulatedFleet::Alive(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return false;
  std::lock_guard<std::mutex> lock(it->second->mu);
  return it->second->alive;
}

void EmulatedFleet::AttachResponder(FleetInformer& informer) {
  informer_ = &informer;
  informer.AddListener([this](const ObjectChange& c) {
    if (c.resource != "works" || c.type == "DELETED") return;
    const json& w = c.object;
    const json gen = w.value("/spec/placementGeneration"_json_pointer, json());
    const json seen = w.value("/status/observedPlacementGeneration"_json_pointer, json());
    if (gen == seen) return;
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (queued_.insert(c.key).second) queue_.push_back(c.key);
    queue_cv_.notify_one();
  });
  for (int t = 0; t < options_.responder_threads; ++t)
    responders_.emplace_back([this] { ResponderLoop(); });
}

void EmulatedFleet::ResponderLoop() {
  while (true) {
    std::string name;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stop_.load() || !queue_.empty(); });
      if (stop_) return;
      name = queue_.front();
      queue_.pop_front();
      queued_.erase(name);
    }
    if (!Alive(name)) continue;
    json work;
    informer_->With([&] {
      if (const json* w = informer_->Find("works", name)) work = *w;
    });
    if (work.is_null()) continue;
    if (work.value("/spec/placementGeneration"_json_pointer, json()) ==
        work.value("/status/observedPlacementGeneration"_json_pointer, json())) {
      continue;
    }
    Status s = hub_->PatchWorkStatus(name, ReadyWorkStatus(work));
    if (s.ok()) {
      ++status_writes_;
    } else {
      ++errors_;
      // Try again soon (hub down): the informer will not bring this Work back by itself.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (queued_.insert(name).second) queue_.push_back(name);
    }
  }
}

Clock::TimePoint EmulatedFleet::Kill(const std::string& name) {
  Member* m = by_name_.at(name);
  std::lock_guard<std::mutex> lock(m->mu);
  m->alive = false;
  return m->last_renewal;
}

void EmulatedFleet::Stop() {
  stop_ = true;
  queue_cv_.notify_all();
  for (auto& t : senders_) {
    if (t.joinable()) t.join();
  }
  for (auto& t : responders_) {
    if (t.joinable()) t.join();
  }
  senders_.clear();
  responders_.clear();
}

}  // namespace berth::bench
