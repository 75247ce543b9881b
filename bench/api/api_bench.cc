// berth-api-bench: how many durable creates per second the hub sustains, and where the time
// goes. Three layers, each at 1, 8 and 32 concurrent clients:
//   store   - SqliteStore::Apply in-process (group commit + fsync; no validation, no HTTP)
//   objects - ObjectApi::Create in-process (schema + semantic validation, then the store)
//   http    - a real berth-hub process over HTTPS, one RestClient (own connection) per thread
// The differences between the layers are the cost of validation and of HTTP/TLS. For the
// http layer the hub's own server-side latency (from /metrics) is printed beside the
// client-side one. Prints a table; asserts nothing.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

// After the standard headers: pplx's Boost.Asio headers use std::exchange without <utility>.
#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/etcd_test_cluster.h"
#include "hub/hub.h"
#include "kinds/berth_kinds.h"
#include "hub/object_api.h"
#include "hub/sqlite_store.h"
#include "tests/support/bench_clients.h"
#include "tests/support/hub_process.h"

namespace {

using berth::Status;
using berth::StatusOr;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

struct LevelResult {
  int clients = 0;
  int64_t creates = 0;
  int64_t errors = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
  std::string note;
};

json MemberBody(const std::string& name) {
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "MemberCluster"},
          {"metadata", {{"name", name}, {"labels", {{"bench", "api"}}}}},
          {"spec", {{"region", "eu-west"}, {"zone", "a"}, {"provider", "onprem"}}}};
}

json WorkspaceBody(const std::string& name) {
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "Workspace"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"bench", "api"}}}}},
          {"resource", {{"gpuProducts", {"A10", "L4"}}}},
          {"inference", {{"preset", {{"name", "phi-4-mini-instruct"}}}}},
          {"placement", {{"replicas", 3}}}};
}

// Runs `clients` threads, each calling create(thread, seq) back to back for `seconds`;
// create returns false on error. Latency is measured around each call.
LevelResult RunLevel(int clients, double seconds, const std::function<bool(int, int64_t)>& create,
                     const std::function<void(int)>& prepare = nullptr) {
  if (prepare) {
    for (int c = 0; c < clients; ++c) prepare(c);
  }
  std::vector<std::vector<double>> latencies(clients);
  std::vector<int64_t> errors(clients, 0);
  std::atomic<bool> go{false};
  const auto duration =
      std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  Steady::time_point start, end;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      while (!go) std::this_thread::yield();
      const auto stop_at = start + duration;
      for (int64_t i = 0; i < 10'000'000 && Steady::now() < stop_at; ++i) {
        auto t0 = Steady::now();
        bool ok = create(c, i);
        auto t1 = Steady::now();
        if (ok) {
          latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
          ++errors[c];
        }
      }
    });
  }
  start = Steady::now();
  go = true;
  for (auto& t : threads) t.join();
  end = Steady::now();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  LevelResult r;
  r.clients = clients;
  r.creates = static_cast<int64_t>(all.size());
  for (auto e : errors) r.errors += e;
  r.seconds = std::chrono::duration<double>(end - start).count();
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

void PrintHeader() {
  std::printf("%-8s %-14s %7s %8s %7s %10s %8s %8s  %s\n", "layer", "kind", "clients", "creates",
              "errors", "creates/s", "p50_ms", "p99_ms", "note");
}

void Print(const std::string& layer, const std::string& kind, const LevelResult& r) {
  std::printf("%-8s %-14s %7d %8lld %7lld %10.0f %8.2f %8.2f  %s\n", layer.c_str(), kind.c_str(),
              r.clients, static_cast<long long>(r.creates), static_cast<long long>(r.errors),
              r.seconds > 0 ? r.creates / r.seconds : 0.0, r.p50_ms, r.p99_ms, r.note.c_str());
  std::fflush(stdout);
}

