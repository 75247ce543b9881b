// Durable creates/s through EtcdStore: starts an etcd cluster on loopback (3 members by
// default, each fsyncing its own data dir), opens the store and keeps `clients` creates in
// flight (a closed loop: each acknowledged create submits the next) for `seconds` per level.
// A create is acknowledged after etcd committed it on a quorum and the store's mirror shows it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "hub/etcd_store.h"
#include "hub/etcd_test_cluster.h"

namespace {

using berth::hub::EtcdStoreOptions;
using berth::hub::Store;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Level {
  double creates_per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  int64_t failed = 0;
};

// Keeps `clients` creates in flight on `store` for `seconds`.
Level Run(Store& store, int clients, double seconds, int level_id) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> next{0}, failed{0};
  std::atomic<int> in_flight{0};
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::function<void()> submit = [&] {
    const int64_t n = next++;
    const std::string name = "l" + std::to_string(level_id) + "-" + std::to_string(n);
    json obj = {{"metadata", {{"name", name}, {"namespace", "bench"}, {"labels", {{"app", "bench"}}}}},
                {"spec", {{"replicas", 1}, {"model", "llama-3-8b"}}}};
    const auto start = Clock::now();
    in_flight++;
    store.Submit({{"benchobjects", "bench", name},
                  [obj](const json* cur) -> berth::StatusOr<std::optional<json>> {
                    if (cur) return berth::Status::AlreadyExists(obj["metadata"]["name"].get<std::string>());
                    return std::optional<json>(obj);
                  }},
                 [&, start](berth::StatusOr<json> r) {
                   const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                   {
                     std::lock_guard<std::mutex> lock(mu);
                     latencies_ms.push_back(ms);
                   }
                   if (!r.ok()) failed++;
                   if (Clock::now() < end) {
                     submit();
                   }
                   if (--in_flight == 0) {
                     std::lock_guard<std::mutex> lock(mu);
                     cv.notify_all();
                   }
                 });
  };
  const auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) submit();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  Level out;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  out.creates_per_second = (latencies_ms.size() - failed) / elapsed;
  out.p50_ms = latencies_ms[latencies_ms.size() / 2];
  out.p99_ms = latencies_ms[latencies_ms.size() * 99 / 100];
  out.failed = failed;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Durable creates/s through EtcdStore on a local etcd cluster"};
  int members = 3;
  double seconds = 3;
  std::string clients_list = "1,8,32,128";
  size_t max_batch = 64;
  app.add_option("--members", members, "etcd members to start on loopback");
  app.add_option("--seconds", seconds, "seconds per level");
  app.add_option("--clients", clients_list, "creates kept in flight, per level (comma-separated)");
  app.add_option("--max-batch", max_batch, "mutations per etcd transaction (1: no grouping)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (!berth::hub::EtcdTestCluster::Available()) {
    std::fprintf(stderr, "no %s: install etcd-server (scripts/install-deps.sh)\n", berth::hub::EtcdTestCluster::kBinary);
    return 1;
  }
  berth::hub::EtcdTestCluster cluster(members);
  std::string why;
  if (!cluster.Start(&why)) {
    std::fprintf(stderr, "%s\n", why.c_str());
    return 1;
  }
  EtcdStoreOptions o;
  o.client = cluster.ClientOptions();
  o.prefix = "/berth-bench";
  o.max_batch = max_batch;
  auto store = berth::hub::OpenEtcdStore(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  std::printf("etcd members %d, max batch %zu, %.0f s per level\n", members, max_batch, seconds);
  std::printf("| clients | creates/s | p50 ms | p99 ms | failed |\n|---:|---:|---:|---:|---:|\n");
  std::stringstream list(clients_list);
  std::string item;
  int level = 0;
  while (std::getline(list, item, ',')) {
    const int clients = std::stoi(item);
    Level r = Run(**store, clients, seconds, level++);
    std::printf("| %d | %.0f | %.2f | %.2f | %lld |\n", clients, r.creates_per_second, r.p50_ms, r.p99_ms,
                static_cast<long long>(r.failed));
    std::fflush(stdout);
  }
  return 0;
}
