// The kinds Berth serves, defined once: Workspace (and KAITO's kaito.sh Workspace views of
// it), PlacementPolicy, RolloutStrategy, MemberCluster, Work, Lease, BootstrapToken, Event,
// the core/v1 Namespace, ConfigMap and Secret (kinds/core_kinds.h), the RBAC Role, ClusterRole,
// RoleBinding and ClusterRoleBinding (kinds/rbac_kinds.h), and the workload kinds
// Berth lists but does not store (kinds/unserved_kinds.h),
// each with its OpenAPI schema, `kubectl get` columns and semantic validation. The hub serves
// them; `berthctl plan` checks files with the same schemas and rules, so both print the same
// messages. Pure: no I/O.
#pragma once

#include "api/kinds.h"
#include "api/status.h"

namespace berth::kinds {

// Registers every kind above in `registry`.
Status RegisterBerthKinds(api::KindRegistry& registry);

// Checks an object the way the hub checks a create: its kind must be registered (under its
// apiVersion), then schema (unknown fields, types, field paths) and the kind's semantic
// rules. Errors carry the same messages and causes the hub answers with.
Status ValidateForCreate(const api::KindRegistry& registry, const nlohmann::json& object);

}  // namespace berth::kinds
