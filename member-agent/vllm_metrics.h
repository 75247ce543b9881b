// vLLM's Prometheus metrics read into serving signals: how the kube backend learns load and
// latency from the vLLM pods it runs (scraped through the API server's pod proxy,
// docs/AGENT.md "Serving signals"). vLLM's metric names (DOMAIN: serving signals):
//   vllm:num_requests_running, vllm:num_requests_waiting       gauges, summed over pods
//   vllm:gpu_cache_usage_perc | vllm:kv_cache_usage_perc       gauge 0..1, averaged over pods
//   vllm:time_to_first_token_seconds, vllm:e2e_request_latency_seconds   histograms
//   vllm:request_success_total                                 counter
//   http_requests_total{handler="/v1/...",status="2xx"|"5xx"}   counter of vLLM's HTTP server
//                      (prometheus-fastapi-instrumentator, status grouped by class): the
//                      error rate is 5xx over all requests to the OpenAI routes
// Rates and percentiles come from the difference of two scrapes (counters and buckets only
// grow; a counter that went down means a pod restarted and that interval is skipped), the
// percentile by linear interpolation inside the bucket as Prometheus' histogram_quantile.
// Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace berth::agent {

// One histogram summed over every label set but `le`: cumulative bucket counts by bound.
struct Histogram {
  std::map<double, double> buckets;  // upper bound (+Inf as infinity) → cumulative count
  double count = 0;
};

// What one scrape of one or more pods says (samples of all pods added up).
struct VllmScrape {
  double running = 0, waiting = 0;
  double kv_cache_usage_sum = 0;  // sum over pods of the usage gauge
  int kv_cache_pods = 0;          // pods that reported it
  double successes = 0;           // vllm:request_success_total
  double http_requests = 0;       // http_requests_total on /v1/ handlers, any status
  double http_errors = 0;         // the same with status 5xx
  bool http_seen = false;         // the server exports http_requests_total
  Histogram ttft, e2e;
  bool any = false;  // at least one vLLM sample was read
};

// Adds the samples of `text` (Prometheus text exposition format) to `into`. Unknown metrics,
// comments and malformed lines are skipped; never throws.
void AddVllmScrape(std::string_view text, VllmScrape& into);

struct VllmSignals {
  double requests_per_second = 0;
  double running = 0, waiting = 0, kv_cache_usage = 0;
  std::optional<double> ttft_p50, ttft_p90, ttft_p99;        // nullopt: no request in the interval
  std::optional<double> latency_p50, latency_p90, latency_p99;
  // 5xx / all requests on the OpenAI routes; nullopt without http_requests_total or requests.
  std::optional<double> error_rate;
};

// Signals over the interval between two scrapes `seconds` apart (gauges from `now`).
VllmSignals SignalsBetween(const VllmScrape& before, const VllmScrape& now, double seconds);

// The q-quantile (0..1) of the observations a histogram difference holds; nullopt when empty.
std::optional<double> HistogramQuantile(const Histogram& before, const Histogram& now, double q);

}  // namespace berth::agent
