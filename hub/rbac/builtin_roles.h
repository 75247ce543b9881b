// The ClusterRoles and ClusterRoleBindings every Berth hub has, as data (docs/ACCESS.md has the
// table):
//   cluster-admin      everything, every URL; bound to the group system:masters
//   admin              edit + Roles and RoleBindings (bound per namespace by a RoleBinding)
//   edit               view + writes to Workspaces (incl. /scale and the /status writes that
//                      rollout approve/pause/undo/retry make), PlacementPolicies,
//                      RolloutStrategies, ConfigMaps and Secrets, and reading Secrets
//   view               get/list/watch of Berth's namespaced kinds, MemberClusters, Namespaces,
//                      ConfigMaps and Events, and the workload kinds Berth lists empty (so
//                      `kubectl apply --prune` can list them). Never Secrets.
//   system:discovery   /version, /api*, /apis*, /openapi*, health paths; bound to
//                      system:authenticated
//   system:basic-user  whoami, can-i and can-i --list reviews; bound to system:authenticated
//   berth-member       the rules of one member agent (today's member rules in
//                      hub/api_authorization.cc) without names: a template, bound to nobody.
//                      MemberClusterRole(cluster) narrows it to one cluster's objects with
//                      resourceNames, and MemberClusterRoleBinding(cluster) binds that to the
//                      member's user "system:member:<cluster>"; both are created at join and
//                      deleted with the member, so one member can never reach another's.
// Built-ins carry the label kubernetes.io/bootstrapping=rbac-defaults and the annotation
// rbac.authorization.kubernetes.io/autoupdate=true; at start-up the hub reconciles them into
// the store as Kubernetes does (ReconcileBuiltinRole/Binding). Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kinds/rbac_objects.h"

namespace berth::rbac {

inline constexpr const char* kBootstrappingLabel = "kubernetes.io/bootstrapping";
inline constexpr const char* kAutoupdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate";
inline constexpr const char* kMemberRoleName = "berth-member";

std::vector<Role> BuiltinClusterRoles();
std::vector<RoleBinding> BuiltinClusterRoleBindings();

// "berth-member:<cluster>": the berth-member rules limited to `cluster`'s own MemberCluster,
// Lease and Work (resourceNames = {cluster}; list and watch of Works need a
// metadata.name=<cluster> field selector, which the request attributes turn into the name).
Role MemberClusterRole(const std::string& cluster);
// "berth-member:<cluster>" binding MemberClusterRole(cluster) to User "system:member:<cluster>".
RoleBinding MemberClusterRoleBinding(const std::string& cluster);

// What to store so that `stored` (null if absent) carries a built-in, or nullopt when nothing
// needs writing. As Kubernetes' auto-reconciliation: a stored object annotated
// autoupdate=false is left alone; otherwise missing rules (subjects) are added, labels and
// annotations are unioned, and what an administrator added is kept. A binding whose roleRef
// differs is replaced by the built-in (roleRef cannot be changed in place).
std::optional<Role> ReconcileBuiltinRole(const Role* stored, const Role& builtin);
std::optional<RoleBinding> ReconcileBuiltinBinding(const RoleBinding* stored, const RoleBinding& builtin);

}  // namespace berth::rbac
