// What a Workspace asks of a member cluster besides GPUs: the Secrets and ConfigMaps its pods
// read (inference.modelAccessSecret, adapter pull secrets, anything a custom
// inference.template names), and the GPUs a custom template's pod requests.
//
// The hub delivers each referenced object to every member that runs the Workspace, under a
// name of its own per Workspace (MemberCopyName), so two Workspaces of a namespace sharing
// one hf-token Secret never fight over a single copy and removing one removes only its own.
// The renderer points the pods at those copies (RenameReferences).
// Pure: no I/O.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::workspace {

struct Workspace;

inline constexpr char kGpuResource[] = "nvidia.com/gpu";
inline constexpr char kHfTokenKey[] = "HF_TOKEN";  // the modelAccessSecret key pods read (as KAITO)

struct ObjectReference {
  std::string kind;   // "Secret" or "ConfigMap"
  std::string name;   // in the Workspace's namespace
  std::string field;  // where the Workspace names it, e.g. "inference.modelAccessSecret"
  bool operator==(const ObjectReference&) const = default;
};

// Every Secret and ConfigMap the rendered pods read, in field order, each (kind, name) once
// (the first field that names it). inference.config is not among them: the hub reads that
// ConfigMap itself and delivers the vLLM flags, not the object.
std::vector<ObjectReference> ReferencedObjects(const Workspace& ws);

// The Secrets and ConfigMaps a PodSpec reads (env valueFrom, envFrom, volumes, projected
// sources, imagePullSecrets), in that order, with paths relative to the spec (".containers[0]…").
// References marked `optional: true` are left out: a pod starts without them.
std::vector<ObjectReference> PodSpecReferences(const nlohmann::json& pod_spec);

// The name of `object`'s copy in a member cluster for Workspace `workspace`:
// "<workspace>-<object>", cut to 253 characters with a hash suffix when longer.
std::string MemberCopyName(const std::string& workspace, const std::string& object);

// `pod_spec` (a PodSpec) with every Secret / ConfigMap name it references replaced by
// MemberCopyName(workspace, name).
nlohmann::json RenameReferences(nlohmann::json pod_spec, const std::string& workspace);

// Checks inference.template (a PodTemplateSpec) and returns the GPUs its pod requests: the
// sum over containers of resources.limits["nvidia.com/gpu"] (requests where no limit is
// set). Causes with paths under `path` for: no spec.containers, a container without name or
// image, a GPU quantity that is not a whole number, requests above limits, no GPU at all.
int ValidatePodTemplate(const nlohmann::json& tmpl, const std::string& path, std::vector<FieldCause>* causes);

}  // namespace berth::workspace
