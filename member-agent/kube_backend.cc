#include "member-agent/kube_backend.h"

#include <spdlog/spdlog.h>

#include "api/rest_client.h"

namespace berth::agent {

using nlohmann::json;

namespace {

struct KindPath {
  const char* kind;
  const char* api_version;
  const char* prefix;  // /api/v1 or /apis/apps/v1
  const char* plural;
};
constexpr KindPath kKinds[] = {
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets"},
    {"Service", "v1", "/api/v1", "services"},
    {"ConfigMap", "v1", "/api/v1", "configmaps"},
};

std::string QueryEscape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string ManagedSelector(const std::string& workspace) {
  std::string sel = std::string(kManagedByLabel) + "=" + kManagedByValue;
  if (!workspace.empty()) sel += std::string(",") + kWorkspaceLabel + "=" + workspace;
  return "labelSelector=" + QueryEscape(sel);
}

std::string CollectionPath(const KindPath& k, const std::string& ns) {
  std::string p = k.prefix;
  if (!ns.empty()) p += "/namespaces/" + ns;
  return p + "/" + k.plural;
}

std::string Label(const json& obj, const char* key) {
  const json labels = obj.value("/metadata/labels"_json_pointer, json::object());
  auto it = labels.find(key);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

PodState PodStateFromJson(const json& pod) {
  PodState s;
  s.name = pod.value("/metadata/name"_json_pointer, std::string());
  s.node = pod.value("/spec/nodeName"_json_pointer, std::string());
  s.terminating = pod.contains("/metadata/deletionTimestamp"_json_pointer);
  for (const auto& ref : pod.value("/metadata/ownerReferences"_json_pointer, json::array())) {
    if (ref.value("kind", "") == "StatefulSet") s.statefulset = ref.value("name", "");
  }
  for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    std::string type = c.value("type", "");
    if (type == "Ready" && c.value("status", "") == "True") s.ready = true;
    if (type == "PodScheduled" && c.value("status", "") == "False") {
      s.message = c.value("message", "");
      s.reason = s.message.find("nvidia.com/") != std::string::npos
                     ? "InsufficientGPU"
                     : c.value("reason", "Unschedulable");
    }
  }
  if (s.ready || !s.reason.empty()) return s;
  for (const auto& cs : pod.value("/status/containerStatuses"_json_pointer, json::array())) {
    if (auto w = cs.find("state"); w != cs.end() && w->contains("waiting")) {
      s.reason = (*w)["waiting"].value("reason", "ContainerCreating");
      s.message = (*w)["waiting"].value("message", "");
      if (s.reason == "CrashLoopBackOff" || s.reason == "ImagePullBackOff" ||
          s.reason == "ErrImagePull") {
        return s;
      }
    }
  }
  if (s.reason.empty()) {
    std::string phase = pod.value("/status/phase"_json_pointer, std::string());
    s.reason = phase == "Running" ? "ModelLoading" : "ContainerCreating";
    s.message = phase == "Running" ? "container running; /health not ready yet" : "";
  }
  return s;
}

}  // namespace

const std::vector<KubeApiCall>& KubeBackend::ApiCalls() {
  static const std::vector<KubeApiCall> calls = [] {
    std::vector<KubeApiCall> c;
    for (const auto& k : kKinds) {
      std::string group = std::string(k.prefix) == "/api/v1" ? "" : "apps";
      std::string ns_coll = std::string(k.prefix) + "/namespaces/{namespace}/" + k.plural;
      c.push_back({"PATCH", ns_coll + "/{name}", group, k.plural, "patch"});
      c.push_back({"DELETE", ns_coll + "/{name}", group, k.plural, "delete"});
      c.push_back({"GET", ns_coll, group, k.plural, "list"});
      c.push_back({"GET", std::string(k.prefix) + "/" + k.plural, group, k.plural, "list"});
    }
    c.push_back({"GET", "/api/v1/namespaces/{namespace}/pods", "", "pods", "list"});
    c.push_back({"GET", "/api/v1/pods", "", "pods", "list"});
    c.push_back({"GET", "/api/v1/nodes", "", "nodes", "list"});
    c.push_back({"PATCH", "/api/v1/namespaces/{name}", "", "namespaces", "patch"});
    return c;
  }();
  return calls;
}

StatusOr<std::string> KubeObjectPath(const ObjectKey& key) {
  for (const auto& k : kKinds) {
    if (key.kind == k.kind && key.api_version == k.api_version) {
      if (key.namespace_.empty() || key.name.empty()) {
        return Status::Invalid(key.ToString() +
                               ": metadata.namespace and metadata.name are required");
      }
      return CollectionPath(k, key.namespace_) + "/" + key.name;
    }
  }
  return Status::Invalid("the agent does not manage " + key.api_version + " " + key.kind);
}

StatusOr<std::unique_ptr<KubeBackend>> KubeBackend::Create(ClientConfig config) {
  auto client = RestClient::Create(std::move(config));
  if (!client.ok()) return client.status().WithContext("kube backend");
  return std::unique_ptr<KubeBackend>(new KubeBackend(std::move(*client)));
}

KubeBackend::KubeBackend(std::unique_ptr<RestClient> client) : client_(std::move(client)) {}
KubeBackend::~KubeBackend() = default;

Status KubeBackend::Apply(const json& object) {
  ObjectKey key = KeyOf(object);
  auto path = KubeObjectPath(key);
  if (!path.ok()) return path.status();
  const std::string body = object.dump();
  auto applied = client_->Apply(*path, body, kFieldManager, /*force=*/true);
  if (applied.ok()) return Status::Ok();
  if (applied.status().code() != StatusCode::kNotFound) return applied.status();
  // Most likely the namespace is missing: create it, then apply again.
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", key.namespace_}}}};
  auto created =
      client_->Apply("/api/v1/namespaces/" + key.namespace_, ns.dump(), kFieldManager, true);
  if (!created.ok()) return created.status().WithContext("create namespace " + key.namespace_);
  spdlog::info("created namespace {}", key.namespace_);
  return client_->Apply(*path, body, kFieldManager, true).status();
}

StatusOr<std::vector<ManagedObject>> KubeBackend::ListManaged(const std::string& ns,
                                                              const std::string& workspace) {
  std::vector<ManagedObject> out;
  for (const auto& k : kKinds) {
    auto list = client_->Get(CollectionPath(k, ns) + "?" + ManagedSelector(workspace));
    if (!list.ok()) return list.status();
    for (const auto& item : list->value("items", json::array())) {
      if (Label(item, kManagedByLabel) != kManagedByValue) continue;  // defence in depth
      ManagedObject m;
      m.key = {k.api_version, k.kind, item.value("/metadata/namespace"_json_pointer, std::string()),
               item.value("/metadata/name"_json_pointer, std::string())};
      m.workspace = Label(item, kWorkspaceLabel);
      m.applied_hash = item.value("/metadata/annotations"_json_pointer, json::object())
                           .value(kAppliedHashAnnotation, std::string());
      out.push_back(std::move(m));
    }
  }
  return out;
}

Status KubeBackend::Delete(const ObjectKey& key) {
  auto path = KubeObjectPath(key);
  if (!path.ok()) return path.status();
  json options = {
      {"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", "Background"}};
  auto deleted = client_->Delete(*path, options);
  if (!deleted.ok() && deleted.status().code() != StatusCode::kNotFound) return deleted.status();
  return Status::Ok();
}

StatusOr<WorkloadState> KubeBackend::ReadWorkload(const std::string& ns,
                                                  const std::string& workspace) {
  WorkloadState out;
  auto sets = client_->Get(CollectionPath(kKinds[0], ns) + "?" + ManagedSelector(workspace));
  if (!sets.ok()) return sets.status();
  for (const auto& item : sets->value("items", json::array())) {
    StatefulSetState s;
    s.name = item.value("/metadata/name"_json_pointer, std::string());
    s.replicas = item.value("/spec/replicas"_json_pointer, 1);
    s.ready_replicas = item.value("/status/readyReplicas"_json_pointer, 0);
    // Pods of an older revision still count as ready while they roll; the hub compares
    // revisions itself, so report what serves now.
    out.statefulsets.push_back(s);
  }
  std::string sel = QueryEscape(std::string(kWorkspaceLabel) + "=" + workspace);
  auto pods = client_->Get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + sel);
  if (!pods.ok()) return pods.status();
  for (const auto& pod : pods->value("items", json::array()))
    out.pods.push_back(PodStateFromJson(pod));
  return out;
}

StatusOr<GpuInventory> KubeBackend::ReadInventory() {
  auto nodes = client_->Get("/api/v1/nodes");
  if (!nodes.ok()) return nodes.status();
  auto pods = client_->Get("/api/v1/pods?fieldSelector=" +
                           QueryEscape("status.phase!=Succeeded,status.phase!=Failed"));
  if (!pods.ok()) return pods.status();
  return ComputeInventory(nodes->value("items", json::array()),
                          pods->value("items", json::array()));
}

}  // namespace berth::agent
