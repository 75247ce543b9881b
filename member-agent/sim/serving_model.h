// How fast a simulated replica serves: a queueing model of vLLM's continuous batching, pure
// and driven by the `now` its callers pass (tests use a FakeClock). docs/AGENT.md "Serving
// (simulated)" gives the formulas and where the numbers come from.
//
//   - A replica runs at most `max_sequences` requests at once (the KV cache's room:
//     (GPU GiB × GPUs × 0.9 − weights GiB) / (KV bytes per token × kAssumedSequenceTokens),
//     clamped to [1, 256]); the others wait FIFO for the earliest slot.
//   - Prefill (compute-bound): prompt tokens / (GPUs × fp16 TFLOPs × kPrefillEfficiency /
//     (2 × parameters)), parameters = weights bytes / 2.
//   - Decode (memory-bound): one token per GPUs × bandwidth × kDecodeEfficiency / weights
//     bytes seconds, slowed by (1 + kBatchSlowdown × fill) where fill is the share of slots
//     busy when the request starts.
//   - A request's first token comes at start + prefill; it completes (completion tokens − 1)
//     decode steps later. Every duration × SimSettings::time_scale.
// Because the schedule is decided at admission (FIFO over identical slots), Admit returns the
// request's first-token and completion times at once; the server only has to wait for them.
//
// Thread safety: none; WorkspaceServing's owner serialises calls (serving_server.h holds it
// under a mutex).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "api/clock.h"
#include "member-agent/backend.h"

namespace berth::agent::sim {

// Microsecond resolution: at a time scale near 0 a request takes far less than the clock's
// millisecond.
using ModelTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

inline constexpr int64_t kAssumedSequenceTokens = 2048;  // context a sequence may fill
inline constexpr double kKvCacheShare = 0.9;             // --gpu-memory-utilization
inline constexpr double kPrefillEfficiency = 0.5;        // share of peak FLOPs prefill reaches
inline constexpr double kDecodeEfficiency = 0.8;         // share of peak bandwidth decode reaches
inline constexpr double kBatchSlowdown = 0.5;            // decode step × (1 + this × fill)
inline constexpr int kMaxSequences = 256;                // vLLM's --max-num-seqs default
// Completed requests kept for the signals' percentiles and rate.
inline constexpr std::chrono::seconds kSignalWindow{30};

// Public datasheet figures of one GPU product: dense fp16 tensor TFLOPs, memory GB/s.
struct GpuSpeed {
  double fp16_tflops = 0;
  double memory_gb_per_s = 0;
  bool known = false;  // false: the fallback (A10's figures)
};
// By catalog name ("A100-80GB") or GFD label ("NVIDIA-A100-SXM4-80GB"), case-insensitive.
GpuSpeed GpuSpeedOf(const std::string& product);

// What one Ready replica is made of (the sim learns it from the pod and its node).
struct ReplicaSpec {
  std::string pod;            // the pod that serves (ordinal 0 of a multi-node replica)
  std::string gpu_product;    // catalog name or GFD label
  double gpu_memory_gib = 0;  // per GPU (per slice on MIG)
  double gpus = 1;            // GPUs of the replica (slices / slices per GPU on MIG)
  double weights_gib = 0;
  int64_t kv_bytes_per_token = 0;  // 0: estimated from the weights (see KvBytesPerToken)
  std::string revision;            // the pod's berth.dev/revision (reply header only)
  double slowdown = 1;             // fault slow-serving: prefill and decode this many times slower
  double failure_fraction = 0;     // fault failing-serving: this share of requests fails (HTTP 500)
  bool operator==(const ReplicaSpec&) const = default;
};

// KV bytes per token of `model` (catalog preset or HF id); when the catalog does not know
// it, 128 KiB per 15 GiB of weights (Llama-3.1-8B's ratio), at least 32 KiB.
int64_t KvBytesPerToken(const std::string& model, double weights_gib);

struct ReplicaSpeed {
  int max_sequences = 1;
  double kv_capacity_tokens = 0;    // tokens the KV cache holds
  double prefill_tokens_per_s = 0;  // whole replica
  double decode_step_seconds = 0;   // one token of one sequence, batch empty
};
ReplicaSpeed SpeedOf(const ReplicaSpec& spec);

// Cumulative histogram with fixed upper bounds (Prometheus `le`).
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // per bucket, not cumulative; last = +Inf
  double sum = 0;
  uint64_t count = 0;
  explicit Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1) {}
  void Observe(double v, uint64_t n = 1);
};
// vLLM 0.6's bucket bounds (vllm/engine/metrics.py).
std::vector<double> TtftBuckets();
std::vector<double> TpotBuckets();
std::vector<double> E2eBuckets();

