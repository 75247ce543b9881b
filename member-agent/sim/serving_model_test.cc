#include "member-agent/sim/serving_model.h"

#include <gtest/gtest.h>

namespace berth::agent::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Llama-3.1-8B-like: 16 GiB of weights, 128 KiB of KV per token.
ReplicaSpec Spec(const std::string& pod, const std::string& gpu = "L4", double memory_gib = 24) {
  ReplicaSpec s;
  s.pod = pod;
  s.gpu_product = gpu;
  s.gpu_memory_gib = memory_gib;
  s.gpus = 1;
  s.weights_gib = 16;
  s.kv_bytes_per_token = 131072;
  return s;
}

ModelTime T0() { return ModelTime(seconds(1'767'225'600)); }

double Secs(ModelTime::duration d) { return std::chrono::duration<double>(d).count(); }

TEST(ServingModelTest, MaxSequencesFromKvCacheRoom) {
  // (80 × 0.9 − 16) GiB / (128 KiB × 2048 tokens) = 56 GiB / 256 MiB = 224
  EXPECT_EQ(SpeedOf(Spec("a", "A100-80GB", 80)).max_sequences, 224);
  // (24 × 0.9 − 16) GiB / 256 MiB = 22.4
  EXPECT_EQ(SpeedOf(Spec("a", "L4", 24)).max_sequences, 22);
  // Weights that barely fit still run one sequence; a huge GPU is clamped to 256.
  EXPECT_EQ(SpeedOf(Spec("a", "T4", 16)).max_sequences, 1);
  EXPECT_EQ(SpeedOf(Spec("a", "H200", 141 * 8)).max_sequences, 256);
}

TEST(ServingModelTest, GpuSpeedsByCatalogNameOrGfdLabelWithFallback) {
  GpuSpeed h100 = GpuSpeedOf("H100-80GB");
  EXPECT_TRUE(h100.known);
  EXPECT_DOUBLE_EQ(h100.memory_gb_per_s, 3350);
  GpuSpeed by_label = GpuSpeedOf("NVIDIA-A100-SXM4-80GB");
  EXPECT_TRUE(by_label.known);
  EXPECT_DOUBLE_EQ(by_label.memory_gb_per_s, 2039);
  GpuSpeed unknown = GpuSpeedOf("Quantum-X9");
  EXPECT_FALSE(unknown.known);
  EXPECT_DOUBLE_EQ(unknown.memory_gb_per_s, 600);  // A10's figures
}

TEST(ServingModelTest, NSlotsRunThenRequestsWait) {
  ReplicaQueue q(Spec("ws-0"), 1.0);
  const int n = q.speed().max_sequences;
  ASSERT_EQ(n, 22);
  std::vector<RequestTimes> times;
  for (int i = 0; i < n + 3; ++i) times.push_back(q.Admit(T0(), 400, 16));
  q.Advance(T0(), nullptr);
  EXPECT_EQ(q.metrics().running, n);
  EXPECT_EQ(q.metrics().waiting, 3);
  // The first waiting request starts when the earliest running one completes.
  EXPECT_GE(times[n].first_token, times[0].done);
  EXPECT_LT(times[n - 1].first_token, times[0].done);
}

TEST(ServingModelTest, TtftGrowsWithTheQueue) {
  WorkspaceServing ws(1.0);
  ws.SetReplicas({Spec("ws-0")});
  std::vector<double> ttft;
  for (int i = 0; i < 22 * 4; ++i) {
    auto t = ws.Admit(T0(), 400, 64);
    ASSERT_TRUE(t.has_value());
    ttft.push_back(Secs(t->first_token - T0()));
  }
  EXPECT_GT(ttft[22], ttft[0]);
  EXPECT_GT(ttft[44], ttft[22]);
  EXPECT_GT(ttft[87], ttft[44]);
}

TEST(ServingModelTest, FasterGpuDecodesFaster) {
  ReplicaQueue t4(Spec("t4", "T4", 80), 1.0);  // same memory: only the GPU's speed differs
  ReplicaQueue h100(Spec("h100", "H100-80GB", 80), 1.0);
  EXPECT_LT(h100.speed().decode_step_seconds, t4.speed().decode_step_seconds);
  EXPECT_GT(h100.speed().prefill_tokens_per_s, t4.speed().prefill_tokens_per_s);
  RequestTimes slow = t4.Admit(T0(), 100, 100);
  RequestTimes fast = h100.Admit(T0(), 100, 100);
  EXPECT_LT(fast.done - fast.first_token, slow.done - slow.first_token);
  // 16 GiB over 320 GB/s × 0.8 ≈ 67 ms per token; 99 tokens after the first ≈ 6.6 s (+50 %
  // at most for the batch).
  EXPECT_NEAR(t4.speed().decode_step_seconds, 16.0 * (1 << 30) / (320e9 * 0.8), 1e-6);
}

TEST(ServingModelTest, DecodeSlowsAsTheBatchFills) {
  ReplicaQueue q(Spec("ws-0"), 1.0);
  RequestTimes alone = q.Admit(T0(), 10, 100);
  for (int i = 0; i < 20; ++i) q.Admit(T0(), 10, 100);
  RequestTimes crowded = q.Admit(T0(), 10, 100);
  EXPECT_GT(crowded.done - crowded.first_token, alone.done - alone.first_token);
}

TEST(ServingModelTest, TimeScaleScalesEveryDuration) {
  ReplicaQueue real(Spec("a"), 1.0);
  ReplicaQueue fast(Spec("a"), 0.01);
  RequestTimes r = real.Admit(T0(), 2000, 50);
  RequestTimes f = fast.Admit(T0(), 2000, 50);
  EXPECT_NEAR(Secs(f.first_token - T0()) * 100, Secs(r.first_token - T0()), 1e-3);
  EXPECT_NEAR(Secs(f.done - T0()) * 100, Secs(r.done - T0()), 1e-3);
  ReplicaQueue instant(Spec("a"), 0.0);
  RequestTimes i = instant.Admit(T0(), 2000, 50);
  EXPECT_EQ(i.done, T0());
}

TEST(ServingModelTest, KvCacheUsageIsRunningTokensOverCapacity) {
  ReplicaQueue q(Spec("ws-0"), 1.0);
  RequestTimes t = q.Admit(T0(), 4000, 100);
  q.Advance(t.first_token, nullptr);
  // 4000 prompt tokens + the first token, over (24 × 0.9 − 16) GiB / 128 KiB.
  const double capacity = (24 * 0.9 - 16) * (1 << 30) / 131072.0;
  EXPECT_NEAR(q.metrics().kv_cache_usage, 4001 / capacity, 1e-6);
  q.Advance(t.done - milliseconds(1), nullptr);
  EXPECT_GT(q.metrics().kv_cache_usage, 4050 / capacity);
  q.Advance(t.done, nullptr);
  EXPECT_EQ(q.metrics().kv_cache_usage, 0);
  EXPECT_EQ(q.metrics().running, 0);
}

TEST(ServingModelTest, CountersAndHistogramsOnCompletion) {
  ReplicaQueue q(Spec("ws-0"), 1.0);
  RequestTimes a = q.Admit(T0(), 100, 10);
  RequestTimes b = q.Admit(T0(), 300, 20);
  q.Advance(T0(), nullptr);
  EXPECT_EQ(q.metrics().request_success, 0u);  // nothing completes before its time
  std::vector<ReplicaQueue::Completed> done;
  q.Advance(std::max(a.done, b.done), &done);
  EXPECT_EQ(done.size(), 2u);
  const ReplicaMetrics& m = q.metrics();
  EXPECT_EQ(m.request_success, 2u);
  EXPECT_EQ(m.prompt_tokens, 400u);
  EXPECT_EQ(m.generation_tokens, 30u);
  EXPECT_EQ(m.ttft.count, 2u);
  EXPECT_EQ(m.e2e.count, 2u);
  EXPECT_EQ(m.tpot.count, 9u + 19u);  // one per output token after the first
  EXPECT_NEAR(m.e2e.sum, Secs(a.done - T0()) + Secs(b.done - T0()), 1e-6);
}

TEST(ServingModelTest, LeastLoadedReplicaAndGracefulRemoval) {
  WorkspaceServing ws(1.0);
  ws.SetReplicas({Spec("ws-0"), Spec("ws-1")});
  auto first = ws.Admit(T0(), 100, 16);
  auto second = ws.Admit(T0(), 100, 16);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->pod, second->pod);
  // ws-1 stops being Ready: new requests go to ws-0 only; its request still completes.
  ws.SetReplicas({Spec("ws-0")});
  EXPECT_EQ(ws.ready_replicas(), 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ws.Admit(T0(), 100, 16)->pod, "ws-0");
  ServingSignals s = ws.Signals(T0());
  EXPECT_EQ(s.running, 7);  // ws-1's in-flight request still counts
  EXPECT_EQ(s.ready_endpoints, 1);
  ws.SetReplicas({});
  EXPECT_FALSE(ws.Admit(T0(), 100, 16).has_value());
  ws.Advance(T0() + seconds(60));
  EXPECT_EQ(ws.MetricsText("m").find("pod=\"ws-1\""), std::string::npos);  // drained, gone
}

TEST(ServingModelTest, SignalsOverTheWindow) {
  WorkspaceServing ws(1.0);
  ws.SetReplicas({Spec("ws-0")});
  ModelTime last;
  for (int i = 0; i < 10; ++i) last = std::max(last, ws.Admit(T0(), 100, 8)->done);
  ServingSignals busy = ws.Signals(T0());
  EXPECT_EQ(busy.running, 10);
  EXPECT_EQ(busy.capacity, 22);
  EXPECT_EQ(busy.requests_per_second, 0);
  ServingSignals s = ws.Signals(last);
  EXPECT_EQ(s.running, 0);
  EXPECT_NEAR(s.requests_per_second, 10 / 30.0, 1e-9);
  EXPECT_GT(s.ttft_p50, 0);
  EXPECT_GE(s.ttft_p99, s.ttft_p50);
  EXPECT_GE(s.latency_p50, s.ttft_p50);
  EXPECT_NEAR(s.latency_p99, Secs(last - T0()), 1e-6);
  // 31 s later the completions have left the window.
  ServingSignals later = ws.Signals(last + seconds(31));
  EXPECT_EQ(later.requests_per_second, 0);
  EXPECT_EQ(later.latency_p99, 0);
}

TEST(ServingModelTest, FailingServingFailsItsShareOfRequestsAndTheErrorRateSaysSo) {
  WorkspaceServing ws(1.0);
  ReplicaSpec bad = Spec("ws-0");
  bad.failure_fraction = 0.25;
  ws.SetReplicas({bad});
  EXPECT_FALSE(ws.Signals(T0()).error_rate.has_value()) << "nothing asked: no error rate";
  int failed = 0;
  ModelTime last = T0();
  for (int i = 0; i < 40; ++i) {
    auto t = ws.Admit(T0(), 100, 4);
    ASSERT_TRUE(t);
    failed += t->failed;
    if (!t->failed) last = std::max(last, t->done);
  }
  EXPECT_EQ(failed, 10) << "exactly a quarter, spread evenly";
  ServingSignals s = ws.Signals(last);
  ASSERT_TRUE(s.error_rate.has_value());
  EXPECT_NEAR(*s.error_rate, 10.0 / 40.0, 1e-9);
  EXPECT_NEAR(s.requests_per_second, 30 / 30.0, 1e-9) << "failures are not completions";
  const std::string text = ws.MetricsText("m");
  EXPECT_NE(text.find("http_requests_total{handler=\"/v1/chat/completions\",method=\"POST\",pod=\"ws-0\",status=\"5xx\"} 10\n"),
            std::string::npos)
      << text;
  // The fault lifted: later requests succeed and the errors age out of the window.
  ws.SetReplicas({Spec("ws-0")});
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(ws.Admit(last + seconds(31), 100, 4)->failed);
  ServingSignals later = ws.Signals(last + seconds(40));
  ASSERT_TRUE(later.error_rate.has_value());
  EXPECT_EQ(*later.error_rate, 0);
}

TEST(ServingModelTest, MetricsTextHasVllmNamesAndBuckets) {
  WorkspaceServing ws(1.0);
  ws.SetReplicas({Spec("ws-0")});
  auto t = ws.Admit(T0(), 100, 4);
  ws.Advance(t->done);
  const std::string text = ws.MetricsText("phi-4");
  for (const char* name :
       {"vllm:num_requests_running{", "vllm:num_requests_waiting{", "vllm:gpu_cache_usage_perc{",
        "vllm:kv_cache_usage_perc{", "vllm:time_to_first_token_seconds_bucket{",
        "vllm:time_per_output_token_seconds_bucket{", "vllm:e2e_request_latency_seconds_bucket{",
        "vllm:prompt_tokens_total{", "vllm:generation_tokens_total{",
        "vllm:request_success_total{"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("vllm:request_success_total{model_name=\"phi-4\",pod=\"ws-0\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_bucket{model_name=\"phi-4\",pod=\"ws-0\","
                      "le=\"+Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"0.001\""), std::string::npos);
}

TEST(ServingModelTest, ChangedReplicaSpecTakesEffectForLaterRequests) {
  WorkspaceServing ws(1.0);
  ws.SetReplicas({Spec("ws-0", "L4", 24)});
  auto before = ws.Admit(T0(), 100, 32);
  ws.SetReplicas({Spec("ws-0", "H100-80GB", 80)});  // same pod name, faster GPU
  auto after = ws.Admit(T0(), 100, 32);
  ASSERT_TRUE(before && after);
  EXPECT_LT(after->done - after->first_token, before->done - before->first_token);
  EXPECT_EQ(ws.Signals(T0()).capacity, 224);
  EXPECT_EQ(ws.Signals(T0()).running, 2);  // the one admitted before still runs
}

}  // namespace
}  // namespace berth::agent::sim
