// Workspace decoding and semantic validation. Decoding never throws: every access checks
// the JSON type first and records a FieldCause, so one pass reports every problem.
#include "workspace/workspace_types.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "workspace/pod_template.h"
#include "workspace/text_match.h"

extern const std::string_view kBerthWorkspaceSchema;

namespace berth::workspace {
namespace {

using nlohmann::json;

constexpr int kMaxNameLength = 50;  // room for "-r<N>-<ordinal>" pod suffixes within 63
// A custom model's bounds (also in workspace.schema.json): far above any published model.
constexpr double kMaxWeightsGib = 65536;
constexpr int64_t kMaxContextTokens = int64_t{1} << 24;
constexpr size_t kMaxAdapters = 16;  // vLLM keeps every adapter in GPU memory (--max-loras)
constexpr int64_t kMaxKvBytesPerToken = int64_t{1} << 24;

std::string Join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// Reads typed fields out of a JSON object, recording a cause for each mismatch.
class FieldReader {
 public:
  explicit FieldReader(std::vector<FieldCause>* causes) : causes_(causes) {}

  void Error(const std::string& path, const std::string& message,
             const std::string& reason = "FieldValueInvalid") {
    causes_->push_back({path, message, reason});
  }

  // Null when absent; records a cause and returns null when present with another type.
  const json* Object(const json& parent, const std::string& key, const std::string& path) {
    const json* v = Find(parent, key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_object()) {
      Error(path, "must be an object, got " + std::string(v->type_name()), "FieldValueTypeInvalid");
      return nullptr;
    }
    return v;
  }
  const json* Array(const json& parent, const std::string& key, const std::string& path) {
    const json* v = Find(parent, key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_array()) {
      Error(path, "must be an array, got " + std::string(v->type_name()), "FieldValueTypeInvalid");
      return nullptr;
    }
    return v;
  }
  void String(const json& parent, const std::string& key, const std::string& path,
              std::string* out) {
    const json* v = Find(parent, key);
    if (!v || v->is_null()) return;
    if (!v->is_string()) {
      Error(path, "must be a string, got " + std::string(v->type_name()), "FieldValueTypeInvalid");
      return;
    }
    *out = v->get<std::string>();
  }
  template <typename Int>
  void Integer(const json& parent, const std::string& key, const std::string& path, Int* out) {
    const json* v = Find(parent, key);
    if (!v || v->is_null()) return;
    if (!v->is_number_integer()) {
      Error(path, "must be an integer, got " + std::string(v->type_name()),
            "FieldValueTypeInvalid");
      return;
    }
    *out = static_cast<Int>(v->get<int64_t>());
  }
  void Number(const json& parent, const std::string& key, const std::string& path, double* out) {
    const json* v = Find(parent, key);
    if (!v || v->is_null()) return;
    if (!v->is_number()) {
      Error(path, "must be a number, got " + std::string(v->type_name()), "FieldValueTypeInvalid");
      return;
    }
    *out = v->get<double>();
  }
  void Strings(const json& parent, const std::string& key, const std::string& path,
               std::vector<std::string>* out) {
    const json* arr = Array(parent, key, path);
    if (!arr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      const json& item = (*arr)[i];
      if (!item.is_string()) {
        Error(path + "[" + std::to_string(i) + "]", "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      out->push_back(item.get<std::string>());
    }
  }

 private:
  static const json* Find(const json& parent, const std::string& key) {
    if (!parent.is_object()) return nullptr;
    auto it = parent.find(key);
    return it == parent.end() ? nullptr : &*it;
  }
  std::vector<FieldCause>* causes_;
};

bool IsDns1035Label(const std::string& s) {
  // [a-z]([-a-z0-9]*[a-z0-9])?, by hand: no std::regex on input.
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.empty() || !lower(s.front()) || !(lower(s.back()) || digit(s.back()))) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return lower(c) || digit(c) || c == '-'; });
}

void ReadLabelSelector(FieldReader& r, const json& obj, const std::string& path,
                       LabelSelector* out) {
  if (const json* labels = r.Object(obj, "matchLabels", path + ".matchLabels")) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (!it.value().is_string()) {
        r.Error(path + ".matchLabels." + it.key(), "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      out->match_labels[it.key()] = it.value().get<std::string>();
    }
  }
  if (const json* exprs = r.Array(obj, "matchExpressions", path + ".matchExpressions")) {
    for (size_t i = 0; i < exprs->size(); ++i) {
      std::string p = path + ".matchExpressions[" + std::to_string(i) + "]";
      const json& e = (*exprs)[i];
      if (!e.is_object()) {
        r.Error(p, "must be an object", "FieldValueTypeInvalid");
        continue;
      }
      LabelSelectorRequirement req;
      r.String(e, "key", p + ".key", &req.key);
      r.String(e, "operator", p + ".operator", &req.op);
      r.Strings(e, "values", p + ".values", &req.values);
      if (req.key.empty()) r.Error(p + ".key", "is required", "FieldValueRequired");
      if (req.op == "In" || req.op == "NotIn") {
        if (req.values.empty()) r.Error(p + ".values", "must be non-empty for operator " + req.op);
      } else if (req.op == "Exists" || req.op == "DoesNotExist") {
        if (!req.values.empty()) r.Error(p + ".values", "must be empty for operator " + req.op);
      } else {
        r.Error(p + ".operator", "\"" + req.op + "\" is not one of In, NotIn, Exists, DoesNotExist",
                "FieldValueNotSupported");
      }
      out->match_expressions.push_back(std::move(req));
    }
  }
}

void ReadAdapters(FieldReader& r, const json& list, std::vector<AdapterSpec>* out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = "inference.adapters[" + std::to_string(i) + "]";
    AdapterSpec a;
    if (const json* src = r.Object(list[i], "source", p + ".source")) {
      r.String(*src, "name", p + ".source.name", &a.name);
      r.String(*src, "image", p + ".source.image", &a.image);
      r.Strings(*src, "imagePullSecrets", p + ".source.imagePullSecrets", &a.image_pull_secrets);
    } else {
      r.Error(p + ".source", "is required: the adapter's name and image", "FieldValueRequired");
    }
    if (list[i].is_object() && list[i].contains("strength")) {
      const json& s = list[i]["strength"];
      if (s.is_string()) a.strength = s.get<std::string>();
      else if (s.is_number()) a.strength = s.dump();
      else r.Error(p + ".strength", "must be a string or a number", "FieldValueTypeInvalid");
    }
    out->push_back(std::move(a));
  }
}

