// The autoscaler's decision on plain data and plain TimePoints (a fake clock): tolerance,
// the ceil formula, several metrics, stabilisation windows, rate policies, min/max, no
// signals, scale from zero, and the state's JSON form.
#include "hub/controllers/autoscaler.h"

#include <gtest/gtest.h>

#include <cmath>

namespace berth::hub {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using workspace::AutoscalingMetricType;
using workspace::AutoscalingSpec;
using workspace::ScalingPolicy;
using workspace::ScalingPolicyType;
using workspace::SelectPolicy;

constexpr auto kWaiting = AutoscalingMetricType::kWaitingRequestsPerReplica;
constexpr auto kRunning = AutoscalingMetricType::kRunningRequestsPerReplica;
constexpr auto kTtft = AutoscalingMetricType::kTimeToFirstTokenP90Seconds;
constexpr auto kKv = AutoscalingMetricType::kKVCacheUtilization;
const Clock::TimePoint kT0 = FakeClock().Now();

// Waiting requests per replica, target 4, 1..100 replicas, HPA's default behaviour.
AutoscalingSpec Spec(int min = 1, int max = 100) {
  AutoscalingSpec s;
  s.min_replicas = min;
  s.max_replicas = max;
  s.metrics = {{kWaiting, 4}};
  return s;
}

AutoscaleInput Input(const AutoscalingSpec& spec, int current, std::optional<double> waiting,
                     Clock::TimePoint now = kT0) {
  AutoscaleInput in;
  in.spec = spec;
  in.current_replicas = in.ready_replicas = current;
  in.metrics[kWaiting] = waiting;
  in.now = now;
  return in;
}

// A workspace driven pass after pass, applying every decision as the controller would.
struct Driven {
  explicit Driven(AutoscaleInput input) : in(std::move(input)) {}
  AutoscaleInput in;
  AutoscaleDecision last;
  std::vector<Clock::TimePoint> scale_downs;

