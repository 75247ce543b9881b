#include "api/kinds.h"

#include "api/cluster_name_pattern.h"

namespace berth::api {

using nlohmann::json;

Status KindRegistry::Register(KindInfo info) {
  for (const auto& k : kinds_) {
    if (k->group == info.group && k->version == info.version &&
        (k->plural == info.plural || k->kind == info.kind)) {
      return Status::AlreadyExists("kind " + info.kind + " registered twice");
    }
  }
  kinds_.push_back(std::make_unique<KindInfo>(std::move(info)));
  return Status::Ok();
}

const KindInfo* KindRegistry::ByResource(const std::string& group, const std::string& version,
                                         const std::string& plural) const {
  for (const auto& k : kinds_) {
    if (k->group == group && k->version == version && k->plural == plural) return k.get();
  }
  return nullptr;
}

const KindInfo* KindRegistry::ByKind(const std::string& api_version, const std::string& kind) const {
  for (const auto& k : kinds_) {
    if (k->api_version() == api_version && k->kind == kind) return k.get();
  }
  return nullptr;
}

const KindInfo* KindRegistry::ByStorageKey(const std::string& resource) const {
  for (const auto& k : kinds_) {
    if (k->resource() == resource) return k.get();
  }
  return nullptr;
}

std::vector<const KindInfo*> KindRegistry::All() const {
  std::vector<const KindInfo*> out;
  for (const auto& k : kinds_) out.push_back(k.get());
  return out;
}

const json& ObjectMetaSchema() {
  static const json schema = json::parse(R"({
    "type": "object",
    "description": "Standard object metadata (name, namespace, labels, resourceVersion, ...).",
    "properties": {
      "name": {"type": "string", "x-berth-name-format": "dns1123-subdomain",
               "description": "Name, unique within the namespace (DNS-1123 subdomain)."},
      "generateName": {"type": "string", "description": "Prefix for a server-generated name."},
      "namespace": {"type": "string", "x-berth-name-format": "dns1123-label",
                    "description": "Namespace of the object; empty for cluster-scoped kinds."},
      "uid": {"type": "string", "description": "Unique id set by the hub; read-only."},
      "resourceVersion": {"type": "string",
                          "description": "Opaque version for optimistic concurrency and watch."},
      "generation": {"type": "integer", "description": "Incremented on every change of the desired state."},
      "creationTimestamp": {"type": "string", "nullable": true, "description": "Set by the hub (RFC 3339)."},
      "deletionTimestamp": {"type": "string", "description": "Set when deletion was requested and finalizers remain."},
      "deletionGracePeriodSeconds": {"type": "integer"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"},
                 "description": "Labels for selection, e.g. region=eu-west."},
      "annotations": {"type": "object", "additionalProperties": {"type": "string"},
                      "description": "Free-form key/value data."},
      "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
                     "description": "Deletion waits until this list is empty."},
      "ownerReferences": {"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["uid"], "items": {"type": "object",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "name": {"type": "string"}, "uid": {"type": "string"},
                       "controller": {"type": "boolean"}, "blockOwnerDeletion": {"type": "boolean"}},
        "required": ["apiVersion", "kind", "name", "uid"]}},
      "managedFields": {"type": "array", "items": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}},
      "selfLink": {"type": "string"}
    }
  })");
  return schema;
}

json MakeObjectSchema(const std::string& description, json body_properties, json status_schema,
                      std::vector<std::string> required_body) {
  json props = std::move(body_properties);
  props["apiVersion"] = {{"type", "string"},
                         {"description", "APIVersion of this object, e.g. berth.dev/v1alpha1."}};
  props["kind"] = {{"type", "string"}, {"description", "Kind of this object."}};
  props["metadata"] = ObjectMetaSchema();
  if (!status_schema.is_null()) props["status"] = std::move(status_schema);
  json schema = {{"type", "object"}, {"description", description}, {"properties", props}};
  if (!required_body.empty()) schema["required"] = required_body;
  return schema;
}

json JsonPathGet(const json& object, const std::string& path) {
  const json* cur = &object;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') { ++i; continue; }
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos || !cur->is_array()) return nullptr;
      size_t idx = std::stoul(path.substr(i + 1, close - i - 1));
      if (idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    i = end == std::string::npos ? path.size() : end;
  }
  return *cur;
}

