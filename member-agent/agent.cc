#include "member-agent/agent.h"

#include <spdlog/spdlog.h>

#include <sstream>

namespace berth::agent {

using nlohmann::json;

StatusOr<std::string> ObtainCredential(const AgentOptions& options, const AgentStateDir& state,
                                       const std::function<bool()>& should_stop) {
  if (auto stored = state.LoadCredential(); stored.ok()) {
    spdlog::info("using the member credential stored in {}/credential", state.dir());
    return *stored;
  }
  if (options.join_token.empty()) {
    return Status::FailedPrecondition(
        "no member credential in " + state.dir() +
        "/credential and no --join-token: create a bootstrap token on the hub with "
        "`berthctl token create --cluster " +
        options.join.cluster_name +
        " --ttl 1h` and pass it as --join-token-file (or --join-token)");
  }
  std::chrono::milliseconds delay(500);
  while (true) {
    auto token = JoinHub(options.hub, options.join_token, options.join);
    if (token.ok()) {
      BERTH_RETURN_IF_ERROR(state.StoreCredential(*token));
      spdlog::info("joined the hub as member \"{}\"; credential stored in {}/credential (0600)",
                   options.join.cluster_name, state.dir());
      return *token;
    }
    if (token.status().code() != StatusCode::kUnavailable) return token.status();
    spdlog::warn("hub unreachable, will retry the join: {}", token.status().ToString());
    for (auto waited = std::chrono::milliseconds(0); waited < delay;
         waited += std::chrono::milliseconds(100)) {
      if (should_stop()) return Status::Unavailable("stopped before the join succeeded");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(30000));
  }
}

Agent::Agent(AgentOptions options, std::unique_ptr<MemberBackend> backend, SimCluster* sim,
             const Clock* clock)
    : options_(std::move(options)), backend_(std::move(backend)), sim_(sim), clock_(clock) {}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  auto state = AgentStateDir::Open(options_.state_dir);
  if (!state.ok()) return state.status();
  state_ = std::make_unique<AgentStateDir>(*state);
  if (backend_->simulated()) {
    spdlog::warn(
        "backend sim: this member is a SIMULATED cluster (no real GPUs or pods); "
        "its status says \"simulated\": true");
  }
  auto credential = ObtainCredential(options_, *state_, [this] { return stopping_.load(); });
  if (!credential.ok()) return credential.status();
  ClientConfig config = options_.hub;
  config.bearer_token = *credential;
  config.bearer_token_file.clear();
  // Watches get a bookmark or an event at least every few minutes; silence longer than
  // this means a dead connection.
  config.watch_idle_timeout = std::chrono::minutes(5);
  auto rest = RestHubApi::Create(config);
  if (!rest.ok()) return rest.status();
  rest_hub_ = std::move(*rest);
  hub_ = std::make_unique<PartitionableHubApi>(rest_hub_.get(),
                                               sim_ ? sim_->unreachable_flag() : &never_cut_off_);

  ReconcilerOptions ropts;
  ropts.cluster = options_.join.cluster_name;
  reconciler_ =
      std::make_unique<Reconciler>(backend_.get(), hub_.get(), state_.get(), clock_, ropts);
  reconciler_->LoadPersisted();
  HeartbeatOptions hopts;
  hopts.cluster = options_.join.cluster_name;
  hopts.holder_identity = options_.holder_identity;
  hopts.period = options_.heartbeat_period;
  heartbeat_ = std::make_unique<Heartbeat>(hub_.get(), backend_.get(), clock_, hopts);

  if (!options_.admin_listen.empty()) {
    auto admin = AdminServer::Start(options_.admin_listen,
                                    [this](const AdminRequest& r) { return HandleAdmin(r); });
    if (!admin.ok()) return admin.status();
    admin_ = std::move(*admin);
    spdlog::info("admin endpoint on http://{} (/healthz, /metrics, /state{})",
                 options_.admin_listen, sim_ ? ", POST /faults/..." : "");
  }
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  watch_thread_ = std::thread([this] { WatchLoop(); });
  reconcile_thread_ = std::thread([this] { ReconcileLoop(); });
  spdlog::info("agent for member \"{}\" running (backend {}, heartbeat every {} ms)",
               options_.join.cluster_name, backend_->name(), options_.heartbeat_period.count());
  return Status::Ok();
}

void Agent::Stop() {
  if (stopping_.exchange(true)) return;
  WakeReconciler();
  for (auto* t : {&heartbeat_thread_, &watch_thread_, &reconcile_thread_}) {
    if (t->joinable()) t->join();
  }
  admin_.reset();
}

bool Agent::SleepFor(Clock::Duration d) {
  std::unique_lock<std::mutex> lock(wake_mu_);
  wake_cv_.wait_for(lock, std::max(d, Clock::Duration(1)), [this] { return stopping_.load(); });
  return !stopping_;
}

void Agent::WakeReconciler() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

void Agent::HeartbeatLoop() {
  while (!stopping_) {
    auto next = heartbeat_->Tick();
    if (!SleepFor(next - clock_->Now())) return;
  }
}

