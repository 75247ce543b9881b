#include "member-agent/sim/serving_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "workspace/catalog.h"

namespace berth::agent::sim {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// The window keeps at most this many completions: percentiles stay cheap at high rates.
constexpr size_t kMaxWindowSamples = 20000;

struct GpuFigures {
  const char* name;  // catalog name (workspace/data/gpus.tsv)
  double fp16_tflops, memory_gb_per_s;
};
// NVIDIA datasheets: dense fp16 tensor TFLOPs (half the "with sparsity" figure) and memory
// bandwidth. A10G is AWS's variant of A10 with no NVIDIA datasheet; commonly measured ~70.
constexpr GpuFigures kGpuFigures[] = {
    {"T4", 65, 320},          {"V100-16GB", 125, 900},  {"V100-32GB", 125, 900},
    {"A10", 125, 600},        {"A10G", 70, 600},        {"L4", 121, 300},
    {"L40S", 362, 864},       {"A100-40GB", 312, 1555}, {"A100-80GB", 312, 2039},
    {"H100-80GB", 989, 3350}, {"H100-94GB", 835, 3900}, {"H200", 989, 4800},
};
constexpr GpuFigures kFallbackGpu = {"A10", 125, 600};

bool SameName(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return i == a.size() && !b[i];
}

double Seconds(ModelTime::duration d) { return std::chrono::duration<double>(d).count(); }

ModelTime::duration ScaledDuration(double seconds, double time_scale) {
  return std::chrono::microseconds(std::llround(seconds * time_scale * 1e6));
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const double rank = std::ceil(q * static_cast<double>(v.size()));
  const size_t k =
      static_cast<size_t>(std::clamp(rank - 1, 0.0, static_cast<double>(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

void AppendNumber(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  out += buf;
}

}  // namespace

GpuSpeed GpuSpeedOf(const std::string& product) {
  std::string name = product;
  if (auto gpu = workspace::Catalog::BuiltIn().FindGpu(product); gpu.ok()) name = gpu->name;
  for (const auto& g : kGpuFigures) {
    if (SameName(name, g.name)) return {g.fp16_tflops, g.memory_gb_per_s, true};
  }
  return {kFallbackGpu.fp16_tflops, kFallbackGpu.memory_gb_per_s, false};
}

int64_t KvBytesPerToken(const std::string& model, double weights_gib) {
  if (!model.empty()) {
    if (auto m = workspace::Catalog::BuiltIn().FindModel(model);
        m.ok() && m->kv_bytes_per_token > 0)
      return m->kv_bytes_per_token;
  }
  return std::max<int64_t>(32 * 1024, std::llround(131072.0 * weights_gib / 15.0));
}

ReplicaSpeed SpeedOf(const ReplicaSpec& spec) {
  const GpuSpeed gpu = GpuSpeedOf(spec.gpu_product);
  const double gpus = std::max(spec.gpus, 0.01);
  const double weights_bytes = std::max(spec.weights_gib, 0.1) * kGiB;
  const double kv_bytes =
      static_cast<double>(spec.kv_bytes_per_token > 0 ? spec.kv_bytes_per_token
                                                      : KvBytesPerToken("", spec.weights_gib));
  const double room_bytes =
      std::max(0.0, spec.gpu_memory_gib * gpus * kKvCacheShare - spec.weights_gib) * kGiB;
  ReplicaSpeed s;
  s.max_sequences = static_cast<int>(std::clamp<double>(
      std::floor(room_bytes / (kv_bytes * kAssumedSequenceTokens)), 1, kMaxSequences));
  s.kv_capacity_tokens =
      std::max(room_bytes / kv_bytes, static_cast<double>(kAssumedSequenceTokens));
  const double parameters = weights_bytes / 2;  // fp16
  s.prefill_tokens_per_s = gpus * gpu.fp16_tflops * 1e12 * kPrefillEfficiency / (2 * parameters);
  s.decode_step_seconds = weights_bytes / (gpus * gpu.memory_gb_per_s * 1e9 * kDecodeEfficiency);
  if (spec.slowdown > 1) {  // a simulated fault (a bad build of the image), never the model
    s.prefill_tokens_per_s /= spec.slowdown;
    s.decode_step_seconds *= spec.slowdown;
  }
  return s;
}

void Histogram::Observe(double v, uint64_t n) {
  if (n == 0) return;
  size_t i = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
  counts[i] += n;
  count += n;
  sum += v * static_cast<double>(n);
}

std::vector<double> TtftBuckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
          0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
}
std::vector<double> TpotBuckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5};
}
std::vector<double> E2eBuckets() {
  return {1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0};
}

namespace {

// Adds `n` to the count of the whole second `at` falls in (seconds arrive in order).
void CountPerSecond(std::deque<std::pair<int64_t, uint64_t>>& counts, ModelTime at, uint64_t n) {
  const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  if (counts.empty() || counts.back().first != second) counts.emplace_back(second, 0);
  counts.back().second += n;
}

}  // namespace

ReplicaQueue::ReplicaQueue(ReplicaSpec spec, double time_scale)
    : spec_(std::move(spec)), speed_(SpeedOf(spec_)), time_scale_(time_scale) {
  for (int i = 0; i < speed_.max_sequences; ++i) slots_.push(ModelTime{});
}

RequestTimes ReplicaQueue::Admit(ModelTime now, int64_t prompt_tokens, int64_t completion_tokens) {
  // The failing-serving fault fails every request that takes the count of failures so far
  // past admitted × fraction: exactly that share, spread evenly, no randomness.
  const double f = spec_.failure_fraction;
  const uint64_t n = admitted_++;
  if (f > 0 && std::floor(static_cast<double>(n + 1) * f) > std::floor(static_cast<double>(n) * f)) {
    ++metrics_.request_failure;
    return {now, now, spec_.pod, spec_.revision, true};
  }
  Request r;
  r.arrived = now;
  r.start = std::max(now, slots_.top());
  slots_.pop();
  r.prompt_tokens = std::max<int64_t>(prompt_tokens, 1);
  r.completion_tokens = std::max<int64_t>(completion_tokens, 1);
  // Slots still busy when this one starts, plus itself: how full the batch is.
  int busy = 1;
  for (const Request& other : requests_) busy += other.start <= r.start && other.done > r.start;
  const double fill = std::min(1.0, static_cast<double>(busy) / speed_.max_sequences);
  r.tpot = speed_.decode_step_seconds * (1 + kBatchSlowdown * fill);
  const double prefill = static_cast<double>(r.prompt_tokens) / speed_.prefill_tokens_per_s;
  r.first_token = r.start + ScaledDuration(prefill, time_scale_);
  r.done = r.first_token +
           ScaledDuration(r.tpot * static_cast<double>(r.completion_tokens - 1), time_scale_);
  slots_.push(r.done);
  requests_.push_back(r);
  ++metrics_.waiting;  // recounted by the next Advance
  return {r.first_token, r.done, spec_.pod, spec_.revision};
}

void ReplicaQueue::Advance(ModelTime now, std::vector<Completed>* completed) {
  int running = 0, waiting = 0;
  double tokens = 0;
  for (auto it = requests_.begin(); it != requests_.end();) {
    const Request& r = *it;
    if (r.done <= now) {
      const double ttft = Seconds(r.first_token - r.arrived);
      const double latency = Seconds(r.done - r.arrived);
      metrics_.prompt_tokens += r.prompt_tokens;
      metrics_.generation_tokens += r.completion_tokens;
      ++metrics_.request_success;
      metrics_.ttft.Observe(ttft);
      metrics_.tpot.Observe(r.tpot * time_scale_, r.completion_tokens - 1);
      metrics_.e2e.Observe(latency);
      if (completed) completed->push_back({r.done, ttft, latency});
      it = requests_.erase(it);
      continue;
    }
    if (r.start > now) {
      ++waiting;
    } else {
      ++running;
      double generated = 0;
      if (now >= r.first_token && r.tpot > 0 && time_scale_ > 0)
        generated = 1 + Seconds(now - r.first_token) / (r.tpot * time_scale_);
      tokens += static_cast<double>(r.prompt_tokens) +
                std::min(generated, static_cast<double>(r.completion_tokens));
    }
    ++it;
  }
  metrics_.running = running;
  metrics_.waiting = waiting;
  metrics_.kv_cache_usage = std::min(1.0, tokens / speed_.kv_capacity_tokens);
}

void ReplicaQueue::Respec(ReplicaSpec spec) {
  const int old = speed_.max_sequences;
  spec_ = std::move(spec);
  speed_ = SpeedOf(spec_);
  for (int i = old; i < speed_.max_sequences; ++i) slots_.push(ModelTime{});
  for (int i = speed_.max_sequences; i < old; ++i) slots_.pop();
}

void WorkspaceServing::SetReplicas(const std::vector<ReplicaSpec>& ready) {
  for (auto& [pod, replica] : replicas_) replica.routable = false;
  for (const ReplicaSpec& spec : ready) {
    auto it = replicas_.find(spec.pod);
    if (it == replicas_.end()) {
      it = replicas_.emplace(spec.pod, Replica{ReplicaQueue(spec, time_scale_), true}).first;
    } else if (!(it->second.queue.spec() == spec)) {
      it->second.queue.Respec(spec);
    }
    it->second.routable = true;
  }
  std::erase_if(replicas_, [](const auto& kv) {
    return !kv.second.routable && kv.second.queue.in_flight() == 0;
  });
}

std::optional<RequestTimes> WorkspaceServing::Admit(ModelTime now, int64_t prompt_tokens,
                                                    int64_t completion_tokens) {
  // Completed requests leave first, so in-flight counts (routing) are current and the queues
  // stay short at high rates (at most once per clock tick: the clock counts milliseconds).
  if (now > last_advance_) Advance(now);
  Replica* best = nullptr;
  const std::string* best_name = nullptr;
  // Scan from just after the last pick so ties rotate.
  auto start = replicas_.upper_bound(last_pick_);
  for (size_t n = 0; n < replicas_.size(); ++n, ++start) {
    if (start == replicas_.end()) start = replicas_.begin();
    Replica& r = start->second;
    if (!r.routable) continue;
    if (!best || r.queue.in_flight() < best->queue.in_flight()) {
      best = &r;
      best_name = &start->first;
    }
  }
  if (!best) return std::nullopt;
  last_pick_ = *best_name;
  RequestTimes times = best->queue.Admit(now, prompt_tokens, completion_tokens);
  if (times.failed) CountPerSecond(failures_per_second_, now, 1);
  return times;
}

void WorkspaceServing::Advance(ModelTime now) {
  std::vector<ReplicaQueue::Completed> completed;
  for (auto& [pod, r] : replicas_) r.queue.Advance(now, &completed);
  std::sort(completed.begin(), completed.end(),
            [](const auto& a, const auto& b) { return a.at < b.at; });
  window_.insert(window_.end(), completed.begin(), completed.end());
  while (!window_.empty() &&
         (window_.front().at + kSignalWindow < now || window_.size() > kMaxWindowSamples))
    window_.pop_front();
  for (const auto& c : completed) CountPerSecond(completions_per_second_, c.at, 1);
  const int64_t oldest =
      std::chrono::duration_cast<std::chrono::seconds>((now - kSignalWindow).time_since_epoch())
          .count();
  for (auto* counts : {&completions_per_second_, &failures_per_second_}) {
    while (!counts->empty() && counts->front().first < oldest) counts->pop_front();
  }
  std::erase_if(replicas_, [](const auto& kv) {
    return !kv.second.routable && kv.second.queue.in_flight() == 0;
  });
  last_advance_ = now;
}

int WorkspaceServing::ready_replicas() const {
  int n = 0;
  for (const auto& [pod, r] : replicas_) n += r.routable;
  return n;
}

ServingSignals WorkspaceServing::Signals(ModelTime now) {
  Advance(now);
  ServingSignals s;
  double kv = 0;
  for (const auto& [pod, r] : replicas_) {
    const ReplicaMetrics& m = r.queue.metrics();
    s.running += m.running;
    s.waiting += m.waiting;
    if (!r.routable) continue;
    ++s.ready_endpoints;
    s.capacity += r.queue.speed().max_sequences;
    kv += m.kv_cache_usage;
  }
  if (s.ready_endpoints > 0) s.kv_cache_usage = kv / s.ready_endpoints;
  uint64_t completions = 0, failures = 0;
  for (const auto& [second, n] : completions_per_second_) completions += n;
  for (const auto& [second, n] : failures_per_second_) failures += n;
  s.requests_per_second = static_cast<double>(completions) / Seconds(kSignalWindow);
  if (completions + failures > 0) {
    s.error_rate = static_cast<double>(failures) / static_cast<double>(completions + failures);
  }
  if (window_.empty()) return s;
  std::vector<double> ttft, latency;
  ttft.reserve(window_.size());
  latency.reserve(window_.size());
  for (const auto& c : window_) {
    ttft.push_back(c.ttft);
    latency.push_back(c.latency);
  }
  s.ttft_p50 = Percentile(ttft, 0.5);
  s.ttft_p90 = Percentile(ttft, 0.9);
  s.ttft_p99 = Percentile(ttft, 0.99);
  s.latency_p50 = Percentile(latency, 0.5);
  s.latency_p90 = Percentile(latency, 0.9);
  s.latency_p99 = Percentile(latency, 0.99);
  return s;
}

namespace {

void AppendHistogram(std::string& out, const char* name, const std::string& labels,
                     const Histogram& h) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    out += name;
    out += "_bucket{" + labels + ",le=\"";
    if (i < h.bounds.size()) {
      AppendNumber(out, h.bounds[i]);
    } else {
      out += "+Inf";
    }
    out += "\"} " + std::to_string(cumulative) + "\n";
  }
  out += std::string(name) + "_sum{" + labels + "} ";
  AppendNumber(out, h.sum);
  out += "\n" + std::string(name) + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

}  // namespace