void ReadStatus(FieldReader& r, const json& obj, WorkspaceStatus* out) {
  // Lenient: the hub writes status; a field of an unexpected type is skipped, not fatal.
  std::vector<FieldCause> ignored;
  FieldReader lenient(&ignored);
  out->raw = obj;
  lenient.Integer(obj, "revision", "status.revision", &out->revision);
  lenient.Integer(obj, "observedGeneration", "status.observedGeneration",
                  &out->observed_generation);
  if (const json* conds = lenient.Array(obj, "conditions", "status.conditions")) {
    for (const auto& c : *conds) {
      if (!c.is_object()) continue;
      WorkspaceCondition wc;
      lenient.String(c, "type", "", &wc.type);
      lenient.String(c, "status", "", &wc.status);
      lenient.String(c, "reason", "", &wc.reason);
      lenient.String(c, "message", "", &wc.message);
      lenient.String(c, "lastTransitionTime", "", &wc.last_transition_time);
      lenient.Integer(c, "observedGeneration", "", &wc.observed_generation);
      out->conditions.push_back(std::move(wc));
    }
  }
  if (const json* places = lenient.Array(obj, "placements", "status.placements")) {
    for (const auto& p : *places) {
      if (!p.is_object()) continue;
      ClusterPlacementStatus cp;
      lenient.String(p, "cluster", "", &cp.cluster);
      lenient.Integer(p, "replicas", "", &cp.replicas);
      lenient.Integer(p, "readyReplicas", "", &cp.ready_replicas);
      lenient.Integer(p, "revision", "", &cp.revision);
      lenient.String(p, "endpoint", "", &cp.endpoint);
      lenient.String(p, "gpu", "", &cp.gpu);
      out->placements.push_back(std::move(cp));
    }
  }
  (void)r;
}

