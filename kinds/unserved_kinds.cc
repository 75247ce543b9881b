#include "kinds/unserved_kinds.h"

#include <algorithm>

namespace berth::kinds {

using nlohmann::json;

namespace {

struct Unserved {
  const char* group;
  const char* version;
  const char* kind;
  const char* plural;
  const char* short_name;  // "" for none (ReplicaSet's "rs" is RolloutStrategy's here)
  bool namespaced;
};

// kubectl's default prune allowlist (k8s.io/kubectl/pkg/util/prune), less the core kinds
// Berth stores (ConfigMap, Secret, Namespace).
constexpr Unserved kKinds[] = {
    {"", "v1", "Endpoints", "endpoints", "ep", true},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "pvc", true},
    {"", "v1", "PersistentVolume", "persistentvolumes", "pv", false},
    {"", "v1", "Pod", "pods", "po", true},
    {"", "v1", "ReplicationController", "replicationcontrollers", "rc", true},
    {"", "v1", "Service", "services", "svc", true},
    {"batch", "v1", "Job", "jobs", "", true},
    {"batch", "v1", "CronJob", "cronjobs", "cj", true},
    {"networking.k8s.io", "v1", "Ingress", "ingresses", "ing", true},
    {"apps", "v1", "DaemonSet", "daemonsets", "ds", true},
    {"apps", "v1", "Deployment", "deployments", "deploy", true},
    {"apps", "v1", "ReplicaSet", "replicasets", "", true},
    {"apps", "v1", "StatefulSet", "statefulsets", "sts", true},
};

}  // namespace

std::vector<api::KindInfo> UnservedWorkloadKinds() {
  std::vector<api::KindInfo> out;
  for (const Unserved& u : kKinds) {
    api::KindInfo k;
    k.group = u.group;
    k.version = u.version;
    k.kind = u.kind;
    k.plural = u.plural;
    k.singular = u.kind;
    std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
    if (*u.short_name) k.short_names = {u.short_name};
    k.categories = {};
    k.namespaced = u.namespaced;
    k.has_status = false;
    k.description = std::string("Not stored by Berth: always an empty list. Member clusters run ") +
                    "workloads; the hub places Workspaces on them.";
    json any = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
    k.schema = api::MakeObjectSchema(k.description, {{"spec", any}}, any);
    k.unserved_reason = std::string("Berth does not store ") + u.plural +
                        ": the hub places Workspaces on member clusters, and the member clusters "
                        "run the workloads (apply " + u.kind + " objects to a member cluster's own "
                        "API server). Berth lists " + u.plural + " only as an empty collection, so "
                        "that kubectl apply --prune works with kubectl's default allowlist "
                        "(docs/API.md, \"Kinds Berth does not store\").";
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace berth::kinds