void Agent::WatchLoop() {
  const std::string cluster = options_.join.cluster_name;
  std::string rv;
  bool need_list = true;
  std::chrono::milliseconds backoff(500);
  const std::chrono::milliseconds max_backoff(30000);
  while (!stopping_) {
    if (need_list) {
      auto list = hub_->ListWork(cluster);
      if (!list.ok()) {
        spdlog::warn("cannot list Work (workloads stay as they are; retry in {} ms): {}",
                     backoff.count(), list.status().ToString());
        if (!SleepFor(backoff)) return;
        backoff = std::min(backoff * 2, max_backoff);
        continue;
      }
      ++work_relists_;
      if (list->work.is_null()) {
        reconciler_->ObserveNoWork();
      } else {
        reconciler_->ObserveWork(list->work);
      }
      rv = list->resource_version;
      need_list = false;
      WakeReconciler();
    }
    watch_connected_ = true;
    bool gone = false;
    Status s = hub_->WatchWork(
        cluster, rv,
        [&](const json& event) {
          std::string type = event.value("type", "");
          const json& obj = event.contains("object") ? event["object"] : json();
          if (type == "ERROR") {
            if (obj.value("code", 0) == 410) gone = true;
            return;
          }
          std::string obj_rv = obj.value("/metadata/resourceVersion"_json_pointer, std::string());
          if (!obj_rv.empty()) rv = obj_rv;
          if (type == "ADDED" || type == "MODIFIED") {
            reconciler_->ObserveWork(obj);
            WakeReconciler();
          } else if (type == "DELETED") {
            reconciler_->ObserveNoWork();
            WakeReconciler();
          }
          backoff = std::chrono::milliseconds(500);
        },
        [&] { return stopping_.load() || gone; });
    watch_connected_ = false;
    if (stopping_) return;
    ++watch_restarts_;
    if (gone || s.code() == StatusCode::kGone) {
      spdlog::info("Work watch: resourceVersion {} is too old; listing again", rv);
      need_list = true;
      continue;
    }
    if (!s.ok()) {
      spdlog::warn("Work watch broke (resuming from resourceVersion {} in {} ms): {}", rv,
                   backoff.count(), s.ToString());
      if (!SleepFor(backoff)) return;
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
}

void Agent::ReconcileLoop() {
  auto next_resync = clock_->Now();
  std::chrono::milliseconds flush_backoff(0);
  auto next_flush = clock_->Now();
  while (!stopping_) {
    auto now = clock_->Now();
    if (now >= next_resync) {
      if (Status s = reconciler_->Resync(); !s.ok()) {
        spdlog::warn("resync: cannot list managed objects: {}", s.ToString());
      }
      next_resync = now + options_.resync_period;
    }
    reconciler_->ProcessReady();
    if (clock_->Now() >= next_flush) {
      Status s = reconciler_->FlushStatus();
      if (s.ok()) {
        flush_backoff = std::chrono::milliseconds(0);
      } else {
        flush_backoff = std::min(std::max(flush_backoff * 2, std::chrono::milliseconds(500)),
                                 std::chrono::milliseconds(30000));
        spdlog::warn("cannot write Work status (retry in {} ms): {}", flush_backoff.count(),
                     s.ToString());
        next_flush = clock_->Now() + flush_backoff;
      }
    }
    auto wake_at = next_resync;
    if (auto due = reconciler_->NextDue()) wake_at = std::min(wake_at, *due);
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(lock, std::max(wake_at - clock_->Now(), Clock::Duration(1)),
                      [this] { return stopping_.load() || wake_; });
    wake_ = false;
  }
}

std::string Agent::Metrics() const {
  std::ostringstream out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
        << name << "{cluster=\"" << options_.join.cluster_name << "\"} " << value << "\n";
  };
  HeartbeatStats hb = heartbeat_ ? heartbeat_->stats() : HeartbeatStats{};
  ReconcilerStats rs = reconciler_ ? reconciler_->stats() : ReconcilerStats{};
  metric("berth_agent_simulated", "gauge", "1 when the backend is a simulated cluster",
         backend_->simulated() ? 1 : 0);
  metric("berth_agent_hub_reachable", "gauge", "1 when the last lease renewal succeeded",
         heartbeat_ && heartbeat_->hub_reachable() ? 1 : 0);
  metric("berth_agent_lease_renewals_total", "counter", "Lease renewals the hub accepted",
         static_cast<double>(hb.lease_renewals));
  metric("berth_agent_lease_failures_total", "counter", "Lease renewals that failed",
         static_cast<double>(hb.lease_failures));
  metric("berth_agent_inventory_writes_total", "counter", "MemberCluster status patches",
         static_cast<double>(hb.inventory_writes));
  metric("berth_agent_backend_applies_total", "counter", "Objects applied to the cluster",
         static_cast<double>(rs.backend_applies));
  metric("berth_agent_backend_deletes_total", "counter", "Objects deleted from the cluster",
         static_cast<double>(rs.backend_deletes));
  metric("berth_agent_work_status_writes_total", "counter", "Work status patches",
         static_cast<double>(rs.hub_status_writes));
  metric("berth_agent_reconciles_total", "counter", "Workspace reconciles",
         static_cast<double>(rs.reconciles));
  metric("berth_agent_reconcile_errors_total", "counter", "Workspace reconciles that failed",
         static_cast<double>(rs.reconcile_errors));
  metric("berth_agent_fenced_works_total", "counter",
         "Works ignored for an old placementGeneration", static_cast<double>(rs.fenced_works));
  metric("berth_agent_work_watch_restarts_total", "counter", "Work watch streams that ended",
         static_cast<double>(watch_restarts_.load()));
  metric("berth_agent_applied_placement_generation", "gauge", "Highest applied placementGeneration",
         reconciler_ ? static_cast<double>(reconciler_->applied_generation()) : -1);
  metric("berth_agent_desired_workspaces", "gauge", "Workspaces in the accepted Work",
         reconciler_ ? static_cast<double>(reconciler_->desired_count()) : 0);
  return out.str();
}

AdminResponse Agent::HandleAdmin(const AdminRequest& req) {
  auto json_reply = [](int code, const json& body) {
    return AdminResponse{code, "application/json", body.dump()};
  };
  auto error = [&](int code, const std::string& message) {
    return json_reply(code, {{"error", message}});
  };
  if (req.method == "GET" && req.path == "/healthz") {
    return {200, "text/plain", "ok\n"};
  }
  if (req.method == "GET" && req.path == "/metrics") {
    return {200, "text/plain; version=0.0.4", Metrics()};
  }
  if (req.method == "GET" && req.path == "/state") {
    json state = {{"cluster", options_.join.cluster_name},
                  {"backend", backend_->name()},
                  {"simulated", backend_->simulated()},
                  {"hubReachable", heartbeat_ && heartbeat_->hub_reachable()},
                  {"workStatus", reconciler_ ? reconciler_->CurrentStatus() : json()}};
    if (sim_) state["sim"] = sim_->Describe();
    return json_reply(200, state);
  }
  if (req.path.rfind("/faults/", 0) == 0) {
    if (!sim_) return error(404, "fault injection exists only with --backend sim");
    if (req.method != "POST") return error(405, "use POST for " + req.path);
    auto param = [&](const char* name) {
      auto it = req.query.find(name);
      return it == req.query.end() ? std::string() : it->second;
    };
    std::string fault = req.path.substr(8);
    Status s;
    if (fault == "node-down" || fault == "node-up") {
      if (param("node").empty()) return error(400, "?node=NAME is required");
      s = sim_->SetNodeDown(param("node"), fault == "node-down");
    } else if (fault == "gpus-lost") {
      if (param("node").empty()) return error(400, "?node=NAME is required");
      s = sim_->LoseGpus(param("node"),
                         std::atoi(param("count").empty() ? "1" : param("count").c_str()));
    } else if (fault == "image-pull-failure" || fault == "image-pull-ok") {
      if (param("image").empty()) return error(400, "?image=IMAGE is required");
      sim_->SetImagePullFailure(param("image"), fault == "image-pull-failure");
    } else if (fault == "slow-serving") {
      if (param("image").empty()) return error(400, "?image=IMAGE is required");
      const double factor = param("factor").empty() ? 3.0 : std::atof(param("factor").c_str());
      if (!(factor >= 1 && factor <= 1000)) return error(400, "?factor must be a number from 1 to 1000");
      sim_->SetSlowServing(param("image"), factor);
    } else if (fault == "failing-serving") {
      if (param("image").empty()) return error(400, "?image=IMAGE is required");
      const double fraction = param("fraction").empty() ? 0.1 : std::atof(param("fraction").c_str());
      if (!(fraction >= 0 && fraction <= 1)) return error(400, "?fraction must be a number from 0 to 1");
      sim_->SetFailingServing(param("image"), fraction);
    } else if (fault == "unreachable" || fault == "reachable") {
      sim_->SetUnreachable(fault == "unreachable");
      spdlog::warn("simulated fault: cluster {} the hub",
                   fault == "unreachable" ? "cut off from" : "reconnected to");
    } else if (fault == "clear") {
      sim_->ClearFaults();
    } else {
      return error(404, "unknown fault \"" + fault +
                            "\"; known: node-down, node-up, gpus-lost, image-pull-failure, "
                            "image-pull-ok, slow-serving, failing-serving, unreachable, reachable, clear");
    }
    if (!s.ok()) return error(s.code() == StatusCode::kNotFound ? 404 : 400, s.message());
    // The cluster changed under every workspace: report it now, not at the next poll (a
    // real cluster's watch would say so), so the hub hears why replicas stopped before it
    // sees the inventory that follows.
    if (reconciler_) reconciler_->RequeueAllNow();
    WakeReconciler();
    return json_reply(200, sim_->Describe());
  }
  return error(404, "no such endpoint; try /healthz, /metrics, /state" +
                        std::string(sim_ ? ", POST /faults/..." : ""));
}

}  // namespace berth::agent