// Decodes without semantic checks beyond types and required fields.
void Decode(FieldReader& r, const json& obj, Workspace* ws) {
  std::string api_version, kind;
  r.String(obj, "apiVersion", "apiVersion", &api_version);
  r.String(obj, "kind", "kind", &kind);
  if (api_version != kWorkspaceApiVersion) {
    std::string hint =
        api_version.rfind("kaito.sh/", 0) == 0
            ? " (a KAITO Workspace: convert it with ConvertKaitoWorkspace / berthctl)"
            : "";
    r.Error("apiVersion",
            "must be " + std::string(kWorkspaceApiVersion) + ", got \"" + api_version + "\"" + hint,
            "FieldValueNotSupported");
  }
  if (kind != kWorkspaceKind)
    r.Error("kind", "must be Workspace, got \"" + kind + "\"", "FieldValueNotSupported");

  if (const json* md = r.Object(obj, "metadata", "metadata")) {
    ws->metadata = *md;
    r.String(*md, "name", "metadata.name", &ws->name);
    r.String(*md, "namespace", "metadata.namespace", &ws->namespace_);
  }

  if (const json* res = r.Object(obj, "resource", "resource")) {
    r.String(*res, "instanceType", "resource.instanceType", &ws->resource.instance_type);
    r.Strings(*res, "gpuProducts", "resource.gpuProducts", &ws->resource.gpu_products);
    r.Integer(*res, "gpusPerReplica", "resource.gpusPerReplica", &ws->resource.gpus_per_replica);
    if (const json* sel = r.Object(*res, "labelSelector", "resource.labelSelector")) {
      ReadLabelSelector(r, *sel, "resource.labelSelector", &ws->resource.label_selector);
    }
  }

  const json* inf = r.Object(obj, "inference", "inference");
  if (!inf) {
    r.Error("inference", "is required: set inference.preset.name or inference.model",
            "FieldValueRequired");
  } else {
    InferenceSpec& in = ws->inference;
    if (const json* preset = r.Object(*inf, "preset", "inference.preset")) {
      r.String(*preset, "name", "inference.preset.name", &in.preset_name);
      r.String(*preset, "revision", "inference.preset.revision", &in.revision);
      if (in.preset_name.empty())
        r.Error("inference.preset.name", "is required", "FieldValueRequired");
    }
    if (const json* m = r.Object(*inf, "model", "inference.model")) {
      CustomModel cm;
      r.String(*m, "huggingFaceId", "inference.model.huggingFaceId", &cm.hf_id);
      r.String(*m, "architecture", "inference.model.architecture", &cm.architecture);
      r.String(*m, "quantization", "inference.model.quantization", &cm.quantization);
      r.Number(*m, "weightsGiB", "inference.model.weightsGiB", &cm.weights_gib);
      r.Integer(*m, "contextLimit", "inference.model.contextLimit", &cm.context_limit);
      r.Integer(*m, "kvBytesPerToken", "inference.model.kvBytesPerToken", &cm.kv_bytes_per_token);
      std::string revision;
      r.String(*m, "revision", "inference.model.revision", &revision);
      if (!revision.empty()) in.revision = revision;
      in.custom_model = std::move(cm);
    }
    r.String(*inf, "modelAccessSecret", "inference.modelAccessSecret", &in.model_access_secret);
    r.String(*inf, "config", "inference.config", &in.config);
    if (const json* ad = r.Array(*inf, "adapters", "inference.adapters")) ReadAdapters(r, *ad, &in.adapters);
    if (const json* t = r.Object(*inf, "template", "inference.template")) in.pod_template = *t;
    r.String(*inf, "image", "inference.image", &in.image);
    r.String(*inf, "servedModelName", "inference.servedModelName", &in.served_model_name);
    if (const json* p = r.Object(*inf, "parameters", "inference.parameters")) {
      InferenceParameters& ip = in.parameters;
      r.Integer(*p, "maxModelLen", "inference.parameters.maxModelLen", &ip.max_model_len);
      r.String(*p, "dtype", "inference.parameters.dtype", &ip.dtype);
      r.String(*p, "quantization", "inference.parameters.quantization", &ip.quantization);
      r.Number(*p, "gpuMemoryUtilization", "inference.parameters.gpuMemoryUtilization",
               &ip.gpu_memory_utilization);
      r.Strings(*p, "extraArgs", "inference.parameters.extraArgs", &ip.extra_args);
    }
  }

  if (const json* pl = r.Object(obj, "placement", "placement")) {
    r.Integer(*pl, "replicas", "placement.replicas", &ws->placement.replicas);
    if (const json* ref = r.Object(*pl, "policyRef", "placement.policyRef")) {
      r.String(*ref, "name", "placement.policyRef.name", &ws->placement.policy_ref);
      if (ws->placement.policy_ref.empty())
        r.Error("placement.policyRef.name", "is required", "FieldValueRequired");
    }
    if (const json* policy = r.Object(*pl, "policy", "placement.policy"))
      ws->placement.inline_policy = *policy;
  }
  if (const json* ro = r.Object(obj, "rollout", "rollout")) {
    if (const json* ref = r.Object(*ro, "strategyRef", "rollout.strategyRef")) {
      r.String(*ref, "name", "rollout.strategyRef.name", &ws->rollout.strategy_ref);
      if (ws->rollout.strategy_ref.empty())
        r.Error("rollout.strategyRef.name", "is required", "FieldValueRequired");
    }
    if (const json* strategy = r.Object(*ro, "strategy", "rollout.strategy"))
      ws->rollout.inline_strategy = *strategy;
  }
  if (const json* as = r.Object(obj, "autoscaling", "autoscaling")) {
    auto spec = ParseAutoscaling(*as, "autoscaling");
    if (spec.ok()) {
      ws->autoscaling = std::move(spec).value();
    } else if (spec.status().causes().empty()) {
      r.Error("autoscaling", spec.status().message());
    } else {
      for (const auto& c : spec.status().causes()) r.Error(c.field, c.message, c.reason);
    }
  }
  if (const json* st = r.Object(obj, "status", "status")) ReadStatus(r, *st, &ws->status);
}

// Kubernetes object names (DNS-1123 subdomain): what a Secret or ConfigMap may be called.
bool IsDnsSubdomain(const std::string& s) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || s.size() > 253 || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

// A custom template: the pod runs as given, sized by its nvidia.com/gpu limits on one node.
bool ResolveTemplate(FieldReader& r, const Catalog& catalog, Workspace* ws) {
  std::vector<FieldCause> causes;
  ws->template_gpus = ValidatePodTemplate(ws->inference.pod_template, "inference.template", &causes);
  for (const auto& c : causes) r.Error(c.field, c.message, c.reason);
  if (!causes.empty()) return false;
  const int gpus = ws->template_gpus;
  if (ws->resource.gpus_per_replica > 0 && ws->resource.gpus_per_replica != gpus) {
    r.Error("resource.gpusPerReplica", "is " + std::to_string(ws->resource.gpus_per_replica) +
                                           " but the template's containers request " + std::to_string(gpus) +
                                           " nvidia.com/gpu; remove it (the template sizes the replica)");
  }
  if (!ws->resource.instance_type.empty()) {
    auto t = catalog.FindInstanceType(ws->resource.instance_type);
    if (t.ok() && t->gpus < gpus) {
      r.Error("resource.instanceType", ws->resource.instance_type + " has " + std::to_string(t->gpus) +
                                           " GPUs per node but the template's pod requests " + std::to_string(gpus) +
                                           "; a pod runs on one node");
    }
  }
  ws->model = ModelInfo{"", "", "custom-template", "none", 0, kMaxContextTokens, 0};
  return true;
}

