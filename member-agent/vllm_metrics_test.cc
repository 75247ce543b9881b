// vLLM metrics text → serving signals, on data written from vLLM's metric names and bucket
// layout (two pods, two scrapes).
#include "member-agent/vllm_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::agent {
namespace {

// One pod's scrape: `done` successful requests, of which `fast` had a TTFT ≤ 0.1 s and the
// rest ≤ 0.5 s.
std::string Pod(const std::string& pod, double running, double waiting, double kv, double done, double fast) {
  const std::string l = "{model_name=\"llama\",pod=\"" + pod + "\"";
  std::string t;
  t += "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n";
  t += "# TYPE vllm:num_requests_running gauge\n";
  t += "vllm:num_requests_running" + l + "} " + std::to_string(running) + "\n";
  t += "vllm:num_requests_waiting" + l + "} " + std::to_string(waiting) + "\n";
  t += "vllm:gpu_cache_usage_perc" + l + "} " + std::to_string(kv) + "\n";
  t += "vllm:request_success_total" + l + ",finished_reason=\"stop\"} " + std::to_string(done) + "\n";
  for (const char* le : {"0.1", "0.5", "+Inf"}) {
    const double c = std::string(le) == "0.1" ? fast : done;
    t += "vllm:time_to_first_token_seconds_bucket" + l + ",le=\"" + le + "\"} " + std::to_string(c) + "\n";
    t += "vllm:e2e_request_latency_seconds_bucket" + l + ",le=\"" + le + "\"} " + std::to_string(c) + "\n";
  }
  t += "vllm:time_to_first_token_seconds_count" + l + "} " + std::to_string(done) + "\n";
  t += "vllm:time_to_first_token_seconds_sum" + l + "} 1.5\n";
  return t;
}

TEST(VllmMetrics, GaugesAddUpAcrossPodsAndKvCacheAverages) {
  VllmScrape s;
  AddVllmScrape(Pod("a", 3, 1, 0.5, 10, 10), s);
  AddVllmScrape(Pod("b", 2, 4, 0.3, 10, 10), s);
  EXPECT_TRUE(s.any);
  EXPECT_EQ(s.running, 5);
  EXPECT_EQ(s.waiting, 5);
  EXPECT_EQ(s.successes, 20);
  EXPECT_EQ(s.ttft.buckets.at(0.1), 20);
  VllmSignals sig = SignalsBetween(VllmScrape{}, s, 10);
  EXPECT_NEAR(sig.kv_cache_usage, 0.4, 1e-9);
  EXPECT_NEAR(sig.requests_per_second, 2.0, 1e-9);
}

TEST(VllmMetrics, RateAndPercentilesComeFromTheInterval) {
  VllmScrape before, after;
  AddVllmScrape(Pod("a", 0, 0, 0, 100, 100), before);  // 100 fast requests long ago
  AddVllmScrape(Pod("a", 0, 0, 0, 200, 110), after);   // since: 100 more, 10 fast, 90 slow
  VllmSignals sig = SignalsBetween(before, after, 20);
  EXPECT_NEAR(sig.requests_per_second, 5.0, 1e-9);
  ASSERT_TRUE(sig.ttft_p50);
  // rank 50 of 100: 10 in (0, 0.1], 90 in (0.1, 0.5] → 0.1 + 0.4 × 40/90.
  EXPECT_NEAR(*sig.ttft_p50, 0.1 + 0.4 * 40.0 / 90.0, 1e-9);
  EXPECT_NEAR(*sig.ttft_p90, 0.1 + 0.4 * 80.0 / 90.0, 1e-9);
  EXPECT_NEAR(*sig.latency_p99, 0.1 + 0.4 * 89.0 / 90.0, 1e-9);
}

// vLLM's HTTP server counts requests by handler and status class
// (prometheus-fastapi-instrumentator): the error rate is 5xx over all on the OpenAI routes.
TEST(VllmMetrics, ErrorRateFromHttpRequestsOnTheOpenAiRoutes) {
  auto http = [](double ok, double failed, double probes) {
    std::string t = "# TYPE http_requests_total counter\n";
    t += "http_requests_total{handler=\"/v1/chat/completions\",method=\"POST\",status=\"2xx\"} " + std::to_string(ok) + "\n";
    t += "http_requests_total{handler=\"/v1/chat/completions\",method=\"POST\",status=\"5xx\"} " + std::to_string(failed) + "\n";
    t += "http_requests_total{handler=\"/health\",method=\"GET\",status=\"2xx\"} " + std::to_string(probes) + "\n";
    t += "http_requests_total{handler=\"/v1/completions\",method=\"POST\",status=\"4xx\"} 3\n";
    return t;
  };
  VllmScrape before, after;
  AddVllmScrape(Pod("a", 0, 0, 0, 100, 100) + http(100, 0, 50), before);
  AddVllmScrape(Pod("a", 0, 0, 0, 190, 190) + http(190, 10, 500), after);
  VllmSignals sig = SignalsBetween(before, after, 10);
  ASSERT_TRUE(sig.error_rate.has_value());
  EXPECT_NEAR(*sig.error_rate, 10.0 / 100.0, 1e-9) << "health probes are not requests; 4xx are the client's";
  // Without the HTTP counter (older vLLM) the rate is unknown, not zero.
  VllmScrape old_before, old_after;
  AddVllmScrape(Pod("a", 0, 0, 0, 100, 100), old_before);
  AddVllmScrape(Pod("a", 0, 0, 0, 190, 190), old_after);
  EXPECT_FALSE(SignalsBetween(old_before, old_after, 10).error_rate.has_value());
  // No request in the interval: unknown too.
  EXPECT_FALSE(SignalsBetween(after, after, 10).error_rate.has_value());
}

TEST(VllmMetrics, NoRequestsNoPercentileAndAResetSkipsTheInterval) {
  VllmScrape a, b;
  AddVllmScrape(Pod("a", 1, 0, 0, 50, 50), a);
  EXPECT_FALSE(SignalsBetween(a, a, 5).ttft_p90) << "nothing finished in the interval";
  AddVllmScrape(Pod("a", 1, 0, 0, 5, 5), b);  // the pod restarted: counters went down
  VllmSignals sig = SignalsBetween(a, b, 5);
  EXPECT_FALSE(sig.ttft_p90);
  EXPECT_EQ(sig.requests_per_second, 0);
}

TEST(VllmMetrics, SlowerThanTheLastFiniteBucketReportsThatBound) {
  Histogram before, now;
  now.buckets = {{0.5, 0}, {std::numeric_limits<double>::infinity(), 4}};
  EXPECT_EQ(*HistogramQuantile(before, now, 0.9), 0.5);
}

TEST(VllmMetrics, GarbageIsSkipped) {
  VllmScrape s;
  AddVllmScrape("vllm:num_requests_running{model_name=\"x\" 3\nnot a metric\nvllm:num_requests_waiting NaNx\n"
                "vllm:num_requests_waiting 2\n{}\n\n# comment",
                s);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 2);
  VllmScrape none;
  AddVllmScrape("up 1\n", none);
  EXPECT_FALSE(none.any);
}

}  // namespace
}  // namespace berth::agent
