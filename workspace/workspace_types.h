// The Workspace kind (berth.dev/v1alpha1): one model served from a fleet of GPU clusters.
// KAITO-shaped (`resource` and `inference` at the top level, no `spec`) plus Berth's
// `placement` and `rollout`; `status` is written by the hub.
//
// The hub validates objects against WorkspaceSchema() (structure: unknown fields, types)
// before ParseWorkspace() sees them; ParseWorkspace() still checks types defensively and
// then validates semantics against the model/GPU catalog. Errors are Invalid with one
// FieldCause per problem, paths like "inference.preset.name". Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"
#include "workspace/autoscaling.h"
#include "workspace/catalog.h"
#include "workspace/estimator.h"

namespace berth::workspace {

inline constexpr char kWorkspaceApiVersion[] = "berth.dev/v1alpha1";
inline constexpr char kWorkspaceKind[] = "Workspace";
inline constexpr int64_t kDefaultMaxModelLen = 2048;

struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

// A Kubernetes LabelSelector over GPU node labels.
struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
  bool operator==(const LabelSelector&) const = default;
};

// What resource.labelSelector does in a fleet without KAITO's node provisioner (a Warning on
// every write of a Workspace that has one; docs/WORKSPACE.md).
inline constexpr const char* kLabelSelectorNote =
    "resource.labelSelector is honoured in member clusters whose GPU nodes carry these labels; where no "
    "node does, replicas run on any node with the GPUs, as KAITO's provisioner would have created and "
    "labelled nodes for them. Label nodes to pin replicas to them";

// Whether a node with `labels` matches, as the Kubernetes scheduler reads a node selector
// (an empty selector matches every node).
bool Matches(const LabelSelector& selector, const std::map<std::string, std::string>& labels);

struct ResourceSpec {
  std::string instance_type;              // KAITO's resource.instanceType (catalog name)
  std::vector<std::string> gpu_products;  // acceptable GPUs, most preferred first
  LabelSelector label_selector;           // GPU nodes must match (in each member cluster)
  int gpus_per_replica = 0;               // >0: explicit override of the estimate
};

struct InferenceParameters {
  int64_t max_model_len = kDefaultMaxModelLen;
  std::string dtype;                    // "" = auto
  std::string quantization;             // "" = as published
  double gpu_memory_utilization = 0;    // 0 = default for the GPU (0.84, 0.82 on A10)
  std::vector<std::string> extra_args;  // passed to vLLM verbatim, after Berth's flags
};

// A model not in the catalog, described well enough to size it.
struct CustomModel {
  std::string hf_id;
  std::string architecture;
  std::string quantization = "none";
  double weights_gib = 0;
  int64_t context_limit = 0;
  int64_t kv_bytes_per_token = 0;
};

// A LoRA adapter shipped as an image (KAITO's inference.adapters[]): its files sit under /data
// in the image and are copied into the pod by an init container; vLLM serves the adapter under
// its name next to the base model.
struct AdapterSpec {
  std::string name;                             // source.name; also the model name clients call
  std::string image;                            // source.image
  std::vector<std::string> image_pull_secrets;  // source.imagePullSecrets (Secret names)
  std::string strength;                         // KAITO's strength; vLLM does not use it
  bool operator==(const AdapterSpec&) const = default;
};

struct InferenceSpec {
  std::string preset_name;                  // inference.preset.name; empty for a custom model
  std::string revision;                     // HF revision (commit or tag) to pin; "" = unpinned
  std::optional<CustomModel> custom_model;  // inference.model
  std::string image;                        // "" = Berth's default vLLM image
  std::string served_model_name;            // "" = the preset name / last part of the HF id
  InferenceParameters parameters;
  // inference.modelAccessSecret: a Secret in the Workspace's namespace whose HF_TOKEN key the
  // pods read (gated models). Delivered to every member that runs the Workspace.
  std::string model_access_secret;
  // inference.config: a ConfigMap in the Workspace's namespace holding KAITO's
  // inference_config.yaml; the hub turns its `vllm:` section into `parameters`
  // (workspace/inference_config.h) before the revision is computed.
  std::string config;
  std::vector<AdapterSpec> adapters;  // inference.adapters
  // inference.template: a pod template run as given (no preset, no model); null when absent.
  // Its containers' nvidia.com/gpu limits size the replica (workspace/pod_template.h).
  nlohmann::json pod_template;
};

struct PlacementSpec {
  int replicas = 1;
  std::string policy_ref;        // name of a PlacementPolicy
  nlohmann::json inline_policy;  // opaque (policies/ owns its type); null when absent
};

