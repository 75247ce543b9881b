#include "kinds/berth_kinds.h"

#include <algorithm>
#include <cstdio>

#include "api/object.h"
#include "api/schema.h"
#include "kinds/core_kinds.h"
#include "kinds/rbac_kinds.h"
#include "kinds/unserved_kinds.h"
#include "policies/placement_policy.h"
#include "policies/rollout_strategy.h"
#include "rollout/revision.h"
#include "workspace/workspace_types.h"

namespace berth::kinds {

using nlohmann::json;

namespace {

// A namespaced kind whose body is under `spec` (schema and rules are set by the caller).
api::KindInfo SpecKind(std::string kind, std::string plural, std::vector<std::string> short_names,
                              std::string description) {
  api::KindInfo k;
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.singular = k.plural.substr(0, k.plural.size() - 1);
  std::transform(k.singular.begin(), k.singular.end(), k.singular.begin(), ::tolower);
  k.short_names = std::move(short_names);
  k.description = std::move(description);
  json body = {{"spec", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true},
                         {"description", "Desired state."}}}};
  json status = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  k.schema = api::MakeObjectSchema(k.description, body, status);
  return k;
}

json ConditionReason(const json& o, const std::string& type) {
  json conds = api::JsonPathGet(o, "status.conditions");
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds) {
    if (c.value("type", "") == type) return c.value("reason", "");
  }
  return nullptr;
}

// "2", or "2 (1 on onprem-frankfurt: DriverTooOld)" while members run other revisions.
json RevisionCell(const json& o) {
  json rev = api::JsonPathGet(o, "status.revision");
  if (!rev.is_number_integer()) return nullptr;
  std::string out = std::to_string(rev.get<int64_t>()), others;
  json placements = api::JsonPathGet(o, "status.placements");
  for (const auto& p : placements.is_array() ? placements : json::array()) {
    if (!p.is_object() || p.value("revision", rev.get<int64_t>()) == rev.get<int64_t>()) continue;
    others += (others.empty() ? "" : ", ") + std::to_string(p.value("revision", int64_t{0})) + " on " +
              p.value("cluster", "?") + ": " + p.value("revisionReason", "Pending");
  }
  return others.empty() ? out : out + " (" + others + ")";
}

