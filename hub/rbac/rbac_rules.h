// Kubernetes RBAC decisions for the hub: whether a user may do a request (Authorize), and
// every rule a user holds in a namespace (RulesFor, for `kubectl auth can-i --list`).
// Semantics are Kubernetes' (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac):
//   - ClusterRoleBindings grant their ClusterRole everywhere: cluster-scoped resources,
//     non-resource URLs and every namespace.
//   - A RoleBinding grants its Role, or the ClusterRole it references, only for requests in
//     its own namespace.
//   - A rule matches when verb, API group, resource ("plural", "plural/subresource", "*",
//     "*/subresource"), and resourceNames (empty = all; a request without a name, such as a
//     list or a create, matches only rules without resourceNames) all match; a non-resource
//     request matches a rule's nonResourceURLs exactly or by a trailing "*" prefix.
//   - Subjects: User by name, Group by membership, ServiceAccount by the user name
//     "system:serviceaccount:<ns>:<name>" (the namespace defaults to the RoleBinding's).
//     Service accounts' groups ("system:serviceaccounts", "system:serviceaccounts:<ns>")
//     and "system:authenticated" are matched as ordinary Group subjects: the authenticator
//     puts them in UserInfo.groups.
//   - The group system:masters is allowed everything before any binding is read, as
//     kube-apiserver's privileged-groups authorizer does, so a broken binding cannot lock the
//     admin out.
//   - Anything not granted is denied; the reason is Kubernetes' Forbidden text naming the user,
//     verb, resource (with subresource), API group and namespace or cluster scope.
// Pure: functions of the request and an RbacSnapshot. An RbacSnapshot is immutable once built
// and may be shared by any number of threads.
//
// How it is wired (docs/ACCESS.md has the checklist):
//   - hub/rbac_policy_watcher.h reconciles the built-ins (hub/rbac/builtin_roles.h) into the
//     store at start-up, rebuilds an RbacSnapshot on every change of the stored roles,
//     clusterroles, rolebindings and clusterrolebindings and publishes it as a
//     std::shared_ptr<const RbacSnapshot>; each request reads the current one.
//   - The router (hub/api_routing.cc) turns each authenticated request into RequestAttributes
//     (ResourceRequestAttributes for objects and reviews, NonResourceRequestAttributes for
//     /metrics, discovery and OpenAPI) and calls Authorize before any handler; a denial is
//     ForbiddenStatus(attrs, decision). A member agent's object requests are still decided by
//     hub/api_authorization.h's member check. SelfSubjectAccessReview calls the same
//     Authorize; a SelfSubjectRulesReview is answered by SelfSubjectRulesReview.
//   - Identity tokens (hub/rbac/identity_tokens.h, stored as IdentityToken objects:
//     hub/identity_token_kind.h) yield the UserInfo (hub/auth.h UserOf); client certificates
//     (hub/rbac/client_cert_identity.h) are not wired yet. Mutating requests are recorded by
//     hub/request_audit.h with the answered code.
//   - Role/ClusterRole writes call CheckRoleEscalation and binding writes
//     CheckBindingEscalation (hub/rbac/escalation.h) on the object about to be stored.
//   - Identities map as: the admin token → user "admin", groups {"system:masters",
//     "system:authenticated"} (also bound to cluster-admin by the built-in ClusterRoleBinding);
//     a member agent → user "system:member:<cluster>", groups {"berth:members",
//     "system:authenticated"}.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "kinds/rbac_objects.h"
#include "hub/rbac/user_info.h"

namespace berth::rbac {

// What a request asks for, as Kubernetes' authorizer.Attributes.
struct RequestAttributes {
  std::string user;
  std::vector<std::string> groups;
  std::string verb;  // get list watch create update patch delete deletecollection, bind, escalate…
  bool resource_request = true;
  // Resource requests:
  std::string api_group;  // "" for core/v1
  std::string resource;   // plural: "workspaces"
  std::string subresource;  // "status", "scale" or ""
  std::string name;       // "" for list, watch (without a name field selector) and create
  std::string ns;         // "" for cluster-scoped resources and cluster-wide lists
  // Non-resource requests: the URL path ("/metrics", "/apis").
  std::string path;
};

// The verb Kubernetes derives from an HTTP method: GET/HEAD → get on a named object (even with
// ?watch=true), list on a collection (watch with ?watch=true); POST → create; PUT → update; PATCH → patch; DELETE →
// delete on a named object, deletecollection on a collection. "" for other methods.
std::string VerbFor(std::string_view method, bool named, bool watch);

// A resource request as the router has parsed it (hub/api_routing.h ResourcePath plus the
// query): GET /apis/berth.dev/v1alpha1/namespaces/team-a/workspaces?watch=true is
// {.method = "GET", .api_group = "berth.dev", .ns = "team-a", .resource = "workspaces",
//  .watch = true}.
// (Every member has a default, so designated initializers may leave any out without
// -Wmissing-field-initializers.)
struct ResourceRequest {
  std::string method = "";
  std::string api_group = "";
  std::string ns = "";
  std::string resource = "";
  std::string name = "";
  std::string subresource = "";
  bool watch = false;              // ?watch=true
  std::string selector_name = "";  // the name a metadata.name field selector pins, "" if none
};

// The attributes of a resource request as Kubernetes' RequestInfoFactory builds them: the verb
// from VerbFor; for list and watch, the selector's name as the name (so resourceNames can
// allow a list of one object); a request on the Namespace object itself is in that namespace
// (GET /api/v1/namespaces/team-a is namespace "team-a", so a RoleBinding in team-a may grant
// reading it).
RequestAttributes ResourceRequestAttributes(const UserInfo& who, const ResourceRequest& request);

// A request outside the resource tree ("/metrics", "/version"): its verb is the lower-case
// method, as in Kubernetes ("get", "post").
RequestAttributes NonResourceRequestAttributes(const UserInfo& who, std::string_view method,
                                               const std::string& path);

// Whether one rule grants the request (RBAC's RuleAllows).
bool RuleAllows(const RequestAttributes& attrs, const PolicyRule& rule);

// The roles and bindings RBAC decides on, indexed for lookups. Aggregated ClusterRoles
// (aggregationRule) get, at Build, the union of the rules of the ClusterRoles their selectors
// match, as Kubernetes' aggregation controller writes them (one level: matched roles
// contribute their own `rules`).
class RbacSnapshot {
 public:
  // Later objects with the same (namespace, name) replace earlier ones, so built-ins passed
  // before the stored objects are overridden by what the store holds.
  static std::shared_ptr<const RbacSnapshot> Build(std::vector<Role> roles,
                                                   std::vector<RoleBinding> bindings);

