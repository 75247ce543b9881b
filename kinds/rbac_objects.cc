#include "kinds/rbac_objects.h"

namespace berth::rbac {

using nlohmann::json;

namespace {

// Collects causes while reading one object; every reader records its own field path.
struct Reader {
  std::vector<FieldCause> causes;

  void Fail(std::string field, std::string message, std::string reason = "FieldValueInvalid") {
    causes.push_back({std::move(field), std::move(message), std::move(reason)});
  }

  std::vector<std::string> Strings(const json& parent, const char* key, const std::string& path) {
    std::vector<std::string> out;
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return out;
    if (!it->is_array()) {
      Fail(path, "must be a list of strings", "FieldValueTypeInvalid");
      return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        Fail(path + "[" + std::to_string(i) + "]", "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      out.push_back((*it)[i].get<std::string>());
    }
    return out;
  }

  std::string String(const json& parent, const char* key, const std::string& path) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return "";
    if (!it->is_string()) {
      Fail(path, "must be a string", "FieldValueTypeInvalid");
      return "";
    }
    return it->get<std::string>();
  }

  std::map<std::string, std::string> StringMap(const json& parent, const char* key,
                                               const std::string& path) {
    std::map<std::string, std::string> out;
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return out;
    if (!it->is_object()) {
      Fail(path, "must be a map of strings", "FieldValueTypeInvalid");
      return out;
    }
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) {
        out[k] = v.get<std::string>();
      } else {
        Fail(path + "." + k, "must be a string", "FieldValueTypeInvalid");
      }
    }
    return out;
  }

  // apiVersion, kind (one of `kinds`), metadata name/namespace/labels/annotations.
  std::string Envelope(const json& o, std::initializer_list<const char*> kinds, std::string* name,
                       std::string* ns, std::map<std::string, std::string>* labels,
                       std::map<std::string, std::string>* annotations) {
    if (o.value("apiVersion", json()) != kRbacApiVersion) {
      Fail("apiVersion", std::string("must be ") + kRbacApiVersion, "FieldValueNotSupported");
    }
    const std::string kind = o.value("kind", json("")).is_string() ? o.value("kind", "") : "";
    bool known = false;
    std::string names;
    for (const char* k : kinds) {
      known = known || kind == k;
      names += (names.empty() ? "" : " or ") + std::string(k);
    }
    if (!known) Fail("kind", "must be " + names, "FieldValueNotSupported");
    const json meta = o.value("metadata", json::object());
    if (!meta.is_object()) {
      Fail("metadata", "must be an object", "FieldValueTypeInvalid");
      return kind;
    }
    *name = String(meta, "name", "metadata.name");
    if (name->empty()) Fail("metadata.name", "name or generateName is required", "FieldValueRequired");
    *ns = String(meta, "namespace", "metadata.namespace");
    *labels = StringMap(meta, "labels", "metadata.labels");
    *annotations = StringMap(meta, "annotations", "metadata.annotations");
    return kind;
  }

  // Kubernetes' Invalid message names the kind: Role.rbac.authorization.k8s.io "x" is invalid: ...
  Status Result(const std::string& kind, const std::string& name) const {
    std::string msg = kind + ".rbac.authorization.k8s.io \"" + name + "\" is invalid: " +
                      causes.front().field + ": " + causes.front().message;
    if (causes.size() > 1) msg += " (and " + std::to_string(causes.size() - 1) + " more)";
    return Status::Invalid(std::move(msg), causes);
  }
};

// Scope rules common to both kinds: a namespaced kind needs a namespace, a cluster kind has none.
void CheckScope(Reader& r, bool namespaced, const std::string& ns) {
  if (namespaced && ns.empty()) r.Fail("metadata.namespace", "is required", "FieldValueRequired");
  if (!namespaced && !ns.empty()) {
    r.Fail("metadata.namespace", "not allowed on this type", "FieldValueForbidden");
  }
}

PolicyRule ReadRule(Reader& r, const json& rule, const std::string& path) {
  PolicyRule out;
  if (!rule.is_object()) {
    r.Fail(path, "must be an object", "FieldValueTypeInvalid");
    return out;
  }
  out.verbs = r.Strings(rule, "verbs", path + ".verbs");
  out.api_groups = r.Strings(rule, "apiGroups", path + ".apiGroups");
  out.resources = r.Strings(rule, "resources", path + ".resources");
  out.resource_names = r.Strings(rule, "resourceNames", path + ".resourceNames");
  out.non_resource_urls = r.Strings(rule, "nonResourceURLs", path + ".nonResourceURLs");
  return out;
}

