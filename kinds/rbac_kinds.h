// The rbac.authorization.k8s.io/v1 kinds: Role and RoleBinding (namespaced), ClusterRole and
// ClusterRoleBinding (cluster-scoped), with their OpenAPI schemas, `kubectl get` columns and
// Kubernetes' validation (kinds/rbac_objects.h). A binding's roleRef cannot change on update,
// as in Kubernetes: delete and recreate the binding instead. Names are Kubernetes path
// segments ("system:discovery" is a valid role name), not DNS subdomains. Who may write them
// (escalation checks) is decided by the hub (hub/rbac/escalation.h), not here. Pure: no I/O.
#pragma once

#include "api/kinds.h"

namespace berth::kinds {

api::KindInfo RoleKind();
api::KindInfo ClusterRoleKind();
api::KindInfo RoleBindingKind();
api::KindInfo ClusterRoleBindingKind();

}  // namespace berth::kinds