std::string ConditionStatus(const json& object, const std::string& type) {
  json conds = JsonPathGet(object, "status.conditions");
  if (!conds.is_array()) return "";
  for (const auto& c : conds) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

namespace {

json ConditionsSchema() {
  return json::parse(R"({
    "type": "array",
    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
    "description": "Observations of the object's state, one per type.",
    "items": {"type": "object", "required": ["type", "status"], "properties": {
      "type": {"type": "string", "description": "Condition type, e.g. Ready."},
      "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
      "reason": {"type": "string", "description": "CamelCase reason a user can search for."},
      "message": {"type": "string", "description": "What happened and what to do."},
      "lastTransitionTime": {"type": "string"},
      "observedGeneration": {"type": "integer"}}}
  })");
}

PrinterColumn Col(std::string name, std::string type, std::string path, int priority = 0,
                  std::string description = "") {
  return {name, type, description, priority,
          [path](const json& o) { return JsonPathGet(o, path); }};
}

PrinterColumn ConditionCol(std::string name, std::string type, int priority = 0) {
  return {name, "string", "Status of the " + type + " condition", priority,
          [type](const json& o) -> json {
            std::string s = ConditionStatus(o, type);
            return s.empty() ? json(nullptr) : json(s);
          }};
}

}  // namespace

KindInfo MemberClusterKind() {
  KindInfo k;
  k.kind = "MemberCluster";
  k.plural = "memberclusters";
  k.singular = "membercluster";
  k.short_names = {"mc"};
  k.namespaced = false;
  k.description = "A Kubernetes GPU cluster that joined the fleet; its agent reports health and GPU inventory.";
  json spec = json::parse(R"({
    "type": "object",
    "description": "Desired settings of the member as the fleet administrator sets them.",
    "properties": {
      "region": {"type": "string", "description": "Region of the cluster, e.g. eu-west."},
      "zone": {"type": "string", "description": "Zone within the region."},
      "provider": {"type": "string", "description": "Cloud or on-prem provider name."},
      "taints": {"type": "array", "description": "Taints repel workspaces that do not tolerate them.",
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key", "effect"],
        "items": {"type": "object", "required": ["key", "effect"], "properties": {
          "key": {"type": "string"}, "value": {"type": "string"},
          "effect": {"type": "string", "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
          "timeAdded": {"type": "string"}}}},
      "heartbeatPeriodSeconds": {"type": "integer", "minimum": 1, "maximum": 3600,
        "description": "How often the agent renews its lease (default 5)."},
      "unhealthyAfterMissedHeartbeats": {"type": "integer", "minimum": 1, "maximum": 100,
        "description": "Missed lease renewals before the member is Unhealthy (default 3)."},
      "cordoned": {"type": "boolean", "description": "No new placements on this member."}
    }
  })");
  json status = json::parse(R"({
    "type": "object",
    "description": "Reported by the member agent and the hub's health controller.",
    "x-kubernetes-preserve-unknown-fields": true,
    "properties": {"conditions": {}}
  })");
  status["properties"]["conditions"] = ConditionsSchema();
  k.schema = MakeObjectSchema(k.description, {{"spec", spec}}, status);
  k.columns = {
      Col("Region", "string", "spec.region"),
      {"GPUs", "string", "Free/total GPUs reported by the agent", 0,
       [](const json& o) -> json {
         json free = JsonPathGet(o, "status.gpus.free");
         json total = JsonPathGet(o, "status.gpus.total");
         if (!total.is_number()) return nullptr;
         return std::to_string(free.is_number() ? free.get<int64_t>() : 0) + "/" +
                std::to_string(total.get<int64_t>());
       }},
      ConditionCol("Healthy", "Healthy"),
      Col("Provider", "string", "spec.provider", 1),
      Col("Agent", "string", "status.agentVersion", 1),
  };
  return k;
}

KindInfo WorkKind() {
  KindInfo k;
  k.kind = "Work";
  k.plural = "works";
  k.singular = "work";
  k.short_names = {"wk"};
  k.namespaced = false;  // one Work per member, named after it
  k.description = "The workspaces one member cluster should run, written by the hub for that member's agent.";
  json spec = json::parse(R"({
    "type": "object",
    "description": "Desired workloads for one member.",
    "properties": {
      "cluster": {"type": "string", "description": "Name of the MemberCluster this Work is for."},
      "placementGeneration": {"type": "integer", "minimum": 0,
        "description": "Fencing token: an agent ignores Work older than one it has applied."},
      "workspaces": {"type": "array", "description": "Workspaces to run on the member.",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    }
  })");
  json status = json::parse(R"({
    "type": "object", "x-kubernetes-preserve-unknown-fields": true,
    "description": "Per-workspace state reported by the member agent.",
    "properties": {"conditions": {}}
  })");
  status["properties"]["conditions"] = ConditionsSchema();
  k.schema = MakeObjectSchema(k.description, {{"spec", spec}}, status);
  k.columns = {
      Col("Cluster", "string", "spec.cluster"),
      Col("Generation", "integer", "spec.placementGeneration"),
      ConditionCol("Applied", "Applied"),
  };
  return k;
}