// `kubectl get ws` columns: model, ready/desired (the autoscaler's size when autoscaled), clusters,
// status; -o wide adds revision, autoscaling (bounds, driving metric) and GPU.
std::vector<api::PrinterColumn> WorkspaceColumns() {
  auto str = [](const json& o, const char* path) -> json {
    json v = api::JsonPathGet(o, path);
    return v.is_null() ? json(nullptr) : v;
  };
  return {
      {"Model", "string", "Preset name or Hugging Face id", 0,
       [str](const json& o) -> json {
         json preset = str(o, "inference.preset.name");
         return preset.is_null() ? str(o, "inference.model.huggingFaceId") : preset;
       }},
      {"Ready", "string", "Ready replicas / desired replicas", 0,
       [](const json& o) -> json {
         int64_t ready = 0;
         json placements = api::JsonPathGet(o, "status.placements");
         if (placements.is_array()) {
           for (const auto& p : placements) ready += p.value("readyReplicas", int64_t{0});
         }
         json desired = api::JsonPathGet(o, "placement.replicas");
         if (auto scaled = workspace::AutoscaledReplicas(o)) desired = *scaled;
         return std::to_string(ready) + "/" +
                std::to_string(desired.is_number_integer() ? desired.get<int64_t>() : 1);
       }},
      {"Clusters", "string", "Member clusters serving it", 0,
       [](const json& o) -> json {
         json placements = api::JsonPathGet(o, "status.placements");
         std::string out;
         if (placements.is_array()) {
           for (const auto& p : placements) {
             out += (out.empty() ? "" : ",") + p.value("cluster", "?") + "(" +
                    std::to_string(p.value("replicas", int64_t{0})) + ")";
           }
         }
         return out.empty() ? json(nullptr) : json(out);
       }},
      {"Status", "string", "Available condition, or why not", 0,
       [](const json& o) -> json {
         if (api::ConditionStatus(o, "Scheduled") == "False") return ConditionReason(o, "Scheduled");
         std::string avail = api::ConditionStatus(o, "Available");
         if (avail.empty()) return "Pending";
         if (avail == "True") {
           if (api::ConditionStatus(o, "Degraded") == "True") return ConditionReason(o, "Degraded");
           // Serving, but not every cluster runs the current revision (skipped or still rolling).
           if (api::ConditionStatus(o, "MixedRevisions") == "True") return "Available (mixed revisions)";
           return "Available";
         }
         return ConditionReason(o, "Available");
       }},
      {"Revision", "string", "Current revision, and the clusters that run another one and why", 1,
       [](const json& o) -> json { return RevisionCell(o); }},
      {"Autoscaling", "string", "Bounds, and the metric driving the size: value/target", 1,
       [](const json& o) -> json {
         json bounds = api::JsonPathGet(o, "autoscaling");
         if (!bounds.is_object()) return nullptr;
         std::string out = std::to_string(bounds.value("minReplicas", 1)) + "-" +
                           std::to_string(bounds.value("maxReplicas", 0));
         json a = api::JsonPathGet(o, "status.autoscaler");
         const std::string driving = a.is_object() ? a.value("drivingMetric", "") : "";
         for (const auto& m : a.is_object() ? a.value("currentMetrics", json::array()) : json::array()) {
           if (m.value("type", "") != driving) continue;
           char buf[96];
           std::snprintf(buf, sizeof buf, " %s %.3g/%.3g", driving.c_str(), m.value("value", 0.0), m.value("target", 0.0));
           out += buf;
         }
         return out;
       }},
      {"GPU", "string", "Requested GPU products", 1,
       [](const json& o) -> json {
         json g = api::JsonPathGet(o, "resource.gpuProducts");
         if (!g.is_array() || g.empty()) return api::JsonPathGet(o, "resource.instanceType");
         std::string out;
         for (const auto& x : g) out += (out.empty() ? "" : ",") + x.get<std::string>();
         return out;
       }},
  };
}

