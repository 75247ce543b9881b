#include "workspace/pod_template.h"

#include <cstdio>
#include <functional>
#include <set>

#include "workspace/workspace_types.h"

namespace berth::workspace {

using nlohmann::json;

namespace {

constexpr size_t kMaxObjectName = 253;

// Calls `visit(kind, name, path)` for every Secret / ConfigMap name a PodSpec references:
// env valueFrom, envFrom, volumes (also projected sources) and imagePullSecrets.
// `optional`: the pod starts without it (optional: true; image pull secrets).
using RefVisitor = std::function<void(const char* kind, json& name, const std::string& path, bool optional)>;

json* Child(json& parent, const char* key) {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(key);
  return it == parent.end() ? nullptr : &*it;
}

void VisitName(json& parent, const char* ref_key, const char* name_key, const char* kind,
               const std::string& path, const RefVisitor& visit) {
  json* ref = Child(parent, ref_key);
  if (!ref) return;
  json* name = Child(*ref, name_key);
  const json* optional = Child(*ref, "optional");
  if (name && name->is_string()) {
    visit(kind, *name, path + "." + ref_key + "." + name_key, optional && optional->is_boolean() && optional->get<bool>());
  }
}

void VisitContainer(json& c, const std::string& path, const RefVisitor& visit) {
  if (json* env = Child(c, "env"); env && env->is_array()) {
    for (size_t i = 0; i < env->size(); ++i) {
      json* from = Child((*env)[i], "valueFrom");
      if (!from) continue;
      const std::string p = path + ".env[" + std::to_string(i) + "].valueFrom";
      VisitName(*from, "secretKeyRef", "name", "Secret", p, visit);
      VisitName(*from, "configMapKeyRef", "name", "ConfigMap", p, visit);
    }
  }
  if (json* env_from = Child(c, "envFrom"); env_from && env_from->is_array()) {
    for (size_t i = 0; i < env_from->size(); ++i) {
      const std::string p = path + ".envFrom[" + std::to_string(i) + "]";
      VisitName((*env_from)[i], "secretRef", "name", "Secret", p, visit);
      VisitName((*env_from)[i], "configMapRef", "name", "ConfigMap", p, visit);
    }
  }
}

void VisitPodSpec(json& spec, const std::string& path, const RefVisitor& visit) {
  for (const char* list : {"initContainers", "containers"}) {
    json* cs = Child(spec, list);
    if (!cs || !cs->is_array()) continue;
    for (size_t i = 0; i < cs->size(); ++i) {
      VisitContainer((*cs)[i], path + "." + list + "[" + std::to_string(i) + "]", visit);
    }
  }
  if (json* vols = Child(spec, "volumes"); vols && vols->is_array()) {
    for (size_t i = 0; i < vols->size(); ++i) {
      json& v = (*vols)[i];
      const std::string p = path + ".volumes[" + std::to_string(i) + "]";
      VisitName(v, "secret", "secretName", "Secret", p, visit);
      VisitName(v, "configMap", "name", "ConfigMap", p, visit);
      json* sources = Child(v, "projected") ? Child(*Child(v, "projected"), "sources") : nullptr;
      if (!sources || !sources->is_array()) continue;
      for (size_t s = 0; s < sources->size(); ++s) {
        const std::string sp = p + ".projected.sources[" + std::to_string(s) + "]";
        VisitName((*sources)[s], "secret", "name", "Secret", sp, visit);
        VisitName((*sources)[s], "configMap", "name", "ConfigMap", sp, visit);
      }
    }
  }
  if (json* pulls = Child(spec, "imagePullSecrets"); pulls && pulls->is_array()) {
    for (size_t i = 0; i < pulls->size(); ++i) {
      json* name = Child((*pulls)[i], "name");
      if (name && name->is_string()) visit("Secret", *name, path + ".imagePullSecrets[" + std::to_string(i) + "].name", true);
    }
  }
}

// A whole, non-negative GPU quantity ("1", 2), or -1.
int GpuQuantity(const json& q) {
  if (q.is_number_unsigned()) {
    const uint64_t v = q.get<uint64_t>();
    return v <= 1024 ? static_cast<int>(v) : -1;
  }
  if (q.is_number_integer()) {
    const int64_t v = q.get<int64_t>();
    return v >= 0 && v <= 1024 ? static_cast<int>(v) : -1;
  }
  if (!q.is_string()) return -1;
  const std::string s = q.get<std::string>();
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(s);
}

// GPUs of one container; records causes for bad quantities.
int ContainerGpus(const json& c, const std::string& path, std::vector<FieldCause>* causes) {
  const json* res = c.is_object() && c.contains("resources") ? &c["resources"] : nullptr;
  int limit = -2, request = -2;  // -2: not set
  for (const char* part : {"limits", "requests"}) {
    if (!res || !res->is_object() || !res->contains(part) || !(*res)[part].is_object()) continue;
    const json& m = (*res)[part];
    if (!m.contains(kGpuResource)) continue;
    const int n = GpuQuantity(m[kGpuResource]);
    const std::string p = path + ".resources." + part + "[" + kGpuResource + "]";
    if (n < 0) {
      causes->push_back({p, "must be a whole number of GPUs, got " + m[kGpuResource].dump(), "FieldValueInvalid"});
      continue;
    }
    (std::string(part) == "limits" ? limit : request) = n;
  }
  if (limit >= 0 && request >= 0 && request != limit) {
    causes->push_back({path + ".resources.requests[" + std::string(kGpuResource) + "]",
                       "must equal the limit (" + std::to_string(limit) + "): GPUs cannot be overcommitted",
                       "FieldValueInvalid"});
  }
  return limit >= 0 ? limit : (request >= 0 ? request : 0);
}

}  // namespace

std::vector<ObjectReference> ReferencedObjects(const Workspace& ws) {
  std::vector<ObjectReference> out;
  std::set<std::pair<std::string, std::string>> seen;
  auto add = [&](const std::string& kind, const std::string& name, const std::string& field) {
    if (!name.empty() && seen.insert({kind, name}).second) out.push_back({kind, name, field});
  };
  add("Secret", ws.inference.model_access_secret, "inference.modelAccessSecret");
  for (size_t i = 0; i < ws.inference.adapters.size(); ++i) {
    const auto& pulls = ws.inference.adapters[i].image_pull_secrets;
    for (size_t j = 0; j < pulls.size(); ++j) {
      add("Secret", pulls[j],
          "inference.adapters[" + std::to_string(i) + "].source.imagePullSecrets[" + std::to_string(j) + "]");
    }
  }
  if (ws.custom_template() && ws.inference.pod_template.contains("spec")) {
    json spec = ws.inference.pod_template["spec"];
    VisitPodSpec(spec, "inference.template.spec",
                 [&](const char* kind, json& name, const std::string& path, bool) { add(kind, name.get<std::string>(), path); });
  }
  return out;
}

std::vector<ObjectReference> PodSpecReferences(const json& pod_spec) {
  std::vector<ObjectReference> out;
  json spec = pod_spec;
  VisitPodSpec(spec, "", [&](const char* kind, json& name, const std::string& path, bool optional) {
    if (!optional) out.push_back({kind, name.get<std::string>(), path});
  });
  return out;
}

std::string MemberCopyName(const std::string& workspace, const std::string& object) {
  std::string name = workspace + "-" + object;
  if (name.size() <= kMaxObjectName) return name;
  // FNV-1a 32 of the full name keeps cut names distinct.
  uint32_t h = 2166136261u;
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  char suffix[10];
  std::snprintf(suffix, sizeof suffix, "-%08x", h);
  name.resize(kMaxObjectName - 9);
  while (!name.empty() && (name.back() == '-' || name.back() == '.')) name.pop_back();
  return name + suffix;
}

json RenameReferences(json pod_spec, const std::string& workspace) {
  VisitPodSpec(pod_spec, "", [&](const char*, json& name, const std::string&, bool) {
    name = MemberCopyName(workspace, name.get<std::string>());
  });
  return pod_spec;
}

int ValidatePodTemplate(const json& tmpl, const std::string& path, std::vector<FieldCause>* causes) {
  const json* spec = tmpl.contains("spec") ? &tmpl["spec"] : nullptr;
  const json* containers = spec && spec->is_object() && spec->contains("containers") ? &(*spec)["containers"] : nullptr;
  if (!containers || !containers->is_array() || containers->empty()) {
    causes->push_back({path + ".spec.containers", "is required: the template must run at least one container",
                       "FieldValueRequired"});
    return 0;
  }
  int gpus = 0;
  for (size_t i = 0; i < containers->size(); ++i) {
    const json& c = (*containers)[i];
    const std::string p = path + ".spec.containers[" + std::to_string(i) + "]";
    if (!c.is_object()) {
      causes->push_back({p, "must be an object", "FieldValueTypeInvalid"});
      continue;
    }
    for (const char* key : {"name", "image"}) {
      if (!c.contains(key) || !c[key].is_string() || c[key].get<std::string>().empty()) {
        causes->push_back({p + "." + key, "is required", "FieldValueRequired"});
      }
    }
    gpus += ContainerGpus(c, p, causes);
  }
  if (gpus == 0) {
    causes->push_back({path + ".spec.containers",
                       "no container requests nvidia.com/gpu: set resources.limits[nvidia.com/gpu] on the "
                       "serving container (Berth places GPU workloads; the count sizes the replica)",
                       "FieldValueRequired"});
  }
  return gpus;
}

}  // namespace berth::workspace
