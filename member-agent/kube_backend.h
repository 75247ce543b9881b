// The `kube` backend: a real Kubernetes API server over HTTPS (RestClient; in-cluster
// service account or a kubeconfig). Server-side apply (PATCH application/apply-patch+yaml,
// fieldManager=berth-agent, force=true) for StatefulSet (apps/v1), Service and ConfigMap
// (v1); lists by the managed-by=berth label; readiness from StatefulSet and Pod status;
// GPU inventory from Nodes (GPU Feature Discovery labels, allocatable) and Pods
// (inventory.h). A namespace that does not exist is created (server-side apply) the first
// time an object in it fails with NotFound.
//
// Tested against a fake API server on loopback (no Kubernetes can run here): see
// member-agent/kube_backend_test.cc and docs/AGENT.md.
// Thread safety: safe for concurrent use (RestClient is).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/kubeconfig.h"
#include "member-agent/backend.h"

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
  std::string resource;   // statefulsets, services, configmaps, pods, nodes, namespaces
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
  StatusOr<GpuInventory> ReadInventory() override;

 private:
  explicit KubeBackend(std::unique_ptr<RestClient> client);
  std::unique_ptr<RestClient> client_;
};

// The REST path of a namespaced object of a kind the agent applies; Invalid for others.
StatusOr<std::string> KubeObjectPath(const ObjectKey& key);

}  // namespace berth::agent