api::KindInfo WorkspaceKind() {
  api::KindInfo k;
  k.kind = "Workspace";
  k.plural = "workspaces";
  k.singular = "workspace";
  k.short_names = {"ws"};
  k.description = "A model to serve across the fleet (KAITO-style resource and inference, plus "
                  "Berth's placement and rollout).";
  k.schema = workspace::WorkspaceSchema();
  // The hub's metadata schema checks names and labels; keep the Workspace's stricter name rule.
  json meta = api::ObjectMetaSchema();
  if (auto name = api::JsonPathGet(k.schema, "properties.metadata.properties.name"); name.is_object()) {
    for (auto it = name.begin(); it != name.end(); ++it) meta["properties"]["name"][it.key()] = *it;
  }
  k.schema["properties"]["metadata"] = meta;
  // Inline policy and strategy bodies carry their kinds' spec schemas: kubectl explains them,
  // and server-side apply merges their lists (stages by name, spread by topologyKey) as it
  // does in a PlacementPolicy or RolloutStrategy.
  auto embed = [&k](const char* field, const char* inline_field, const json& kind_schema) {
    json& node = k.schema["properties"][field]["properties"][inline_field];
    json spec = api::JsonPathGet(kind_schema, "properties.spec");
    if (!spec.is_object() || !node.is_object()) return;
    spec["description"] = node.value("description", "");
    node = std::move(spec);
  };
  embed("placement", "policy", policies::PlacementPolicySchema());
  embed("rollout", "strategy", policies::RolloutStrategySchema());
  // /scale: `kubectl scale ws NAME --replicas N` and external autoscalers (HPA, KEDA) set
  // placement.replicas, unless the Workspace autoscales itself (scale_managed below); the
  // observed count is what the status places, and replicas carry berth.dev/workspace=NAME.
  k.scale_spec_path = "placement.replicas";
  k.scale_default_replicas = 1;
  k.scale_status_replicas = [](const json& o) -> int64_t {
    int64_t total = 0;
    json placements = api::JsonPathGet(o, "status.placements");
    for (const auto& p : placements.is_array() ? placements : json::array()) {
      if (p.is_object() && p.value("replicas", json()).is_number_integer()) total += p["replicas"].get<int64_t>();
    }
    return total;
  };
  k.scale_selector = [](const json& o) { return "berth.dev/workspace=" + api::NameOf(o); };
  // An autoscaled Workspace's size is the autoscaler's (status.autoscaler.desiredReplicas):
  // /scale shows it and refuses to set another.
  k.scale_managed = [](const json& o) -> std::optional<api::KindInfo::ManagedScale> {
    auto replicas = workspace::AutoscaledReplicas(o);
    if (!replicas) return std::nullopt;
    return api::KindInfo::ManagedScale{
        *replicas, "is set by the Workspace's autoscaling (minReplicas " +
                       std::to_string(api::JsonPathGet(o, "autoscaling.minReplicas").is_number_integer()
                                          ? api::JsonPathGet(o, "autoscaling.minReplicas").get<int>()
                                          : 1) +
                       ", maxReplicas " + api::JsonPathGet(o, "autoscaling.maxReplicas").dump() +
                       "): change autoscaling.minReplicas/maxReplicas, or remove autoscaling to set replicas by hand"};
  };
  k.warnings = [](const json& object) {
    auto ws = workspace::ParseWorkspace(object);
    return ws.ok() ? ws->warnings : std::vector<std::string>{};
  };
  k.validate = [](const json& object, const json* old) -> Status {
    auto ws = workspace::ParseWorkspace(object);
    if (!ws.ok()) return ws.status();
    // Inline policy and strategy bodies are checked here, with their field paths, so a
    // mistake is refused at apply time instead of surfacing later as a condition.
    // The driver/CUDA floor annotations are part of the revision: refuse a bad one now.
    BERTH_RETURN_IF_ERROR(rollout::RevisionOf(object, Clock::TimePoint{}).status());
    auto check_inline = [](const json& body, const json& kind_schema, const char* path,
                           const std::function<Status()>& parse) -> Status {
      std::vector<FieldCause> causes;
      api::CollectSchemaViolations(api::JsonPathGet(kind_schema, "properties.spec"), body, path, &causes);
      if (!causes.empty()) {
        std::string msg = "invalid " + std::string(path) + ": " + causes.front().field + ": " +
                          causes.front().message;
        return Status::Invalid(std::move(msg), std::move(causes));
      }
      return parse();
    };
    if (!ws->placement.inline_policy.is_null()) {
      const json& body = ws->placement.inline_policy;
      BERTH_RETURN_IF_ERROR(check_inline(body, policies::PlacementPolicySchema(), "placement.policy", [&] {
        return policies::ParsePlacementPolicySpec(body, "placement.policy").status();
      }));
    }
    if (!ws->rollout.inline_strategy.is_null()) {
      const json& body = ws->rollout.inline_strategy;
      BERTH_RETURN_IF_ERROR(check_inline(body, policies::RolloutStrategySchema(), "rollout.strategy", [&] {
        return policies::ParseRolloutStrategySpec(body, "rollout.strategy").status();
      }));
    }
    if (old) {
      auto before = workspace::ParseWorkspace(*old);
      // An object stored by an older hub that no longer parses may still be fixed by the update.
      if (before.ok()) BERTH_RETURN_IF_ERROR(workspace::ValidateWorkspaceUpdate(*before, *ws));
    }
    return Status::Ok();
  };
  k.columns = WorkspaceColumns();
  return k;
}

// KAITO's kaito.sh Workspace, served as a view of Berth Workspaces: `kubectl apply -f` of an
// unchanged KAITO manifest stores a Berth Workspace (converted by ConvertKaitoWorkspace,
// default placement) that keeps the original KAITO body in an annotation, so reads through
// kaito.sh give back what the user wrote and client-side apply diffs stay clean.
constexpr const char* kKaitoSourceAnnotation = "berth.dev/kaito-source";

