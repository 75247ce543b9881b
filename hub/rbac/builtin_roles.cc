#include "hub/rbac/builtin_roles.h"

#include <algorithm>

#include "hub/rbac/escalation.h"
#include "hub/rbac/user_info.h"

namespace berth::rbac {

namespace {

using Strings = std::vector<std::string>;

const Strings kRead = {"get", "list", "watch"};
const Strings kWrite = {"create", "update", "patch", "delete", "deletecollection"};
const Strings kAllVerbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};

PolicyRule Rule(Strings verbs, Strings groups, Strings resources) {
  return {std::move(verbs), std::move(groups), std::move(resources), {}, {}};
}

Role Builtin(std::string name, std::vector<PolicyRule> rules) {
  Role r;
  r.name = std::move(name);
  r.labels[kBootstrappingLabel] = "rbac-defaults";
  r.annotations[kAutoupdateAnnotation] = "true";
  r.rules = std::move(rules);
  return r;
}

RoleBinding BuiltinBinding(std::string name, std::string role, Subject subject) {
  RoleBinding b;
  b.name = std::move(name);
  b.labels[kBootstrappingLabel] = "rbac-defaults";
  b.annotations[kAutoupdateAnnotation] = "true";
  b.role_ref = {"ClusterRole", std::move(role)};
  b.subjects = {std::move(subject)};
  return b;
}

// Reading everything a namespace's users see. Secrets are deliberately absent (view must not
// reveal credentials, as in Kubernetes); the unserved workload kinds are here because
// `kubectl apply --prune` lists them and a 403 would fail the prune.
std::vector<PolicyRule> ViewRules() {
  return {
      Rule(kRead, {"berth.dev"},
           {"workspaces", "workspaces/status", "workspaces/scale", "placementpolicies", "placementpolicies/status",
            "rolloutstrategies", "rolloutstrategies/status", "memberclusters", "memberclusters/status"}),
      Rule(kRead, {"kaito.sh"}, {"workspaces", "workspaces/status"}),
      Rule(kRead, {""},
           {"configmaps", "events", "namespaces", "namespaces/status", "endpoints", "persistentvolumeclaims", "pods",
            "replicationcontrollers", "services"}),
      Rule(kRead, {"apps"}, {"daemonsets", "deployments", "replicasets", "statefulsets"}),
      Rule(kRead, {"batch"}, {"cronjobs", "jobs"}),
      Rule(kRead, {"networking.k8s.io"}, {"ingresses"}),
  };
}

// Changing a namespace's applications. Status writes on Workspaces are here because rollout
// approve/pause/resume/undo/retry are written through /status (docs/ROLLOUTS.md).
std::vector<PolicyRule> EditRules() {
  std::vector<PolicyRule> rules = ViewRules();
  rules.push_back(Rule(kWrite, {"berth.dev"}, {"workspaces", "workspaces/scale", "placementpolicies", "rolloutstrategies"}));
  rules.push_back(Rule({"update", "patch"}, {"berth.dev"}, {"workspaces/status"}));
  rules.push_back(Rule(kWrite, {"kaito.sh"}, {"workspaces"}));
  rules.push_back(Rule(kRead, {""}, {"secrets"}));
  rules.push_back(Rule(kWrite, {""}, {"configmaps", "secrets"}));
  return rules;
}

std::vector<PolicyRule> AdminRules() {
  std::vector<PolicyRule> rules = EditRules();
  rules.push_back(Rule(kAllVerbs, {kRbacGroup}, {"roles", "rolebindings"}));
  rules.push_back(Rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}));
  return rules;
}

// Exactly what hub/api_authorization.cc lets a member credential do today, without names.
std::vector<PolicyRule> MemberRules() {
  return {
      Rule({"get"}, {"berth.dev"}, {"memberclusters"}),
      Rule({"get", "update", "patch"}, {"berth.dev"}, {"memberclusters/status"}),
      Rule({"get", "update", "patch"}, {"berth.dev"}, {"leases"}),
      Rule({"get", "list", "watch"}, {"berth.dev"}, {"works"}),
      Rule({"get", "update", "patch"}, {"berth.dev"}, {"works/status"}),
  };
}

