#include "workspace/inference_config.h"

#include <map>
#include <set>

#include "api/kinds.h"
#include "api/object.h"
#include "api/yaml_json.h"
#include "workspace/workspace_types.h"

namespace berth::workspace {

using nlohmann::json;

namespace {

// vLLM arguments Berth renders itself from the Workspace and its placement.
const std::set<std::string>& ArgumentsBerthSets() {
  static const std::set<std::string> kSet = {"model", "served-model-name", "host", "port",
                                             "tensor-parallel-size", "pipeline-parallel-size",
                                             "revision", "download-dir", "enable-lora", "lora-modules"};
  return kSet;
}

// vLLM argument → Workspace parameter, with the JSON type the parameter takes.
struct MappedArgument {
  const char* parameter;
  bool (*type_ok)(const json&);
  const char* type_name;
};
const std::map<std::string, MappedArgument>& MappedArguments() {
  static const std::map<std::string, MappedArgument> kMap = {
      {"max-model-len", {"maxModelLen", [](const json& v) { return v.is_number_integer(); }, "an integer"}},
      {"gpu-memory-utilization", {"gpuMemoryUtilization", [](const json& v) { return v.is_number(); }, "a number"}},
      {"dtype", {"dtype", [](const json& v) { return v.is_string(); }, "a string"}},
      {"quantization", {"quantization", [](const json& v) { return v.is_string(); }, "a string"}},
  };
  return kMap;
}

bool ValidArgumentName(const std::string& k) {
  if (k.empty() || k.size() > 64) return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return k.front() != '-';
}

std::string Scalar(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The command-line form of one unmapped argument (empty for false / null).
std::vector<std::string> ArgumentFlags(const std::string& key, const json& v) {
  if (v.is_null() || (v.is_boolean() && !v.get<bool>())) return {};
  if (v.is_boolean()) return {"--" + key};
  if (v.is_array()) {
    std::vector<std::string> out = {"--" + key};
    for (const auto& item : v) out.push_back(Scalar(item));
    return out;
  }
  return {"--" + key + "=" + Scalar(v)};
}

struct ConfigOverlay {
  json parameters;                            // the Workspace's, completed from the config
  std::map<std::string, std::string> origin;  // parameter → the vllm argument it came from
};

void Overlay(const json& vllm, const std::string& where, ConfigOverlay& o, std::vector<FieldCause>& causes) {
  json extra = json::array();
  for (auto it = vllm.begin(); it != vllm.end(); ++it) {
    std::string key = it.key();
    while (!key.empty() && key.front() == '-') key.erase(0, 1);
    for (char& c : key) c = c == '_' ? '-' : c;
    const std::string at = where + ": vllm." + it.key();
    if (!ValidArgumentName(key)) {
      causes.push_back({"inference.config", at + ": not a vLLM argument name (lower-case letters, digits, '-')"});
      continue;
    }
    if (ArgumentsBerthSets().count(key)) {
      causes.push_back({"inference.config", at + ": set by Berth from the Workspace and its placement; remove it",
                        "FieldValueForbidden"});
      continue;
    }
    if (auto m = MappedArguments().find(key); m != MappedArguments().end()) {
      if (!m->second.type_ok(it.value())) {
        causes.push_back({"inference.config", at + ": must be " + m->second.type_name + ", got " +
                                                  it.value().type_name(), "FieldValueTypeInvalid"});
      } else if (!o.parameters.contains(m->second.parameter)) {
        o.parameters[m->second.parameter] = it.value();
        o.origin[m->second.parameter] = it.key();
      }
      continue;
    }
    for (auto& flag : ArgumentFlags(key, it.value())) extra.push_back(std::move(flag));
  }
  if (o.parameters.contains("extraArgs") && o.parameters["extraArgs"].is_array()) {
    for (const auto& a : o.parameters["extraArgs"]) extra.push_back(a);
  }
  if (!extra.empty()) o.parameters["extraArgs"] = std::move(extra);
}

}  // namespace

StatusOr<json> ApplyInferenceConfig(const json& workspace_object, const json* configmap, const Catalog& catalog) {
  const json name = api::JsonPathGet(workspace_object, "inference.config");
  if (!name.is_string() || name.get<std::string>().empty()) return workspace_object;
  const std::string ns = api::NamespaceOf(workspace_object).empty() ? "default" : api::NamespaceOf(workspace_object);
  const std::string where = "ConfigMap " + ns + "/" + name.get<std::string>() + " " + kInferenceConfigKey;
  if (!configmap) {
    return Status::NotFound("inference.config: ConfigMap " + ns + "/" + name.get<std::string>() +
                            " not found: create it with a " + kInferenceConfigKey +
                            " key holding a vllm: section, or remove inference.config");
  }
  auto invalid = [&](const std::string& why) {
    return Status::Invalid("inference.config: " + where + ": " + why, {{"inference.config", where + ": " + why}});
  };
  const json data = configmap->is_object() ? configmap->value("data", json()) : json();
  const json text = data.is_object() ? data.value(kInferenceConfigKey, json()) : json();
  if (!text.is_string()) return invalid("the key is missing; put KAITO's inference config (a vllm: section) there");
  auto doc = api::YamlToJson(text.get<std::string>());
  if (!doc.ok()) return invalid("not YAML: " + doc.status().message());
  const json vllm = doc->is_object() ? doc->value("vllm", json()) : json();
  if (!vllm.is_object()) return invalid("has no vllm: section (a map of vLLM engine arguments); Berth runs vLLM");

  ConfigOverlay o;
  o.parameters = api::JsonPathGet(workspace_object, "inference.parameters");
  if (!o.parameters.is_object()) o.parameters = json::object();
  std::vector<FieldCause> causes;
  Overlay(vllm, where, o, causes);
  json effective = workspace_object;
  effective["inference"]["parameters"] = o.parameters;
  if (causes.empty()) {
    auto parsed = ParseWorkspace(effective, catalog);
    if (parsed.ok()) return effective;
    for (const FieldCause& c : parsed.status().causes()) {
      const std::string prefix = "inference.parameters.";
      auto from = c.field.rfind(prefix, 0) == 0 ? o.origin.find(c.field.substr(prefix.size())) : o.origin.end();
      if (from == o.origin.end()) {
        causes.push_back(c);
      } else {
        causes.push_back({"inference.config", where + ": vllm." + from->second + ": " + c.message, c.reason});
      }
    }
  }
  std::string msg;
  for (const auto& c : causes) msg += (msg.empty() ? "" : "; ") + (c.field == "inference.config" ? "" : c.field + ": ") + c.message;
  return Status::Invalid("inference.config: " + msg, std::move(causes));
}

}  // namespace berth::workspace
