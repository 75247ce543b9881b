#include "hub/controllers/workspace_references.h"

#include "api/object.h"
#include "workspace/inference_config.h"
#include "workspace/pod_template.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

using nlohmann::json;

namespace {

std::string NamespaceOrDefault(const json& obj) {
  const std::string ns = api::NamespaceOf(obj);
  return ns.empty() ? "default" : ns;
}

// Whether the Workspace could reference anything (skips the parse for the common case).
bool MayReference(const json& obj) {
  auto inf = obj.find("inference");
  if (inf == obj.end() || !inf->is_object()) return false;
  for (const char* key : {"modelAccessSecret", "config", "adapters", "template"}) {
    if (inf->contains(key)) return true;
  }
  return false;
}

std::string ConfigName(const json& obj) {
  const json inf = obj.value("inference", json::object());
  const json name = inf.is_object() ? inf.value("config", json()) : json();
  return name.is_string() ? name.get<std::string>() : std::string();
}

// The Workspace with inference and resource as the current target revision has them, or
// null when it has no revision yet.
json AtCurrentRevision(const json& obj) {
  const json status = obj.value("status", json::object());
  const json history = status.is_object() ? status.value("revisions", json()) : json();
  if (!history.is_object() || !history.contains("revisions") || !history["revisions"].is_array()) return json();
  const json target = history.value("target", json());
  for (const json& rev : history["revisions"]) {
    if (!rev.is_object() || rev.value("number", json()) != target) continue;
    const json fields = rev.value("template", json());
    if (!fields.is_object() || !fields.contains("inference")) return json();
    json out = obj;
    out["inference"] = fields["inference"];
    if (fields.contains("resource")) out["resource"] = fields["resource"];
    else out.erase("resource");
    return out;
  }
  return json();
}

json DeliveredForm(const std::string& kind, const std::string& name, const json& object) {
  json out = {{"kind", kind}, {"name", name}};
  for (const char* key : {"type", "data", "binaryData", "immutable"}) {
    if (object.contains(key)) out[key] = object[key];
  }
  return out;
}

}  // namespace

std::vector<std::string> ReferenceKeys(const json& obj) {
  std::vector<std::string> out;
  if (!MayReference(obj)) return out;
  const std::string ns = NamespaceOrDefault(obj);
  if (const std::string config = ConfigName(obj); !config.empty()) out.push_back("ConfigMap/" + ns + "/" + config);
  auto ws = workspace::ParseWorkspace(obj);
  if (!ws.ok()) return out;
  for (const auto& ref : workspace::ReferencedObjects(*ws)) out.push_back(ref.kind + "/" + ns + "/" + ref.name);
  return out;
}

StatusOr<ResolvedReferences> ResolveReferences(const json& obj, const std::map<std::string, json>& objects) {
  ResolvedReferences r;
  r.effective = obj;
  if (!MayReference(obj)) return r;
  r.any = true;
  const std::string ns = NamespaceOrDefault(obj);
  if (const std::string config = ConfigName(obj); !config.empty()) {
    auto it = objects.find("ConfigMap/" + ns + "/" + config);
    auto applied = workspace::ApplyInferenceConfig(obj, it == objects.end() ? nullptr : &it->second);
    if (applied.ok()) {
      r.effective = std::move(*applied);
    } else {
      json held = AtCurrentRevision(obj);
      if (held.is_null()) return applied.status();
      r.effective = std::move(held);
      r.held = applied.status().message();
    }
  }
  r.parsed = workspace::ParseWorkspace(r.effective);
  if (!r.parsed->ok()) return r;  // the placement stage reports it
  for (const auto& ref : workspace::ReferencedObjects(**r.parsed)) {
    auto it = objects.find(ref.kind + "/" + ns + "/" + ref.name);
    if (it == objects.end()) {
      r.missing.push_back(ref.kind + " " + ns + "/" + ref.name + " (" + ref.field + ")");
    } else {
      r.deliver.push_back(DeliveredForm(ref.kind, ref.name, it->second));
    }
  }
  return r;
}

ReferencesCondition DescribeReferences(const ResolvedReferences& r) {
  ReferencesCondition c;
  if (!r.held.empty()) {
    c.resolved = false;
    c.reason = "InferenceConfigInvalid";
    c.message = r.held + "; the current revision keeps running until it resolves";
  }
  if (!r.missing.empty()) {
    std::string list;
    for (const auto& m : r.missing) list += (list.empty() ? "" : ", ") + m;
    c.message += std::string(c.message.empty() ? "" : "; ") + "not found: " + list +
                 "; create them in the Workspace's namespace: pods that read them wait (running ones keep running)";
    if (c.resolved) c.reason = "ReferenceNotFound";
    c.resolved = false;
  }
  if (c.resolved) {
    c.reason = "Resolved";
    c.message = r.deliver.empty() ? "inference.config applied" : std::to_string(r.deliver.size()) +
                                                                       " referenced object(s) delivered to member clusters";
  }
  return c;
}

}  // namespace berth::hub