  int Pass(Clock::TimePoint now, std::optional<double> waiting) {
    in.now = now;
    in.metrics[kWaiting] = waiting;
    last = Autoscale(in);
    if (last.desired_replicas < in.current_replicas) scale_downs.push_back(now);
    in.current_replicas = in.ready_replicas = last.desired_replicas;
    in.state = last.next_state;
    return last.desired_replicas;
  }
};

// Default behaviour without the scale-down window, to look at one thing at a time.
AutoscalingSpec NoWindows(int min = 1, int max = 100) {
  AutoscalingSpec s = Spec(min, max);
  s.scale_down.stabilization_window_seconds = 0;
  return s;
}

TEST(Autoscale, NoChangeWithinTolerance) {
  // 4 replicas at target 4: within 10 % either way nothing moves.
  for (double v : {3.6, 4.0, 4.4}) {
    auto d = Autoscale(Input(NoWindows(), 4, v));
    EXPECT_EQ(d.desired_replicas, 4) << v;
    EXPECT_FALSE(d.event_reason) << v;
    EXPECT_EQ(d.driving_metric->replicas, 4) << v;
  }
  // Just outside: 4 × 4.6 / 4 = 4.6 → 5; 4 × 3.5 / 4 = 3.5 → 4 (ceil) is no change either.
  EXPECT_EQ(Autoscale(Input(NoWindows(), 4, 4.6)).desired_replicas, 5);
  EXPECT_EQ(Autoscale(Input(NoWindows(), 4, 2.9)).desired_replicas, 3);
  // A tolerance of 0 reacts to any difference.
  AutoscalingSpec exact = NoWindows();
  exact.tolerance = 0;
  EXPECT_EQ(Autoscale(Input(exact, 4, 4.2)).desired_replicas, 5);
}

TEST(Autoscale, CeilOfCurrentTimesRatio) {
  EXPECT_EQ(Autoscale(Input(Spec(), 3, 7)).desired_replicas, 6);     // 3 × 7 / 4 = 5.25
  EXPECT_EQ(Autoscale(Input(Spec(), 3, 8)).desired_replicas, 6);     // exactly 6
  EXPECT_EQ(Autoscale(Input(Spec(), 10, 40)).desired_replicas, 20);  // 100, rate-limited to 2×
  AutoscalingSpec kv = Spec();
  kv.metrics = {{kKv, 0.1}};
  AutoscaleInput in = Input(kv, 10, std::nullopt);
  in.metrics[kKv] = 0.3;  // 10 × 0.3 / 0.1 is 30.000000000000004 in doubles: still 30
  kv.scale_up.policies = {{ScalingPolicyType::kPods, 100, 15}};
  in.spec = kv;
  EXPECT_EQ(Autoscale(in).desired_replicas, 30);
}

TEST(Autoscale, LargestRecommendationAcrossMetricsWins) {
  AutoscalingSpec spec = Spec();
  spec.metrics = {{kRunning, 16}, {kWaiting, 4}, {kTtft, 2}};
  AutoscaleInput in = Input(spec, 4, 6);  // waiting: 4 × 6 / 4 = 6
  in.metrics[kRunning] = 8;               // 4 × 8 / 16 = 2
  in.metrics[kTtft] = 2.5;                // 4 × 2.5 / 2 = 5
  auto d = Autoscale(in);
  EXPECT_EQ(d.desired_replicas, 6);
  ASSERT_TRUE(d.driving_metric);
  EXPECT_EQ(d.driving_metric->type, kWaiting);
  EXPECT_DOUBLE_EQ(d.driving_metric->value, 6);
  EXPECT_DOUBLE_EQ(d.driving_metric->target, 4);
  ASSERT_EQ(d.recommendations.size(), 3u);
  EXPECT_EQ(d.recommendations[0].replicas, 2);
  EXPECT_EQ(d.recommendations[2].replicas, 5);
  EXPECT_EQ(d.scaling_active.reason, "ValidMetricFound");
  EXPECT_TRUE(d.scaling_active.status);
  EXPECT_EQ(d.event_reason, "ScaledUp");
  EXPECT_NE(d.event_message.find("New size: 6"), std::string::npos) << d.event_message;
  EXPECT_NE(d.event_message.find("WaitingRequestsPerReplica 6 (target 4)"), std::string::npos)
      << d.event_message;
  EXPECT_NE(d.event_message.find("TimeToFirstTokenP90Seconds 2.5 (target 2)"), std::string::npos);

  // A metric without a signal drops out; the others still decide.
  in.metrics[kWaiting] = std::nullopt;
  d = Autoscale(in);
  EXPECT_EQ(d.desired_replicas, 5);
  EXPECT_EQ(d.driving_metric->type, kTtft);
}

TEST(Autoscale, NoSignalKeepsReplicas) {
  AutoscalingSpec spec = Spec();
  spec.metrics = {{kWaiting, 4}, {kKv, 0.8}};
  AutoscaleInput in = Input(spec, 5, std::nullopt);
  in.metrics[kKv] = std::nan("");  // not a signal
  in.state.recommendations = {{kT0 - seconds(10), 9}};
  auto d = Autoscale(in);
  EXPECT_EQ(d.desired_replicas, 5);
  EXPECT_FALSE(d.driving_metric);
  EXPECT_FALSE(d.scaling_active.status);
  EXPECT_EQ(d.scaling_active.reason, "FailedGetMetrics");
  EXPECT_NE(d.scaling_active.message.find("KVCacheUtilization"), std::string::npos);
  EXPECT_FALSE(d.event_reason);
  EXPECT_EQ(d.next_state.recommendations.size(), 1u);  // nothing recorded
  EXPECT_FALSE(d.requeue_at);

  in.metrics[kWaiting] = -1;  // negative: no signal either
  EXPECT_EQ(Autoscale(in).scaling_active.reason, "FailedGetMetrics");

  // Still held within [min, max] (a lowered maxReplicas applies without signals).
  in.spec.max_replicas = 3;
  d = Autoscale(in);
  EXPECT_EQ(d.desired_replicas, 3);
  EXPECT_EQ(d.scaling_limited.reason, "TooManyReplicas");
  EXPECT_EQ(d.event_reason, "ScaledDown");
}

TEST(Autoscale, ScaleFromZeroOnLoad) {
  AutoscalingSpec spec = Spec(0, 10);
  spec.scale_up.policies = {{ScalingPolicyType::kPercent, 100, 15}};  // 100 % of 0 is 0
  auto d = Autoscale(Input(spec, 0, 3));
  EXPECT_EQ(d.desired_replicas, 1);
  EXPECT_EQ(d.event_reason, "ScaledUp");
  // Idle at zero stays at zero, with a valid metric.
  d = Autoscale(Input(spec, 0, 0));
  EXPECT_EQ(d.desired_replicas, 0);
  EXPECT_TRUE(d.scaling_active.status);
  EXPECT_FALSE(d.event_reason);
  // No signal at zero: stays.
  EXPECT_EQ(Autoscale(Input(spec, 0, std::nullopt)).desired_replicas, 0);
  // minReplicas 2 (zero reached by hand): load brings min.
  spec.min_replicas = 2;
  EXPECT_EQ(Autoscale(Input(spec, 0, 3)).desired_replicas, 2);
}

TEST(Autoscale, ScaleToZeroWhenIdleAndMinIsZero) {
  Driven w(Input(Spec(0, 10), 2, 0));
  // No history yet: the current size counts as a recommendation made now (as in HPA), so
  // the first idle pass does not scale down at once.
  EXPECT_EQ(w.Pass(kT0, 0), 2);
  EXPECT_EQ(w.last.able_to_scale.reason, "ScaleDownStabilized");
  EXPECT_EQ(w.last.requeue_at, kT0 + seconds(300));
  EXPECT_EQ(w.Pass(kT0 + seconds(150), 0), 2);
  EXPECT_EQ(w.Pass(kT0 + seconds(300), 0), 0);
  EXPECT_EQ(w.last.event_reason, "ScaledDown");
  EXPECT_EQ(w.last.scaling_limited.reason, "DesiredWithinRange");
}

TEST(Autoscale, UnreadyReplicasCarryNoLoadOnScaleUp) {
  // 4 replicas, 2 of them still cold-starting; the 2 ready ones report 8 waiting (target 4).
  AutoscaleInput in = Input(Spec(), 4, 8);
  in.ready_replicas = 2;
  EXPECT_EQ(Autoscale(in).desired_replicas, 4);  // 8 × 2 / 4 = 4 per replica: at target
  in.metrics[kWaiting] = 16;
  EXPECT_EQ(Autoscale(in).desired_replicas, 8);  // 16 × 2 / 4 = 8 per replica → 4 × 2
  in.ready_replicas = 4;
  EXPECT_EQ(Autoscale(in).desired_replicas, 8);  // rate-limited 4 → 8 (16 asked)
  // TTFT is not an average over replicas: not adjusted.
  AutoscalingSpec ttft = Spec();
  ttft.metrics = {{kTtft, 1}};
  AutoscaleInput t = Input(ttft, 4, std::nullopt);
  t.ready_replicas = 2;
  t.metrics[kTtft] = 1.5;
  EXPECT_EQ(Autoscale(t).desired_replicas, 6);
}

TEST(Autoscale, DropWaitsForTheScaleDownWindow) {
  Driven w(Input(Spec(), 4, 4));
  EXPECT_EQ(w.Pass(kT0, 4), 4);
  EXPECT_EQ(w.Pass(kT0 + seconds(10), 1), 4);  // asks for 1, held by the 4 of t0
  EXPECT_EQ(w.last.able_to_scale.reason, "ScaleDownStabilized");
  EXPECT_TRUE(w.last.able_to_scale.status);
  ASSERT_TRUE(w.last.requeue_at);
  EXPECT_EQ(*w.last.requeue_at, kT0 + seconds(300));
  EXPECT_FALSE(w.last.event_reason);
  EXPECT_EQ(w.Pass(kT0 + seconds(299), 1), 4);
  EXPECT_EQ(w.Pass(kT0 + seconds(300), 1), 1);  // the t0 recommendation left the window
  EXPECT_EQ(w.last.event_reason, "ScaledDown");
  EXPECT_EQ(w.last.able_to_scale.reason, "ReadyForNewScale");
  EXPECT_NE(w.last.event_message.find("New size: 1 (was 4)"), std::string::npos)
      << w.last.event_message;
}

TEST(Autoscale, RequeueWhenTheHoldingRecommendationLeavesItsWindow) {
  AutoscaleInput in = Input(Spec(), 6, 1);  // asks for 2
  in.state.recommendations = {{kT0 - seconds(200), 2}, {kT0 - seconds(100), 6}};
  auto d = Autoscale(in);
  EXPECT_EQ(d.desired_replicas, 6);
  // The 2 of 200 s ago holds nothing back; the 6 of 100 s ago leaves the window at +200 s.
  EXPECT_EQ(d.requeue_at, kT0 + seconds(200));
}

TEST(Autoscale, ScaleUpIsImmediateByDefault) {
  Driven w(Input(Spec(), 2, 4));
  EXPECT_EQ(w.Pass(kT0, 1), 2);
  EXPECT_EQ(w.Pass(kT0 + seconds(1), 8),
            4);  // the low recommendation a second ago does not hold it
  EXPECT_EQ(w.last.event_reason, "ScaledUp");
}

TEST(Autoscale, ScaleUpWindowAppliesTheLowestRecent) {
  AutoscalingSpec spec = Spec();
  spec.scale_up.stabilization_window_seconds = 60;
  Driven w(Input(spec, 2, 4));
  EXPECT_EQ(w.Pass(kT0, 4), 2);
  EXPECT_EQ(w.Pass(kT0 + seconds(20), 8), 2);
  EXPECT_EQ(w.last.able_to_scale.reason, "ScaleUpStabilized");
  EXPECT_EQ(w.last.requeue_at, kT0 + seconds(60));
  EXPECT_EQ(w.Pass(kT0 + seconds(60), 8), 4);
}

TEST(Autoscale, FlappingLoadScalesDownAtMostOncePerWindow) {
  Driven w(Input(Spec(1, 20), 4, 4));
  // Total queue flaps between 48 (12 replicas' worth) and 4 (1 replica's worth) in uneven
  // phases, some shorter and some longer than the 300 s window; a pass every 15 s for 3 hours.
  const int phases[] = {120, 360, 45, 90, 200, 500, 15, 310, 60, 600, 30, 30, 300, 420};
  int t = 0, phase = 0, phase_end = phases[0];
  for (; t < 3 * 3600; t += 15) {
    while (t >= phase_end) phase_end += phases[++phase % std::size(phases)];
    const double total = phase % 2 == 0 ? 48 : 4;
    w.Pass(kT0 + seconds(t), total / std::max(w.in.current_replicas, 1));
  }
  ASSERT_GE(w.scale_downs.size(), 3u);
  for (size_t i = 1; i < w.scale_downs.size(); ++i) {
    EXPECT_GE(w.scale_downs[i] - w.scale_downs[i - 1], seconds(300)) << "scale-down " << i;
  }
}

TEST(Autoscale, SteadilyFallingLoadStepsDownOncePerWindow) {
  Driven w(Input(Spec(1, 20), 12, 4));
  // 48 requests waiting in all, falling by one every 15 s (a pass each): HPA v2 would step
  // down at nearly every pass once the first window is over; here once per 300 s window,
  // each time to the highest recommendation of the window.
  std::vector<std::pair<int, int>> steps;  // (t, replicas after)
  for (int t = 0; t <= 1200; t += 15) {
    const double total = std::max(1, 48 - t / 15);
    const int before = w.in.current_replicas;
    const int after = w.Pass(kT0 + seconds(t), total / before);
    if (after < before) {
      steps.emplace_back(t, after);
      EXPECT_EQ(w.last.event_reason, "ScaledDown");
    } else if (w.last.driving_metric->replicas < before) {
      // Held: by the window's higher recommendations, or by the last scale-down; either
      // way a requeue comes no later than a window after the last step.
      EXPECT_EQ(w.last.able_to_scale.reason, "ScaleDownStabilized") << t;
      ASSERT_TRUE(w.last.requeue_at) << t;
      if (!steps.empty())
        EXPECT_LE(*w.last.requeue_at, kT0 + seconds(steps.back().first + 300)) << t;
    }
  }
  // The recommendation stays 12 within the tolerance until t = 60, then ceil(total / 4) of
  // the replicas then running. At t = 360 the last 12 has left the window: down to its
  // highest, 11 (t = 75: 43 waiting). At 660: the highest since 360, ceil(23 / 4) = 6
  // (t = 375). At 960: 1. HPA v2 would have stepped at every pass from 360 on.
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0], std::make_pair(360, 11));
  EXPECT_EQ(steps[1], std::make_pair(660, 6));
  EXPECT_EQ(steps[2], std::make_pair(960, 1));
}

