// berth-member-bench: emulates many member agents in one process against a real berth-hub
// (started here on loopback): each member renews its Lease every --period seconds (merge
// patch, as berth-agent does), sends a full inventory at start, every 60 s, and when its
// inventory "changes" (--change-rate per period). Prints hub CPU (% of one core), hub RSS
// and p50/p99 lease-renewal latency over the measurement window. Bounded in time; loopback
// only. Members join for real (--credentials join: bootstrap token → member credential,
// one HTTPS connection each) or use the admin token with MemberCluster + Lease objects
// created as admin (--credentials admin; fewer connections).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "api/clock.h"
#include "api/rest_client.h"
#include "hub/etcd_test_cluster.h"
#include "hub/pki.h"
#include "hub/secret_encryption.h"
#include "member-agent/heartbeat.h"
#include "member-agent/hub_api.h"
#include "member-agent/inventory.h"
#include "tests/support/bench_clients.h"
#include "tests/support/hub_process.h"

// After the standard headers: Boost.Asio (inside) needs <utility> already included.
#include <pplx/threadpool.h>

namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;
using berth::agent::HubPath;

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ProcessRssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// A plausible member inventory: one pool of 8-GPU nodes, `free` varying.
json Inventory(int member, int free_gpus) {
  berth::agent::GpuInventory inv;
  for (int n = 0; n < 4; ++n) {
    inv.nodes.push_back({"node-" + std::to_string(n), "h100", true, "H100-80GB",
                         "NVIDIA-H100-80GB-HBM3", 80, 8, n == 0 ? free_gpus : 8, 0, "", 1, "550.54.15",
                         "12.4"});
  }
  inv.prices_per_gpu_hour["H100-80GB"] = 6.98;
  inv.cached_images = {"vllm/vllm-openai:v0.10.1.1"};
  json s = berth::agent::InventoryStatusJson(inv, berth::agent::kAgentVersion, "sim", true);
  s["inventoryTime"] = berth::FormatRfc3339(berth::RealClock::Instance().Now());
  (void)member;
  return s;
}

struct Member {
  std::string name;
  std::unique_ptr<berth::agent::RestHubApi> api;  // own credential, or shared admin (null)
  int free_gpus = 8;
  Steady::time_point next_lease, next_inventory;
};

// The hubs under test: one on SQLite, or N sharing an etcd cluster started here (with one
// encryption key, as HA hubs must).
struct Hubs {
  std::unique_ptr<berth::hub::EtcdTestCluster> etcd;
  std::vector<std::unique_ptr<berth::testing::HubProcess>> processes;
  double CpuSeconds() const {
    double sum = 0;
    for (const auto& h : processes) sum += ProcessCpuSeconds(h->pid());
    return sum;
  }
  double RssMiB() const {
    double sum = 0;
    for (const auto& h : processes) sum += ProcessRssMiB(h->pid());
    return sum;
  }
};

