#include "member-agent/kube_backend.h"

#include <spdlog/spdlog.h>

#include <set>

#include "api/rest_client.h"
#include "member-agent/readiness.h"

namespace berth::agent {

using nlohmann::json;

std::string ManagedSelector(const std::string& workspace) {
  std::string sel = std::string(kManagedByLabel) + "=" + kManagedByValue;
  if (!workspace.empty()) sel += std::string(",") + kWorkspaceLabel + "=" + workspace;
  return "labelSelector=" + QueryEscape(sel);
}

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
    {"DaemonSet", "apps/v1", "/apis/apps/v1", "daemonsets"},  // pre-pulls (prepull.h)
    {"Secret", "v1", "/api/v1", "secrets"},                    // delivered references
};
constexpr const KindPath& kStatefulSets = kKinds[0];
constexpr const KindPath& kDaemonSets = kKinds[3];

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
    c.push_back({"GET", "/api/v1/nodes", "", "nodes", "watch"});  // ?watch=true
    c.push_back({"GET", "/api/v1/pods", "", "pods", "watch"});
    c.push_back({"PATCH", "/api/v1/namespaces/{name}", "", "namespaces", "patch"});
    // Serving signals: each Ready pod's vLLM /metrics through the pod proxy (kube_serving.cc).
    c.push_back({"GET", "/api/v1/namespaces/{namespace}/pods/{name}/proxy/metrics", "", "pods/proxy", "get"});
    return c;
  }();
  return calls;
}

PodState PodStateFromJson(const json& pod) {
  PodState s;
  s.name = pod.value("/metadata/name"_json_pointer, std::string());
  s.revision = Label(pod, kRevisionLabel);
  for (const char* list : {"/status/initContainerStatuses", "/status/containerStatuses"}) {
    for (const auto& cs : pod.value(json::json_pointer(list), json::array()))
      s.restarts += cs.value("restartCount", 0);
  }
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
      s.reason = SchedulerMessageIsGpuShortage(s.message) ? "InsufficientGPU"
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

KubeBackend::~KubeBackend() {
  stopping_ = true;
  stop_cv_.notify_all();
  if (nodes_thread_.joinable()) nodes_thread_.join();
  if (pods_thread_.joinable()) pods_thread_.join();
}

namespace {

constexpr char kLivePods[] = "status.phase!=Succeeded,status.phase!=Failed";

std::string CacheKey(const json& obj) {
  return obj.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
         obj.value("/metadata/name"_json_pointer, std::string());
}

// Only what the inventory needs: bound node, GPU resources, phase (keeps 10k pods small).
json TrimPod(const json& pod) {
  json out = {{"metadata",
               {{"name", pod.value("/metadata/name"_json_pointer, std::string())},
                {"namespace", pod.value("/metadata/namespace"_json_pointer, std::string())}}},
              {"spec", {{"nodeName", pod.value("/spec/nodeName"_json_pointer, std::string())}}},
              {"status", {{"phase", pod.value("/status/phase"_json_pointer, std::string())}}}};
  for (const char* list : {"containers", "initContainers"}) {
    json trimmed = json::array();
    for (const auto& c :
         pod.value("/spec"_json_pointer, json::object()).value(list, json::array())) {
      trimmed.push_back({{"resources", c.value("resources", json::object())}});
    }
    out["spec"][list] = trimmed;
  }
  return out;
}

}  // namespace

bool KubeBackend::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_;
}

void KubeBackend::StartInventoryWatch() {
  if (nodes_thread_.joinable()) return;
  nodes_thread_ = std::thread([this] { WatchLoop("/api/v1/nodes", "", &nodes_, false); });
  pods_thread_ = std::thread([this] {
    WatchLoop("/api/v1/pods", "fieldSelector=" + QueryEscape(kLivePods), &pods_, true);
  });
}

bool KubeBackend::inventory_synced() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  return nodes_.synced && pods_.synced;
}