// Sum and count of the hub's server-side create latency histogram, from /metrics.
std::pair<double, double> ServerCreateLatency(berth::RestClient& client) {
  auto r = client.Do("GET", "/metrics", "", "", "text/plain");
  double sum = 0, count = 0;
  if (!r.ok() || r->status_code != 200) return {0, 0};
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    auto value = [&] { return std::stod(line.substr(line.rfind(' ') + 1)); };
    if (line.rfind("berth_api_request_duration_seconds_sum{verb=\"create\"}", 0) == 0)
      sum = value();
    if (line.rfind("berth_api_request_duration_seconds_count{verb=\"create\"}", 0) == 0)
      count = value();
  }
  return {sum, count};
}

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

StatusOr<std::unique_ptr<berth::hub::Store>> FreshStore(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  berth::hub::SqliteStoreOptions options;
  options.path = dir + "/berth.db";
  return berth::hub::OpenSqliteStore(options);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-api-bench: durable creates/s of the hub's store, object layer and HTTPS API"};
  double seconds = 3;
  std::vector<int> levels = {1, 8, 32};
  std::vector<std::string> layers = {"store", "objects", "http"};
  std::string kind_name = "memberclusters";
  app.add_option("--seconds", seconds, "Measured seconds per level")->capture_default_str();
  app.add_option("--clients", levels, "Concurrency levels, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--layers", layers, "Layers to measure, comma-separated: store, objects, http")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--kind", kind_name, "memberclusters or workspaces")
      ->check(CLI::IsMember({"memberclusters", "workspaces"}))
      ->capture_default_str();
  int client_io_threads = 4;
  app.add_option(
         "--client-io-threads", client_io_threads,
         "cpprestsdk I/O threads in this (client) process; 0 keeps the library default (40)")
      ->capture_default_str();
  int etcd_members = 0;
  app.add_option("--etcd-members", etcd_members,
                 "http layer: 0 runs the hub on SQLite; N on an etcd cluster of N real members started "
                 "here (--store etcd, a fresh prefix per level)")
      ->check(CLI::Range(0, 5))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<berth::hub::EtcdTestCluster> etcd;
  std::string etcd_endpoints;
  if (etcd_members > 0) {
    etcd = std::make_unique<berth::hub::EtcdTestCluster>(etcd_members);
    std::string why;
    if (!etcd->Start(&why)) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 1;
    }
    for (const auto& e : etcd->Endpoints()) etcd_endpoints += (etcd_endpoints.empty() ? "" : ",") + e;
  }
  // The clients share the machine with the hub: a small I/O pool keeps their overhead (thread
  // wake-ups) from eating the hub's CPU. It must be set before cpprestsdk is first used.
  berth::testing::PrepareBenchClients(client_io_threads);
  spdlog::set_level(spdlog::level::warn);
  const bool workspaces = kind_name == "workspaces";
  auto body = [&](const std::string& name) {
    return workspaces ? WorkspaceBody(name) : MemberBody(name);
  };

  auto tmp = berth::testing::MakeTempDir("berth-api-bench");
  if (!tmp.ok()) {
    std::fprintf(stderr, "%s\n", tmp.status().ToString().c_str());
    return 1;
  }
  std::printf("berth-api-bench: %.1f s per level, kind %s, %u hardware threads, hub store %s\n", seconds,
              kind_name.c_str(), std::thread::hardware_concurrency(),
              etcd ? ("etcd (" + std::to_string(etcd_members) + " members)").c_str() : "sqlite");
  PrintHeader();

  berth::api::KindRegistry registry;
  if (Status s = berth::kinds::RegisterBerthKinds(registry); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const berth::api::KindInfo* kind = registry.ByResource("berth.dev", "v1alpha1", kind_name);
  const std::string ns = kind->namespaced ? "default" : "";
  int run = 0;

  for (const auto& layer : layers) {
    for (int clients : levels) {
      const std::string prefix = "b" + std::to_string(run++) + "-";
      auto name = [&](int c, int64_t i) {
        return prefix + std::to_string(c) + "-" + std::to_string(i);
      };
      if (layer == "store" || layer == "objects") {
        // A fresh database per level so every level starts from the same size.
        auto store = FreshStore(*tmp + "/store-" + std::to_string(run));
        if (!store.ok()) {
          std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
          return 1;
        }
        berth::hub::ObjectApi objects(**store, berth::RealClock::Instance());
        LevelResult r;
        const double cpu_before = SelfCpuSeconds();
        if (layer == "store") {
          r = RunLevel(clients, seconds, [&](int c, int64_t i) {
            json obj = body(name(c, i));
            berth::hub::ObjectRef ref{kind->resource(), ns, name(c, i)};
            auto out =
                (*store)->Apply({ref, [&obj](const json* current) -> StatusOr<std::optional<json>> {
                                   if (current) return Status::AlreadyExists("exists");
                                   return std::optional<json>(std::move(obj));
                                 }});
            return out.ok();
          });
        } else {
          r = RunLevel(clients, seconds, [&](int c, int64_t i) {
            std::promise<bool> done;
            objects.Create(*kind, ns, body(name(c, i)), {},
                           [&done](StatusOr<json> out) { done.set_value(out.ok()); });
            return done.get_future().get();
          });
        }
        char note[96];
        std::snprintf(note, sizeof(note), "CPU per create %.3f ms",
                      r.creates ? 1000 * (SelfCpuSeconds() - cpu_before) / r.creates : 0.0);
        r.note = note;
        Print(layer, kind_name, r);
        continue;
      }
      if (layer != "http") {
        std::fprintf(stderr, "unknown layer %s\n", layer.c_str());
        return 2;
      }
      berth::testing::HubProcessOptions options;
      options.data_dir = *tmp + "/hub-" + std::to_string(run);
      options.extra_args = {"--log-level", "warn"};
      if (etcd) {
        options.extra_args.insert(options.extra_args.end(), {"--store", "etcd", "--etcd-endpoints", etcd_endpoints,
                                                             "--etcd-prefix", "/b" + std::to_string(run)});
      }
      auto hub = berth::testing::HubProcess::Start(options);
      if (!hub.ok()) {
        std::fprintf(stderr, "%s\n", hub.status().ToString().c_str());
        return 1;
      }
      std::vector<std::unique_ptr<berth::RestClient>> rest(clients);
      const std::string path = std::string("/apis/berth.dev/v1alpha1/") +
                               (ns.empty() ? "" : "namespaces/" + ns + "/") + kind_name;
      auto metrics_client = (*hub)->NewClient();
      auto before = ServerCreateLatency(**metrics_client);
      double hub_cpu_before = 0, self_cpu_before = 0;
      LevelResult r = RunLevel(
          clients, seconds,
          [&](int c, int64_t i) { return rest[c]->Post(path, body(name(c, i))).ok(); },
          [&](int c) {
            // Each client connects (TLS handshake) before the clock starts.
            auto client = (*hub)->NewClient();
            if (!client.ok()) {
              std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
              std::exit(1);
            }
            rest[c] = std::move(*client);
            (void)rest[c]->Get(path + "?limit=1");
            hub_cpu_before = ProcessCpuSeconds((*hub)->pid());
            self_cpu_before = SelfCpuSeconds();
          });
      const double hub_cpu = ProcessCpuSeconds((*hub)->pid()) - hub_cpu_before;
      const double self_cpu = SelfCpuSeconds() - self_cpu_before;
      auto after = ServerCreateLatency(**metrics_client);
      if (after.second > before.second) {
        char note[160];
        std::snprintf(note, sizeof(note),
                      "server-side mean %.2f ms; CPU per create: hub %.2f ms, clients %.2f ms",
                      1000 * (after.first - before.first) / (after.second - before.second),
                      r.creates ? 1000 * hub_cpu / r.creates : 0.0,
                      r.creates ? 1000 * self_cpu / r.creates : 0.0);
        r.note = note;
      }
      Print(layer, kind_name, r);
      rest.clear();
      hub->reset();
    }
  }
  std::filesystem::remove_all(*tmp);
  return 0;
}