// Rate limits: from 10 replicas, default scale-up allows max(10 + 100 %, 10 + 4) = 20.
AutoscaleInput Surge(SelectPolicy select, int current, double waiting) {
  AutoscalingSpec spec = Spec();
  spec.scale_up.select_policy = select;
  return Input(spec, current, waiting);
}

TEST(Autoscale, ScaleUpPoliciesMaxMinDisabled) {
  auto d = Autoscale(Surge(SelectPolicy::kMax, 10, 40));  // asks for 100
  EXPECT_EQ(d.desired_replicas, 20);                      // Percent 100 % beats Pods 4
  EXPECT_EQ(d.scaling_limited.reason, "ScaleUpLimit");
  EXPECT_TRUE(d.scaling_limited.status);
  EXPECT_EQ(Autoscale(Surge(SelectPolicy::kMax, 2, 40)).desired_replicas,
            6);  // Pods 4 beats 100 % of 2
  EXPECT_EQ(Autoscale(Surge(SelectPolicy::kMin, 10, 40)).desired_replicas, 14);  // the smaller step
  EXPECT_EQ(Autoscale(Surge(SelectPolicy::kMin, 2, 40)).desired_replicas, 4);
  d = Autoscale(Surge(SelectPolicy::kDisabled, 10, 40));
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.scaling_limited.reason, "ScaleUpLimit");
  EXPECT_NE(d.scaling_limited.message.find("disabled"), std::string::npos);
  EXPECT_FALSE(d.event_reason);
}

