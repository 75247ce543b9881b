#include "gateway/route_table.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <functional>
#include <set>

#include "api/yaml_json.h"

namespace berth::gateway {

using nlohmann::json;

const char* EndpointStateName(EndpointState state) {
  switch (state) {
    case EndpointState::kServing:
      return "Serving";
    case EndpointState::kDraining:
      return "Draining";
    case EndpointState::kDown:
      return "Down";
  }
  return "Unknown";
}

namespace {

Status FieldError(const std::string& field, const std::string& message) {
  return Status::Invalid(field + ": " + message, {{field, message}});
}

StatusOr<std::string> StringField(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return FieldError(path + "." + key, "must be a string");
  return it->get<std::string>();
}

StatusOr<int64_t> IntField(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return int64_t{0};
  if (!it->is_number_integer()) return FieldError(path + "." + key, "must be an integer");
  return it->get<int64_t>();
}

StatusOr<Endpoint> DecodeEndpoint(const json& e, const std::string& path) {
  if (!e.is_object()) return FieldError(path, "must be an object");
  Endpoint out;
  auto cluster = StringField(e, "cluster", path);
  auto url = StringField(e, "url", path);
  auto state = StringField(e, "state", path);
  auto reason = StringField(e, "reason", path);
  for (const auto* s : {&cluster, &url, &state, &reason}) {
    if (!s->ok()) return s->status();
  }
  if (cluster->empty()) return FieldError(path + ".cluster", "required");
  out.cluster = *cluster;
  out.url = *url;
  out.reason = *reason;
  if (*state == "Serving") {
    out.state = EndpointState::kServing;
  } else if (*state == "Draining") {
    out.state = EndpointState::kDraining;
  } else if (*state == "Down") {
    out.state = EndpointState::kDown;
  } else {
    return FieldError(path + ".state", "must be Serving, Draining or Down, not \"" + *state + "\"");
  }
  auto weight = IntField(e, "weight", path);
  if (!weight.ok()) return weight.status();
  if (*weight < 0 || *weight > 256) return FieldError(path + ".weight", "must be within 0..256");
  out.weight = static_cast<int>(*weight);
  auto ready = IntField(e, "readyReplicas", path);
  auto revision = IntField(e, "revision", path);
  if (!ready.ok()) return ready.status();
  if (!revision.ok()) return revision.status();
  out.ready_replicas = static_cast<int>(*ready);
  out.revision = *revision;
  return out;
}

}  // namespace

StatusOr<WorkspaceEndpoints> DecodeWorkspace(const json& object) {
  if (!object.is_object()) return Status::Invalid("a Workspace must be an object");
  WorkspaceEndpoints ws;
  const json meta = object.value("metadata", json::object());
  if (!meta.is_object()) return FieldError("metadata", "must be an object");
  auto name = StringField(meta, "name", "metadata");
  auto ns = StringField(meta, "namespace", "metadata");
  if (!name.ok()) return name.status();
  if (!ns.ok()) return ns.status();
  if (name->empty()) return FieldError("metadata.name", "required");
  ws.name = *name;
  ws.namespace_name = ns->empty() ? "default" : *ns;
  auto status_it = object.find("status");
  if (status_it == object.end() || status_it->is_null()) return ws;
  if (!status_it->is_object()) return FieldError("status", "must be an object");
  const json& status = *status_it;
  if (auto it = status.find("servedModels"); it != status.end() && !it->is_null()) {
    if (!it->is_array()) return FieldError("status.servedModels", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return FieldError("status.servedModels[" + std::to_string(i) + "]", "must be a string");
      }
      ws.served_models.push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = status.find("endpoints"); it != status.end() && !it->is_null()) {
    if (!it->is_array()) return FieldError("status.endpoints", "must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      auto ep = DecodeEndpoint((*it)[i], "status.endpoints[" + std::to_string(i) + "]");
      if (!ep.ok()) return ep.status();
      ws.endpoints.push_back(std::move(*ep));
    }
  }
  return ws;
}

StatusOr<std::vector<WorkspaceEndpoints>> DecodeEndpointsDocument(std::string_view text) {
  // JSON is YAML, but nlohmann reports JSON errors better; try it first for '[' / '{'.
  auto first = text.find_first_not_of(" \t\r\n");
  StatusOr<json> doc = Status::Invalid("empty");
  if (first != std::string_view::npos && (text[first] == '[' || text[first] == '{')) {
    doc = api::ParseJson(text, "endpoints file");
  } else {
    doc = api::YamlToJson(text);
  }
  if (!doc.ok()) return doc.status();
  json items = json::array();
  if (doc->is_null()) {
    // An empty file: no Workspaces.
  } else if (doc->is_array()) {
    items = *doc;
  } else if (doc->is_object() && doc->contains("items")) {
    items = (*doc)["items"];
    if (!items.is_array() && !items.is_null()) return FieldError("items", "must be a list");
    if (items.is_null()) items = json::array();
  } else {
    items.push_back(*doc);
  }
  std::vector<WorkspaceEndpoints> out;
  for (size_t i = 0; i < items.size(); ++i) {
    auto ws = DecodeWorkspace(items[i]);
    if (!ws.ok()) return ws.status().WithContext("items[" + std::to_string(i) + "]");
    out.push_back(std::move(*ws));
  }
  return out;
}

std::string ServerName(std::string_view cluster, std::string_view namespace_name,
                       std::string_view workspace) {
  auto clean = [](std::string_view part) {
    std::string s(part);
    for (char& c : s) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-';
      if (!ok) c = '-';
    }
    return s;
  };
  std::string name = clean(cluster) + "_" + clean(namespace_name) + "_" + clean(workspace);
  constexpr size_t kMax = 100;
  if (name.size() <= kMax) return name;
  // FNV-1a of the uncut name keeps cut names distinct and stable across restarts.
  uint64_t h = 1469598103934665603ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return name.substr(0, kMax - 17) + "-" + hex;
}