KindInfo EventKind() {
  KindInfo k;
  k.group = "";
  k.version = "v1";
  k.kind = "Event";
  k.plural = "events";
  k.singular = "event";
  k.short_names = {"ev"};
  k.categories = {};
  k.has_status = false;
  k.description = "Something that happened to an object: placed, rescheduled, failed over, rolled back.";
  // The fields Kubernetes lets clients select events by (kubectl describe uses involvedObject.*).
  k.selectable_fields = {"metadata.name", "metadata.namespace", "involvedObject.kind",
                         "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                         "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "type"};
  json ref = json::parse(R"({"type": "object", "properties": {
      "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"},
      "namespace": {"type": "string"}, "uid": {"type": "string"},
      "resourceVersion": {"type": "string"}, "fieldPath": {"type": "string"}}})");
  json body = {
      {"involvedObject", ref},
      {"related", ref},
      {"reason", {{"type", "string"}, {"description", "CamelCase reason, e.g. FailedOver."}}},
      {"message", {{"type", "string"}}},
      {"type", {{"type", "string"}, {"description", "Normal or Warning."}}},
      {"source", {{"type", "object"}, {"properties", {{"component", {{"type", "string"}}}, {"host", {{"type", "string"}}}}}}},
      {"firstTimestamp", {{"type", "string"}, {"nullable", true}}},
      {"lastTimestamp", {{"type", "string"}, {"nullable", true}}},
      {"eventTime", {{"type", "string"}, {"nullable", true}}},
      {"count", {{"type", "integer"}}},
      {"action", {{"type", "string"}}},
      {"reportingComponent", {{"type", "string"}}},
      {"reportingInstance", {{"type", "string"}}},
      {"series", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
  };
  k.schema = MakeObjectSchema(k.description, body, nullptr, {"involvedObject"});
  k.columns = {
      Col("Type", "string", "type"),
      Col("Reason", "string", "reason"),
      {"Object", "string", "The object this event is about", 0,
       [](const json& o) -> json {
         auto str = [&](const char* path) {
           json v = JsonPathGet(o, path);
           return v.is_string() ? v.get<std::string>() : std::string();
         };
         return str("involvedObject.kind") + "/" + str("involvedObject.name");
       }},
      Col("Message", "string", "message"),
      Col("Count", "integer", "count", 1),
  };
  return k;
}

KindInfo LeaseKind() {
  KindInfo k;
  k.kind = "Lease";
  k.plural = "leases";
  k.singular = "lease";
  k.short_names = {"ls"};
  k.namespaced = false;
  k.has_status = false;
  k.description = "A member agent's heartbeat: renewed every few seconds, read by the hub's health controller. "
                  "berth-hub.leader is the hub replicas' leader record.";
  json spec = json::parse(R"({"type": "object", "properties": {
      "holderIdentity": {"type": "string", "description": "The agent instance holding the lease."},
      "leaseDurationSeconds": {"type": "integer", "minimum": 1},
      "renewTime": {"type": "string", "description": "When the agent last renewed (RFC 3339)."},
      "acquireTime": {"type": "string"},
      "leaseTransitions": {"type": "integer", "minimum": 0,
                           "description": "How many times the holder changed (the hub's leader record)."}}})");
  k.schema = MakeObjectSchema(k.description, {{"spec", spec}}, nullptr);
  k.columns = {Col("Holder", "string", "spec.holderIdentity"), Col("Renewed", "string", "spec.renewTime")};
  // A Lease is a heartbeat the hub reads and deletes with its member: nothing may hold it
  // back from deletion (a member that added a finalizer could pin its Lease forever).
  k.validate = [](const json& object, const json*) -> Status {
    json f = JsonPathGet(object, "metadata.finalizers");
    if (f.is_array() && !f.empty()) {
      return Status::Invalid("metadata.finalizers: Leases take no finalizers",
                             {{"metadata.finalizers", "Leases take no finalizers", "FieldValueForbidden"}});
    }
    return Status::Ok();
  };
  return k;
}

