#include "gateway/catalog.h"

#include <nlohmann/json.hpp>

namespace berth::gateway {

namespace {

using nlohmann::json;

CatalogReply Error(int status, const std::string& message, const std::string& code) {
  json body = {{"error",
                {{"message", message},
                 {"type", "invalid_request_error"},
                 {"param", nullptr},
                 {"code", code}}}};
  return {status, "application/json", body.dump()};
}

json ModelEntry(const ModelRoute& route) {
  int serving = 0, up = 0;
  for (const auto& s : route.servers) {
    if (s.state != EndpointState::kDown) ++up;
    if (s.state == EndpointState::kServing && s.weight > 0) ++serving;
  }
  return {{"id", route.model},
          {"object", "model"},
          {"created", 0},
          {"owned_by", "berth"},
          {"berth", {{"servers", route.servers.size()}, {"serving", serving}, {"up", up}}}};
}

bool Listed(const ModelRoute& route) {
  for (const auto& s : route.servers) {
    if (s.state != EndpointState::kDown) return true;
  }
  return false;
}

std::string Metrics(const CatalogState& state) {
  std::string out =
      "# HELP berth_gateway_model_backend The HAProxy backend (proxy label) serving each model; "
      "join haproxy_backend_* on proxy.\n"
      "# TYPE berth_gateway_model_backend gauge\n";
  for (const auto& [model, backend] : state.model_backends) {
    out += "berth_gateway_model_backend{model=\"" + model + "\",proxy=\"" + backend + "\"} 1\n";
  }
  out +=
      "# HELP berth_gateway_model_servers Upstream servers per model and endpoint state.\n"
      "# TYPE berth_gateway_model_servers gauge\n";
  for (const auto& [model, route] : state.routes) {
    std::map<std::string, int> by_state{{"Serving", 0}, {"Draining", 0}, {"Down", 0}};
    for (const auto& s : route.servers) ++by_state[EndpointStateName(s.state)];
    for (const auto& [st, n] : by_state) {
      out += "berth_gateway_model_servers{model=\"" + model + "\",state=\"" + st + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  return out;
}

}  // namespace

CatalogReply HandleCatalogRequest(const CatalogState& state, const std::string& method,
                                  const std::string& path) {
  if (method != "GET") return Error(405, "only GET is served here", "method_not_allowed");
  if (path == "/metrics/berth") return {200, "text/plain; version=0.0.4", Metrics(state)};
  if (path == "/v1/models" || path == "/v1/models/") {
    json data = json::array();
    for (const auto& [model, route] : state.routes) {
      if (Listed(route)) data.push_back(ModelEntry(route));
    }
    return {200, "application/json", json{{"object", "list"}, {"data", data}}.dump()};
  }
  const std::string prefix = "/v1/models/";
  if (path.rfind(prefix, 0) == 0) {
    auto it = state.routes.find(path.substr(prefix.size()));
    if (it != state.routes.end() && Listed(it->second)) {
      return {200, "application/json", ModelEntry(it->second).dump()};
    }
    return Error(404, "The model " + path.substr(prefix.size()) + " does not exist",
                 "model_not_found");
  }
  return Error(404, "no route for " + path, "not_found");
}

void Catalog::Set(CatalogState state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(state);
}

CatalogReply Catalog::Handle(const std::string& method, const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  return HandleCatalogRequest(state_, method, path);
}

}  // namespace berth::gateway
