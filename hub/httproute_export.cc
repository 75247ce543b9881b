#include "hub/httproute_export.h"

#include <algorithm>
#include <cstdio>

#include "api/kinds.h"
#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

namespace {

constexpr size_t kMaxBackendRefs = 16;  // Gateway API v1: rules[].backendRefs maxItems
constexpr size_t kMaxMatches = 64;      // rules[].matches maxItems

// FNV-1a, 32 bits: a stable short suffix (names must be the same on every hub and release).
uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

json BackendRefs(const json& workspace, const HttpRouteOptions& o) {
  json endpoints = api::JsonPathGet(workspace, "status.endpoints");
  std::vector<json> list;
  for (const auto& e : endpoints.is_array() ? endpoints : json::array()) list.push_back(e);
  // Heaviest first when there are more clusters than a rule may name.
  std::stable_sort(list.begin(), list.end(),
                   [](const json& a, const json& b) { return a.value("weight", 0) > b.value("weight", 0); });
  if (list.size() > kMaxBackendRefs) list.resize(kMaxBackendRefs);
  std::sort(list.begin(), list.end(),
            [](const json& a, const json& b) { return a.value("cluster", "") < b.value("cluster", ""); });
  json refs = json::array();
  for (const auto& e : list) {
    if (!e.is_object() || !e["cluster"].is_string()) continue;
    json ref = {{"name", EndpointBackendName(api::NameOf(workspace), e["cluster"])},
                {"port", o.port},
                {"weight", std::clamp(e.value("weight", 0), 0, 1000000)}};
    if (o.service_import) {
      ref["group"] = "multicluster.x-k8s.io";
      ref["kind"] = "ServiceImport";
    } else {
      ref["group"] = "";
      ref["kind"] = "Service";
    }
    refs.push_back(std::move(ref));
  }
  return refs;
}

// {cluster: {url, state, weight}} for the annotation.
std::string EndpointsAnnotation(const json& workspace) {
  json out = json::object();
  json endpoints = api::JsonPathGet(workspace, "status.endpoints");
  for (const auto& e : endpoints.is_array() ? endpoints : json::array()) {
    if (!e.is_object() || !e["cluster"].is_string()) continue;
    out[e["cluster"].get<std::string>()] = {
        {"url", e.value("url", "")}, {"state", e.value("state", "")}, {"weight", e.value("weight", 0)}};
  }
  return out.dump();
}

}  // namespace

std::string EndpointBackendName(const std::string& workspace, const std::string& cluster) {
  std::string name = workspace + "-" + cluster;
  if (name.size() <= 63) return name;
  char suffix[10];
  std::snprintf(suffix, sizeof(suffix), "-%08x", Fnv1a(name));
  name.resize(63 - 9);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name + suffix;
}

StatusOr<HttpRouteOptions> HttpRouteOptionsFrom(const std::string& gateway, const std::string& gateway_namespace,
                                                const std::string& backend_kind, const std::string& port) {
  HttpRouteOptions o;
  if (!gateway.empty()) o.gateway_name = gateway;
  o.gateway_namespace = gateway_namespace;
  if (backend_kind == "ServiceImport") {
    o.service_import = true;
  } else if (!backend_kind.empty() && backend_kind != "Service") {
    return Status::Invalid("query parameter backendKind: must be Service or ServiceImport, not \"" + backend_kind +
                           "\"");
  }
  if (!port.empty()) {
    int p = 0;
    size_t used = 0;
    try {
      p = std::stoi(port, &used);
    } catch (...) {
      used = 0;
    }
    if (used != port.size() || p < 1 || p > 65535) {
      return Status::Invalid("query parameter port: must be a port number 1-65535, not \"" + port + "\"");
    }
    o.port = p;
  }
  return o;
}

json HttpRouteFor(const json& workspace, const HttpRouteOptions& o) {
  const std::string name = api::NameOf(workspace), ns = api::NamespaceOf(workspace);
  json parent = {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", o.gateway_name}};
  if (!o.gateway_namespace.empty()) parent["namespace"] = o.gateway_namespace;
  json models = api::JsonPathGet(workspace, "status.servedModels");
  if (!models.is_array() || models.empty()) models = json::array({name});
  json by_header = json::array(), by_path = json::array();
  for (const auto& m : models) {
    if (!m.is_string() || by_header.size() >= kMaxMatches) continue;
    by_header.push_back(
        {{"headers", json::array({{{"type", "Exact"}, {"name", "X-Gateway-Model-Name"}, {"value", m}}})}});
    by_path.push_back({{"path", {{"type", "PathPrefix"}, {"value", "/models/" + m.get<std::string>()}}}});
  }
  const json refs = BackendRefs(workspace, o);
  json rewrite = {{"type", "URLRewrite"},
                  {"urlRewrite", {{"path", {{"type", "ReplacePrefixMatch"}, {"replacePrefixMatch", "/"}}}}}};
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{"app.kubernetes.io/managed-by", "berth"}, {"berth.dev/workspace", name}}},
            {"annotations", {{"berth.dev/endpoints", EndpointsAnnotation(workspace)}}}}},
          {"spec",
           {{"parentRefs", json::array({parent})},
            {"rules", json::array({{{"matches", by_header}, {"backendRefs", refs}},
                                   {{"matches", by_path},
                                    {"filters", json::array({rewrite})},
                                    {"backendRefs", refs}}})}}}};
}

}  // namespace berth::hub