Subject ReadSubject(Reader& r, const json& s, const std::string& path, bool namespaced) {
  Subject out;
  if (!s.is_object()) {
    r.Fail(path, "must be an object", "FieldValueTypeInvalid");
    return out;
  }
  const std::string kind = r.String(s, "kind", path + ".kind");
  const std::string group = r.String(s, "apiGroup", path + ".apiGroup");
  out.name = r.String(s, "name", path + ".name");
  out.ns = r.String(s, "namespace", path + ".namespace");
  if (out.name.empty()) r.Fail(path + ".name", "is required", "FieldValueRequired");
  if (kind == "ServiceAccount") {
    out.kind = Subject::Kind::kServiceAccount;
    if (!group.empty()) r.Fail(path + ".apiGroup", "supported values: \"\"", "FieldValueNotSupported");
    if (!namespaced && out.ns.empty()) {
      r.Fail(path + ".namespace", "is required", "FieldValueRequired");
    }
  } else if (kind == "User" || kind == "Group") {
    out.kind = kind == "User" ? Subject::Kind::kUser : Subject::Kind::kGroup;
    if (group != kRbacGroup) {
      r.Fail(path + ".apiGroup", "supported values: \"rbac.authorization.k8s.io\"",
             "FieldValueNotSupported");
    }
  } else {
    r.Fail(path + ".kind", "supported values: \"ServiceAccount\", \"User\", \"Group\"",
           "FieldValueNotSupported");
  }
  return out;
}

void ReadAggregationRule(Reader& r, const json& o, Role* role) {
  auto it = o.find("aggregationRule");
  if (it == o.end() || it->is_null()) return;
  role->aggregation_rule = *it;
  const json selectors = it->is_object() ? it->value("clusterRoleSelectors", json::array()) : json();
  if (!selectors.is_array()) {
    r.Fail("aggregationRule.clusterRoleSelectors", "must be a list of label selectors",
           "FieldValueTypeInvalid");
    return;
  }
  for (size_t i = 0; i < selectors.size(); ++i) {
    const std::string path = "aggregationRule.clusterRoleSelectors[" + std::to_string(i) + "]";
    auto sel = api::LabelSelector::FromJson(selectors[i], path);
    if (!sel.ok()) {
      for (const FieldCause& c : sel.status().causes()) r.Fail(c.field, c.message, c.reason);
      continue;
    }
    role->aggregation_selectors.push_back(std::move(*sel));
  }
}

json Meta(const std::string& name, const std::string& ns,
          const std::map<std::string, std::string>& labels,
          const std::map<std::string, std::string>& annotations) {
  json meta = {{"name", name}};
  if (!ns.empty()) meta["namespace"] = ns;
  if (!labels.empty()) meta["labels"] = labels;
  if (!annotations.empty()) meta["annotations"] = annotations;
  return meta;
}

// Go's %q of a []string: ["a" "b"].
std::string QuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + json(items[i]).dump();
  return out + "]";
}

}  // namespace

const char* SubjectKindName(Subject::Kind kind) {
  switch (kind) {
    case Subject::Kind::kUser:
      return "User";
    case Subject::Kind::kGroup:
      return "Group";
    case Subject::Kind::kServiceAccount:
      return "ServiceAccount";
  }
  return "User";
}

void ValidatePolicyRule(const PolicyRule& rule, bool namespaced, const std::string& path,
                        std::vector<FieldCause>* causes) {
  auto fail = [&](const char* field, std::string msg, const char* reason) {
    causes->push_back({path + "." + field, std::move(msg), reason});
  };
  if (rule.verbs.empty()) fail("verbs", "verbs must contain at least one value", "FieldValueRequired");
  if (!rule.non_resource_urls.empty()) {
    if (namespaced) {
      fail("nonResourceURLs", "namespaced rules cannot apply to non-resource URLs", "FieldValueInvalid");
    }
    if (!rule.api_groups.empty() || !rule.resources.empty() || !rule.resource_names.empty()) {
      fail("nonResourceURLs", "rules cannot apply to both regular resources and non-resource URLs",
           "FieldValueInvalid");
    }
    return;
  }
  if (rule.api_groups.empty()) {
    fail("apiGroups", "resource rules must supply at least one api group", "FieldValueRequired");
  }
  if (rule.resources.empty()) {
    fail("resources", "resource rules must supply at least one resource", "FieldValueRequired");
  }
}

StatusOr<Role> ParseRole(const json& object) {
  Reader r;
  Role role;
  if (!object.is_object()) return Status::Invalid("a role must be an object", {{"", "must be an object"}});
  const std::string kind = r.Envelope(object, {"Role", "ClusterRole"}, &role.name, &role.ns,
                                      &role.labels, &role.annotations);
  const bool namespaced = kind == "Role";
  CheckScope(r, namespaced, role.ns);
  auto rules = object.find("rules");
  if (rules != object.end() && !rules->is_null()) {
    if (!rules->is_array()) {
      r.Fail("rules", "must be a list", "FieldValueTypeInvalid");
    } else {
      for (size_t i = 0; i < rules->size(); ++i) {
        const std::string path = "rules[" + std::to_string(i) + "]";
        role.rules.push_back(ReadRule(r, (*rules)[i], path));
        ValidatePolicyRule(role.rules.back(), namespaced, path, &r.causes);
      }
    }
  }
  if (namespaced && object.contains("aggregationRule")) {
    r.Fail("aggregationRule", "field not declared in schema", "FieldValueForbidden");
  } else if (!namespaced) {
    ReadAggregationRule(r, object, &role);
  }
  if (!r.causes.empty()) return r.Result(kind == "ClusterRole" ? "ClusterRole" : "Role", role.name);
  return role;
}

