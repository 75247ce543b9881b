// Google Benchmark for the placement engine (docs/PERFORMANCE.md "Placement").
//   BM_Decide: one decision at 1,000 clusters × 8 GPU nodes; reports p50/p99 per decision.
//   BM_Batch:  10,000 workspaces onto 1,000 clusters in one PlanBatch (one core).
// "Time" is this thread's CPU time (manual time); wall time is a counter.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "bench/placement/fleet_gen.h"

namespace berth::placement::bench {
namespace {

// The machine is shared (other builds run beside the benchmark), so per-decision
// percentiles use this thread's CPU time; wall time is reported beside it.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void BM_Decide(benchmark::State& state) {
  FleetParams fp;
  fp.clusters = static_cast<int>(state.range(0));
  fp.gpu_nodes_per_cluster = 8;
  const FleetSnapshot fleet = GenerateFleet(fp);
  WorkloadParams wp;
  wp.workspaces = 2000;
  const auto requests = GenerateWorkload(wp);
  auto planner = Planner::Create(fleet);
  if (!planner.ok()) {
    state.SkipWithError(planner.status().ToString().c_str());
    return;
  }
  std::vector<double> micros, wall_micros;
  size_t i = 0, placed = 0;
  for (auto _ : state) {
    if (i > 0 && i % requests.size() == 0) planner = Planner::Create(fleet);  // refill the fleet
    const double cpu_start = ThreadCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    auto d = planner->Decide(requests[i % requests.size()]);
    const auto end = std::chrono::steady_clock::now();
    const double cpu = ThreadCpuSeconds() - cpu_start;
    benchmark::DoNotOptimize(d);
    double s = std::chrono::duration<double>(end - start).count();
    state.SetIterationTime(cpu);
    micros.push_back(cpu * 1e6);
    wall_micros.push_back(s * 1e6);
    placed += d.placed;
    ++i;
  }
  std::sort(micros.begin(), micros.end());
  std::sort(wall_micros.begin(), wall_micros.end());
  auto pct = [](const std::vector<double>& v, double p) {
    return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * v.size()))];
  };
  state.counters["p50_us"] = pct(micros, 0.50);
  state.counters["p99_us"] = pct(micros, 0.99);
  state.counters["max_us"] = micros.empty() ? 0 : micros.back();
  state.counters["p99_wall_us"] = pct(wall_micros, 0.99);
  state.counters["replicas_placed"] = static_cast<double>(placed);
}
BENCHMARK(BM_Decide)
    ->Arg(100)
    ->Arg(1000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(4000);

void BM_Batch(benchmark::State& state) {
  FleetParams fp;
  fp.clusters = static_cast<int>(state.range(0));
  const FleetSnapshot fleet = GenerateFleet(fp);
  WorkloadParams wp;
  wp.workspaces = static_cast<int>(state.range(1));
  const auto requests = GenerateWorkload(wp);
  int64_t placed = 0, unplaced = 0;
  double cost = 0;
  for (auto _ : state) {
    auto planner = Planner::Create(fleet);
    const double start = ThreadCpuSeconds();
    const auto wall_start = std::chrono::steady_clock::now();
    auto decisions = planner->PlanBatch(requests);
    const auto wall_end = std::chrono::steady_clock::now();
    state.SetIterationTime(ThreadCpuSeconds() - start);
    state.counters["wall_ms"] =
        std::chrono::duration<double, std::milli>(wall_end - wall_start).count();
    placed = unplaced = 0;
    cost = 0;
    for (const auto& d : decisions) {
      placed += d.placed;
      unplaced += d.unplaced();
      cost += d.cost_per_hour();
    }
  }
  state.counters["replicas_placed"] = static_cast<double>(placed);
  state.counters["replicas_unplaced"] = static_cast<double>(unplaced);
  state.counters["cost_per_hour"] = cost;
}
BENCHMARK(BM_Batch)
    ->Args({1000, 10000})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_PlannerCreate(benchmark::State& state) {
  FleetParams fp;
  fp.clusters = static_cast<int>(state.range(0));
  const FleetSnapshot fleet = GenerateFleet(fp);
  for (auto _ : state) {
    auto planner = Planner::Create(fleet);
    benchmark::DoNotOptimize(planner);
  }
}
BENCHMARK(BM_PlannerCreate)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace berth::placement::bench

BENCHMARK_MAIN();
