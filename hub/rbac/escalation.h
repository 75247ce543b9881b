// Privilege-escalation protection for RBAC writes, as Kubernetes' rbac registry does it: a
// user may only grant what it already holds.
//   - Creating or updating a Role/ClusterRole is allowed if the requester is in
//     system:masters, holds the `escalate` verb on that role (roles/clusterroles in
//     rbac.authorization.k8s.io, resourceNames honoured), or already holds every rule the
//     role grants in the role's namespace (cluster-wide for a ClusterRole): Kubernetes'
//     ConfirmNoEscalation. A ClusterRole with an aggregationRule can gather any role's rules,
//     so without `escalate` it needs cluster-admin's rules ("must have cluster-admin privileges
//     to use the aggregationRule"). An update that changes neither rules, labels (they decide
//     which aggregated ClusterRoles take the rules in) nor aggregationRule needs no check.
//   - Creating a RoleBinding/ClusterRoleBinding is allowed if the requester is in
//     system:masters, holds `bind` on the referenced role (checked in the binding's
//     namespace), or holds every rule of the referenced role in the binding's namespace
//     (cluster-wide for a ClusterRoleBinding).
// A refusal is Forbidden with Kubernetes' text: `user "bob" (groups=["system:authenticated"])
// is attempting to grant RBAC permissions not currently held:` then one line per missing
// rule in DescribeRule form. Pure.
#pragma once

#include <vector>

#include "api/status.h"
#include "kinds/rbac_objects.h"
#include "hub/rbac/rbac_rules.h"
#include "hub/rbac/user_info.h"

namespace berth::rbac {

// Whether `owner` covers every rule of `servant` (Kubernetes' validation.Covers): each servant
// rule is broken into one verb × group × resource × name pieces (one verb × URL for
// non-resource rules), and each piece must be covered by a single owner rule. "*" in an owner
// rule covers anything; a servant "*" needs an owner "*"; owner "*/scale" covers
// "workspaces/scale"; owner rules without resourceNames cover any names. The pieces not
// covered go to `missing` (may be null), merged back per group/resource/names.
bool Covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& servant,
            std::vector<PolicyRule>* missing);

// `old` is the stored role on update, null on create.
Status CheckRoleEscalation(const UserInfo& requester, const Role& role, const Role* old,
                           const RbacSnapshot& snapshot);

// `old` is the stored binding on update, null on create; an update that changes neither
// roleRef nor subjects needs no check (adding a subject grants the role, so it is checked).
Status CheckBindingEscalation(const UserInfo& requester, const RoleBinding& binding,
                              const RoleBinding* old, const RbacSnapshot& snapshot);

}  // namespace berth::rbac