  // Null if absent. `ns` empty: a ClusterRole.
  const Role* FindRole(const std::string& ns, const std::string& name) const;
  // ClusterRoleBindings (ns empty) or the RoleBindings of one namespace.
  const std::vector<RoleBinding>& BindingsIn(const std::string& ns) const;
  // The rules a role reference resolves to, from a binding in `binding_ns`; NotFound
  // ("clusterroles.rbac.authorization.k8s.io \"x\" not found") if the role is missing.
  StatusOr<const std::vector<PolicyRule>*> RulesOf(const RoleRef& ref,
                                                   const std::string& binding_ns) const;

 private:
  std::map<std::pair<std::string, std::string>, Role> roles_;  // (ns, name); ns "" = ClusterRole
  std::map<std::string, std::vector<RoleBinding>> bindings_;   // by namespace; "" = cluster
};

// Whether `subject` of a binding in `binding_ns` ("" for a ClusterRoleBinding) is this user.
bool SubjectMatches(const Subject& subject, const std::string& user,
                    const std::vector<std::string>& groups, const std::string& binding_ns);

// Calls `visit(source, rule)` for every rule the user holds in `ns` ("" for cluster scope):
// ClusterRoleBindings first, then the RoleBindings of `ns`. `source` describes the grant as
// Kubernetes does (`ClusterRoleBinding "x" of ClusterRole "edit" to User "bob"`). Stops when
// `visit` returns false. Missing roles are appended to `errors` and skipped.
void VisitRulesFor(const RbacSnapshot& snapshot, const std::string& user,
                   const std::vector<std::string>& groups, const std::string& ns,
                   const std::function<bool(const std::string& source, const PolicyRule&)>& visit,
                   std::vector<std::string>* errors);

struct Decision {
  bool allowed = false;
  // Allowed: which binding granted it ("RBAC: allowed by RoleBinding \"dev/team-a\" of
  // ClusterRole \"edit\" to User \"bob\""). Denied: ForbiddenMessage, plus the resolution
  // errors met on the way ("…: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found").
  std::string reason;
};

Decision Authorize(const RequestAttributes& attrs, const RbacSnapshot& snapshot);

// Kubernetes' forbiddenMessage: `User "bob" cannot patch resource "workspaces/scale" in API
// group "berth.dev" in the namespace "team-a"` (or `at the cluster scope`), and for
// non-resource requests `User "bob" cannot get path "/metrics"`.
std::string ForbiddenMessage(const RequestAttributes& attrs);

// The Forbidden Status the API answers a denial with, as Kubernetes words it:
// `workspaces.berth.dev "chat" is forbidden: User "bob" cannot …` (no name: `workspaces.berth.dev
// is forbidden: …`; non-resource: `forbidden: User …`).
Status ForbiddenStatus(const RequestAttributes& attrs, const Decision& decision);

struct SubjectRules {
  std::vector<PolicyRule> resource_rules;      // verbs, apiGroups, resources, resourceNames
  std::vector<PolicyRule> non_resource_rules;  // verbs, nonResourceURLs
  std::vector<std::string> errors;             // roles that could not be resolved
};

// Every rule the user holds for requests in `ns`: cluster-wide grants plus that namespace's
// RoleBindings (exact duplicates dropped, first occurrence kept). system:masters holds "*".
SubjectRules RulesFor(const std::string& user, const std::vector<std::string>& groups,
                      const std::string& ns, const RbacSnapshot& snapshot);

// The status of an authorization.k8s.io/v1 SelfSubjectRulesReview:
// {resourceRules: [{verbs, apiGroups, resources, resourceNames}], nonResourceRules: [{verbs,
// nonResourceURLs}], incomplete, evaluationError (only when incomplete)}.
nlohmann::json SelfSubjectRulesReviewStatus(const SubjectRules& rules);

// The answer to a POST of an authorization.k8s.io/v1 SelfSubjectRulesReview (what
// `kubectl auth can-i --list [-n NS]` sends): the review with metadata.creationTimestamp null
// and its status for `who` in spec.namespace. BadRequest if the body is not such a review or
// spec.namespace (required, as in Kubernetes) is missing.
StatusOr<nlohmann::json> SelfSubjectRulesReview(const UserInfo& who, const nlohmann::json& review,
                                                const RbacSnapshot& snapshot);

}  // namespace berth::rbac