PolicyRule NonResource(Strings verbs, Strings urls) { return {std::move(verbs), {}, {}, {}, std::move(urls)}; }

Subject GroupSubject(const char* name) { return {Subject::Kind::kGroup, name, ""}; }

template <typename T>
void AddMissing(std::vector<T>* to, const std::vector<T>& from, bool* changed) {
  for (const T& x : from) {
    if (std::find(to->begin(), to->end(), x) != to->end()) continue;
    to->push_back(x);
    *changed = true;
  }
}

void UnionMap(std::map<std::string, std::string>* to, const std::map<std::string, std::string>& from,
              bool* changed) {
  for (const auto& [k, v] : from) *changed = to->emplace(k, v).second || *changed;
}

bool AutoupdateDisabled(const std::map<std::string, std::string>& annotations) {
  auto it = annotations.find(kAutoupdateAnnotation);
  return it != annotations.end() && it->second == "false";
}

}  // namespace

std::vector<Role> BuiltinClusterRoles() {
  return {
      Builtin("cluster-admin", {Rule({"*"}, {"*"}, {"*"}), NonResource({"*"}, {"*"})}),
      Builtin("admin", AdminRules()),
      Builtin("edit", EditRules()),
      Builtin("view", ViewRules()),
      Builtin("system:discovery",
              {NonResource({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                     "/openapi/*", "/readyz", "/version", "/version/"})}),
      Builtin("system:basic-user",
              {Rule({"create"}, {"authorization.k8s.io"}, {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
               Rule({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}),
      Builtin(kMemberRoleName, MemberRules()),
  };
}

std::vector<RoleBinding> BuiltinClusterRoleBindings() {
  return {
      BuiltinBinding("cluster-admin", "cluster-admin", GroupSubject(kGroupMasters)),
      BuiltinBinding("system:discovery", "system:discovery", GroupSubject(kGroupAuthenticated)),
      BuiltinBinding("system:basic-user", "system:basic-user", GroupSubject(kGroupAuthenticated)),
  };
}

Role MemberClusterRole(const std::string& cluster) {
  Role r = Builtin(std::string(kMemberRoleName) + ":" + cluster, MemberRules());
  for (PolicyRule& rule : r.rules) rule.resource_names = {cluster};
  return r;
}

RoleBinding MemberClusterRoleBinding(const std::string& cluster) {
  const std::string name = std::string(kMemberRoleName) + ":" + cluster;
  return BuiltinBinding(name, name, {Subject::Kind::kUser, kMemberUserPrefix + cluster, ""});
}

std::optional<Role> ReconcileBuiltinRole(const Role* stored, const Role& builtin) {
  if (!stored) return builtin;
  if (AutoupdateDisabled(stored->annotations)) return std::nullopt;
  Role out = *stored;
  bool changed = false;
  // Whole built-in rules are added rather than the missing pieces, so the stored role reads
  // like the built-in one.
  for (const PolicyRule& rule : builtin.rules) {
    if (Covers(out.rules, {rule}, nullptr)) continue;
    out.rules.push_back(rule);
    changed = true;
  }
  UnionMap(&out.labels, builtin.labels, &changed);
  UnionMap(&out.annotations, builtin.annotations, &changed);
  if (!changed) return std::nullopt;
  return out;
}

std::optional<RoleBinding> ReconcileBuiltinBinding(const RoleBinding* stored, const RoleBinding& builtin) {
  if (!stored) return builtin;
  if (AutoupdateDisabled(stored->annotations)) return std::nullopt;
  if (stored->role_ref != builtin.role_ref) return builtin;
  RoleBinding out = *stored;
  bool changed = false;
  AddMissing(&out.subjects, builtin.subjects, &changed);
  UnionMap(&out.labels, builtin.labels, &changed);
  UnionMap(&out.annotations, builtin.annotations, &changed);
  if (!changed) return std::nullopt;
  return out;
}

}  // namespace berth::rbac
