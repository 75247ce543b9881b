#include "hub/controllers/autoscale_stage.h"

#include <algorithm>
#include <cmath>

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;
using workspace::AutoscalingMetricType;

namespace {

double Number(const json& obj, const char* key) {
  auto v = obj.find(key);
  return v != obj.end() && v->is_number() ? v->get<double>() : 0;
}

std::optional<double> Quantile(const json& serving, const char* key, const char* q) {
  auto h = serving.find(key);
  if (h == serving.end() || !h->is_object()) return std::nullopt;
  auto v = h->find(q);
  if (v == h->end() || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::optional<Clock::TimePoint> TimeAt(const json& obj, const char* key) {
  auto v = obj.find(key);
  Clock::TimePoint t;
  if (v == obj.end() || !v->is_string() || !ParseRfc3339(v->get<std::string>(), &t)) return std::nullopt;
  return t;
}

json MetricsJson(const AutoscaleDecision& d) {
  json out = json::array();
  for (const auto& r : d.recommendations) {
    out.push_back({{"type", workspace::MetricTypeName(r.type)}, {"value", r.value}, {"target", r.target},
                   {"recommendedReplicas", r.replicas}});
  }
  return out;
}

}  // namespace

FleetServingSignals SignalsFromReports(const std::vector<const MemberReport*>& reports) {
  FleetServingSignals out;
  double rps = 0, running = 0, waiting = 0, kv_weighted = 0;
  int serving_ready = 0;
  double ttft_weighted = 0, ttft_rate = 0, ttft_max = -1;
  for (const MemberReport* r : reports) {
    out.ready_replicas += r->available;
    if (!r->serving.is_object()) continue;
    ++out.reporting_members;
    const json& s = r->serving;
    const int ready = std::max(0, r->available);
    serving_ready += ready;
    rps += Number(s, "requestsPerSecond");
    running += Number(s, "running");
    waiting += Number(s, "waiting");
    kv_weighted += Number(s, "kvCacheUsage") * ready;
    if (auto p90 = Quantile(s, "ttftSeconds", "p90")) {
      const double rate = Number(s, "requestsPerSecond");
      ttft_weighted += *p90 * rate;
      ttft_rate += rate;
      ttft_max = std::max(ttft_max, *p90);
    }
  }
  if (out.reporting_members == 0) return out;
  if (serving_ready > 0) {
    out.metrics[AutoscalingMetricType::kWaitingRequestsPerReplica] = waiting / serving_ready;
    out.metrics[AutoscalingMetricType::kRunningRequestsPerReplica] = running / serving_ready;
    out.metrics[AutoscalingMetricType::kKVCacheUtilization] = kv_weighted / serving_ready;
    out.metrics[AutoscalingMetricType::kRequestsPerSecondPerReplica] = rps / serving_ready;
  } else if (waiting > 0 || running > 0) {
    // Requests queue at an endpoint with no Ready replica: load with nowhere to go.
    out.metrics[AutoscalingMetricType::kWaitingRequestsPerReplica] = waiting + running;
  }
  if (ttft_rate > 0) {
    out.metrics[AutoscalingMetricType::kTimeToFirstTokenP90Seconds] = ttft_weighted / ttft_rate;
  } else if (ttft_max >= 0) {
    out.metrics[AutoscalingMetricType::kTimeToFirstTokenP90Seconds] = ttft_max;
  }
  return out;
}

AutoscaleStageResult AutoscaleWorkspace(const AutoscaleStageInput& in) {
  AutoscaleStageResult out;
  const workspace::AutoscalingSpec& spec = *in.workspace->autoscaling;
  const json stored = in.stored_status && in.stored_status->is_object()
                          ? in.stored_status->value("autoscaler", json::object())
                          : json::object();
  const int current = workspace::AutoscaledSize(spec, in.workspace->placement.replicas,
                                                in.stored_status ? *in.stored_status : json());
  out.desired_replicas = current;
  out.status = stored;
  // Not due yet: keep the stored decision and look again at the next sync.
  if (auto last = TimeAt(stored, "lastEvaluationTime"); last && in.now < *last + in.sync_period &&
                                                        *last <= in.now &&
                                                        stored.value("observedGeneration", int64_t{-1}) == in.generation) {
    out.wake.At(*last + in.sync_period);
    return out;
  }
  const FleetServingSignals signals = SignalsFromReports(in.reports);
  AutoscaleInput ai;
  ai.spec = spec;
  ai.current_replicas = current;
  ai.ready_replicas = signals.ready_replicas;
  ai.metrics = signals.metrics;
  ai.now = in.now;
  auto state = AutoscalerStateFromJson(stored);  // a malformed stored state starts afresh
  if (state.ok()) ai.state = std::move(state).value();
  const AutoscaleDecision d = Autoscale(ai);

  out.evaluated = true;
  out.desired_replicas = d.desired_replicas;
  out.conditions = {d.able_to_scale, d.scaling_active, d.scaling_limited};
  out.event_reason = d.event_reason;
  out.event_message = d.event_message;
  json status = AutoscalerStateToJson(d.next_state);
  status["desiredReplicas"] = d.desired_replicas;
  status["currentReplicas"] = current;
  status["readyReplicas"] = signals.ready_replicas;
  status["currentMetrics"] = MetricsJson(d);
  if (d.driving_metric) status["drivingMetric"] = workspace::MetricTypeName(d.driving_metric->type);
  status["lastEvaluationTime"] = FormatRfc3339(in.now);
  status["lastScaleTime"] = d.desired_replicas != current ? json(FormatRfc3339(in.now))
                                                          : stored.value("lastScaleTime", json(nullptr));
  if (status["lastScaleTime"].is_null()) status.erase("lastScaleTime");
  status["observedGeneration"] = in.generation;
  out.status = std::move(status);
  out.wake.At(in.now + in.sync_period);
  if (d.requeue_at) out.wake.At(*d.requeue_at);
  return out;
}

}  // namespace berth::hub
