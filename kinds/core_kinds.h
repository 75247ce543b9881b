// The core/v1 kinds users' GitOps directories hold: Namespace (cluster-scoped; deletion
// held by spec.finalizers "kubernetes" until the namespace controller has emptied it),
// ConfigMap and Secret (namespaced; rules in kinds/config_data.h). Each with its OpenAPI
// schema, `kubectl get` columns, validation and stored form, as Kubernetes has them.
// Pure: no I/O.
#pragma once

#include "api/kinds.h"

namespace berth::kinds {

// The finalizer Kubernetes (and Berth) put in a Namespace's spec.finalizers on create.
inline constexpr const char* kNamespaceFinalizer = "kubernetes";
// The label Kubernetes puts on every Namespace (its own name), so selectors can pick one.
inline constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

api::KindInfo NamespaceKind();
api::KindInfo ConfigMapKind();
api::KindInfo SecretKind();

}  // namespace berth::kinds