struct RequestTimes {
  ModelTime first_token, done;
  std::string pod;       // the replica that serves it
  std::string revision;  // its berth.dev/revision
  bool failed = false;   // the failing-serving fault: answer 500 at once, nothing queued
};

// The counters and histograms of one replica (vLLM's per-engine metrics).
struct ReplicaMetrics {
  int running = 0, waiting = 0;
  double kv_cache_usage = 0;  // 0..1
  uint64_t prompt_tokens = 0, generation_tokens = 0, request_success = 0;
  uint64_t request_failure = 0;  // failing-serving: requests answered with 500
  Histogram ttft{TtftBuckets()}, tpot{TpotBuckets()}, e2e{E2eBuckets()};
};

// One replica's slots and queue.
class ReplicaQueue {
 public:
  ReplicaQueue(ReplicaSpec spec, double time_scale);
  // Schedules a request arriving at `now`.
  RequestTimes Admit(ModelTime now, int64_t prompt_tokens, int64_t completion_tokens);
  // Completes what is done by `now` (counters, histograms, `completed`), recounts
  // running / waiting / KV use.
  struct Completed {
    ModelTime at;
    double ttft, latency;
  };
  void Advance(ModelTime now, std::vector<Completed>* completed);
  // The replica's GPUs or model changed: later requests get the new speed and slot count;
  // those admitted keep their times (fewer slots drop the earliest free ones first).
  void Respec(ReplicaSpec spec);
  int in_flight() const { return static_cast<int>(requests_.size()); }
  const ReplicaMetrics& metrics() const { return metrics_; }
  const ReplicaSpec& spec() const { return spec_; }
  const ReplicaSpeed& speed() const { return speed_; }

 private:
  struct Request {
    ModelTime arrived, start, first_token, done;
    int64_t prompt_tokens, completion_tokens;
    double tpot;  // seconds per output token after the first
  };
  ReplicaSpec spec_;
  ReplicaSpeed speed_;
  double time_scale_;
  // Each slot's free time, earliest on top (FIFO over identical slots).
  std::priority_queue<ModelTime, std::vector<ModelTime>, std::greater<>> slots_;
  std::deque<Request> requests_;  // admitted, not completed, in admission order
  ReplicaMetrics metrics_;
  uint64_t admitted_ = 0;         // every request, failed or not (spreads the failures evenly)
};

// A workspace's replicas as its Service sees them: requests go to the routable replica with
// the fewest requests in flight (ties: the next in name order after the last pick), like
// kube-proxy's IPVS least-connection mode. A replica that stops being Ready takes no new
// requests and is dropped once its in-flight ones complete.
class WorkspaceServing {
 public:
  explicit WorkspaceServing(double time_scale) : time_scale_(time_scale) {}
  // The Ready replicas now; a replica whose spec changed keeps its queue (Respec).
  void SetReplicas(const std::vector<ReplicaSpec>& ready);
  // nullopt when no replica is Ready.
  std::optional<RequestTimes> Admit(ModelTime now, int64_t prompt_tokens,
                                    int64_t completion_tokens);
  void Advance(ModelTime now);
  int ready_replicas() const;
  ServingSignals Signals(ModelTime now);
  // Prometheus text of every replica (label pod) under `model_name`.
  std::string MetricsText(const std::string& model_name) const;

 private:
  struct Replica {
    ReplicaQueue queue;
    bool routable = true;
  };
  double time_scale_;
  std::map<std::string, Replica> replicas_;  // by pod
  std::string last_pick_;
  // Completed within kSignalWindow (at most the last kMaxWindowSamples, for percentiles).
  std::deque<ReplicaQueue::Completed> window_;
  // Completions per whole second of kSignalWindow (for the rate: never capped).
  std::deque<std::pair<int64_t, uint64_t>> completions_per_second_;
  // Failed requests per whole second of kSignalWindow (for the error rate).
  std::deque<std::pair<int64_t, uint64_t>> failures_per_second_;
  ModelTime last_advance_{};
};

}  // namespace berth::agent::sim