TEST(Autoscale, ScaleUpRateCountsChangesWithinThePeriod) {
  Driven w(Surge(SelectPolicy::kMax, 2, 40));
  EXPECT_EQ(w.Pass(kT0, 40), 6);  // 2 + 4 pods
  ASSERT_EQ(w.in.state.scale_events.size(), 1u);
  EXPECT_EQ(w.in.state.scale_events[0].change, 4);
  // 5 s later the period started at 2 replicas: nothing more yet.
  EXPECT_EQ(w.Pass(kT0 + seconds(5), 40), 6);
  EXPECT_EQ(w.last.scaling_limited.reason, "ScaleUpLimit");
  EXPECT_EQ(w.last.requeue_at, kT0 + seconds(15));
  // Once the period is over: 6 → 12 (100 %).
  EXPECT_EQ(w.Pass(kT0 + seconds(15), 40), 12);
}

AutoscaleInput Shrink(SelectPolicy select, std::vector<ScalingPolicy> policies, int current) {
  AutoscalingSpec spec = NoWindows();
  spec.scale_down.select_policy = select;
  spec.scale_down.policies = std::move(policies);
  return Input(spec, current, 0.4);  // asks for ceil(current / 10)
}

TEST(Autoscale, ScaleDownPoliciesMaxMinDisabled) {
  const std::vector<ScalingPolicy> both = {{ScalingPolicyType::kPods, 1, 60},
                                           {ScalingPolicyType::kPercent, 50, 60}};
  auto d = Autoscale(Shrink(SelectPolicy::kMax, both, 10));  // asks for 1
  EXPECT_EQ(d.desired_replicas, 5);                          // 50 % beats 1 pod
  EXPECT_EQ(d.scaling_limited.reason, "ScaleDownLimit");
  EXPECT_EQ(Autoscale(Shrink(SelectPolicy::kMin, both, 10)).desired_replicas, 9);
  EXPECT_EQ(Autoscale(Shrink(SelectPolicy::kMax, both, 5)).desired_replicas,
            2);  // 5 × 0.5 truncates to 2
  // 10 % of 10 in doubles is not exactly 1: still one replica, either way.
  EXPECT_EQ(Autoscale(Shrink(SelectPolicy::kMax, {{ScalingPolicyType::kPercent, 10, 60}}, 10))
                .desired_replicas,
            9);
  AutoscaleInput grow = Input(Spec(), 10, 40);
  grow.spec.scale_up.policies = {{ScalingPolicyType::kPercent, 10, 60}};
  EXPECT_EQ(Autoscale(grow).desired_replicas, 11);  // HPA's raw ceil(10 × 1.1) gives 12
  d = Autoscale(Shrink(SelectPolicy::kDisabled, both, 10));
  EXPECT_EQ(d.desired_replicas, 10);
  EXPECT_EQ(d.scaling_limited.reason, "ScaleDownLimit");
  // The default, 100 % per 15 s, lets it go straight to the recommendation.
  d = Autoscale(Input(NoWindows(), 10, 0.4));
  EXPECT_EQ(d.desired_replicas, 1);
  EXPECT_EQ(d.scaling_limited.reason, "DesiredWithinRange");
  EXPECT_FALSE(d.scaling_limited.status);
}

