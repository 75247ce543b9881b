// The kube backend against a fake Kubernetes API server on loopback (a cpprestsdk
// listener serving hand-built responses): no API server can run in this environment.
// Checks the REST paths, server-side apply parameters, label-selector lists, deletes,
// readiness and inventory parsing, that every request is in KubeBackend::ApiCalls(), and
// that a second reconcile pass sends no write.
#include "member-agent/kube_backend.h"

#include <cpprest/http_listener.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "member-agent/prepull.h"
#include "member-agent/reconciler.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"

namespace berth::agent {
namespace {

using nlohmann::json;
namespace http = web::http;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

struct Request {
  std::string method, path, query, content_type;
  json body;
};

// A tiny Kubernetes API: objects by path, label-selector lists, canned nodes and pods.
class FakeKubeApi {
 public:
  FakeKubeApi() : port_(FreePort()) {
    listener_ = std::make_unique<http::experimental::listener::http_listener>(
        web::uri("http://127.0.0.1:" + std::to_string(port_)));
    listener_->support([this](http::http_request req) { Handle(req); });
    listener_->open().wait();
  }
  ~FakeKubeApi() { listener_->close().wait(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int writes() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& r : requests_) n += r.method != "GET";
    return n;
  }
  // Vectors, not json: `set_nodes({node})` with a json parameter is an array for clang and
  // the node itself for gcc (CWG 1467 vs 2137).
  void set_nodes(const std::vector<json>& nodes) {
    std::lock_guard<std::mutex> lock(mu_);
    nodes_ = json(nodes);
  }
  void set_pods(const std::vector<json>& pods) {
    std::lock_guard<std::mutex> lock(mu_);
    pods_ = json(pods);
  }
  // Events the next watch of `path` returns (then the stream ends, as a server timeout would).
  void PushWatchEvent(const std::string& path, json event) {
    std::lock_guard<std::mutex> lock(mu_);
    watch_events_[path].push_back(std::move(event));
  }
  int CountGets(const std::string& path, bool watch) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& r : requests_) {
      bool is_watch = r.query.find("watch=true") != std::string::npos;
      n += r.method == "GET" && r.path == path && is_watch == watch;
    }
    return n;
  }
  void set_status(const std::string& path, json status) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[path]["status"] = std::move(status);
  }
  // The text GET .../pods/<pod>:<port>/proxy/metrics answers (vLLM's /metrics).
  void set_metrics(const std::string& pod, std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    metrics_[pod] = std::move(text);
  }
  bool has(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_.count(path) > 0;
  }

 private:
  static bool Matches(const json& obj, const std::string& selector) {
    std::stringstream ss(selector);
    std::string term;
    const json labels = obj.value("/metadata/labels"_json_pointer, json::object());
    while (std::getline(ss, term, ',')) {
      auto eq = term.find('=');
      if (eq == std::string::npos) {  // "key": the label exists
        if (!labels.contains(term)) return false;
        continue;
      }
      std::string k = term.substr(0, eq), v = term.substr(eq + 1);
      if (labels.value(k, "") != v) return false;
    }
    return true;
  }
  // Returns the raw body for a watch request, or nullopt.
  std::optional<std::string> ServeWatch(const Request& r) {
    if (r.query.find("watch=true") == std::string::npos) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    std::string body;
    for (const auto& e : watch_events_[r.path]) body += e.dump() + "\n";
    watch_events_[r.path].clear();
    return body;
  }
  static json Status(int code, const std::string& reason) {
    return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
            {"reason", reason}, {"code", code},       {"message", reason}};
  }

  void Handle(http::http_request req) {
    Request r;
    r.method = req.method();
    r.path = web::uri::decode(req.relative_uri().path());
    r.query = web::uri::decode(req.relative_uri().query());
    r.content_type = req.headers().content_type();
    std::string body = req.extract_string(/*ignore_content_type=*/true).get();  // test-only
    if (!body.empty()) r.body = json::parse(body, nullptr, false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    static const std::regex proxy(R"(^/api/v1/namespaces/[^/]+/pods/([^/:]+):5000/proxy/metrics$)");
    std::smatch pm;
    if (std::regex_match(r.path, pm, proxy)) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = metrics_.find(pm[1]);
      if (it == metrics_.end()) {
        req.reply(http::status_codes::NotFound, "no such pod", "text/plain");
      } else {
        req.reply(http::status_codes::OK, it->second, "text/plain; version=0.0.4");
      }
      return;
    }
    if (auto events = ServeWatch(r)) {
      req.reply(http::status_codes::OK, *events, "application/json");
      return;
    }
    auto [code, reply] = Serve(r);
    req.reply(static_cast<http::status_code>(code), reply.dump(), "application/json");
  }

  std::pair<int, json> Serve(const Request& r) {
    std::lock_guard<std::mutex> lock(mu_);
    auto q = web::uri::split_query(r.query);
    std::string selector = q.count("labelSelector") ? q["labelSelector"] : "";
    static const std::regex ns_obj(
        R"(^/(api/v1|apis/apps/v1)/namespaces/([^/]+)/([^/]+)/([^/]+)$)");
    static const std::regex ns_coll(R"(^/(api/v1|apis/apps/v1)/namespaces/([^/]+)/([^/]+)$)");
    static const std::regex all_coll(R"(^/(api/v1|apis/apps/v1)/([^/]+)$)");
    std::smatch m;
    if (r.method == "PATCH" &&
        std::regex_match(r.path, m, std::regex(R"(^/api/v1/namespaces/([^/]+)$)"))) {
      namespaces_.insert(m[1]);
      return {200, r.body};
    }
    if (std::regex_match(r.path, m, ns_obj)) {
      if (r.method == "PATCH") {
        if (!namespaces_.count(m[2])) return {404, Status(404, "NotFound")};
        json obj = r.body;
        if (objects_.count(r.path) && objects_[r.path].contains("status"))
          obj["status"] = objects_[r.path]["status"];
        objects_[r.path] = obj;
        return {200, obj};
      }
      if (r.method == "DELETE") {
        if (!objects_.erase(r.path)) return {404, Status(404, "NotFound")};
        return {200, Status(200, "Success")};
      }
    }
    if (r.method == "GET") {
      json items = json::array();
      if (r.path == "/api/v1/nodes") {
        return {
            200,
            {{"kind", "NodeList"}, {"metadata", {{"resourceVersion", "5"}}}, {"items", nodes_}}};
      }
      if (r.path == "/api/v1/pods" || (std::regex_match(r.path, m, ns_coll) && m[3] == "pods")) {
        for (const auto& p : pods_)
          if (Matches(p, selector)) items.push_back(p);
        return {200, {{"kind", "PodList"}, {"items", items}}};
      }
      std::string prefix;
      if (std::regex_match(r.path, m, ns_coll))
        prefix = r.path + "/";
      else if (std::regex_match(r.path, m, all_coll))
        prefix = "/" + std::string(m[1]) + "/namespaces/";
      if (!prefix.empty()) {
        std::string plural = "/" + r.path.substr(r.path.rfind('/') + 1) + "/";
        for (const auto& [path, obj] : objects_) {
          if (path.rfind(prefix, 0) == 0 && path.find(plural) != std::string::npos &&
              Matches(obj, selector)) {
            items.push_back(obj);
          }
        }
        return {200, {{"kind", "List"}, {"items", items}}};
      }
    }
    return {404, Status(404, "NotFound")};
  }

  int port_;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  std::mutex mu_;
  std::vector<Request> requests_;
  std::map<std::string, json> objects_;
  std::map<std::string, std::vector<json>> watch_events_;
  std::set<std::string> namespaces_;
  json nodes_ = json::array();
  json pods_ = json::array();
  std::map<std::string, std::string> metrics_;
};

class KubeBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClientConfig c;
    c.server = api_.url();
    auto b = KubeBackend::Create(c);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(*b);
  }
  // Every request the backend sent must be declared in ApiCalls() (the RBAC list).
  void ExpectOnlyDeclaredCalls() {
    for (const auto& r : api_.requests()) {
      bool declared = false;
      for (const auto& call : KubeBackend::ApiCalls()) {
        std::string re = std::regex_replace(call.path, std::regex(R"(\{[a-z]+\})"), "[^/]+");
        if (call.method == r.method && std::regex_match(r.path, std::regex(re))) declared = true;
      }
      EXPECT_TRUE(declared) << r.method << " " << r.path << " is not in KubeBackend::ApiCalls()";
    }
  }
  FakeKubeApi api_;
  std::unique_ptr<KubeBackend> backend_;
};

json ConfigMap(const std::string& ns, const std::string& name, const std::string& ws) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", {{kManagedByLabel, kManagedByValue}, {kWorkspaceLabel, ws}}},
            {"annotations", {{kAppliedHashAnnotation, "abc"}}}}},
          {"data", {{"k", "v"}}}};
}

TEST_F(KubeBackendTest, ServerSideApplyToTheRightPathCreatingTheNamespaceOnce) {
  Status applied = backend_->Apply(ConfigMap("models", "phi-inference-params", "phi"));
  ASSERT_TRUE(applied.ok()) << applied.ToString();
  auto reqs = api_.requests();
  ASSERT_EQ(reqs.size(), 3u);  // 404 (no namespace), namespace apply, object apply
  EXPECT_EQ(reqs[0].path, "/api/v1/namespaces/models/configmaps/phi-inference-params");
  EXPECT_EQ(reqs[0].content_type, "application/apply-patch+yaml");
  EXPECT_NE(reqs[0].query.find("fieldManager=berth-agent"), std::string::npos);
  EXPECT_NE(reqs[0].query.find("force=true"), std::string::npos);
  EXPECT_EQ(reqs[1].path, "/api/v1/namespaces/models");
  EXPECT_EQ(reqs[1].body["kind"], "Namespace");
  ASSERT_TRUE(backend_->Apply(ConfigMap("models", "other", "phi")).ok());
  EXPECT_EQ(api_.requests().size(), 4u);

  json sts = {{"apiVersion", "apps/v1"},
              {"kind", "StatefulSet"},
              {"metadata", {{"name", "phi"}, {"namespace", "models"}}}};
  ASSERT_TRUE(backend_->Apply(sts).ok());
  EXPECT_EQ(api_.requests().back().path, "/apis/apps/v1/namespaces/models/statefulsets/phi");
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "models"}}}};
  EXPECT_EQ(backend_->Apply(pod).code(), StatusCode::kInvalid);
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, ListsByLabelAndDeletes) {
  ASSERT_TRUE(backend_->Apply(ConfigMap("models", "a-params", "a")).ok());
  ASSERT_TRUE(backend_->Apply(ConfigMap("models", "b-params", "b")).ok());
  auto all = backend_->ListManaged("", "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 2u);
  auto only_a = backend_->ListManaged("models", "a");
  ASSERT_TRUE(only_a.ok());
  ASSERT_EQ(only_a->size(), 1u);
  EXPECT_EQ((*only_a)[0].key.name, "a-params");
  EXPECT_EQ((*only_a)[0].applied_hash, "abc");
  bool selector_sent = false;
  for (const auto& r : api_.requests()) {
    if (r.query.find("labelSelector=app.kubernetes.io/managed-by=berth,berth.dev/workspace=a") !=
        std::string::npos) {
      selector_sent = true;
    }
  }
  EXPECT_TRUE(selector_sent);
  ASSERT_TRUE(backend_->Delete((*only_a)[0].key).ok());
  EXPECT_FALSE(api_.has("/api/v1/namespaces/models/configmaps/a-params"));
  EXPECT_TRUE(backend_->Delete((*only_a)[0].key).ok());  // already gone: fine
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, InventoryFromNodesAndPodsIncludingMig) {
  json labels = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"},
                 {"nvidia.com/gpu.memory", "81559"},
                 {"nvidia.com/gpu.count", "8"},
                 {"nvidia.com/cuda.driver.major", "550"},
                 {"nvidia.com/cuda.driver.minor", "54"},
                 {"nvidia.com/cuda.driver.rev", "15"},
                 {"nvidia.com/cuda.runtime.major", "12"},
                 {"nvidia.com/cuda.runtime.minor", "4"}};
  json mig_labels = labels;
  mig_labels["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb";
  mig_labels["nvidia.com/mig.config"] = "all-1g.10gb";
  auto node = [](const std::string& name, json l, json alloc) {
    return json{
        {"metadata", {{"name", name}, {"labels", l}}},
        {"status",
         {{"allocatable", alloc}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  };
  api_.set_nodes({node("h100-0", labels, {{"nvidia.com/gpu", "8"}}),
                  node("h100-mig", mig_labels, {{"nvidia.com/mig-1g.10gb", "56"}})});
  auto pod = [](const std::string& node, json req) {
    return json{
        {"spec", {{"nodeName", node}, {"containers", {{{"resources", {{"requests", req}}}}}}}},
        {"status", {{"phase", "Running"}}}};
  };
  api_.set_pods({pod("h100-0", {{"nvidia.com/gpu", "6"}}),
                 pod("h100-mig", {{"nvidia.com/mig-1g.10gb", "7"}})});
  auto inv = backend_->ReadInventory();
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->nodes.size(), 2u);
  EXPECT_EQ(inv->nodes[0].free_gpus, 2);
  EXPECT_EQ(inv->nodes[0].gpu_product, "H100-80GB");
  EXPECT_EQ(inv->nodes[1].free_gpus, 49);
  EXPECT_EQ(inv->nodes[1].slices_per_gpu, 7);
  EXPECT_EQ(inv->total_gpus(), 16);
  EXPECT_EQ(inv->free_gpus(), 2 + 7);
  bool live_pods_only = false;
  for (const auto& r : api_.requests()) {
    if (r.path == "/api/v1/pods")
      live_pods_only = r.query.find("status.phase!=Succeeded") != std::string::npos;
  }
  EXPECT_TRUE(live_pods_only);
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, InventoryFromAWatchCacheAfterOneList) {
  auto node = [](const std::string& name, int gpus) {
    return json{{"metadata",
                 {{"name", name},
                  {"resourceVersion", "6"},
                  {"labels", {{"nvidia.com/gpu.product", "NVIDIA-L4"}}}}},
                {"status",
                 {{"allocatable", {{"nvidia.com/gpu", std::to_string(gpus)}}},
                  {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  };
  api_.set_nodes({node("l4-0", 4)});
  backend_->StartInventoryWatch();
  for (int i = 0; i < 100 && !backend_->inventory_synced(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(backend_->inventory_synced());
  auto inv = backend_->ReadInventory();
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->nodes.size(), 1u);
  // A node added and a pod bound arrive as watch events; no new list is needed.
  api_.PushWatchEvent("/api/v1/nodes", {{"type", "ADDED"}, {"object", node("l4-1", 2)}});
  json pod = {{"metadata", {{"name", "p"}, {"namespace", "x"}, {"resourceVersion", "7"}}},
              {"spec",
               {{"nodeName", "l4-1"},
                {"containers", {{{"resources", {{"limits", {{"nvidia.com/gpu", "2"}}}}}}}}}},
              {"status", {{"phase", "Running"}}}};
  api_.PushWatchEvent("/api/v1/pods", {{"type", "ADDED"}, {"object", pod}});
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = backend_->ReadInventory();
    seen = now.ok() && now->nodes.size() == 2 && now->free_gpus() == 4;
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(api_.CountGets("/api/v1/nodes", /*watch=*/false), 1);
  EXPECT_GE(api_.CountGets("/api/v1/nodes", /*watch=*/true), 1);
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, ReadinessFromStatefulSetAndPodStatus) {
  json sts = {{"apiVersion", "apps/v1"},
              {"kind", "StatefulSet"},
              {"metadata",
               {{"name", "phi"},
                {"namespace", "models"},
                {"labels", {{kManagedByLabel, kManagedByValue}, {kWorkspaceLabel, "phi"}}}}},
              {"spec", {{"replicas", 3}}}};
  ASSERT_TRUE(backend_->Apply(sts).ok());
  api_.set_status("/apis/apps/v1/namespaces/models/statefulsets/phi", {{"readyReplicas", 1}});
  auto pod = [](const std::string& name, json status) {
    return json{{"metadata",
                 {{"name", name},
                  {"labels", {{kWorkspaceLabel, "phi"}, {kRevisionLabel, "3"}}},
                  {"ownerReferences", {{{"kind", "StatefulSet"}, {"name", "phi"}}}}}},
                {"status", status}};
  };
  api_.set_pods({
      pod("phi-0",
          {{"phase", "Running"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}),
      pod("phi-1", {{"phase", "Pending"},
                    {"conditions",
                     {{{"type", "PodScheduled"},
                       {"status", "False"},
                       {"reason", "Unschedulable"},
                       {"message", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}}}}),
      pod("phi-2",
          {{"phase", "Pending"},
           {"containerStatuses",
            {{{"restartCount", 2},
              {"state", {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "429"}}}}}}}}}),
  });
  auto w = backend_->ReadWorkload("models", "phi");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->statefulsets.size(), 1u);
  EXPECT_EQ(w->statefulsets[0].ready_replicas, 1);
  ASSERT_EQ(w->pods.size(), 3u);
  EXPECT_TRUE(w->pods[0].ready);
  EXPECT_EQ(w->pods[1].reason, "InsufficientGPU");
  EXPECT_EQ(w->pods[2].reason, "ImagePullBackOff");
  EXPECT_EQ(w->pods[2].statefulset, "phi");
  EXPECT_EQ(w->pods[2].revision, "3");
  EXPECT_EQ(w->pods[2].restarts, 2);
  EXPECT_EQ(w->pods[0].restarts, 0);
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, ReconcileTwiceSendsNoSecondWrite) {
  FakeClock clock;
  testing::FakeHubApi hub;
  hub.set_work(testing::Work("k", 1, {testing::WorkEntry(testing::WorkspaceObject("phi"), 2)}));
  ReconcilerOptions o;
  o.cluster = "k";
  Reconciler r(backend_.get(), &hub, nullptr, &clock, o);
  r.ObserveWork(hub.work());
  ASSERT_TRUE(r.Resync().ok());
  r.ProcessReady();
  ASSERT_TRUE(r.FlushStatus().ok());
  int writes = api_.writes();
  EXPECT_EQ(writes, 4 + 2);  // 4 objects, plus the first one's 404 and the namespace
  clock.Advance(std::chrono::seconds(5));
  r.ObserveWork(hub.work());
  ASSERT_TRUE(r.Resync().ok());
  r.ProcessReady();
  ASSERT_TRUE(r.FlushStatus().ok());
  EXPECT_EQ(api_.writes(), writes);
  EXPECT_EQ(hub.Calls("PatchWorkStatus").size(), 1u);
  ExpectOnlyDeclaredCalls();
}

TEST_F(KubeBackendTest, RolloutEntrySendsUpdateStrategyAndAPrePullDaemonSetReportedOnceReady) {
  FakeClock clock;
  testing::FakeHubApi hub;
  const std::string image = "vllm/vllm-openai:v0.11.0";
  json entry = testing::UpdateEntry(testing::WorkspaceObject("phi"), 2, 1,
                                    {{"mode", "InPlace"}, {"maxUnavailable", 2}});
  entry["prePull"] = {{"revision", 2}, {"image", image}, {"model", "llama-3.1-8b-instruct"}};
  hub.set_work(testing::Work("k", 1, {entry}));
  ReconcilerOptions o;
  o.cluster = "k";
  Reconciler r(backend_.get(), &hub, nullptr, &clock, o);
  auto pass = [&] {
    r.ObserveWork(hub.work());
    ASSERT_TRUE(r.Resync().ok());
    r.ProcessReady();
    ASSERT_TRUE(r.FlushStatus().ok());
  };
  pass();
  const std::string ds_path = "/apis/apps/v1/namespaces/models/daemonsets/berth-prepull-phi";
  json ds, sts;
  for (const auto& req : api_.requests()) {
    if (req.method != "PATCH") continue;
    if (req.path == ds_path) ds = req.body;
    if (req.path == "/apis/apps/v1/namespaces/models/statefulsets/phi") sts = req.body;
  }
  ASSERT_TRUE(ds.is_object()) << "no server-side apply of the pre-pull DaemonSet";
  EXPECT_EQ(ds["metadata"]["labels"][kManagedByLabel], "berth");
  const json& pod = ds["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["nvidia.com/gpu.product"], "NVIDIA-L4");
  EXPECT_EQ(pod["initContainers"][0]["image"], image);
  EXPECT_EQ(pod["initContainers"][0]["command"], (json{"/bin/sh", "-c", "true"}));
  EXPECT_EQ(pod["containers"][0]["image"], "registry.k8s.io/pause:3.10");
  ASSERT_TRUE(sts.is_object());
  EXPECT_EQ(sts["spec"]["updateStrategy"],
            (json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 2}}}}));

  auto has_image = [&] {
    auto inv = backend_->ReadInventory();
    EXPECT_TRUE(inv.ok()) << inv.status().ToString();
    return inv.ok() && std::find(inv->cached_images.begin(), inv->cached_images.end(), image) !=
                           inv->cached_images.end();
  };
  EXPECT_FALSE(has_image());
  api_.set_status(ds_path, {{"desiredNumberScheduled", 2},
                            {"numberReady", 1},
                            {"updatedNumberScheduled", 2},
                            {"observedGeneration", 1}});
  EXPECT_FALSE(has_image());  // one node still pulling
  api_.set_status(ds_path, {{"desiredNumberScheduled", 2},
                            {"numberReady", 2},
                            {"updatedNumberScheduled", 2},
                            {"observedGeneration", 1}});
  EXPECT_TRUE(has_image());
  api_.set_status(ds_path, {{"desiredNumberScheduled", 0}, {"numberReady", 0}});
  EXPECT_FALSE(has_image());  // no node of the shape: nothing was pulled

  // A second pass writes nothing; an entry without prePull deletes the DaemonSet.
  const int writes = api_.writes();
  pass();
  EXPECT_EQ(api_.writes(), writes);
  entry.erase("prePull");
  hub.set_work(testing::Work("k", 2, {entry}));
  pass();
  EXPECT_FALSE(api_.has(ds_path));
  bool deleted = false;
  for (const auto& req : api_.requests()) deleted |= req.method == "DELETE" && req.path == ds_path;
  EXPECT_TRUE(deleted);
  ExpectOnlyDeclaredCalls();
}

// A pod of the pre-pull DaemonSet of "phi" on `node` pulling `image`; `init_state` is the
// init container's state ({"waiting": {...}} or {"terminated": {...}}), `ready` the pod's.
json PrePullPod(const std::string& name, const std::string& node, const std::string& image,
                json init_state, bool ready = false) {
  return {{"metadata",
           {{"name", name},
            {"namespace", "models"},
            {"labels", {{kManagedByLabel, kManagedByValue}, {kPrePullLabel, "phi"}}}}},
          {"spec",
           {{"nodeName", node},
            {"initContainers", {{{"name", "pull"}, {"image", image}}}},
            {"containers", {{{"name", "pause"}, {"image", kPauseImage}}}}}},
          {"status",
           {{"phase", ready ? "Running" : "Pending"},
            {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}},
            {"initContainerStatuses", {{{"name", "pull"}, {"state", init_state}}}}}}};
}

TEST_F(KubeBackendTest, PrePullPhaseFromTheDaemonSetAndItsPods) {
  FakeClock clock;
  testing::FakeHubApi hub;
  const std::string image = "vllm/vllm-openai:v0.11.0";
  json entry = testing::WorkEntry(testing::WorkspaceObject("phi"), 1);
  entry["entryGeneration"] = 7;
  entry["prePull"] = {{"revision", 2}, {"image", image}, {"model", "llama-3.1-8b-instruct"}};
  hub.set_work(testing::Work("k", 7, {entry}));
  ReconcilerOptions o;
  o.cluster = "k";
  Reconciler r(backend_.get(), &hub, nullptr, &clock, o);
  auto pre_pull = [&] {
    clock.Advance(std::chrono::seconds(5));
    r.ObserveWork(hub.work());
    EXPECT_TRUE(r.Resync().ok());
    r.ProcessReady();
    EXPECT_TRUE(r.FlushStatus().ok());
    const json e = hub.Calls("PatchWorkStatus").back().body["workspaces"][0];
    EXPECT_EQ(e["observedEntryGeneration"], 7);
    EXPECT_EQ(e["prePull"]["revision"], 2);
    return e["prePull"];
  };
  // The controller has not reported on the DaemonSet yet.
  EXPECT_EQ(pre_pull()["phase"], "Pulling");
  EXPECT_EQ(pre_pull()["reason"], "PrePullPending");

  const std::string ds_path = "/apis/apps/v1/namespaces/models/daemonsets/berth-prepull-phi";
  api_.set_status(ds_path, {{"desiredNumberScheduled", 2}, {"observedGeneration", 1}});
  const json waiting = {{"waiting", {{"reason", "PodInitializing"}}}};
  const json done = {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}};
  const json pull_failed = {
      {"waiting",
       {{"reason", "ErrImagePull"},
        {"message", "rpc error: manifest for vllm/vllm-openai:v0.11.0 not found"}}}};
  // One node done; one still pulling; a pod of the previous image failing is being replaced
  // and says nothing about this one.
  api_.set_pods({PrePullPod("pp-a", "l4-0", image, done, true),
                 PrePullPod("pp-b", "l4-1", image, waiting),
                 PrePullPod("pp-old", "l4-1", "vllm/vllm-openai:v0.10.0",
                            {{"waiting", {{"reason", "ImagePullBackOff"}}}})});
  json pp = pre_pull();
  EXPECT_EQ(pp["phase"], "Pulling");
  EXPECT_EQ(pp["reason"], "");
  EXPECT_NE(pp["message"].get<std::string>().find("1/2"), std::string::npos) << pp.dump();

  api_.set_pods({PrePullPod("pp-a", "l4-0", image, done, true),
                 PrePullPod("pp-b", "l4-1", image, pull_failed)});
  pp = pre_pull();
  EXPECT_EQ(pp["phase"], "Failed");
  EXPECT_EQ(pp["reason"], "ErrImagePull");
  EXPECT_NE(pp["message"].get<std::string>().find("pp-b on l4-1"), std::string::npos) << pp.dump();
  EXPECT_NE(pp["message"].get<std::string>().find("not found"), std::string::npos);

  // The pull finished (the pause container may still be starting): done on that node too.
  api_.set_pods(
      {PrePullPod("pp-a", "l4-0", image, done, true), PrePullPod("pp-b", "l4-1", image, done)});
  pp = pre_pull();
  EXPECT_EQ(pp["phase"], "Done") << pp.dump();

  bool pods_by_label = false;
  for (const auto& req : api_.requests()) {
    pods_by_label |= req.path == "/api/v1/namespaces/models/pods" &&
                     req.query.find("labelSelector=berth.dev/prepull=phi") != std::string::npos;
  }
  EXPECT_TRUE(pods_by_label);
  // Reading the pre-pull never writes: one more pass sends nothing and reports nothing new.
  const int writes = api_.writes();
  const size_t hub_writes = hub.Calls("PatchWorkStatus").size();
  pre_pull();
  EXPECT_EQ(api_.writes(), writes);
  EXPECT_EQ(hub.Calls("PatchWorkStatus").size(), hub_writes);
  ExpectOnlyDeclaredCalls();
}

// Serving on a real cluster: the Service's load-balancer address (or the URL template) and
// the vLLM metrics of each Ready pod through the pod proxy.
json ServingPod(const std::string& name, bool ready) {
  return {{"metadata", {{"name", name}, {"namespace", "models"}, {"labels", {{kWorkspaceLabel, "phi"}}}}},
          {"spec", {{"containers", json::array({{{"name", "vllm"}, {"ports", json::array({{{"name", "http"}, {"containerPort", 5000}}})}}})}}},
          {"status", {{"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

std::string VllmText(int running, int done) {
  return "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"phi\"} " +
         std::to_string(running) + "\nvllm:request_success_total{model_name=\"phi\",finished_reason=\"stop\"} " +
         std::to_string(done) + "\nvllm:time_to_first_token_seconds_bucket{model_name=\"phi\",le=\"0.25\"} " +
         std::to_string(done) + "\nvllm:time_to_first_token_seconds_bucket{model_name=\"phi\",le=\"+Inf\"} " +
         std::to_string(done) + "\n";
}

TEST_F(KubeBackendTest, ServingFromTheLoadBalancerAndEachReadyPodsVllmMetrics) {
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"},
              {"metadata", {{"name", "phi"}, {"namespace", "models"},
                            {"labels", {{kManagedByLabel, kManagedByValue}, {kWorkspaceLabel, "phi"}}}}},
              {"spec", {{"type", "ClusterIP"}, {"ports", json::array({{{"name", "http"}, {"port", 80}}})}}}};
  ASSERT_TRUE(backend_->Apply(svc).ok());
  api_.set_pods({ServingPod("phi-0", true), ServingPod("phi-1", false)});
  api_.set_metrics("phi-0", VllmText(3, 10));
  api_.set_metrics("phi-1", VllmText(50, 500));  // not Ready: not read

  auto s = backend_->ReadServing("models", "phi");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->url, "") << "a ClusterIP Service without a template: unknown";
  ASSERT_TRUE(s->signals);
  EXPECT_EQ(s->signals->running, 3);
  EXPECT_EQ(s->signals->ready_endpoints, 1);
  EXPECT_EQ(s->signals->ttft_p50, 0) << "the first read has no interval: no lifetime percentiles";

  backend_->set_endpoint_url_template("http://{workspace}.{namespace}.eu.example.com");
  EXPECT_EQ(backend_->ReadServing("models", "phi")->url, "http://phi.models.eu.example.com");

  api_.set_status("/api/v1/namespaces/models/services/phi", {{"loadBalancer", {{"ingress", json::array({{{"ip", "20.1.2.3"}}})}}}});
  api_.set_metrics("phi-0", VllmText(1, 30));
  s = backend_->ReadServing("models", "phi");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->url, "http://20.1.2.3:80") << "the load balancer wins over the template";
  EXPECT_GT(s->signals->requests_per_second, 0) << "20 more requests since the last read";
  EXPECT_EQ(s->signals->running, 1);
  EXPECT_GT(s->signals->ttft_p50, 0);
  ExpectOnlyDeclaredCalls();
}

}  // namespace
}  // namespace berth::agent