StatusOr<HostPort> ParseEndpointUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::Invalid("endpoint URL \"" + std::string(url) +
                           "\": only http://host:port is supported");
  }
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  HostPort hp;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return Status::Invalid("endpoint URL \"" + std::string(url) + "\": unclosed [");
    hp.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':')
      return Status::Invalid("endpoint URL \"" + std::string(url) + "\": bad port");
    port_text = rest.empty() ? std::string_view() : rest.substr(1);
  } else {
    auto colon = rest.find(':');
    hp.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (hp.host.empty()) return Status::Invalid("endpoint URL \"" + std::string(url) + "\": no host");
  for (char c : hp.host) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return Status::Invalid("endpoint URL \"" + std::string(url) + "\": bad host");
  }
  hp.port = 80;
  if (!port_text.empty()) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return Status::Invalid("endpoint URL \"" + std::string(url) + "\": bad port");
    }
    hp.port = port;
  }
  return hp;
}

bool IsRoutableModelName(std::string_view model) {
  if (model.empty() || model.size() > kMaxModelNameLength) return false;
  for (char c : model) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (c == '"' || c == '\'' || c == '\\' || c == ';' || c == '#') return false;
  }
  return true;
}

RouteTableBuild BuildRouteTable(const std::vector<WorkspaceEndpoints>& workspaces) {
  RouteTableBuild build;
  for (const auto& ws : workspaces) {
    std::set<std::string> models;
    for (const auto& m : ws.served_models) {
      if (!IsRoutableModelName(m)) {
        build.problems.push_back(ws.namespace_name + "/" + ws.name + ": model name \"" + m +
                                 "\" is empty, longer than 256 characters or has blanks, "
                                 "quotes, '\\', ';' or '#'; ignored");
        continue;
      }
      models.insert(m);
    }
    for (const auto& ep : ws.endpoints) {
      if (ep.url.empty()) continue;  // not reported yet (the hub says Down, NotReported): nothing to route to
      auto hp = ParseEndpointUrl(ep.url);
      std::string origin = ws.namespace_name + "/" + ws.name + "@" + ep.cluster;
      if (!hp.ok()) {
        build.problems.push_back(origin + ": " + hp.status().message());
        continue;
      }
      UpstreamServer server{ServerName(ep.cluster, ws.namespace_name, ws.name),
                            hp->host,
                            hp->port,
                            ep.state,
                            ep.weight,
                            origin};
      for (const auto& model : models) {
        ModelRoute& route = build.routes[model];
        route.model = model;
        bool duplicate =
            std::any_of(route.servers.begin(), route.servers.end(),
                        [&](const UpstreamServer& s) { return s.name == server.name; });
        if (duplicate) {
          build.problems.push_back(
              origin + ": second endpoint for the same cluster, ignored (model " + model + ")");
          continue;
        }
        route.servers.push_back(server);
      }
    }
    // A model listed with no endpoint still gets a route: it is known (503, not 404).
    for (const auto& model : models) build.routes[model].model = model;
  }
  for (auto& [model, route] : build.routes) {
    std::sort(route.servers.begin(), route.servers.end(),
              [](const UpstreamServer& a, const UpstreamServer& b) { return a.name < b.name; });
  }
  return build;
}

StatusOr<std::string> WorkspaceCache::ReplaceFromList(const json& list,
                                                      std::vector<std::string>* problems) {
  if (!list.is_object()) return Status::BadRequest("list response is not an object");
  by_key_.clear();
  const json items = list.value("items", json::array());
  if (!items.is_array()) return Status::BadRequest("list response: items is not a list");
  for (const auto& item : items) {
    auto ws = DecodeWorkspace(item);
    if (!ws.ok()) {
      if (problems) problems->push_back(ws.status().message());
      continue;
    }
    by_key_[ws->namespace_name + "/" + ws->name] = std::move(*ws);
  }
  const json meta = list.value("metadata", json::object());
  return meta.is_object() ? meta.value("resourceVersion", std::string()) : std::string();
}

StatusOr<std::string> WorkspaceCache::Apply(const json& event) {
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
    return Status::BadRequest("watch event without a type");
  }
  const std::string type = event["type"].get<std::string>();
  const json object = event.value("object", json::object());
  if (type == "ERROR") {
    int code = object.is_object() ? object.value("code", 0) : 0;
    std::string message = object.is_object() ? object.value("message", std::string()) : "";
    if (code == 410) return Status::Gone("watch expired: " + message);
    return Status::BadRequest("watch ERROR event: " + message);
  }
  std::string rv;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    rv = object["metadata"].value("resourceVersion", std::string());
  }
  if (type == "BOOKMARK") return rv;
  auto ws = DecodeWorkspace(object);
  if (!ws.ok()) return ws.status().WithContext("watch event " + type);
  std::string key = ws->namespace_name + "/" + ws->name;
  if (type == "ADDED" || type == "MODIFIED") {
    by_key_[key] = std::move(*ws);
  } else if (type == "DELETED") {
    by_key_.erase(key);
  } else {
    return Status::BadRequest("unknown watch event type \"" + type + "\"");
  }
  return rv;
}

std::vector<WorkspaceEndpoints> WorkspaceCache::Snapshot() const {
  std::vector<WorkspaceEndpoints> out;
  out.reserve(by_key_.size());
  for (const auto& [key, ws] : by_key_) out.push_back(ws);
  return out;
}

}  // namespace berth::gateway