api::KindInfo KaitoWorkspaceKind(const std::string& version, const api::KindInfo& berth_ws) {
  api::KindInfo k;
  k.group = "kaito.sh";
  k.version = version;
  k.kind = "Workspace";
  k.plural = "workspaces";
  k.singular = "workspace";
  k.short_names = {};
  k.categories = {"berth"};
  k.description = "A KAITO Workspace (kaito.sh/" + version + "), accepted unchanged and run as a "
                  "Berth Workspace with the default placement policy. See docs/WORKSPACE.md.";
  json any = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  k.schema = api::MakeObjectSchema(
      k.description,
      {{"resource", any}, {"inference", any}, {"tuning", any}},
      {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true},
       {"description", "Berth's status of the workspace."}});
  k.columns = berth_ws.columns;
  k.storage_resource = berth_ws.resource();
  const std::string api_version = k.api_version();
  k.to_storage = [api_version](const json& view) -> StatusOr<json> {
    if (view.value("apiVersion", "") != api_version || view.value("kind", "") != "Workspace") {
      return Status::BadRequest("the body is a " + view.value("apiVersion", "?") + " " +
                                view.value("kind", "?") + ", but this URL serves " + api_version +
                                " Workspace");
    }
    auto converted = workspace::ConvertKaitoWorkspace(view);
    if (!converted.ok()) return converted.status();
    json out = std::move(*converted);
    // Carry all metadata (resourceVersion, finalizers, ...) so updates keep their semantics.
    out["metadata"] = view.contains("metadata") ? view["metadata"] : json::object();
    json body = json::object();
    for (auto it = view.begin(); it != view.end(); ++it) {
      if (it.key() != "metadata" && it.key() != "status") body[it.key()] = *it;
    }
    out["metadata"]["annotations"][kKaitoSourceAnnotation] = body.dump();
    return out;
  };
  // What the conversion dropped or changed, each as a Warning (docs/WORKSPACE.md lists them).
  k.warnings = [](const json& view) {
    std::vector<std::string> notes;
    auto converted = workspace::ConvertKaitoWorkspace(view, &notes);
    // Then the Workspace's own findings (labelSelector, adapter strength), except the unpinned
    // revision: KAITO's format has no field to pin one.
    auto ws = converted.ok() ? workspace::ParseWorkspace(*converted) : StatusOr<workspace::Workspace>(converted.status());
    for (const auto& w : ws.ok() ? ws->warnings : std::vector<std::string>{}) {
      if (w.rfind("inference.preset.revision", 0) != 0) notes.push_back(w);
    }
    for (auto& n : notes) n = "KAITO Workspace " + api::NameOf(view) + ": " + n;
    return notes;
  };
  k.to_view = [api_version](const json& stored) -> std::optional<json> {
    json ann = api::JsonPathGet(stored, "metadata.annotations");
    if (!ann.is_object() || !ann.contains(kKaitoSourceAnnotation)) return std::nullopt;
    json body;
    try {
      body = json::parse(ann[kKaitoSourceAnnotation].get<std::string>());
    } catch (const std::exception&) {
      return std::nullopt;
    }
    // KAITO's v1alpha1 and v1beta1 inference workspaces share these fields.
    json view = body;
    view["apiVersion"] = api_version;
    view["metadata"] = stored["metadata"];
    view["metadata"]["annotations"].erase(kKaitoSourceAnnotation);
    if (view["metadata"]["annotations"].empty()) view["metadata"].erase("annotations");
    if (stored.contains("status")) view["status"] = stored["status"];
    return view;
  };
  return k;
}

}  // namespace

