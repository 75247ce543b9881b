// The `kube` backend: a real Kubernetes API server over HTTPS (RestClient; in-cluster
// service account or a kubeconfig). Server-side apply (PATCH application/apply-patch+yaml,
// fieldManager=berth-agent, force=true) for StatefulSet and DaemonSet (apps/v1), Service
// and ConfigMap (v1); lists by the managed-by=berth label; readiness from Pod status
// (revision label, conditions, waiting reasons, restarts); GPU inventory from Nodes (GPU
// Feature Discovery labels, allocatable) and Pods (inventory.h), cached images from
// finished pre-pull DaemonSets. A namespace that does not exist is created (server-side apply) the first
// time an object in it fails with NotFound.
//
// Tested against a fake API server on loopback (no Kubernetes can run here): see
// member-agent/kube_backend_test.cc and docs/AGENT.md.
// Thread safety: safe for concurrent use (RestClient is).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/kubeconfig.h"
#include "api/query_escape.h"
#include "member-agent/backend.h"
#include "member-agent/vllm_metrics.h"

namespace berth {
class RestClient;
}

namespace berth::agent {

inline constexpr char kFieldManager[] = "berth-agent";

// One kind of request the kube backend can send: the HTTP method, the path template
// ({namespace}, {name} placeholders; query omitted), and the RBAC rule it needs.
struct KubeApiCall {
  std::string method;     // GET, PATCH, DELETE
  std::string path;       // e.g. /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}
  std::string api_group;  // "" (core) or "apps"
  std::string resource;   // statefulsets, daemonsets, services, configmaps, pods, nodes, namespaces
  std::string verb;       // RBAC verb: get, list, patch, delete
};

class KubeBackend final : public MemberBackend {
 public:
  static StatusOr<std::unique_ptr<KubeBackend>> Create(ClientConfig config);
  ~KubeBackend() override;

  // Every request this backend can send, in one place (deploy/'s RBAC test checks that the
  // agent's ClusterRole covers each). Tests assert the backend sends nothing else.
  static const std::vector<KubeApiCall>& ApiCalls();

  std::string name() const override { return "kube"; }
  bool simulated() const override { return false; }
  Status Apply(const nlohmann::json& object) override;
  StatusOr<std::vector<ManagedObject>> ListManaged(const std::string& namespace_,
                                                   const std::string& workspace) override;
  Status Delete(const ObjectKey& key) override;
  StatusOr<WorkloadState> ReadWorkload(const std::string& namespace_,
                                       const std::string& workspace) override;
  // Lists the DaemonSet (managed-by=berth, berth.dev/prepull=<workspace>) in `namespace_`
  // and the pods labelled berth.dev/prepull=<workspace>: desired nodes from the DaemonSet's
  // status once it observed the spec; a node is done when its pod of the current image is
  // Ready or its init container exited 0, failed when the init container waits in
  // ImagePullBackOff / ErrImagePull / InvalidImageName.
  StatusOr<PrePullState> ReadPrePull(const std::string& namespace_,
                                     const std::string& workspace) override;
  // From the Node/Pod watch cache once StartInventoryWatch() has synced both; until then
  // (or without it) by listing Nodes and Pods. Plus one list of pre-pull DaemonSets
  // (best effort: a failure is logged once and leaves their images out).
  StatusOr<GpuInventory> ReadInventory() override;
  // Where the workspace is served and how busy (kube_serving.cc): the URL of its Service's
  // load-balancer address, else endpoint_url_template; signals from each Ready pod's vLLM
  // /metrics through the API server's pod proxy, over the interval since the last read.
  StatusOr<ServingState> ReadServing(const std::string& namespace_, const std::string& workspace) override;
  // "http://{workspace}.{namespace}.models.example.com" style (--endpoint-url-template).
  void set_endpoint_url_template(std::string t) { endpoint_url_template_ = std::move(t); }
  // How fast replicas start here (registry and weight-load rates the operator measured),
  // reported with the inventory as status.startup; nullopt reports none (the hub assumes
  // the defaults). Set before the agent starts.
  void set_startup_rates(std::optional<placement::StartupRates> rates) { startup_rates_ = std::move(rates); }

  // Starts list+watch of Nodes and Pods (two threads; resume from the last resourceVersion,
  // re-list on 410) so ReadInventory reads memory instead of listing every period.
  void StartInventoryWatch();
  // True once both caches hold a complete list.
  bool inventory_synced() const;

 private:
  struct Cache {
    std::map<std::string, nlohmann::json> objects;  // "<ns>/<name>" → trimmed object
    bool synced = false;
  };
  explicit KubeBackend(std::unique_ptr<RestClient> client);
  // Images of pre-pull DaemonSets (managed-by=berth, berth.dev/prepull) whose pods are Ready
  // on every node they are scheduled to (numberReady == desiredNumberScheduled > 0).
  StatusOr<std::vector<std::string>> PrePulledImages();
  void WatchLoop(const std::string& path, const std::string& query, Cache* cache, bool trim_pods);
  bool SleepFor(std::chrono::milliseconds d);

  std::unique_ptr<RestClient> client_;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  mutable std::mutex cache_mu_;
  Cache nodes_, pods_;  // guarded by cache_mu_
  std::thread nodes_thread_, pods_thread_;
  std::mutex prepull_mu_;
  std::string prepull_error_;  // last pre-pull read error, logged once; guarded by prepull_mu_
  std::string endpoint_url_template_;
  std::optional<placement::StartupRates> startup_rates_;
  struct LastScrape {
    VllmScrape scrape;
    std::chrono::steady_clock::time_point at{};
  };
  std::mutex serving_mu_;
  std::map<std::string, LastScrape> scrapes_;  // "<ns>/<workspace>"; guarded by serving_mu_
};

// A query parameter value percent-encoded (RFC 3986 unreserved characters kept).
using ::berth::QueryEscape;
// "labelSelector=..." for Berth's objects, of one workspace when `workspace` is not empty.
std::string ManagedSelector(const std::string& workspace);

// A pod as the cluster reports it (readiness, why not ready, restarts, owner, revision).
PodState PodStateFromJson(const nlohmann::json& pod);

// The REST path of a namespaced object of a kind the agent applies; Invalid for others.
StatusOr<std::string> KubeObjectPath(const ObjectKey& key);

}  // namespace berth::agent