std::string WorkspaceServing::MetricsText(const std::string& model_name) const {
  struct Family {
    const char* name;
    const char* type;
    const char* help;
  };
  static constexpr Family kFamilies[] = {
      {"vllm:num_requests_running", "gauge", "Number of requests currently running on GPU."},
      {"vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed."},
      {"vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage."},
      {"vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage."},
      {"vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed."},
      {"vllm:generation_tokens_total", "counter", "Number of generation tokens processed."},
      {"vllm:request_success_total", "counter", "Count of successfully processed requests."},
      {"vllm:time_to_first_token_seconds", "histogram",
       "Histogram of time to first token in seconds."},
      {"vllm:time_per_output_token_seconds", "histogram",
       "Histogram of time per output token in seconds."},
      {"vllm:e2e_request_latency_seconds", "histogram",
       "Histogram of end to end request latency in seconds."},
  };
  std::string out = "# berth: simulated replicas (docs/AGENT.md \"Serving (simulated)\")\n";
  for (const Family& f : kFamilies) {
    out +=
        std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& [pod, r] : replicas_) {
      const ReplicaMetrics& m = r.queue.metrics();
      const std::string labels = "model_name=\"" + model_name + "\",pod=\"" + pod + "\"";
      const std::string name = f.name;
      if (name == "vllm:time_to_first_token_seconds") {
        AppendHistogram(out, f.name, labels, m.ttft);
        continue;
      }
      if (name == "vllm:time_per_output_token_seconds") {
        AppendHistogram(out, f.name, labels, m.tpot);
        continue;
      }
      if (name == "vllm:e2e_request_latency_seconds") {
        AppendHistogram(out, f.name, labels, m.e2e);
        continue;
      }
      double v = 0;
      if (name == "vllm:num_requests_running") v = m.running;
      if (name == "vllm:num_requests_waiting") v = m.waiting;
      if (name == "vllm:gpu_cache_usage_perc" || name == "vllm:kv_cache_usage_perc")
        v = m.kv_cache_usage;
      if (name == "vllm:prompt_tokens_total") v = static_cast<double>(m.prompt_tokens);
      if (name == "vllm:generation_tokens_total") v = static_cast<double>(m.generation_tokens);
      if (name == "vllm:request_success_total") v = static_cast<double>(m.request_success);
      out += name + "{" + labels + "} ";
      AppendNumber(out, v);
      out += "\n";
    }
  }
  // vLLM's HTTP server (prometheus-fastapi-instrumentator): requests by handler and status
  // class. Completed requests count as 2xx, the failing-serving fault's as 5xx.
  out += "# HELP http_requests_total Total number of requests by method, status and handler.\n"
         "# TYPE http_requests_total counter\n";
  for (const auto& [pod, r] : replicas_) {
    const ReplicaMetrics& m = r.queue.metrics();
    for (const auto& [status, n] : {std::pair{"2xx", m.request_success}, std::pair{"5xx", m.request_failure}}) {
      out += std::string("http_requests_total{handler=\"/v1/chat/completions\",method=\"POST\",pod=\"") + pod +
             "\",status=\"" + status + "\"} ";
      AppendNumber(out, static_cast<double>(n));
      out += "\n";
    }
  }
  return out;
}

}  // namespace berth::agent::sim
