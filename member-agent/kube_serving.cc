// KubeBackend::ReadServing: where a workspace is served on a real cluster and how busy it is.
//
// Endpoint: the workspace's Service (named like the workspace, managed by Berth) once it has a
// load-balancer address (status.loadBalancer.ingress[0].ip or .hostname, with the Service's
// port), else the agent's --endpoint-url-template ({workspace}, {namespace} replaced), else
// unknown (the reconciler then reports the in-cluster DNS name).
// Signals: each Ready pod's vLLM /metrics read through the API server's pod proxy
// (GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics, RBAC pods/proxy get), added up
// (vllm_metrics.h), rates and percentiles over the interval since the previous read.
#include <chrono>

#include "api/rest_client.h"
#include "member-agent/kube_backend.h"
#include "member-agent/vllm_metrics.h"
#include "workspace/renderer.h"

namespace berth::agent {

using nlohmann::json;

namespace {

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// "http://ADDRESS:PORT" of a LoadBalancer Service, "" while it has no address.
std::string LoadBalancerUrl(const json& svc) {
  const json ingress = svc.value("/status/loadBalancer/ingress"_json_pointer, json::array());
  if (!ingress.is_array() || ingress.empty() || !ingress[0].is_object()) return "";
  std::string host = ingress[0].value("ip", "");
  if (host.empty()) host = ingress[0].value("hostname", "");
  if (host.empty()) return "";
  const json ports = svc.value("/spec/ports"_json_pointer, json::array());
  const int port = ports.is_array() && !ports.empty() && ports[0].is_object() ? ports[0].value("port", 80) : 80;
  return "http://" + host + ":" + std::to_string(port);
}

// The port the pod's first container serves on (its port named http, else Berth's default).
int ServingPort(const json& pod) {
  const json containers = pod.value("/spec/containers"_json_pointer, json::array());
  if (containers.is_array() && !containers.empty()) {
    for (const auto& p : containers[0].value("ports", json::array())) {
      if (p.value("name", "") == "http" && p.value("containerPort", 0) > 0) return p["containerPort"];
    }
  }
  return workspace::kServingPort;
}

}  // namespace

StatusOr<ServingState> KubeBackend::ReadServing(const std::string& ns, const std::string& ws) {
  ServingState out;
  auto services = client_->Get("/api/v1/namespaces/" + ns + "/services?" + ManagedSelector(ws));
  if (!services.ok()) return services.status();
  for (const auto& svc : services->value("items", json::array())) {
    if (svc.value("/metadata/name"_json_pointer, std::string()) == ws) out.url = LoadBalancerUrl(svc);
  }
  if (out.url.empty() && !endpoint_url_template_.empty()) {
    out.url = ReplaceAll(ReplaceAll(endpoint_url_template_, "{workspace}", ws), "{namespace}", ns);
  }
  auto pods = client_->Get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" +
                           QueryEscape(std::string(kWorkspaceLabel) + "=" + ws));
  if (!pods.ok()) return pods.status();
  VllmScrape now;
  int ready = 0;
  for (const auto& pod : pods->value("items", json::array())) {
    if (!PodStateFromJson(pod).ready) continue;
    ++ready;
    const std::string name = pod.value("/metadata/name"_json_pointer, std::string());
    auto r = client_->Do("GET",
                         "/api/v1/namespaces/" + ns + "/pods/" + name + ":" + std::to_string(ServingPort(pod)) +
                             "/proxy/metrics",
                         "", "", "text/plain");
    if (r.ok() && r->status_code == 200) AddVllmScrape(r->body, now);
  }
  if (!now.any) return out;  // no vLLM answered: no signals
  const auto at = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(serving_mu_);
  auto& prev = scrapes_[ns + "/" + ws];
  const double seconds = prev.at.time_since_epoch().count() == 0
                             ? 0
                             : std::chrono::duration<double>(at - prev.at).count();
  // The first read after a start has nothing to subtract: the pods' lifetime histograms would
  // pass for the last few seconds, so it reports gauges only and percentiles from the next read.
  const VllmSignals s = seconds > 0 ? SignalsBetween(prev.scrape, now, seconds) : SignalsBetween(now, now, 0);
  ServingSignals sig;
  sig.requests_per_second = s.requests_per_second;
  sig.running = static_cast<int>(s.running);
  sig.waiting = static_cast<int>(s.waiting);
  sig.kv_cache_usage = s.kv_cache_usage;
  sig.ttft_p50 = s.ttft_p50.value_or(0);
  sig.ttft_p90 = s.ttft_p90.value_or(0);
  sig.ttft_p99 = s.ttft_p99.value_or(0);
  sig.latency_p50 = s.latency_p50.value_or(0);
  sig.latency_p90 = s.latency_p90.value_or(0);
  sig.latency_p99 = s.latency_p99.value_or(0);
  sig.error_rate = s.error_rate;
  sig.ready_endpoints = ready;
  prev = {now, at};
  out.signals = sig;
  return out;
}

}  // namespace berth::agent