TEST(Autoscale, ScaleDownRateCountsChangesWithinThePeriod) {
  Driven w(Shrink(SelectPolicy::kMax, {{ScalingPolicyType::kPods, 2, 60}}, 10));
  EXPECT_EQ(w.Pass(kT0, 0.4), 8);
  EXPECT_EQ(w.Pass(kT0 + seconds(30), 0.4), 8);
  EXPECT_EQ(w.last.requeue_at, kT0 + seconds(60));
  EXPECT_EQ(w.Pass(kT0 + seconds(60), 0.4), 6);
}

TEST(Autoscale, ClampToMinAndMax) {
  auto d = Autoscale(Input(NoWindows(1, 8), 6, 40));  // asks for 60, rate allows 12
  EXPECT_EQ(d.desired_replicas, 8);
  EXPECT_EQ(d.scaling_limited.reason, "TooManyReplicas");
  EXPECT_TRUE(d.scaling_limited.status);
  d = Autoscale(Input(NoWindows(3, 8), 6, 0));  // asks for 0
  EXPECT_EQ(d.desired_replicas, 3);
  EXPECT_EQ(d.scaling_limited.reason, "TooFewReplicas");
  EXPECT_EQ(d.event_reason, "ScaledDown");
  d = Autoscale(Input(NoWindows(3, 8), 2, 4));  // at target but below min
  EXPECT_EQ(d.desired_replicas, 3);
  EXPECT_EQ(d.scaling_limited.reason, "TooFewReplicas");
  d = Autoscale(Input(NoWindows(3, 8), 5, 5));
  EXPECT_EQ(d.desired_replicas, 7);
  EXPECT_EQ(d.scaling_limited.reason, "DesiredWithinRange");
  EXPECT_FALSE(d.scaling_limited.status);
}