// Secrets, ConfigMaps and adapters: names Kubernetes accepts, and only where Berth renders
// the vLLM server (a custom template names its own objects and flags).
void ValidateReferences(FieldReader& r, const Workspace& ws) {
  const InferenceSpec& in = ws.inference;
  auto name_ok = [&](const std::string& name, const std::string& path) {
    if (!name.empty() && !IsDnsSubdomain(name)) {
      r.Error(path, "\"" + name + "\" is not a valid object name (lower-case letters, digits, '-', '.')");
    }
  };
  name_ok(in.model_access_secret, "inference.modelAccessSecret");
  name_ok(in.config, "inference.config");
  std::set<std::string> names;
  for (size_t i = 0; i < in.adapters.size(); ++i) {
    const AdapterSpec& a = in.adapters[i];
    const std::string p = "inference.adapters[" + std::to_string(i) + "].source";
    if (!IsDns1035Label(a.name) || a.name.size() > 63) {
      r.Error(p + ".name", "\"" + a.name + "\" must be a DNS-1035 label of at most 63 characters: clients call the "
                           "adapter by this name");
    } else if (!names.insert(a.name).second) {
      r.Error(p + ".name", "\"" + a.name + "\" is used by another adapter", "FieldValueDuplicate");
    }
    if (a.image.empty()) r.Error(p + ".image", "is required: the image that holds the adapter under /data", "FieldValueRequired");
    for (size_t j = 0; j < a.image_pull_secrets.size(); ++j) {
      name_ok(a.image_pull_secrets[j], p + ".imagePullSecrets[" + std::to_string(j) + "]");
    }
  }
  if (in.adapters.size() > kMaxAdapters) {
    r.Error("inference.adapters", "at most " + std::to_string(kMaxAdapters) + " adapters per Workspace", "TooMany");
  }
  if (!ws.custom_template()) return;
  const std::string why = ": applies to the vLLM server Berth renders; a custom inference.template sets its own";
  if (!in.model_access_secret.empty()) r.Error("inference.modelAccessSecret", "is not used with inference.template" + why + " env (Secrets it names are delivered the same way)");
  if (!in.config.empty()) r.Error("inference.config", "is not used with inference.template" + why + " arguments");
  if (!in.adapters.empty()) r.Error("inference.adapters", "is not used with inference.template" + why + " adapters");
  if (!in.image.empty()) r.Error("inference.image", "is not used with inference.template" + why + " images");
}

// Resolves ws->model from the preset, the custom model or the custom template; false when
// none resolves (the causes say why).
bool ResolveModel(FieldReader& r, const Catalog& catalog, Workspace* ws) {
  InferenceSpec& in = ws->inference;
  const bool has_preset = !in.preset_name.empty();
  bool model_ok = false;
  if (has_preset + static_cast<int>(in.custom_model.has_value()) + ws->custom_template() > 1) {
    r.Error("inference", "set one of inference.preset, inference.model or inference.template, not several");
  } else if (ws->custom_template()) {
    model_ok = ResolveTemplate(r, catalog, ws);
  } else if (has_preset) {
    auto m = catalog.FindModel(in.preset_name);
    if (!m.ok()) {
      r.Error("inference.preset.name", m.status().message(), "FieldValueNotFound");
    } else {
      ws->model = *m;
      model_ok = true;
    }
  } else if (in.custom_model) {
    const CustomModel& cm = *in.custom_model;
    bool ok = true;
    if (cm.hf_id.empty() || cm.hf_id.find('/') == std::string::npos) {
      r.Error("inference.model.huggingFaceId", "must be an \"org/name\" Hugging Face id",
              "FieldValueRequired");
      ok = false;
    }
    // Upper bounds far above any published model keep the sizing arithmetic finite.
    if (!(cm.weights_gib > 0) || cm.weights_gib > kMaxWeightsGib) {
      r.Error("inference.model.weightsGiB", "must be > 0 and at most 65536 (size of the weights on disk, GiB)");
      ok = false;
    }
    if (cm.context_limit <= 0 || cm.context_limit > kMaxContextTokens) {
      r.Error("inference.model.contextLimit", "must be > 0 and at most 16777216 (the model's maximum context, tokens)");
      ok = false;
    }
    if (cm.kv_bytes_per_token <= 0 || cm.kv_bytes_per_token > kMaxKvBytesPerToken) {
      r.Error("inference.model.kvBytesPerToken",
              "must be > 0 and at most 16777216 (2 × layers × KV heads × head dim × 2 bytes at fp16)");
      ok = false;
    }
    if (ok) {
      std::string id = cm.hf_id;
      ws->model = ModelInfo{ToLower(id.substr(id.find('/') + 1)),
                            cm.hf_id,
                            cm.architecture,
                            cm.quantization.empty() ? "none" : cm.quantization,
                            cm.weights_gib,
                            cm.context_limit,
                            cm.kv_bytes_per_token};
      model_ok = true;
    }
  } else {
    r.Error("inference.preset.name",
            "is required: name a catalog preset (or describe a custom model in inference.model, or give a "
            "pod in inference.template)",
            "FieldValueRequired");
  }
  return model_ok;

}

