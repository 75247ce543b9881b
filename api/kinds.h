// The registry of kinds the hub serves: names, scope, schema and table columns.
// Built once at start-up, then read-only (safe to share between threads).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

inline constexpr const char* kGroup = "berth.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "berth.dev/v1alpha1";

// One column of `kubectl get` output (a meta.k8s.io Table column).
struct PrinterColumn {
  std::string name;         // header, e.g. "Model"
  std::string type;         // "string" | "integer" | "number" | "boolean" | "date"
  std::string description;
  int priority = 0;         // 0: always shown; 1: only with -o wide
  // Computes the cell from the object; returns null for an empty cell.
  std::function<nlohmann::json(const nlohmann::json& object)> cell;
};

struct KindInfo {
  std::string group = kGroup;
  std::string version = kVersion;
  std::string kind;        // "Workspace"
  std::string plural;      // "workspaces"
  std::string singular;    // "workspace"
  std::vector<std::string> short_names;
  std::vector<std::string> categories = {"berth"};
  bool namespaced = true;
  bool has_status = true;  // serves the /status subresource
  std::string description;
  // OpenAPI v3 schema of the whole object (apiVersion, kind, metadata, body, status).
  nlohmann::json schema;
  std::vector<PrinterColumn> columns;
  // Fields a fieldSelector may name; anything else is a 400 (as in Kubernetes).
  std::vector<std::string> selectable_fields = {"metadata.name", "metadata.namespace"};
  // Semantic validation beyond the schema (immutable fields, cross-field rules), run on
  // create (old == nullptr) and update. Optional.
  std::function<Status(const nlohmann::json& object, const nlohmann::json* old)> validate;
  // Brings a validated write into the form it is stored in, as Kubernetes' strategies
  // PrepareForCreate (old == nullptr) and PrepareForUpdate do: defaults, fields the server
  // owns (Namespace spec.finalizers, status.phase), write-only fields folded away (Secret
  // stringData into data). Runs after `validate`, before the no-op and generation checks,
  // on every create, update and patch except /status writes. Optional; must not fail.
  std::function<void(nlohmann::json& object, const nlohmann::json* old)> prepare_for_storage;
  // Findings about an accepted write that the client should see as Kubernetes Warning
  // headers: what a conversion dropped, settings Berth ignores or advises against. Run on the
  // written object, in this kind's shape, after a create, update or patch. Optional.
  std::function<std::vector<std::string>(const nlohmann::json& object)> warnings;
  // Accepts application/strategic-merge-patch+json (api/strategic_merge_patch.h): kubectl
  // sends it for the core kinds it has compiled-in types for (Namespace, ConfigMap, Secret).
  bool strategic_merge_patch = false;
  // Non-empty: a kind Berth lists in discovery but never stores (kubectl's default prune
  // allowlist asks for Pods, Services, Deployments, ...). Get, list and watch answer as for
  // an empty collection; any write is a 405 whose message is this text.
  std::string unserved_reason;
  bool served() const { return unserved_reason.empty(); }

  // A view kind is served from another kind's storage (KAITO's kaito.sh Workspace is stored
  // as a Berth Workspace). Empty storage_resource: the kind is stored as itself.
  std::string storage_resource;
  // View object → storage object (metadata carried over by the caller's rules).
  std::function<StatusOr<nlohmann::json>(const nlohmann::json& view)> to_storage;
  // Storage object → view object; nullopt hides objects that were not created through
  // this view.
  std::function<std::optional<nlohmann::json>(const nlohmann::json& stored)> to_view;
  bool is_view() const { return !storage_resource.empty(); }
  // Storage key of the objects this kind reads and writes.
  std::string storage_key() const { return is_view() ? storage_resource : resource(); }

  // The /scale subresource (an autoscaling/v1 Scale), as a CRD's subresources.scale: the
  // desired replica count lives at `scale_spec_path` (dotted; `scale_default_replicas` when
  // absent); the observed count and the pod selector are computed from the object. An empty
  // path: the kind has no /scale.
  std::string scale_spec_path;
  int64_t scale_default_replicas = 1;
  std::function<int64_t(const nlohmann::json& object)> scale_status_replicas;
  std::function<std::string(const nlohmann::json& object)> scale_selector;
  // Set when the object may manage its own size (a Workspace with `autoscaling`): a value means
  // it does. /scale then shows that value as spec.replicas and refuses writes, naming the
  // fields to change instead (the returned message).
  struct ManagedScale {
    int64_t replicas = 0;
    std::string why_not_writable;
  };
  std::function<std::optional<ManagedScale>(const nlohmann::json& object)> scale_managed;
  bool has_scale() const { return !scale_spec_path.empty(); }

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string list_kind() const { return kind + "List"; }
  // Storage key, "workspaces.berth.dev".
  std::string resource() const { return group.empty() ? plural : plural + "." + group; }
};

class KindRegistry {
 public:
  // Registers a kind. Fails if its plural or kind is already registered in its group.
  Status Register(KindInfo info);

  const KindInfo* ByResource(const std::string& group, const std::string& version,
                             const std::string& plural) const;
  const KindInfo* ByKind(const std::string& api_version, const std::string& kind) const;
  const KindInfo* ByStorageKey(const std::string& resource) const;
  std::vector<const KindInfo*> All() const;

 private:
  std::vector<std::unique_ptr<KindInfo>> kinds_;
};

// Schema of ObjectMeta as the hub accepts it (names checked per DNS-1123).
const nlohmann::json& ObjectMetaSchema();

// Wraps the body properties of a kind (top-level fields besides apiVersion/kind/metadata)
// into a whole-object schema with the standard fields. `status` may be null for kinds
// without status.
nlohmann::json MakeObjectSchema(const std::string& description, nlohmann::json body_properties,
                                nlohmann::json status_schema,
                                std::vector<std::string> required_body = {});

// The built-in kinds whose schemas live in api/: MemberCluster and Work. Workspace,
// PlacementPolicy and RolloutStrategy are registered by the hub from their libraries.
KindInfo MemberClusterKind();
KindInfo WorkKind();
// Member heartbeats (cluster-scoped, one per member).
KindInfo LeaseKind();
// Single-use join tokens (cluster-scoped; admin only).
KindInfo BootstrapTokenKind();
// core/v1 Event, so `kubectl get events` and `kubectl describe` show what controllers did.
KindInfo EventKind();

// Reads a dotted path with optional [i] indices ("status.conditions[0].type"); null if absent.
nlohmann::json JsonPathGet(const nlohmann::json& object, const std::string& path);
// The status of condition `type` ("True"/"False"/"Unknown"), or "" if absent.
std::string ConditionStatus(const nlohmann::json& object, const std::string& type);

}  // namespace berth::api
