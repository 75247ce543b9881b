// How much control work the rollout state machine costs: a 3-stage rollout (canary of 1,
// a wave of 20 at 50%, the rest at 25%) over N clusters whose agents are Ready instantly.
// Reports steps to Completed and the time per step and per whole rollout. Soaks are 0 so
// every step makes progress; with soaks the step count is the same, only spread over time.
#include <benchmark/benchmark.h>

#include "rollout/rollout.h"

namespace berth::rollout {
namespace {

RolloutPlan ThreeStagePlan() {
  RolloutPlan plan;
  plan.strategy = policies::DefaultRolloutStrategy();
  plan.strategy.stages[0].soak_seconds = 0;
  policies::RolloutStage wave;
  wave.name = "wave";
  wave.cluster_selector.match_labels["ring"] = "1";
  wave.max_clusters = 20;
  wave.max_concurrency = {50, true};
  plan.strategy.stages.push_back(wave);
  plan.target.number = 2;
  plan.target.hash = "h2";
  plan.last_good = Revision{};
  plan.last_good->number = 1;
  plan.min_available = 1;
  return plan;
}

FleetView MakeFleet(int n) {
  FleetView fleet;
  for (int i = 0; i < n; ++i) {
    ClusterObservation o;
    o.name = "cluster-" + std::to_string(1000 + i);
    o.labels = {{"region", "r" + std::to_string(i % 7)}, {"ring", i % 3 == 0 ? "1" : "2"}};
    o.driver_version = *DottedVersion::Parse("550.54.15");
    o.cuda_version = *DottedVersion::Parse("12.4");
    o.desired_replicas = 2;
    o.revision = 1;
    o.ready_replicas = 2;
    o.phase = ReplicaPhase::kReady;
    o.surge_capacity = 2;
    o.artifacts_cached = true;
    fleet.clusters.push_back(std::move(o));
  }
  return fleet;
}

// Drives one rollout to Completed; returns the number of steps.
int DriveToCompletion(const RolloutPlan& plan, FleetView fleet, bool persist) {
  RolloutState state;
  Clock::TimePoint now(Clock::Duration(1'767'225'600'000));
  for (int steps = 1; steps < 10000; ++steps) {
    RolloutStep step = Advance(plan, state, fleet, now);
    if (step.phase == RolloutPhase::kCompleted) return steps;
    for (auto& c : fleet.clusters) {  // instant agents
      c.revision = step.directives.at(c.name).revision;
    }
    if (persist) {
      auto restored = RolloutStateFromJson(RolloutStateToJson(step.state));
      state = std::move(restored).value();
    } else {
      state = std::move(step.state);
    }
    now += std::chrono::seconds(1);
  }
  return -1;
}

void BM_ThreeStageRollout(benchmark::State& st) {
  RolloutPlan plan = ThreeStagePlan();
  FleetView fleet = MakeFleet(static_cast<int>(st.range(0)));
  const bool persist = st.range(1) != 0;
  int steps = 0;
  for (auto _ : st) {
    steps = DriveToCompletion(plan, fleet, persist);
    benchmark::DoNotOptimize(steps);
  }
  st.counters["steps"] = steps;
  st.counters["us_per_step"] = benchmark::Counter(
      static_cast<double>(steps) * static_cast<double>(st.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ThreeStageRollout)
    ->ArgNames({"clusters", "json"})
    ->Args({100, 0})
    ->Args({100, 1})
    ->Args({1000, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace berth::rollout

BENCHMARK_MAIN();