TEST(Autoscale, StateKeepsOnlyWhatWindowsAndPeriodsSee) {
  AutoscaleInput in = Input(Spec(), 4, 4);
  in.state.recommendations = {{kT0 - seconds(301), 9}, {kT0 - seconds(299), 5}};
  in.state.scale_events = {{kT0 - seconds(16), 2}, {kT0 - seconds(14), -1}};
  auto d = Autoscale(in);
  EXPECT_EQ(d.next_state.recommendations,
            (std::vector<TimedRecommendation>{{kT0 - seconds(299), 5}, {kT0, 4}}));
  EXPECT_EQ(d.next_state.scale_events, (std::vector<AutoscaleEvent>{{kT0 - seconds(14), -1}}));
  // Stabilisation only holds a scale-down back: an older, higher recommendation never scales up.
  EXPECT_EQ(d.desired_replicas, 4);
  EXPECT_EQ(d.able_to_scale.reason, "ReadyForNewScale");
}

TEST(AutoscalerState, JsonRoundTrip) {
  AutoscalerState s;
  s.recommendations = {{kT0 + milliseconds(1234), 3}, {kT0 + seconds(15), 7}};
  s.scale_events = {{kT0 + milliseconds(999), -2}};
  nlohmann::json j = AutoscalerStateToJson(s);
  EXPECT_EQ(j["recommendations"][0]["time"], "2026-01-01T00:00:01.234Z");
  EXPECT_EQ(j["scaleEvents"][0]["change"], -2);
  auto back = AutoscalerStateFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  auto via_text = AutoscalerStateFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(via_text.ok());
  EXPECT_EQ(*via_text, s);
  EXPECT_EQ(*AutoscalerStateFromJson(nullptr), AutoscalerState{});
  EXPECT_EQ(*AutoscalerStateFromJson(nlohmann::json::object()), AutoscalerState{});
}

TEST(AutoscalerState, MalformedJsonIsInvalidWithTheField) {
  auto bad =
      AutoscalerStateFromJson({{"recommendations", {{{"time", "yesterday"}, {"replicas", 2}}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(bad.status().causes().at(0).field, "status.autoscaler.recommendations[0].time");
  bad = AutoscalerStateFromJson(
      {{"scaleEvents", {{{"time", "2026-01-01T00:00:00Z"}, {"change", "2"}}}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes().at(0).field, "status.autoscaler.scaleEvents[0].change");
  EXPECT_FALSE(AutoscalerStateFromJson({{"scaleEvents", 3}}).ok());
  EXPECT_FALSE(AutoscalerStateFromJson("x").ok());
}

}  // namespace
}  // namespace berth::hub