berth::StatusOr<std::unique_ptr<Hubs>> StartHubs(int count, int etcd_members, const std::vector<std::string>& hub_args) {
  auto hubs = std::make_unique<Hubs>();
  std::vector<std::string> store_args;
  if (etcd_members > 0) {
    hubs->etcd = std::make_unique<berth::hub::EtcdTestCluster>(etcd_members);
    std::string why;
    if (!hubs->etcd->Start(&why)) return berth::Status::Unavailable(why);
    auto dir = berth::testing::MakeTempDir("berth-member-bench-key");
    if (!dir.ok()) return dir.status();
    const std::string key = *dir + "/encryption.key";
    auto text = berth::hub::SecretCipher::NewKeyFileText();
    if (!text.ok()) return text.status();
    BERTH_RETURN_IF_ERROR(berth::WriteFileAtomic(key, *text, 0600));
    std::string endpoints;
    for (const auto& e : hubs->etcd->Endpoints()) endpoints += (endpoints.empty() ? "" : ",") + e;
    store_args = {"--store", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", "/bench",
                  "--encryption-key-file", key};
  }
  for (int i = 0; i < count; ++i) {
    berth::testing::HubProcessOptions options;
    options.extra_args = {"--log-level", "warn"};
    options.extra_args.insert(options.extra_args.end(), store_args.begin(), store_args.end());
    if (etcd_members > 0) options.extra_args.insert(options.extra_args.end(), {"--hub-id", "hub-" + std::to_string(i)});
    options.extra_args.insert(options.extra_args.end(), hub_args.begin(), hub_args.end());
    auto hub = berth::testing::HubProcess::Start(options);  // one at a time: the first publishes the PKI
    if (!hub.ok()) return hub.status();
    hubs->processes.push_back(std::move(*hub));
  }
  return hubs;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-member-bench: N emulated members heartbeating a real hub"};
  int members = 1000, threads = 8, client_io_threads = 4;
  double period_s = 5, warmup_s = 60, measure_s = 60, change_rate = 0.02;
  std::string credentials = "join";
  app.add_option("--members", members, "Emulated members")->capture_default_str();
  app.add_option("--period", period_s, "Lease renewal period, seconds")->capture_default_str();
  app.add_option("--warmup", warmup_s,
                 "Seconds of heartbeats before measuring; the first full inventories are spread "
                 "over 60 s, so a shorter warmup measures the join burst, not steady state")
      ->capture_default_str();
  app.add_option("--measure", measure_s, "Measurement window, seconds")->capture_default_str();
  app.add_option("--change-rate", change_rate,
                 "Fraction of members whose inventory changes each period")
      ->capture_default_str();
  app.add_option("--threads", threads, "Sender threads")->capture_default_str();
  app.add_option("--credentials", credentials, "join (per-member credentials) or admin")
      ->check(CLI::IsMember({"join", "admin"}))
      ->capture_default_str();
  app.add_option("--client-io-threads", client_io_threads,
                 "cpprestsdk I/O threads in this (client) process; 0 = library default (40)")
      ->capture_default_str();
  std::vector<std::string> hub_args;
  app.add_option("--hub-arg", hub_args,
                 "Extra flag for the berth-hub it starts (repeatable), e.g. --hub-arg=--no-controllers");
  int hub_count = 1, etcd_members = 0;
  app.add_option("--hubs", hub_count,
                 "berth-hub replicas; more than one needs --etcd-members. Member i talks to hub i % N")
      ->check(CLI::Range(1, 9))
      ->capture_default_str();
  app.add_option("--etcd-members", etcd_members,
                 "0: each hub on SQLite; N: the hubs share a store on N real etcd members started here")
      ->check(CLI::Range(0, 5))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (hub_count > 1 && etcd_members == 0) {
    std::cerr << "--hubs " << hub_count << " needs --etcd-members (hubs share one store only on etcd)\n";
    return 2;
  }
  berth::testing::PrepareBenchClients(client_io_threads);
  spdlog::set_level(spdlog::level::warn);

  auto started = StartHubs(hub_count, etcd_members, hub_args);
  if (!started.ok()) {
    std::cerr << "cannot start berth-hub: " << started.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<Hubs> hubs = std::move(*started);
  for (const auto& h : hubs->processes) std::cerr << "berth-hub pid " << h->pid() << " at " << h->url() << "\n";
  auto& hub = hubs->processes.front();
  auto admin_config = hub->AdminConfig();
  auto admin = hub->NewClient();
  if (!admin_config.ok() || !admin.ok()) return 1;
  auto shared_admin = berth::agent::RestHubApi::Create(*admin_config);
  if (!shared_admin.ok()) return 1;

  std::vector<Member> fleet(members);
  auto setup_start = Steady::now();
  std::atomic<int> setup_errors{0};
  {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < members; i += threads) {
          Member& m = fleet[i];
          m.name = "member-" + std::to_string(i);
          if (credentials == "join") {
            std::string id = "b" + std::to_string(100000 + i);
            std::string secret = berth::Sha256Hex(m.name).substr(0, 16);
            json token = {{"apiVersion", "berth.dev/v1alpha1"},
                          {"kind", "BootstrapToken"},
                          {"metadata", {{"name", id}}},
                          {"spec",
                           {{"secretHash", berth::Sha256Hex(secret)},
                            {"expiration", berth::FormatRfc3339(berth::RealClock::Instance().Now() +
                                                                std::chrono::hours(1))}}}};
            if (!(*admin)->Post(HubPath("bootstraptokens"), token).ok()) {
              ++setup_errors;
              continue;
            }
            berth::ClientConfig hub_config = *admin_config;
            hub_config.server = hubs->processes[static_cast<size_t>(i) % hubs->processes.size()]->url();
            hub_config.bearer_token.clear();
            auto credential = berth::agent::JoinHub(hub_config, id + "." + secret,
                                                    {m.name, "sim", {}, "bench", "", ""});
            if (!credential.ok()) {
              ++setup_errors;
              continue;
            }
            hub_config.bearer_token = *credential;
            auto api = berth::agent::RestHubApi::Create(hub_config);
            if (api.ok()) m.api = std::move(*api);
          } else {
            json mc = {{"apiVersion", "berth.dev/v1alpha1"},
                       {"kind", "MemberCluster"},
                       {"metadata", {{"name", m.name}}},
                       {"spec", {{"region", "bench"}}}};
            json lease = {{"apiVersion", "berth.dev/v1alpha1"},
                          {"kind", "Lease"},
                          {"metadata", {{"name", m.name}}},
                          {"spec", {{"holderIdentity", m.name}}}};
            if (!(*admin)->Post(HubPath("memberclusters"), mc).ok() ||
                !(*admin)->Post(HubPath("leases"), lease).ok()) {
              ++setup_errors;
            }
          }
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  double setup_s = std::chrono::duration<double>(Steady::now() - setup_start).count();
  std::cout << "setup: " << members << " members (" << credentials << ") in " << setup_s
            << " s, errors " << setup_errors << "\n";

  const auto period =
      std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(period_s));
  const auto start = Steady::now();
  for (int i = 0; i < members; ++i) {  // spread members evenly over one period
    fleet[i].next_lease = start + period * i / members;
    fleet[i].next_inventory = start + std::chrono::seconds(60) * i / members;
  }
  const auto measure_from =
      start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(warmup_s));
  const auto end = measure_from + std::chrono::duration_cast<Steady::duration>(
                                      std::chrono::duration<double>(measure_s));

  std::mutex results_mu;
  std::vector<double> lease_ms, inventory_ms;
  std::atomic<int64_t> errors{0}, lease_count{0}, inventory_count{0};
  std::vector<double> lateness_ms;  // how far behind schedule each in-window renewal was sent
  double cpu_start = 0;
  double rss_max = 0;
  std::atomic<bool> measuring{false};
  std::thread sampler([&] {
    std::this_thread::sleep_until(measure_from);
    cpu_start = hubs->CpuSeconds();
    measuring = true;
    while (Steady::now() < end) {
      rss_max = std::max(rss_max, hubs->RssMiB());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1u);
      std::uniform_real_distribution<double> coin(0, 1);
      std::vector<double> my_lease, my_inventory, my_late;
      while (true) {
        // The next due member of this thread's share.
        Member* next = nullptr;
        for (int i = t; i < members; i += threads) {
          Member& m = fleet[i];
          if (!next || std::min(m.next_lease, m.next_inventory) <
                           std::min(next->next_lease, next->next_inventory)) {
            next = &m;
          }
        }
        auto due = std::min(next->next_lease, next->next_inventory);
        if (due >= end) break;
        std::this_thread::sleep_until(due);
        berth::agent::HubApi* api =
            next->api ? static_cast<berth::agent::HubApi*>(next->api.get()) : shared_admin->get();
        bool in_window = measuring.load() && Steady::now() < end;
        if (next->next_lease <= due) {
          auto t0 = Steady::now();
          if (in_window)
            my_late.push_back(
                std::chrono::duration<double, std::milli>(t0 - next->next_lease).count());
          berth::Status s = api->RenewLease(
              next->name, next->name + "/bench",
              berth::agent::FormatRfc3339Millis(berth::RealClock::Instance().Now()), 15);
          double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
          if (!s.ok()) ++errors;
          if (in_window) {
            my_lease.push_back(ms);
            ++lease_count;
          }
          next->next_lease += period;
          if (coin(rng) < change_rate) {
            next->free_gpus = (next->free_gpus + 3) % 9;
            next->next_inventory = std::min(next->next_inventory, Steady::now());
          }
        }
        if (next->next_inventory <= Steady::now()) {
          auto t0 = Steady::now();
          berth::Status s = api->PatchMemberStatus(next->name, Inventory(0, next->free_gpus));
          double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
          if (!s.ok()) ++errors;
          if (in_window) {
            my_inventory.push_back(ms);
            ++inventory_count;
          }
          next->next_inventory = Steady::now() + std::chrono::seconds(60);
        }
      }
      std::lock_guard<std::mutex> lock(results_mu);
      lease_ms.insert(lease_ms.end(), my_lease.begin(), my_lease.end());
      inventory_ms.insert(inventory_ms.end(), my_inventory.begin(), my_inventory.end());
      lateness_ms.insert(lateness_ms.end(), my_late.begin(), my_late.end());
    });
  }
  for (auto& w : workers) w.join();
  sampler.join();
  double cpu = hubs->CpuSeconds() - cpu_start;
  double window = measure_s;
  std::printf("members=%d period=%.1fs window=%.0fs credentials=%s threads=%d hubs=%d store=%s\n", members,
              period_s, window, credentials.c_str(), threads, hub_count,
              etcd_members ? ("etcd (" + std::to_string(etcd_members) + " members)").c_str() : "sqlite");
  std::printf("lease renewals: %lld (%.1f/s)  p50=%.2f ms  p99=%.2f ms  max=%.2f ms\n",
              static_cast<long long>(lease_count.load()),
              static_cast<double>(lease_count.load()) / window, Percentile(lease_ms, 0.5),
              Percentile(lease_ms, 0.99), Percentile(lease_ms, 1.0));
  std::printf("inventory patches: %lld  p50=%.2f ms  p99=%.2f ms\n",
              static_cast<long long>(inventory_count.load()), Percentile(inventory_ms, 0.5),
              Percentile(inventory_ms, 0.99));
  std::printf(
      "schedule: renewals sent late by p50=%.1f ms p99=%.1f ms (large = the emulator could not "
      "keep up)\n",
      Percentile(lateness_ms, 0.5), Percentile(lateness_ms, 0.99));
  std::printf("errors: %lld\n", static_cast<long long>(errors.load()));
  std::printf("hub CPU: %.1f%% of one core  hub RSS: %.0f MiB (max in window; both summed over the hubs)\n",
              100.0 * cpu / window, rss_max);
  return 0;
}
