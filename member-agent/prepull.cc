#include "member-agent/prepull.h"

#include <algorithm>

#include "workspace/catalog.h"
#include "workspace/pod_tolerations.h"

namespace berth::agent {

using nlohmann::json;

StatusOr<std::optional<PrePullSpec>> ParsePrePull(const json& pre_pull) {
  if (pre_pull.is_null()) return std::optional<PrePullSpec>();
  if (!pre_pull.is_object())
    return Status::Invalid("prePull: must be an object", {{"prePull", "must be an object"}});
  PrePullSpec spec;
  std::vector<FieldCause> causes;
  auto image = pre_pull.find("image");
  if (image == pre_pull.end() || !image->is_string() || image->get<std::string>().empty()) {
    causes.push_back({"prePull.image", "required: the image to pull"});
  } else {
    spec.image = image->get<std::string>();
  }
  if (auto it = pre_pull.find("model"); it != pre_pull.end() && !it->is_null()) {
    if (!it->is_string()) {
      causes.push_back({"prePull.model", "must be a string"});
    } else {
      spec.model = it->get<std::string>();
    }
  }
  if (auto it = pre_pull.find("revision"); it != pre_pull.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      causes.push_back({"prePull.revision", "must be an integer"});
    } else {
      spec.revision = it->get<int64_t>();
    }
  }
  if (!causes.empty()) return Status::Invalid(causes[0].field + ": " + causes[0].message, causes);
  return std::optional<PrePullSpec>(spec);
}

std::string PrePullDaemonSetName(const std::string& workspace) {
  return "berth-prepull-" + workspace;
}

StatusOr<json> RenderPrePullDaemonSet(const std::string& workspace, const std::string& ns,
                                      const PrePullSpec& spec, const json& gpu) {
  const auto& catalog = workspace::Catalog::BuiltIn();
  std::string product = gpu.value("gfdProduct", std::string());
  if (product.empty()) {
    auto info = catalog.FindGpu(gpu.value("product", std::string()));
    if (!info.ok()) return info.status().WithContext("prePull: GPU shape");
    product = info->gfd_product;
  }
  double weights_gib = 0;
  if (!spec.model.empty()) {
    if (auto model = catalog.FindModel(spec.model); model.ok()) weights_gib = model->weights_gib;
  }
  const json pod_labels = {{kManagedByLabel, kManagedByValue}, {kPrePullLabel, workspace}};
  json pod_spec = {
      {"tolerations", workspace::RenderedPodTolerations()},  // pull where the replicas may run
      {"automountServiceAccountToken", false},
      {"terminationGracePeriodSeconds", 0},
      {"initContainers",
       {{{"name", "pull"},
         {"image", spec.image},
         {"imagePullPolicy", "IfNotPresent"},
         {"command", {"/bin/sh", "-c", "true"}},
         {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}}}}}},
      {"containers",
       {{{"name", "pause"},
         {"image", kPauseImage},
         {"resources", {{"requests", {{"cpu", "1m"}, {"memory", "8Mi"}}}}}}}}};
  const std::string mig = gpu.value("migProfile", std::string());
  if (mig.empty()) {
    pod_spec["nodeSelector"] = {{"nvidia.com/gpu.product", product}};
  } else {
    // GFD's MIG "single" strategy renames the product (…-MIG-<profile>); "mixed" keeps it.
    json expression = {{"key", "nvidia.com/gpu.product"},
                       {"operator", "In"},
                       {"values", {product, product + "-MIG-" + mig}}};
    json term = {{"matchExpressions", json::array({expression})}};
    pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"] = json::array({term});
  }
  return json{
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata",
       {{"name", PrePullDaemonSetName(workspace)},
        {"namespace", ns},
        {"labels",
         {{kManagedByLabel, kManagedByValue},
          {kWorkspaceLabel, workspace},
          {kPrePullLabel, workspace},
          {kRevisionLabel, std::to_string(spec.revision)}}},
        {"annotations",
         {{kModelAnnotation, spec.model}, {kWeightsGibAnnotation, std::to_string(weights_gib)}}}}},
      {"spec",
       {{"selector", {{"matchLabels", {{kPrePullLabel, workspace}}}}},
        // A new image replaces every pre-pull pod at once: they serve nothing.
        {"updateStrategy",
         {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", "100%"}}}}},
        {"template", {{"metadata", {{"labels", pod_labels}}}, {"spec", pod_spec}}}}}};
}

json PrePullReport::ToJson() const {
  return {{"revision", revision}, {"phase", phase}, {"reason", reason}, {"message", message}};
}

PrePullReport SummarizePrePull(const std::string& workspace, const PrePullSpec& spec,
                               const PrePullState& state) {
  PrePullReport r{spec.revision, "Pulling", "", ""};
  const std::string ds = "DaemonSet " + PrePullDaemonSetName(workspace);
  if (!state.found) {
    r.reason = "PrePullPending";
    r.message = ds + " does not exist yet";
    return r;
  }
  if (state.image != spec.image) {
    r.reason = "PrePullPending";
    r.message = ds + " still pulls " + state.image + ", not " + spec.image + " yet";
    return r;
  }
  const std::string of_nodes =
      state.desired_nodes ? " of " + std::to_string(*state.desired_nodes) : "";
  if (state.failed_nodes > 0) {
    r.phase = "Failed";
    r.reason = state.reason.empty() ? "ImagePullBackOff" : state.reason;
    r.message = "pulling " + spec.image + " fails on " + std::to_string(state.failed_nodes) +
                of_nodes + " node(s)";
    if (!state.message.empty()) r.message += ": " + state.message;
    r.message += "; fix the image reference or the registry access (" + ds + " keeps retrying)";
    return r;
  }
  if (!state.desired_nodes) {
    r.reason = "PrePullPending";
    r.message = ds + " has not scheduled its pods for " + spec.image + " yet";
    return r;
  }
  const int desired = *state.desired_nodes;
  if (desired <= 0) {
    r.reason = "NoMatchingNodes";
    r.message = "no Ready node of the entry's GPU shape runs a pod of " + ds +
                "; the pre-pull waits for one";
    return r;
  }
  // The message names the image only: the model's weights are pre-pulled on sim, not on kube.
  const std::string progress =
      std::to_string(std::min(state.done_nodes, desired)) + "/" + std::to_string(desired);
  if (state.done_nodes >= desired) {
    r.phase = "Done";
    r.message = "pre-pull of " + spec.image + " done on " + progress + " node(s) of the GPU shape";
    return r;
  }
  r.message = "pre-pulling " + spec.image + ": " + progress + " node(s) of the GPU shape done";
  return r;
}

}  // namespace berth::agent
