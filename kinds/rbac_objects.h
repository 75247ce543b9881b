// The rbac.authorization.k8s.io/v1 objects: Role, ClusterRole, RoleBinding and
// ClusterRoleBinding, as typed values parsed from (and written back to) their JSON, with
// Kubernetes' validation rules (ValidatePolicyRule, ValidateRoleBindingSubject). Parse errors
// are Invalid with one FieldCause per problem, each naming its field path ("rules[0].verbs",
// "subjects[1].namespace"). Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/selector.h"
#include "api/status.h"

namespace berth::rbac {

inline constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";
inline constexpr const char* kRbacApiVersion = "rbac.authorization.k8s.io/v1";

// "*" in verbs, apiGroups, resources and nonResourceURLs matches everything.
inline constexpr const char* kAll = "*";

struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  // "workspaces", "workspaces/scale", "*", "*/scale".
  std::vector<std::string> resources;
  // Empty: every name. Otherwise only requests naming one of these.
  std::vector<std::string> resource_names;
  // "/metrics", "/apis/*", "*"; only in ClusterRoles, never together with resources.
  std::vector<std::string> non_resource_urls;
  bool operator==(const PolicyRule&) const = default;
};

// A Role (namespace set) or a ClusterRole (namespace empty).
struct Role {
  std::string name;
  std::string ns;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<PolicyRule> rules;
  // ClusterRoles only: the rules are those of every ClusterRole matching one of these
  // (aggregationRule.clusterRoleSelectors); `rules` then holds what was last aggregated.
  std::vector<api::LabelSelector> aggregation_selectors;
  nlohmann::json aggregation_rule;  // as written, for the round trip; null when absent
  bool cluster_role() const { return ns.empty(); }
  std::string kind() const { return cluster_role() ? "ClusterRole" : "Role"; }
};

struct RoleRef {
  std::string kind;  // "Role" | "ClusterRole"
  std::string name;
  bool operator==(const RoleRef&) const = default;
};

struct Subject {
  enum class Kind { kUser, kGroup, kServiceAccount };
  Kind kind = Kind::kUser;
  std::string name;
  // ServiceAccount only; empty in a RoleBinding means the binding's namespace.
  std::string ns;
  bool operator==(const Subject&) const = default;
};

const char* SubjectKindName(Subject::Kind kind);

// A RoleBinding (namespace set) or a ClusterRoleBinding (namespace empty).
struct RoleBinding {
  std::string name;
  std::string ns;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  RoleRef role_ref;
  std::vector<Subject> subjects;
  bool cluster_binding() const { return ns.empty(); }
  std::string kind() const { return cluster_binding() ? "ClusterRoleBinding" : "RoleBinding"; }
};

// Checks one rule as Kubernetes does: verbs required; non-resource URLs only in cluster
// roles and never with apiGroups, resources or resourceNames; otherwise apiGroups and
// resources required. Appends causes under `path` ("rules[2]").
void ValidatePolicyRule(const PolicyRule& rule, bool namespaced, const std::string& path,
                        std::vector<FieldCause>* causes);

// Parses a Role or ClusterRole (by its `kind`); apiVersion must be rbac.authorization.k8s.io/v1.
// A Role needs metadata.namespace; a ClusterRole must not have one.
StatusOr<Role> ParseRole(const nlohmann::json& object);
// Parses a RoleBinding or ClusterRoleBinding (by its `kind`). roleRef.kind must be Role or
// ClusterRole (only ClusterRole in a ClusterRoleBinding) and roleRef.apiGroup
// rbac.authorization.k8s.io; subjects: User and Group with apiGroup rbac.authorization.k8s.io,
// ServiceAccount with apiGroup "" and, in a ClusterRoleBinding, a namespace.
StatusOr<RoleBinding> ParseRoleBinding(const nlohmann::json& object);

nlohmann::json PolicyRuleToJson(const PolicyRule& rule);
nlohmann::json RoleToJson(const Role& role);
nlohmann::json RoleBindingToJson(const RoleBinding& binding);

// Kubernetes' CompactString: {APIGroups:["berth.dev"], Resources:["secrets"], Verbs:["get"]}.
std::string DescribeRule(const PolicyRule& rule);

}  // namespace berth::rbac