struct RolloutSpec {
  std::string strategy_ref;  // name of a RolloutStrategy; "" = the default strategy
  nlohmann::json inline_strategy;  // opaque (policies/ owns its type); null when absent
};

struct WorkspaceCondition {
  std::string type, status, reason, message, last_transition_time;
  int64_t observed_generation = 0;
};

struct ClusterPlacementStatus {
  std::string cluster;
  int replicas = 0;
  int ready_replicas = 0;
  int64_t revision = 0;
  std::string endpoint;
  std::string gpu;  // GPU shape label of this allocation ("T4", "A100-80GB/3g.40gb"); may be empty
};

// Written by the hub. Parsed leniently: unknown fields are kept in `raw`.
struct WorkspaceStatus {
  int64_t revision = 0;
  int64_t observed_generation = 0;
  std::vector<WorkspaceCondition> conditions;
  std::vector<ClusterPlacementStatus> placements;
  nlohmann::json raw;  // the whole status object as received (null when absent)
};

struct Workspace {
  std::string name;
  std::string namespace_;  // "" = default
  nlohmann::json metadata = nlohmann::json::object();
  ResourceSpec resource;
  InferenceSpec inference;
  PlacementSpec placement;
  RolloutSpec rollout;
  // Replicas follow serving signals within bounds (docs/AUTOSCALING.md); placement.replicas
  // is then only the size to start from.
  std::optional<AutoscalingSpec> autoscaling;
  WorkspaceStatus status;

  ModelInfo model;                    // resolved from the preset or the custom model (empty weights
                                      // for a custom template)
  std::vector<std::string> warnings;  // non-fatal findings, e.g. an unpinned revision
  int template_gpus = 0;              // GPUs the custom template's pod requests (derived)

  // The name clients use in OpenAI requests (--served-model-name).
  std::string ServedModelName() const;
  // True when inference.template gives the pod as-is (no vLLM flags rendered by Berth).
  bool custom_template() const { return !inference.pod_template.is_null(); }
  // Options for EstimateReplica from inference.parameters and resource.gpusPerReplica.
  EstimateOptions EstimateOptionsFor() const;
};

// The name vLLM serves a workspace under (--served-model-name, what clients send as the OpenAI
// `model`): inference.servedModelName, else the preset name lower-cased, else the last part
// of the Hugging Face id lower-cased, else the workspace name. Workspace::ServedModelName and
// readers of the stored object (the hub's endpoint map) share it.
std::string ServedModelNameOf(const std::string& served_model_name, const std::string& preset_name,
                              const std::string& hf_id, const std::string& workspace_name);

// Decodes and validates a Workspace object (JSON already converted from YAML).
// Invalid with field causes on any problem; never throws.
StatusOr<Workspace> ParseWorkspace(const nlohmann::json& object,
                                   const Catalog& catalog = Catalog::BuiltIn());

// The object form of `ws` (spec fields and metadata; status only when raw is set).
// ParseWorkspace(WorkspaceToJson(ws)) gives back an equal Workspace.
nlohmann::json WorkspaceToJson(const Workspace& ws);

// Checks a change from `old_ws` to `new_ws`: metadata.name/namespace and the served
// model name are immutable (clients address the model by that name; create a new
// Workspace instead). Model and revision changes are allowed: they roll out.
Status ValidateWorkspaceUpdate(const Workspace& old_ws, const Workspace& new_ws);

// Converts a KAITO Workspace (kaito.sh/v1alpha1 or v1beta1, unchanged) into a Berth
// Workspace object with default placement (1 replica, default policy and strategy).
// Fields Berth does not carry over are listed in `notes` (if given). Pure.
StatusOr<nlohmann::json> ConvertKaitoWorkspace(const nlohmann::json& kaito,
                                               std::vector<std::string>* notes = nullptr);

// The OpenAPI v3 structural schema of the Workspace kind (workspace/workspace.schema.json,
// embedded), as served to kubectl.
const nlohmann::json& WorkspaceSchema();

// One GPU shape from the catalog, as listed by `berthctl estimate`.
struct CatalogShape {
  std::string label;          // "4×A100-80GB" or the instance type name
  std::string instance_type;  // "" for a plain GPU × count shape
  GpuShape shape;
};

// Each catalog GPU × {1, 2, 4, 8} GPUs per node, then every instance type.
std::vector<CatalogShape> CatalogShapes(const Catalog& catalog);

// The catalog shape with the least total GPU memory in use that fits one replica of
// `model`, or NotFound when none does.
StatusOr<CatalogShape> SmallestFittingShape(const ModelInfo& model, const EstimateOptions& options,
                                            const Catalog& catalog);

}  // namespace berth::workspace