void KubeBackend::WatchLoop(const std::string& path, const std::string& query, Cache* cache,
                            bool trim_pods) {
  std::string rv;
  bool need_list = true;
  std::chrono::milliseconds backoff(1000);
  auto keep = [&](const json& obj) { return trim_pods ? TrimPod(obj) : obj; };
  while (!stopping_) {
    if (need_list) {
      auto list = client_->Get(path + (query.empty() ? "" : "?" + query));
      if (!list.ok()) {
        spdlog::warn("list {}: {} (retry in {} ms)", path, list.status().ToString(),
                     backoff.count());
        if (!SleepFor(backoff)) return;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      std::map<std::string, json> fresh;
      for (const auto& item : list->value("items", json::array()))
        fresh[CacheKey(item)] = keep(item);
      rv = list->value("/metadata/resourceVersion"_json_pointer, std::string());
      std::lock_guard<std::mutex> lock(cache_mu_);
      cache->objects = std::move(fresh);
      cache->synced = true;
      need_list = false;
    }
    bool gone = false, any_event = false;
    std::string watch_path = path + "?watch=true&allowWatchBookmarks=true" +
                             (query.empty() ? "" : "&" + query) +
                             (rv.empty() ? "" : "&resourceVersion=" + rv);
    Status s = client_->Watch(
        watch_path,
        [&](const json& event) {
          any_event = true;
          std::string type = event.value("type", "");
          const json obj = event.value("object", json::object());
          if (type == "ERROR") {
            gone = obj.value("code", 0) == 410;
            return;
          }
          if (std::string v = obj.value("/metadata/resourceVersion"_json_pointer, std::string());
              !v.empty())
            rv = v;
          std::lock_guard<std::mutex> lock(cache_mu_);
          if (type == "ADDED" || type == "MODIFIED") {
            cache->objects[CacheKey(obj)] = keep(obj);
          } else if (type == "DELETED") {
            cache->objects.erase(CacheKey(obj));
          }
        },
        [&] { return stopping_.load() || gone; });
    if (stopping_) return;
    if (gone || s.code() == StatusCode::kGone) {
      need_list = true;
      continue;
    }
    if (!s.ok()) {
      spdlog::warn("watch {}: {} (resuming from resourceVersion {} in {} ms)", path, s.ToString(),
                   rv, backoff.count());
      if (!SleepFor(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    } else {
      backoff = std::chrono::milliseconds(1000);
      // The server ended the stream (its timeout); an immediately empty one is not a reason to
      // spin.
      if (!any_event && !SleepFor(std::chrono::milliseconds(1000))) return;
    }
  }
}

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
      m.revision = Label(item, kRevisionLabel);
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
  auto sets = client_->Get(CollectionPath(kStatefulSets, ns) + "?" + ManagedSelector(workspace));
  if (!sets.ok()) return sets.status();
  for (const auto& item : sets->value("items", json::array())) {
    StatefulSetState s;
    s.name = item.value("/metadata/name"_json_pointer, std::string());
    s.replicas = item.value("/spec/replicas"_json_pointer, 1);
    s.ready_replicas = item.value("/status/readyReplicas"_json_pointer, 0);
    out.statefulsets.push_back(s);
  }
  std::string sel = QueryEscape(std::string(kWorkspaceLabel) + "=" + workspace);
  auto pods = client_->Get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + sel);
  if (!pods.ok()) return pods.status();
  for (const auto& pod : pods->value("items", json::array()))
    out.pods.push_back(PodStateFromJson(pod));
  return out;
}

namespace {

bool IsPullFailure(const std::string& reason) {
  return reason == "ImagePullBackOff" || reason == "ErrImagePull" || reason == "InvalidImageName";
}

// The image a pre-pull pod template or pod warms: its first init container's.
std::string InitImage(const json& pod_spec) {
  const json inits = pod_spec.value("initContainers", json::array());
  return inits.empty() ? "" : inits[0].value("image", "");
}

}  // namespace

StatusOr<PrePullState> KubeBackend::ReadPrePull(const std::string& ns,
                                                const std::string& workspace) {
  PrePullState out;
  const std::string ds_sel = QueryEscape(std::string(kManagedByLabel) + "=" + kManagedByValue +
                                         "," + kPrePullLabel + "=" + workspace);
  auto sets = client_->Get(CollectionPath(kDaemonSets, ns) + "?labelSelector=" + ds_sel);
  if (!sets.ok()) return sets.status();
  const json items = sets->value("items", json::array());
  if (items.empty()) return out;
  const json& ds = items[0];
  out.found = true;
  out.image = InitImage(ds.value("/spec/template/spec"_json_pointer, json::object()));
  // desiredNumberScheduled describes the spec only once the controller has observed it.
  const json status = ds.value("status", json::object());
  if (status.value("observedGeneration", int64_t{0}) >=
          ds.value("/metadata/generation"_json_pointer, int64_t{0}) &&
      status.contains("desiredNumberScheduled")) {
    out.desired_nodes = status.value("desiredNumberScheduled", 0);
  }
  const std::string pod_sel = QueryEscape(std::string(kPrePullLabel) + "=" + workspace);
  auto pods = client_->Get("/api/v1/namespaces/" + ns + "/pods?labelSelector=" + pod_sel);
  if (!pods.ok()) return pods.status();
  for (const auto& pod : pods->value("items", json::array())) {
    if (pod.contains("/metadata/deletionTimestamp"_json_pointer)) continue;
    // Pods of an older template are being replaced (maxUnavailable 100%): not this pull.
    if (InitImage(pod.value("spec", json::object())) != out.image) continue;
    const std::string node = pod.value("/spec/nodeName"_json_pointer, std::string());
    bool done = false;
    for (const auto& c : pod.value("/status/conditions"_json_pointer, json::array())) {
      done |= c.value("type", "") == "Ready" && c.value("status", "") == "True";
    }
    const json inits = pod.value("/status/initContainerStatuses"_json_pointer, json::array());
    if (!inits.empty()) {
      const json state = inits[0].value("state", json::object());
      // The pull container ran: the image is on the node (the pause container may still start).
      done |= state.contains("terminated") && state["terminated"].value("exitCode", -1) == 0;
      const std::string reason = state.value("/waiting/reason"_json_pointer, std::string());
      if (!done && IsPullFailure(reason)) {
        if (out.failed_nodes++ == 0) {
          out.reason = reason;
          out.message = "pod " + pod.value("/metadata/name"_json_pointer, std::string()) +
                        (node.empty() ? "" : " on " + node) + ": " +
                        state.value("/waiting/message"_json_pointer, std::string(reason));
        }
        continue;
      }
    }
    out.done_nodes += done;
  }
  return out;
}

StatusOr<std::vector<std::string>> KubeBackend::PrePulledImages() {
  std::string sel =
      QueryEscape(std::string(kManagedByLabel) + "=" + kManagedByValue + "," + kPrePullLabel);
  auto list = client_->Get(CollectionPath(kDaemonSets, "") + "?labelSelector=" + sel);
  if (!list.ok()) return list.status();
  std::vector<std::string> images;
  for (const auto& ds : list->value("items", json::array())) {
    const json status = ds.value("status", json::object());
    const int desired = status.value("desiredNumberScheduled", 0);
    // Done: the controller saw this spec, and every node it schedules to runs a Ready pod
    // of it (the init container, i.e. the pull, finished there).
    const bool done =
        desired > 0 && status.value("numberReady", 0) >= desired &&
        status.value("updatedNumberScheduled", 0) >= desired &&
        status.value("observedGeneration", int64_t{0}) >=
            ds.value("/metadata/generation"_json_pointer, int64_t{0});
    if (!done) continue;
    const json inits =
        ds.value("/spec/template/spec/initContainers"_json_pointer, json::array());
    if (!inits.empty()) images.push_back(inits[0].value("image", ""));
  }
  return images;
}

StatusOr<GpuInventory> KubeBackend::ReadInventory() {
  StatusOr<GpuInventory> inv = [&]() -> StatusOr<GpuInventory> {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      if (nodes_.synced && pods_.synced) {
        json nodes = json::array(), pods = json::array();
        for (const auto& [k, v] : nodes_.objects) nodes.push_back(v);
        for (const auto& [k, v] : pods_.objects) pods.push_back(v);
        return ComputeInventory(nodes, pods);
      }
    }
    auto nodes = client_->Get("/api/v1/nodes");
    if (!nodes.ok()) return nodes.status();
    auto pods = client_->Get("/api/v1/pods?fieldSelector=" + QueryEscape(kLivePods));
    if (!pods.ok()) return pods.status();
    return ComputeInventory(nodes->value("items", json::array()),
                            pods->value("items", json::array()));
  }();
  if (!inv.ok()) return inv;
  inv->startup = startup_rates_;
  // Pre-pull results are best effort: without them the hub waits for its pre-pull timeout,
  // which is better than reporting no inventory at all (e.g. RBAC lacking daemonsets).
  auto images = PrePulledImages();
  std::lock_guard<std::mutex> lock(prepull_mu_);
  if (!images.ok()) {
    if (images.status().ToString() != prepull_error_) {
      prepull_error_ = images.status().ToString();
      spdlog::warn("cannot read pre-pull DaemonSets (cachedImages will not show pre-pulls): {}",
                   prepull_error_);
    }
    return inv;
  }
  prepull_error_.clear();
  std::set<std::string> all(inv->cached_images.begin(), inv->cached_images.end());
  all.insert(images->begin(), images->end());
  inv->cached_images.assign(all.begin(), all.end());
  return inv;
}

}  // namespace berth::agent