// Resolves the model and checks everything that needs the catalog.
void ValidateSemantics(FieldReader& r, const Catalog& catalog, Workspace* ws) {
  if (ws->name.empty()) {
    r.Error("metadata.name", "is required", "FieldValueRequired");
  } else if (!IsDns1035Label(ws->name) || ws->name.size() > kMaxNameLength) {
    r.Error("metadata.name", "\"" + ws->name +
                                 "\" must be a DNS-1035 label (lower-case letters, digits, '-', "
                                 "starting with a letter) of at most " +
                                 std::to_string(kMaxNameLength) +
                                 " characters: it names the Service and pods");
  }

  InferenceSpec& in = ws->inference;
  const bool model_ok = ResolveModel(r, catalog, ws);
  ValidateReferences(r, *ws);

  const InferenceParameters& p = in.parameters;
  bool params_ok = true;
  if (p.max_model_len < 1) {
    r.Error("inference.parameters.maxModelLen", "must be >= 1");
    params_ok = false;
  } else if (model_ok && p.max_model_len > ws->model.context_limit) {
    r.Error("inference.parameters.maxModelLen",
            std::to_string(p.max_model_len) + " is above " + ws->model.preset +
                "'s context limit of " + std::to_string(ws->model.context_limit) + " tokens");
    params_ok = false;
  }
  if (p.gpu_memory_utilization < 0 || p.gpu_memory_utilization > 1 ||
      (p.gpu_memory_utilization != 0 && p.gpu_memory_utilization < 0.1)) {
    r.Error("inference.parameters.gpuMemoryUtilization",
            "must be in [0.1, 1] (0 or unset = 0.84; 0.82 on A10)");
    params_ok = false;
  }
  static const std::vector<std::string> kDtypes = {"auto", "bfloat16", "float16", "float32"};
  if (!p.dtype.empty() && std::find(kDtypes.begin(), kDtypes.end(), p.dtype) == kDtypes.end()) {
    r.Error("inference.parameters.dtype", "\"" + p.dtype + "\" is not one of " + Join(kDtypes),
            "FieldValueNotSupported");
    params_ok = false;
  }
  if (ws->resource.gpus_per_replica < 0) {
    r.Error("resource.gpusPerReplica", "must be >= 1 when set");
    params_ok = false;
  }
  if (ws->placement.replicas < 0) {
    r.Error("placement.replicas", "must be >= 0, got " + std::to_string(ws->placement.replicas));
  }
  if (!ws->placement.policy_ref.empty() && !ws->placement.inline_policy.is_null()) {
    r.Error("placement", "set either placement.policyRef or placement.policy, not both");
  }
  if (!ws->rollout.strategy_ref.empty() && !ws->rollout.inline_strategy.is_null()) {
    r.Error("rollout", "set either rollout.strategyRef or rollout.strategy, not both");
  }

  // GPU preferences must name catalog GPUs; the instance type too (Berth sizes from it).
  std::vector<GpuShape> preferred;
  for (size_t i = 0; i < ws->resource.gpu_products.size(); ++i) {
    auto g = catalog.FindGpu(ws->resource.gpu_products[i]);
    if (!g.ok()) {
      r.Error("resource.gpuProducts[" + std::to_string(i) + "]", g.status().message(),
              "FieldValueNotFound");
    } else {
      preferred.push_back(GpuShape{g->name, g->memory_gib, 8, ""});
    }
  }
  if (!ws->resource.instance_type.empty()) {
    auto t = catalog.FindInstanceType(ws->resource.instance_type);
    if (!t.ok()) {
      r.Error("resource.instanceType",
              t.status().message() + "; or list GPUs in resource.gpuProducts instead",
              "FieldValueNotFound");
    } else if (auto g = catalog.FindGpu(t->gpu); g.ok()) {
      preferred.push_back(GpuShape{t->name + " (" + g->name + ")", g->memory_gib, t->gpus, ""});
    }
  }

  // A template's pod is sized by its GPU limits (checked in ResolveTemplate), not estimated.
  if (!model_ok || !params_ok || ws->custom_template()) return;
  const EstimateOptions options = ws->EstimateOptionsFor();
  // The model must fit at least one acceptable shape (any catalog shape when none given).
  if (!preferred.empty()) {
    std::vector<std::string> reasons;
    for (const auto& shape : preferred) {
      auto est = EstimateReplica(ws->model, shape, options);
      if (est.ok()) return;
      reasons.push_back(est.status().message());
    }
    auto smallest = SmallestFittingShape(ws->model, options, catalog);
    std::string hint =
        smallest.ok() ? "; the smallest catalog shape that fits is " + smallest->label : "";
    r.Error(ws->resource.instance_type.empty() || !ws->resource.gpu_products.empty()
                ? "resource.gpuProducts"
                : "resource.instanceType",
            "no listed GPU can hold one replica: " + reasons.front() + hint);
    return;
  }
  auto smallest = SmallestFittingShape(ws->model, options, catalog);
  if (!smallest.ok()) {
    GpuShape largest{"8×H200", 141, 8, ""};
    for (const auto& g : catalog.gpus()) {
      if (g.memory_gib > largest.memory_gib) largest = GpuShape{"8×" + g.name, g.memory_gib, 8, ""};
    }
    auto why = EstimateReplica(ws->model, largest, options);
    r.Error(!in.preset_name.empty() ? "inference.preset.name" : "inference.model",
            ws->model.preset + " fits no GPU shape in the catalog" +
                (why.ok() ? std::string() : ": " + why.status().message()));
  }
}

json LabelSelectorToJson(const LabelSelector& s) {
  json out = json::object();
  if (!s.match_labels.empty()) out["matchLabels"] = s.match_labels;
  if (!s.match_expressions.empty()) {
    json exprs = json::array();
    for (const auto& e : s.match_expressions) {
      json j = {{"key", e.key}, {"operator", e.op}};
      if (!e.values.empty()) j["values"] = e.values;
      exprs.push_back(std::move(j));
    }
    out["matchExpressions"] = std::move(exprs);
  }
  return out;
}

}  // namespace

std::string ServedModelNameOf(const std::string& served_model_name, const std::string& preset_name,
                              const std::string& hf_id, const std::string& workspace_name) {
  if (!served_model_name.empty()) return served_model_name;
  if (!preset_name.empty()) return ToLower(preset_name);
  if (!hf_id.empty()) return ToLower(hf_id.substr(hf_id.find('/') + 1));
  return workspace_name;
}

