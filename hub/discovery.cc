#include "hub/discovery.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

json VersionInfo() {
  return {{"major", "1"},          {"minor", "32"},
          {"gitVersion", "v1.32.0-berth.0.1.0"},
          {"gitCommit", "berth"},  {"gitTreeState", "clean"},
          {"buildDate", "2026-11-23T00:00:00Z"},
          {"goVersion", "none (C++20)"}, {"compiler", "g++"},
          {"platform", "linux/amd64"}};
}

json ApiVersions() {
  // The core group: Events, Namespaces, ConfigMaps, Secrets (and, never stored, the core
  // workload kinds of kubectl's prune allowlist).
  return {{"kind", "APIVersions"}, {"versions", json::array({"v1"})},
          {"serverAddressByClientCIDRs", json::array()}};
}

namespace {
std::set<std::pair<std::string, std::string>> GroupVersions(const api::KindRegistry& r) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto* k : r.All()) out.insert({k->group, k->version});
  return out;
}

// Kubernetes version priority: v1 > v1beta2 > v1beta1 > v1alpha1 (GA, then beta, then alpha,
// higher numbers first). The first version is the group's preferred one.
int VersionRank(const std::string& v, int* major, int* minor) {
  *major = 0;
  *minor = 0;
  int stage = 3;  // GA
  std::sscanf(v.c_str(), "v%d", major);
  if (auto p = v.find("beta"); p != std::string::npos) {
    stage = 2;
    std::sscanf(v.c_str() + p + 4, "%d", minor);
  } else if (auto a = v.find("alpha"); a != std::string::npos) {
    stage = 1;
    std::sscanf(v.c_str() + a + 5, "%d", minor);
  }
  return stage;
}

json GroupJson(const std::string& group, std::vector<std::string> versions) {
  std::sort(versions.begin(), versions.end(), [](const std::string& a, const std::string& b) {
    int amaj, amin, bmaj, bmin;
    int as = VersionRank(a, &amaj, &amin), bs = VersionRank(b, &bmaj, &bmin);
    if (as != bs) return as > bs;
    if (amaj != bmaj) return amaj > bmaj;
    return amin > bmin;
  });
  json vs = json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group}, {"versions", vs}, {"preferredVersion", vs.empty() ? json(nullptr) : vs[0]}};
}
}  // namespace

json ApiGroupList(const api::KindRegistry& registry) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& [g, v] : GroupVersions(registry)) {
    if (!g.empty()) groups[g].push_back(v);
  }
  json list = json::array();
  for (const auto& [g, vs] : groups) list.push_back(GroupJson(g, vs));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}};
}

json ApiGroup(const api::KindRegistry& registry, const std::string& group) {
  std::vector<std::string> versions;
  for (const auto& [g, v] : GroupVersions(registry)) {
    if (g == group) versions.push_back(v);
  }
  if (versions.empty()) return nullptr;
  json out = GroupJson(group, versions);
  out["kind"] = "APIGroup";
  out["apiVersion"] = "v1";
  return out;
}

