// The seam between the member agent and the cluster it runs workloads on. Two
// implementations: KubeBackend (a real Kubernetes API over HTTPS, kube_backend.h) and
// SimCluster (an in-process simulated GPU cluster, sim/sim_cluster.h). The reconciler and the
// heartbeat only see this interface, so they are tested against either or a fake.
//
// Ownership: the agent owns one backend for its lifetime. Thread safety: implementations
// must be safe to call from several threads at once (the reconcile loop, the heartbeat
// loop and the admin endpoint run on different threads).
//
// Errors: any call may fail with Unavailable (cluster API unreachable) or another Status;
// the caller retries with backoff. A failed call never leaves a half-applied object
// behind that a later successful Apply would not fix (Apply is idempotent).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "member-agent/inventory.h"

namespace berth::agent {

// Labels and annotations Berth puts on every object it manages. Pruning finds objects
// only through these labels, never by name patterns.
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "berth";
inline constexpr char kWorkspaceLabel[] = "berth.dev/workspace";
inline constexpr char kRevisionLabel[] = "berth.dev/revision";
// Hash of the desired object as the agent rendered it (annotation). Lets a reconcile pass
// decide "nothing to write" from the cluster's own state, also after an agent restart.
inline constexpr char kAppliedHashAnnotation[] = "berth.dev/applied-hash";
// Weights size and model of the workspace (annotations on StatefulSets; informational for
// kube, the startup-time model for sim).
inline constexpr char kWeightsGibAnnotation[] = "berth.dev/weights-gib";
inline constexpr char kModelAnnotation[] = "berth.dev/model";
// On a surge StatefulSet (<workspace>-surge), its selector and its pods: "true". The
// Services select only berth.dev/workspace, so surge pods serve beside the main ones.
inline constexpr char kSurgeLabel[] = "berth.dev/surge";
// On a pre-pull DaemonSet and its pods: the workspace it warms nodes for. Its pods never
// carry berth.dev/workspace (the workspace's Services would route requests to them).
inline constexpr char kPrePullLabel[] = "berth.dev/prepull";

// The StatefulSet that carries extra replicas of the new revision during a surge update
// (member-agent/update_plan.h).
inline std::string SurgeStatefulSetName(const std::string& workspace) {
  return workspace + "-surge";
}

struct ObjectKey {
  std::string api_version;  // "apps/v1" or "v1"
  std::string kind;         // StatefulSet, Service, ConfigMap, DaemonSet
  std::string namespace_;
  std::string name;
  bool operator==(const ObjectKey&) const = default;
  auto operator<=>(const ObjectKey&) const = default;
  std::string ToString() const { return kind + " " + namespace_ + "/" + name; }
};

// The key of a Kubernetes object (apiVersion, kind, metadata.namespace/name).
ObjectKey KeyOf(const nlohmann::json& object);

// metadata.labels[key] of a Kubernetes object, "" when absent or not a string.
std::string LabelOf(const nlohmann::json& object, const std::string& key);

// An object carrying the managed-by=berth label, as the cluster has it.
struct ManagedObject {
  ObjectKey key;
  std::string workspace;     // value of berth.dev/workspace
  std::string applied_hash;  // value of berth.dev/applied-hash ("" when absent)
  std::string revision;      // value of berth.dev/revision ("" when absent)
};

// One pod of a workspace as the cluster reports it.
struct PodState {
  std::string name;
  std::string statefulset;  // owner
  std::string node;         // "" when not scheduled
  bool ready = false;
  bool terminating = false;
  // Why it is not ready, CamelCase (ImagePulling, LoadingWeights, ImagePullBackOff,
  // InsufficientGPU, CrashLoopBackOff, NodeLost, ContainerCreating); "" when ready.
  std::string reason;
  std::string message;
  std::string revision;  // the pod's berth.dev/revision label ("" when absent)
  int restarts = 0;      // container restarts (0 when the backend does not know)
};

struct StatefulSetState {
  std::string name;
  int replicas = 0;        // spec.replicas
  int ready_replicas = 0;  // status.readyReplicas (pods of any revision)
};

// What the cluster runs for one workspace in one namespace.
struct WorkloadState {
  std::vector<StatefulSetState> statefulsets;
  std::vector<PodState> pods;
};

// How far the pre-pull DaemonSet of one workspace (berth-prepull-<workspace>,
// member-agent/prepull.h) has got, node by node, as the cluster reports it. Nodes are
// counted only for `image` (pods of an older template are being replaced and say nothing).
struct PrePullState {
  bool found = false;  // the DaemonSet exists
  std::string image;   // the image it warms (its first init container's)
  // Nodes it runs on (the nodes of the entry's GPU shape). nullopt while not known yet
  // (kube: the DaemonSet controller has not observed the latest spec).
  std::optional<int> desired_nodes;
  // Nodes where the pull has finished (kube: the pod is Ready or its init container
  // exited 0; sim: the image and then the weights of the berth.dev/model annotation).
  int done_nodes = 0;
  // Nodes whose pull of `image` fails (ImagePullBackOff, ErrImagePull, InvalidImageName).
  int failed_nodes = 0;
  std::string reason;   // the first failing node's reason, "" when none fails
  std::string message;  // what the cluster says about it (names the node)
};

// How a workspace's replicas serve, from vLLM's metrics (sim: the queueing model of
// sim/serving_model.h). Rates and percentiles are over the last 30 s of clock time.
struct ServingSignals {
  double requests_per_second = 0;                            // completed requests
  int running = 0, waiting = 0;                              // summed over the replicas
  double kv_cache_usage = 0;                                 // 0..1, the mean over Ready replicas
  double ttft_p50 = 0, ttft_p90 = 0, ttft_p99 = 0;           // seconds
  double latency_p50 = 0, latency_p90 = 0, latency_p99 = 0;  // seconds, end to end
  int capacity = 0;         // max concurrent sequences over the Ready replicas
  int ready_endpoints = 0;  // Ready replicas the Service sends requests to
  // Failed / (failed + completed) requests, 0..1; nullopt when the backend cannot tell
  // (kube: vLLM without http_requests_total) or nothing was asked in the window.
  std::optional<double> error_rate;
};

struct ServingState {
  std::string url;                        // where clients reach the workspace; "" = unknown
  std::optional<ServingSignals> signals;  // nullopt: the backend does not know
};

class MemberBackend {
 public:
  virtual ~MemberBackend() = default;