StatusOr<RoleBinding> ParseRoleBinding(const json& object) {
  Reader r;
  RoleBinding b;
  if (!object.is_object()) return Status::Invalid("a binding must be an object", {{"", "must be an object"}});
  const std::string kind = r.Envelope(object, {"RoleBinding", "ClusterRoleBinding"}, &b.name, &b.ns,
                                      &b.labels, &b.annotations);
  const bool namespaced = kind == "RoleBinding";
  CheckScope(r, namespaced, b.ns);
  const json ref = object.value("roleRef", json());
  if (!ref.is_object()) {
    r.Fail("roleRef", "is required", "FieldValueRequired");
  } else {
    b.role_ref.kind = r.String(ref, "kind", "roleRef.kind");
    b.role_ref.name = r.String(ref, "name", "roleRef.name");
    if (r.String(ref, "apiGroup", "roleRef.apiGroup") != kRbacGroup) {
      r.Fail("roleRef.apiGroup", "supported values: \"rbac.authorization.k8s.io\"", "FieldValueNotSupported");
    }
    const bool kind_ok = b.role_ref.kind == "ClusterRole" || (namespaced && b.role_ref.kind == "Role");
    if (!kind_ok) {
      r.Fail("roleRef.kind", namespaced ? "supported values: \"Role\", \"ClusterRole\""
                                        : "supported values: \"ClusterRole\"",
             "FieldValueNotSupported");
    }
    if (b.role_ref.name.empty()) r.Fail("roleRef.name", "is required", "FieldValueRequired");
  }
  auto subjects = object.find("subjects");
  if (subjects != object.end() && !subjects->is_null()) {
    if (!subjects->is_array()) {
      r.Fail("subjects", "must be a list", "FieldValueTypeInvalid");
    } else {
      for (size_t i = 0; i < subjects->size(); ++i) {
        b.subjects.push_back(ReadSubject(r, (*subjects)[i], "subjects[" + std::to_string(i) + "]", namespaced));
      }
    }
  }
  if (!r.causes.empty()) return r.Result(kind == "ClusterRoleBinding" ? "ClusterRoleBinding" : "RoleBinding", b.name);
  return b;
}

json PolicyRuleToJson(const PolicyRule& rule) {
  json out = {{"verbs", rule.verbs}};
  if (!rule.api_groups.empty()) out["apiGroups"] = rule.api_groups;
  if (!rule.resources.empty()) out["resources"] = rule.resources;
  if (!rule.resource_names.empty()) out["resourceNames"] = rule.resource_names;
  if (!rule.non_resource_urls.empty()) out["nonResourceURLs"] = rule.non_resource_urls;
  return out;
}

json RoleToJson(const Role& role) {
  json rules = json::array();
  for (const PolicyRule& rule : role.rules) rules.push_back(PolicyRuleToJson(rule));
  json out = {{"apiVersion", kRbacApiVersion},
              {"kind", role.kind()},
              {"metadata", Meta(role.name, role.ns, role.labels, role.annotations)},
              {"rules", rules}};
  if (!role.aggregation_rule.is_null()) out["aggregationRule"] = role.aggregation_rule;
  return out;
}

json RoleBindingToJson(const RoleBinding& b) {
  json subjects = json::array();
  for (const Subject& s : b.subjects) {
    json j = {{"kind", SubjectKindName(s.kind)}, {"name", s.name}};
    if (s.kind == Subject::Kind::kServiceAccount) {
      if (!s.ns.empty()) j["namespace"] = s.ns;
    } else {
      j["apiGroup"] = kRbacGroup;
    }
    subjects.push_back(std::move(j));
  }
  return {{"apiVersion", kRbacApiVersion},
          {"kind", b.kind()},
          {"metadata", Meta(b.name, b.ns, b.labels, b.annotations)},
          {"roleRef", {{"apiGroup", kRbacGroup}, {"kind", b.role_ref.kind}, {"name", b.role_ref.name}}},
          {"subjects", subjects}};
}

std::string DescribeRule(const PolicyRule& rule) {
  std::string out;
  auto add = [&out](const char* label, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += (out.empty() ? "" : ", ") + std::string(label) + ":" + QuotedList(items);
  };
  add("APIGroups", rule.api_groups);
  add("Resources", rule.resources);
  add("NonResourceURLs", rule.non_resource_urls);
  add("ResourceNames", rule.resource_names);
  add("Verbs", rule.verbs);
  return "{" + out + "}";
}

}  // namespace berth::rbac