std::string Workspace::ServedModelName() const {
  return ServedModelNameOf(inference.served_model_name, inference.preset_name,
                           inference.custom_model ? inference.custom_model->hf_id : "", name);
}

EstimateOptions Workspace::EstimateOptionsFor() const {
  EstimateOptions o;
  o.max_model_len = inference.parameters.max_model_len;
  o.gpu_memory_utilization = inference.parameters.gpu_memory_utilization;
  o.dtype = inference.parameters.dtype;
  o.quantization = inference.parameters.quantization;
  o.gpu_count_override = custom_template() ? template_gpus : resource.gpus_per_replica;
  return o;
}

StatusOr<Workspace> ParseWorkspace(const json& object, const Catalog& catalog) {
  if (!object.is_object()) return Status::Invalid("a Workspace must be a JSON/YAML object");
  std::vector<FieldCause> causes;
  FieldReader reader(&causes);
  Workspace ws;
  Decode(reader, object, &ws);
  ValidateSemantics(reader, catalog, &ws);
  if (!causes.empty()) {
    std::string msg = "Workspace \"" + ws.name + "\" is invalid: ";
    for (size_t i = 0; i < causes.size(); ++i)
      msg += (i ? "; " : "") + causes[i].field + ": " + causes[i].message;
    return Status::Invalid(msg, std::move(causes));
  }
  if (!ws.resource.label_selector.empty()) ws.warnings.push_back(kLabelSelectorNote);
  for (const auto& a : ws.inference.adapters) {
    if (!a.strength.empty()) {
      ws.warnings.push_back("inference.adapters: strength of \"" + a.name +
                            "\" is not used: vLLM serves each adapter as its own model name, at full weight");
      break;
    }
  }
  if (ws.inference.revision.empty() && !ws.custom_template()) {
    ws.warnings.push_back(
        "inference.preset.revision is not set: clusters may load different weights over time; "
        "pin a Hugging Face commit");
  }
  return ws;
}

json WorkspaceToJson(const Workspace& ws) {
  json out = {{"apiVersion", kWorkspaceApiVersion}, {"kind", kWorkspaceKind}};
  json md = ws.metadata.is_object() ? ws.metadata : json::object();
  md["name"] = ws.name;
  if (!ws.namespace_.empty()) md["namespace"] = ws.namespace_;
  out["metadata"] = std::move(md);

  json res = json::object();
  if (!ws.resource.instance_type.empty()) res["instanceType"] = ws.resource.instance_type;
  if (!ws.resource.gpu_products.empty()) res["gpuProducts"] = ws.resource.gpu_products;
  if (!ws.resource.label_selector.empty())
    res["labelSelector"] = LabelSelectorToJson(ws.resource.label_selector);
  if (ws.resource.gpus_per_replica > 0) res["gpusPerReplica"] = ws.resource.gpus_per_replica;
  if (!res.empty()) out["resource"] = std::move(res);

  const InferenceSpec& in = ws.inference;
  json inf = json::object();
  if (!in.preset_name.empty()) {
    inf["preset"] = {{"name", in.preset_name}};
    if (!in.revision.empty()) inf["preset"]["revision"] = in.revision;
  }
  if (in.custom_model) {
    const CustomModel& cm = *in.custom_model;
    json m = {{"huggingFaceId", cm.hf_id},
              {"weightsGiB", cm.weights_gib},
              {"contextLimit", cm.context_limit},
              {"kvBytesPerToken", cm.kv_bytes_per_token}};
    if (!cm.architecture.empty()) m["architecture"] = cm.architecture;
    if (!cm.quantization.empty() && cm.quantization != "none") m["quantization"] = cm.quantization;
    if (!in.revision.empty()) m["revision"] = in.revision;
    inf["model"] = std::move(m);
  }
  if (!in.image.empty()) inf["image"] = in.image;
  if (!in.served_model_name.empty()) inf["servedModelName"] = in.served_model_name;
  if (!in.model_access_secret.empty()) inf["modelAccessSecret"] = in.model_access_secret;
  if (!in.config.empty()) inf["config"] = in.config;
  if (!in.adapters.empty()) {
    json list = json::array();
    for (const auto& a : in.adapters) {
      json src = {{"name", a.name}, {"image", a.image}};
      if (!a.image_pull_secrets.empty()) src["imagePullSecrets"] = a.image_pull_secrets;
      json item = {{"source", std::move(src)}};
      if (!a.strength.empty()) item["strength"] = a.strength;
      list.push_back(std::move(item));
    }
    inf["adapters"] = std::move(list);
  }
  if (ws.custom_template()) inf["template"] = in.pod_template;
  json params = json::object();
  const InferenceParameters& p = in.parameters;
  if (p.max_model_len != kDefaultMaxModelLen) params["maxModelLen"] = p.max_model_len;
  if (!p.dtype.empty()) params["dtype"] = p.dtype;
  if (!p.quantization.empty()) params["quantization"] = p.quantization;
  if (p.gpu_memory_utilization > 0) params["gpuMemoryUtilization"] = p.gpu_memory_utilization;
  if (!p.extra_args.empty()) params["extraArgs"] = p.extra_args;
  if (!params.empty()) inf["parameters"] = std::move(params);
  out["inference"] = std::move(inf);

  json pl = {{"replicas", ws.placement.replicas}};
  if (!ws.placement.policy_ref.empty()) pl["policyRef"] = {{"name", ws.placement.policy_ref}};
  if (!ws.placement.inline_policy.is_null()) pl["policy"] = ws.placement.inline_policy;
  out["placement"] = std::move(pl);
  if (!ws.rollout.strategy_ref.empty())
    out["rollout"]["strategyRef"] = {{"name", ws.rollout.strategy_ref}};
  if (!ws.rollout.inline_strategy.is_null()) out["rollout"]["strategy"] = ws.rollout.inline_strategy;
  if (ws.autoscaling) out["autoscaling"] = AutoscalingToJson(*ws.autoscaling);
  if (!ws.status.raw.is_null()) out["status"] = ws.status.raw;
  return out;
}