  virtual std::string name() const = 0;  // "kube" or "sim"
  virtual bool simulated() const = 0;    // true only for sim; reported to the hub

  // Creates or updates `object` (a fully rendered Kubernetes object with apiVersion, kind,
  // metadata.name and metadata.namespace) so that the cluster holds exactly its fields.
  virtual Status Apply(const nlohmann::json& object) = 0;

  // Objects labelled managed-by=berth, optionally restricted to one namespace and one
  // workspace (empty strings: all). Only kinds the agent applies are listed.
  virtual StatusOr<std::vector<ManagedObject>> ListManaged(const std::string& namespace_,
                                                           const std::string& workspace) = 0;

  // Deletes an object. NotFound counts as success (Ok).
  virtual Status Delete(const ObjectKey& key) = 0;

  // StatefulSets and pods labelled berth.dev/workspace=<workspace> in `namespace_`.
  virtual StatusOr<WorkloadState> ReadWorkload(const std::string& namespace_,
                                               const std::string& workspace) = 0;

  // The pre-pull DaemonSet of `workspace` in `namespace_` and its pods (labelled
  // berth.dev/prepull=<workspace>). A missing DaemonSet is not an error: found is false.
  virtual StatusOr<PrePullState> ReadPrePull(const std::string& namespace_,
                                             const std::string& workspace) = 0;

  // GPU nodes with total and free GPUs (or MIG slices), cached artifacts, prices.
  virtual StatusOr<GpuInventory> ReadInventory() = 0;

  // Where `workspace` in `namespace_` is served and how busy it is. The default knows
  // nothing (empty url, no signals); the reconciler then reports the Service's DNS name.
  virtual StatusOr<ServingState> ReadServing(const std::string& namespace_,
                                             const std::string& workspace) {
    (void)namespace_;
    (void)workspace;
    return ServingState{};
  }
};

}  // namespace berth::agent