Status RegisterBerthKinds(api::KindRegistry& registry) {
  BERTH_RETURN_IF_ERROR(registry.Register(api::MemberClusterKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(api::WorkKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(api::EventKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(api::LeaseKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(api::BootstrapTokenKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(NamespaceKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(ConfigMapKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(SecretKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(RoleKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(ClusterRoleKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(RoleBindingKind()));
  BERTH_RETURN_IF_ERROR(registry.Register(ClusterRoleBindingKind()));
  for (api::KindInfo& k : UnservedWorkloadKinds()) BERTH_RETURN_IF_ERROR(registry.Register(std::move(k)));
  api::KindInfo ws = WorkspaceKind();
  BERTH_RETURN_IF_ERROR(registry.Register(KaitoWorkspaceKind("v1beta1", ws)));
  BERTH_RETURN_IF_ERROR(registry.Register(KaitoWorkspaceKind("v1alpha1", ws)));
  BERTH_RETURN_IF_ERROR(registry.Register(std::move(ws)));
  api::KindInfo pp = SpecKind("PlacementPolicy", "placementpolicies", {"pp"},
                                     "Where and how workspaces are placed.");
  pp.schema = policies::PlacementPolicySchema();
  pp.schema["properties"]["metadata"] = api::ObjectMetaSchema();
  pp.validate = [](const json& object, const json*) -> Status {
    auto p = policies::ParsePlacementPolicy(object);
    return p.ok() ? Status::Ok() : p.status();
  };
  pp.columns = {
      {"Mode", "string", "PickN, PickAll or PickFixed", 0,
       [](const json& o) -> json { return api::JsonPathGet(o, "spec.mode"); }},
      {"Replicas", "integer", "Default replicas", 0,
       [](const json& o) -> json { return api::JsonPathGet(o, "spec.replicas"); }},
  };
  BERTH_RETURN_IF_ERROR(registry.Register(std::move(pp)));
  api::KindInfo rs = SpecKind("RolloutStrategy", "rolloutstrategies", {"rs"},
                                     "How new model revisions roll out across the fleet.");
  rs.schema = policies::RolloutStrategySchema();
  rs.schema["properties"]["metadata"] = api::ObjectMetaSchema();
  rs.validate = [](const json& object, const json*) -> Status {
    auto r = policies::ParseRolloutStrategy(object);
    return r.ok() ? Status::Ok() : r.status();
  };
  rs.columns = {
      {"Stages", "integer", "Number of stages", 0,
       [](const json& o) -> json {
         json st = api::JsonPathGet(o, "spec.stages");
         return st.is_array() ? json(st.size()) : json(nullptr);
       }},
      {"Rollback", "string", "rollbackOnFailure", 0,
       [](const json& o) -> json { return api::JsonPathGet(o, "spec.rollbackOnFailure"); }},
  };
  BERTH_RETURN_IF_ERROR(registry.Register(std::move(rs)));
  return Status::Ok();
}

}  // namespace berth::kinds

namespace berth::kinds {

Status ValidateForCreate(const api::KindRegistry& registry, const json& object) {
  if (!object.is_object()) return Status::BadRequest("an object must be a mapping");
  for (const char* field : {"apiVersion", "kind"}) {
    if (object.contains(field) && !object[field].is_string()) {
      return Status::BadRequest(std::string(field) + ": must be a string");
    }
  }
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind_name = object.value("kind", "");
  const api::KindInfo* kind = registry.ByKind(api_version, kind_name);
  if (!kind) {
    return Status::NotFound("no kind \"" + kind_name + "\" is registered for version \"" +
                            api_version + "\"");
  }
  json stored = object;
  if (kind->is_view()) {
    auto converted = kind->to_storage(object);
    if (!converted.ok()) return converted.status();
    stored = std::move(*converted);
    kind = registry.ByStorageKey(kind->storage_resource);
    if (!kind) return Status::Internal("view kind " + kind_name + " has no storage kind");
  }
  BERTH_RETURN_IF_ERROR(api::ValidateObject(*kind, stored));
  if (kind->validate) BERTH_RETURN_IF_ERROR(kind->validate(stored, nullptr));
  return Status::Ok();
}

}  // namespace berth::kinds