json ApiResourceList(const api::KindRegistry& registry, const std::string& group,
                     const std::string& version) {
  json resources = json::array();
  bool any = false;
  for (const auto* k : registry.All()) {
    if (k->group != group || k->version != version) continue;
    any = true;
    json r = {{"name", k->plural},
              {"singularName", k->singular},
              {"namespaced", k->namespaced},
              {"kind", k->kind},
              {"verbs", k->served() ? json({"create", "delete", "get", "list", "patch", "update", "watch"})
                                    : json({"get", "list", "watch"})},
              {"shortNames", k->short_names},
              {"categories", k->categories},
              {"storageVersionHash", ""}};
    resources.push_back(r);
    if (k->has_status) {
      resources.push_back({{"name", k->plural + "/status"},
                           {"singularName", ""},
                           {"namespaced", k->namespaced},
                           {"kind", k->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
    if (k->has_scale()) {
      resources.push_back({{"name", k->plural + "/scale"},
                           {"singularName", ""},
                           {"namespaced", k->namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  if (!any) return nullptr;
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

json OpenApiV3Root(const api::KindRegistry& registry) {
  json paths = json::object();
  for (const auto& [g, v] : GroupVersions(registry)) {
    std::string key = g.empty() ? "api/" + v : "apis/" + g + "/" + v;
    paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=berth"}};
  }
  return {{"paths", paths}};
}

json OpenApiV3Group(const api::KindRegistry& registry, const std::string& group,
                    const std::string& version) {
  json schemas = json::object();
  json paths = json::object();
  bool any = false;
  auto schema_name = [&](const api::KindInfo& k) {
    if (k.group.empty()) return "io.k8s.api.core." + k.version + "." + k.kind;
    // Reverse-DNS like Kubernetes CRDs: dev.berth.v1alpha1.Workspace.
    std::string rev;
    std::string g = k.group;
    size_t pos;
    while ((pos = g.rfind('.')) != std::string::npos) {
      rev += g.substr(pos + 1) + ".";
      g = g.substr(0, pos);
    }
    rev += g;
    return rev + "." + k.version + "." + k.kind;
  };
  for (const auto* k : registry.All()) {
    if (k->group != group || k->version != version) continue;
    any = true;
    json s = k->schema;
    s["x-kubernetes-group-version-kind"] =
        json::array({{{"group", k->group}, {"version", k->version}, {"kind", k->kind}}});
    const std::string name = schema_name(*k);
    schemas[name] = s;
    json list = {{"type", "object"},
                 {"description", k->kind + "List is a list of " + k->kind + " objects."},
                 {"required", {"items"}},
                 {"properties",
                  {{"apiVersion", {{"type", "string"}}},
                   {"kind", {{"type", "string"}}},
                   {"metadata", {{"type", "object"}}},
                   {"items", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/" + name}}}}}}},
                 {"x-kubernetes-group-version-kind",
                  json::array({{{"group", k->group}, {"version", k->version}, {"kind", k->list_kind()}}})}};
    schemas[name + "List"] = list;
    const std::string base = (k->group.empty() ? "/api/" : "/apis/" + k->group + "/") + k->version +
                             (k->namespaced ? "/namespaces/{namespace}/" : "/") + k->plural;
    json ok = {{"200", {{"description", "OK"},
                        {"content", {{"application/json",
                                      {{"schema", {{"$ref", "#/components/schemas/" + name}}}}}}}}}};
    json gvk = {{"group", k->group}, {"version", k->version}, {"kind", k->kind}};
    // kubectl checks these PATCH parameters to decide that the server validates fields
    // itself (fieldValidation=Strict), instead of validating client-side against OpenAPI v2.
    json params = json::array();
    for (const char* p : {"fieldValidation", "dryRun", "fieldManager"}) {
      params.push_back({{"name", p}, {"in", "query"}, {"schema", {{"type", "string"}}}});
    }
    paths[base + "/{name}"] = {
        {"get", {{"operationId", "read" + k->kind}, {"responses", ok},
                 {"x-kubernetes-action", "get"}, {"x-kubernetes-group-version-kind", gvk}}},
        {"put", {{"operationId", "replace" + k->kind}, {"responses", ok}, {"parameters", params},
                 {"x-kubernetes-action", "put"}, {"x-kubernetes-group-version-kind", gvk}}},
        {"patch", {{"operationId", "patch" + k->kind}, {"responses", ok}, {"parameters", params},
                   {"x-kubernetes-action", "patch"}, {"x-kubernetes-group-version-kind", gvk}}},
        {"delete", {{"operationId", "delete" + k->kind}, {"responses", ok},
                    {"x-kubernetes-action", "delete"}, {"x-kubernetes-group-version-kind", gvk}}}};
    paths[base] = {
        {"get", {{"operationId", "list" + k->kind}, {"responses", ok},
                 {"x-kubernetes-action", "list"}, {"x-kubernetes-group-version-kind", gvk}}},
        {"post", {{"operationId", "create" + k->kind}, {"responses", ok}, {"parameters", params},
                  {"x-kubernetes-action", "post"}, {"x-kubernetes-group-version-kind", gvk}}}};
  }
  if (!any) return nullptr;
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Berth"}, {"version", version}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

bool WantsTable(const std::string& accept) {
  return accept.find("as=Table") != std::string::npos;
}

std::string HumanDuration(Clock::Duration d) {
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  int64_t h = m / 60;
  if (h < 48) return std::to_string(h) + "h" + (m % 60 && h < 8 ? std::to_string(m % 60) + "m" : "");
  int64_t days = h / 24;
  if (days < 8) return std::to_string(days) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
  if (days < 365 * 2) return std::to_string(days) + "d";
  return std::to_string(days / 365) + "y";
}

json ToTable(const api::KindInfo& kind, const std::vector<json>& items, Clock::TimePoint now,
             const std::string& include_object, const std::string& list_resource_version,
             const std::string& continue_token) {
  json cols = json::array();
  cols.push_back({{"name", "Name"}, {"type", "string"}, {"format", "name"},
                  {"description", "Name of the object"}, {"priority", 0}});
  for (const auto& c : kind.columns) {
    cols.push_back({{"name", c.name}, {"type", c.type == "date" ? "string" : c.type},
                    {"format", c.type == "date" ? "date" : ""}, {"description", c.description},
                    {"priority", c.priority}});
  }
  cols.push_back({{"name", "Age"}, {"type", "string"}, {"format", ""},
                  {"description", "Time since creation"}, {"priority", 0}});
  json rows = json::array();
  for (const auto& item : items) {
    json cells = json::array({api::NameOf(item)});
    for (const auto& c : kind.columns) {
      json v = c.cell ? c.cell(item) : json(nullptr);
      cells.push_back(v.is_null() ? json("") : v);
    }
    Clock::TimePoint created;
    std::string ts = api::JsonPathGet(item, "metadata.creationTimestamp").is_string()
                         ? item["metadata"]["creationTimestamp"].get<std::string>()
                         : "";
    cells.push_back(!ts.empty() && ParseRfc3339(ts, &created) ? HumanDuration(now - created) : "<unknown>");
    json row = {{"cells", cells}};
    if (include_object == "Object") {
      row["object"] = item;
    } else if (include_object != "None") {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", item.contains("metadata") ? item["metadata"] : json::object()}};
    }
    rows.push_back(row);
  }
  json meta = {{"resourceVersion", list_resource_version}};
  if (!continue_token.empty()) meta["continue"] = continue_token;
  return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta},
          {"columnDefinitions", cols}, {"rows", rows}};
}

}  // namespace berth::hub