Status ValidateWorkspaceUpdate(const Workspace& old_ws, const Workspace& new_ws) {
  std::vector<FieldCause> causes;
  auto immutable = [&](const std::string& field, const std::string& before,
                       const std::string& after, const std::string& why) {
    if (before != after) {
      causes.push_back({field,
                        "is immutable (was \"" + before + "\", now \"" + after + "\"): " + why,
                        "FieldValueForbidden"});
    }
  };
  immutable("metadata.name", old_ws.name, new_ws.name, "create a new Workspace");
  immutable("metadata.namespace", old_ws.namespace_, new_ws.namespace_, "create a new Workspace");
  immutable(
      "inference.servedModelName", old_ws.ServedModelName(), new_ws.ServedModelName(),
      "clients call the model by this name; set inference.servedModelName to keep it when changing "
      "the model, or create a new Workspace");
  if (causes.empty()) return Status::Ok();
  std::string msg = "Workspace \"" + old_ws.name + "\" update is forbidden: ";
  for (size_t i = 0; i < causes.size(); ++i)
    msg += (i ? "; " : "") + causes[i].field + " " + causes[i].message;
  return Status::Invalid(msg, std::move(causes));
}

bool Matches(const LabelSelector& selector, const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& e : selector.match_expressions) {
    auto it = labels.find(e.key);
    const bool has = it != labels.end();
    const bool listed = has && std::find(e.values.begin(), e.values.end(), it->second) != e.values.end();
    if ((e.op == "In" && !listed) || (e.op == "NotIn" && listed) || (e.op == "Exists" && !has) ||
        (e.op == "DoesNotExist" && has)) {
      return false;
    }
  }
  return true;
}

namespace {

// KAITO's inference.preset: the name carries over; presetOptions.modelAccessSecret becomes
// inference.modelAccessSecret (in `inf`); accessMode says only whether a secret is needed.
json ConvertKaitoPreset(const json& preset, json& inf, std::vector<std::string>& notes) {
  json out = json::object();
  for (auto p = preset.begin(); p != preset.end(); ++p) {
    if (p.key() == "name") {
      out["name"] = p.value();
    } else if (p.key() == "accessMode") {
      // public / private: Berth passes the token whenever a secret is named.
    } else if (p.key() == "presetOptions" && p.value().is_object()) {
      for (auto o = p.value().begin(); o != p.value().end(); ++o) {
        if (o.key() == "modelAccessSecret") {
          inf["modelAccessSecret"] = o.value();
        } else {
          notes.push_back("inference.preset.presetOptions." + o.key() + " dropped: no Berth equivalent");
        }
      }
    } else {
      notes.push_back("inference.preset." + p.key() + " dropped: no Berth equivalent");
    }
  }
  return out;
}

// KAITO's resource.count is the number of GPU nodes of instanceType for the workspace; Berth
// runs as many replicas as fit in that many nodes (count ÷ nodes per replica, at least 1).
int64_t ReplicasForNodeCount(const json& converted, int64_t count, std::vector<std::string>& notes) {
  const Catalog& catalog = Catalog::BuiltIn();
  const json preset = converted["inference"].value("preset", json::object());
  const json res = converted.value("resource", json::object());
  auto model = catalog.FindModel(preset.value("name", ""));
  auto type = catalog.FindInstanceType(res.value("instanceType", ""));
  int nodes = 1;
  if (model.ok() && type.ok()) {
    if (auto g = catalog.FindGpu(type->gpu); g.ok()) {
      auto est = EstimateReplica(*model, GpuShape{g->name, g->memory_gib, type->gpus, ""});
      if (est.ok()) nodes = est->nodes;
    }
  }
  const int64_t replicas = std::max<int64_t>(1, count / nodes);
  notes.push_back("resource.count " + std::to_string(count) + " (nodes) → placement.replicas " +
                  std::to_string(replicas) + (nodes > 1 ? " (a replica spans " + std::to_string(nodes) + " nodes)" : "") +
                  ": Berth places replicas across the fleet rather than provisioning nodes");
  return replicas;
}

}  // namespace

