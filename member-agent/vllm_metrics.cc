#include "member-agent/vllm_metrics.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

namespace berth::agent {

namespace {

struct Sample {
  std::string_view name;
  std::string_view labels;  // inside the braces
  double value = 0;
};

bool ParseNumber(std::string_view text, double* out) {
  const std::string s(text);
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && !s.empty() && std::isfinite(*out);
}

// `name{labels} value [timestamp]`; false for anything else.
bool ParseLine(std::string_view line, Sample* s) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s->name = line.substr(0, i);
  if (s->name.empty()) return false;
  if (i < line.size() && line[i] == '{') {
    const size_t close = line.find('}', i);  // vLLM's label values carry no '}'
    if (close == std::string_view::npos) return false;
    s->labels = line.substr(i + 1, close - i - 1);
    i = close + 1;
  }
  while (i < line.size() && line[i] == ' ') ++i;
  size_t end = line.find(' ', i);
  return ParseNumber(line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i), &s->value);
}

// The value of label `key` in `labels` (a="x",b="y"); "" when absent.
std::string_view Label(std::string_view labels, std::string_view key) {
  size_t pos = 0;
  while (pos < labels.size()) {
    const size_t eq = labels.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= labels.size() || labels[eq + 1] != '"') return "";
    const size_t close = labels.find('"', eq + 2);
    if (close == std::string_view::npos) return "";
    std::string_view k = labels.substr(pos, eq - pos);
    while (!k.empty() && (k.front() == ',' || k.front() == ' ')) k.remove_prefix(1);
    if (k == key) return labels.substr(eq + 2, close - eq - 2);
    pos = close + 1;
  }
  return "";
}

void AddHistogram(const Sample& s, std::string_view base, Histogram& h) {
  const std::string_view rest = s.name.substr(base.size());
  if (rest == "_bucket") {
    double le = 0;
    if (ParseNumber(Label(s.labels, "le"), &le)) h.buckets[le] += s.value;
  } else if (rest == "_count") {
    h.count += s.value;
  }
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

void AddVllmScrape(std::string_view text, VllmScrape& into) {
  static constexpr std::string_view kTtft = "vllm:time_to_first_token_seconds";
  static constexpr std::string_view kE2e = "vllm:e2e_request_latency_seconds";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    if (!ParseLine(line, &s)) continue;
    if (s.name == "http_requests_total") {
      // Only the OpenAI routes: health probes and /metrics scrapes are not requests.
      if (!StartsWith(Label(s.labels, "handler"), "/v1/")) continue;
      into.http_seen = true;
      into.http_requests += s.value;
      if (StartsWith(Label(s.labels, "status"), "5")) into.http_errors += s.value;
      continue;
    }
    if (!StartsWith(s.name, "vllm:")) continue;
    into.any = true;
    if (s.name == "vllm:num_requests_running") {
      into.running += s.value;
    } else if (s.name == "vllm:num_requests_waiting") {
      into.waiting += s.value;
    } else if (s.name == "vllm:gpu_cache_usage_perc" || s.name == "vllm:kv_cache_usage_perc") {
      into.kv_cache_usage_sum += s.value;
      ++into.kv_cache_pods;
    } else if (s.name == "vllm:request_success_total") {
      into.successes += s.value;
    } else if (StartsWith(s.name, kTtft)) {
      AddHistogram(s, kTtft, into.ttft);
    } else if (StartsWith(s.name, kE2e)) {
      AddHistogram(s, kE2e, into.e2e);
    }
  }
}

std::optional<double> HistogramQuantile(const Histogram& before, const Histogram& now, double q) {
  std::vector<std::pair<double, double>> diff;  // bound → cumulative count in the interval
  for (const auto& [bound, count] : now.buckets) {
    auto b = before.buckets.find(bound);
    const double d = count - (b == before.buckets.end() ? 0 : b->second);
    if (d < 0) return std::nullopt;  // reset (pod restart): skip this interval
    diff.emplace_back(bound, d);
  }
  if (diff.empty() || diff.back().second <= 0) return std::nullopt;
  const double rank = q * diff.back().second;
  double lower = 0, below = 0;
  for (const auto& [bound, cum] : diff) {
    if (cum >= rank) {
      if (std::isinf(bound)) return lower;  // above the highest finite bound: report that bound
      const double in_bucket = cum - below;
      return in_bucket <= 0 ? bound : lower + (bound - lower) * (rank - below) / in_bucket;
    }
    lower = bound;
    below = cum;
  }
  return lower;
}

VllmSignals SignalsBetween(const VllmScrape& before, const VllmScrape& now, double seconds) {
  VllmSignals s;
  s.running = now.running;
  s.waiting = now.waiting;
  s.kv_cache_usage = now.kv_cache_pods > 0 ? now.kv_cache_usage_sum / now.kv_cache_pods : 0;
  const double done = now.successes - before.successes;
  if (seconds > 0 && done >= 0) s.requests_per_second = done / seconds;
  s.ttft_p50 = HistogramQuantile(before.ttft, now.ttft, 0.5);
  s.ttft_p90 = HistogramQuantile(before.ttft, now.ttft, 0.9);
  s.ttft_p99 = HistogramQuantile(before.ttft, now.ttft, 0.99);
  s.latency_p50 = HistogramQuantile(before.e2e, now.e2e, 0.5);
  s.latency_p90 = HistogramQuantile(before.e2e, now.e2e, 0.9);
  s.latency_p99 = HistogramQuantile(before.e2e, now.e2e, 0.99);
  const double asked = now.http_requests - before.http_requests;
  const double failed = now.http_errors - before.http_errors;
  if (now.http_seen && asked > 0 && failed >= 0) s.error_rate = std::min(1.0, failed / asked);
  return s;
}

}  // namespace berth::agent