namespace {

// The binding rules the schema cannot say: one of clusterName and clusterNamePattern, a
// pattern of the glob's spelling, and allowRejoin only on a bound token.
Status ValidateBootstrapTokenBinding(const json& object, const json*) {
  const json spec = JsonPathGet(object, "spec");
  if (!spec.is_object()) return Status::Ok();  // the schema requires it
  const json name = JsonPathGet(spec, "clusterName"),
             pattern = JsonPathGet(spec, "clusterNamePattern");
  std::vector<FieldCause> causes;
  if (name.is_string() && pattern.is_string()) {
    causes.push_back({"spec.clusterNamePattern",
                      "set either spec.clusterName (one name) or spec.clusterNamePattern, not both",
                      "FieldValueForbidden"});
  } else if (pattern.is_string()) {
    if (std::string why = CheckClusterNamePattern(pattern.get<std::string>()); !why.empty()) {
      causes.push_back(
          {"spec.clusterNamePattern", pattern.dump() + " " + why, "FieldValueInvalid"});
    }
  }
  if (JsonPathGet(spec, "allowRejoin") == true && !name.is_string() && !pattern.is_string()) {
    causes.push_back(
        {"spec.allowRejoin",
         "needs spec.clusterName or spec.clusterNamePattern: a token that may take over a "
         "healthy member must name it (berthctl token create --cluster NAME --rejoin)",
         "FieldValueForbidden"});
  }
  if (causes.empty()) return Status::Ok();
  const json id = JsonPathGet(object, "metadata.name");
  std::string msg = "BootstrapToken " + (id.is_string() ? id.dump() + " " : std::string()) +
                    "is invalid: " + causes[0].field + ": " + causes[0].message;
  return Status::Invalid(std::move(msg), std::move(causes));
}

}  // namespace

KindInfo BootstrapTokenKind() {
  KindInfo k;
  k.kind = "BootstrapToken";
  k.plural = "bootstraptokens";
  k.singular = "bootstraptoken";
  k.short_names = {"bt"};
  k.namespaced = false;
  k.description =
      "A single-use token a member agent exchanges for its own credential when it joins. "
      "Create with `berthctl token create --cluster NAME`; only the secret's hash is stored.";
  json spec =
      json::parse(R"({"type": "object", "required": ["secretHash", "expiration"], "properties": {
      "secretHash": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                     "description": "SHA-256 (hex) of the token's secret part."},
      "expiration": {"type": "string", "description": "After this time (RFC 3339) the token is refused."},
      "description": {"type": "string"},
      "clusterName": {"type": "string", "x-berth-name-format": "dns1123-label",
                      "description": "The only cluster name this token may join as. Without it (and without clusterNamePattern) the token is unbound: it may join only as a new member, never as an existing MemberCluster."},
      "clusterNamePattern": {"type": "string", "maxLength": 63,
                             "description": "Instead of clusterName: a glob of the names this token may join as; '*' matches any run of characters, e.g. gpu-east-*."},
      "allowRejoin": {"type": "boolean",
                      "description": "May join as an existing member whose agent is still healthy (lease current), replacing and revoking that agent's credential. Needs clusterName or clusterNamePattern."}}})");
  json status = json::parse(R"({"type": "object", "properties": {
      "usedBy": {"type": "string", "description": "Cluster that joined with this token."},
      "usedAt": {"type": "string"}}})");
  k.schema = MakeObjectSchema(k.description, {{"spec", spec}}, status, {"spec"});
  k.columns = {{"Bound To", "string",
                "The cluster name (or name pattern) the token may join as; "
                "<new member> when unbound",
                0,
                [](const json& o) -> json {
                  for (const char* path : {"spec.clusterName", "spec.clusterNamePattern"}) {
                    json v = JsonPathGet(o, path);
                    if (v.is_string() && !v.get<std::string>().empty()) return v;
                  }
                  return "<new member>";
                }},
               Col("Rejoin", "boolean", "spec.allowRejoin"),
               Col("Expires", "string", "spec.expiration"),
               Col("Used By", "string", "status.usedBy"),
               Col("Description", "string", "spec.description", 1)};
  k.validate = ValidateBootstrapTokenBinding;
  return k;
}

}  // namespace berth::api