StatusOr<json> ConvertKaitoWorkspace(const json& kaito, std::vector<std::string>* notes) {
  std::vector<std::string> local_notes;
  if (!notes) notes = &local_notes;
  if (!kaito.is_object()) return Status::Invalid("a KAITO Workspace must be an object");
  for (const char* field : {"apiVersion", "kind"}) {
    if (kaito.contains(field) && !kaito[field].is_string()) {
      return Status::Invalid(std::string(field) + ": must be a string", {{field, "must be a string", "FieldValueTypeInvalid"}});
    }
  }
  const std::string api_version = kaito.value("apiVersion", "");
  if (api_version != "kaito.sh/v1alpha1" && api_version != "kaito.sh/v1beta1") {
    return Status::Invalid(
        "apiVersion must be kaito.sh/v1alpha1 or kaito.sh/v1beta1, got \"" + api_version + "\"",
        {{"apiVersion", "not a KAITO Workspace", "FieldValueNotSupported"}});
  }
  if (kaito.value("kind", "") != "Workspace") {
    return Status::Invalid("kind must be Workspace",
                           {{"kind", "not a Workspace", "FieldValueNotSupported"}});
  }
  // What Berth cannot run at all is refused with the reason, not dropped into a later,
  // unrelated "inference.preset.name is required".
  if (kaito.contains("tuning")) {
    const std::string why =
        "Berth serves models and does not run tuning jobs; run this Workspace with KAITO in a member "
        "cluster, then serve its output from a Berth Workspace";
    return Status::Invalid("tuning: " + why, {{"tuning", why, "FieldValueNotSupported"}});
  }
  json out = {{"apiVersion", kWorkspaceApiVersion}, {"kind", kWorkspaceKind}};
  json md = json::object();
  if (kaito.contains("metadata") && kaito["metadata"].is_object()) {
    // Only user-owned metadata carries over; server fields belong to the KAITO cluster.
    for (const char* key : {"name", "namespace", "labels", "annotations"}) {
      if (kaito["metadata"].contains(key)) md[key] = kaito["metadata"][key];
    }
  }
  out["metadata"] = std::move(md);

  json res = json::object();
  int64_t node_count = 0;
  if (kaito.contains("resource") && kaito["resource"].is_object()) {
    const json& kr = kaito["resource"];
    for (auto it = kr.begin(); it != kr.end(); ++it) {
      if (it.key() == "instanceType" || it.key() == "labelSelector") {
        res[it.key()] = it.value();
      } else if (it.key() == "count") {
        node_count = it.value().is_number_integer() ? it.value().get<int64_t>() : 0;
        if (node_count < 1 || node_count > 1000) {
          return Status::Invalid("resource.count: must be an integer from 1 to 1000",
                                 {{"resource.count", "must be an integer from 1 to 1000", "FieldValueInvalid"}});
        }
      } else if (it.key() == "preferredNodes") {
        notes->push_back(
            "resource.preferredNodes dropped: node names are cluster-specific; use "
            "resource.labelSelector");
      } else {
        notes->push_back("resource." + it.key() + " dropped: no Berth equivalent");
      }
    }
  }
  if (!res.empty()) out["resource"] = std::move(res);

  json inf = json::object();
  if (kaito.contains("inference") && kaito["inference"].is_object()) {
    const json& ki = kaito["inference"];
    for (auto it = ki.begin(); it != ki.end(); ++it) {
      const std::string& key = it.key();
      if (key == "preset" && it.value().is_object()) {
        inf["preset"] = ConvertKaitoPreset(it.value(), inf, *notes);
      } else if (key == "config" || key == "adapters" || key == "template") {
        inf[key] = it.value();  // same shape in Berth (validated by the schema and ParseWorkspace)
      } else {
        notes->push_back("inference." + key + " dropped: no Berth equivalent");
      }
    }
  }
  out["inference"] = std::move(inf);
  for (auto it = kaito.begin(); it != kaito.end(); ++it) {
    static const std::set<std::string> kKnown = {"apiVersion", "kind",   "metadata", "resource",
                                                 "inference",  "tuning", "status"};
    if (!kKnown.count(it.key())) notes->push_back(it.key() + " dropped: not a field of a KAITO Workspace");
  }
  out["placement"] = {{"replicas", node_count > 0 ? ReplicasForNodeCount(out, node_count, *notes) : 1}};
  return out;
}

const json& WorkspaceSchema() {
  static const json* schema = [] {
    // Embedded at build time and checked by workspace_types_test; a parse error is a
    // build defect, not a runtime condition.
    json parsed = json::parse(kBerthWorkspaceSchema, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) std::abort();
    return new json(std::move(parsed));
  }();
  return *schema;
}

std::vector<CatalogShape> CatalogShapes(const Catalog& catalog) {
  std::vector<CatalogShape> out;
  for (const auto& g : catalog.gpus()) {
    for (int n : {1, 2, 4, 8}) {
      out.push_back({std::to_string(n) + "×" + g.name, "", GpuShape{g.name, g.memory_gib, n, ""}});
    }
  }
  for (const auto& t : catalog.instance_types()) {
    auto g = catalog.FindGpu(t.gpu);
    if (!g.ok()) continue;
    out.push_back({t.name, t.name, GpuShape{g->name, g->memory_gib, t.gpus, ""}});
  }
  return out;
}

StatusOr<CatalogShape> SmallestFittingShape(const ModelInfo& model, const EstimateOptions& options,
                                            const Catalog& catalog) {
  // Fewest nodes first (a hint should not push users into pipeline parallel), then the
  // least GPU memory tied up.
  std::optional<CatalogShape> best;
  std::pair<int, double> best_cost;
  for (const auto& s : CatalogShapes(catalog)) {
    if (!s.instance_type.empty()) continue;
    auto est = EstimateReplica(model, s.shape, options);
    if (!est.ok()) continue;
    std::pair<int, double> cost{est->nodes, est->total_gpus() * s.shape.memory_gib};
    if (!best || cost < best_cost) {
      best = s;
      best_cost = cost;
      best->label = std::to_string(est->nodes) + (est->nodes == 1 ? " node" : " nodes") + " of " +
                    std::to_string(est->gpus_per_node) + "×" + s.shape.product;
    }
  }
  if (!best) return Status::NotFound(model.preset + " fits no GPU shape in the catalog");
  return *best;
}

}  // namespace berth::workspace
