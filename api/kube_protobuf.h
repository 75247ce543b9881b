// Reads the Kubernetes protobuf encoding (Content-Type application/vnd.kubernetes.protobuf)
// of the core/v1 kinds kubectl creates through its typed clients: `kubectl create
// namespace`, `create configmap` and `create secret` send their body in protobuf, never
// JSON. Only what those bodies carry is decoded: TypeMeta, ObjectMeta's name, generateName,
// namespace, labels, annotations and finalizers, and the kinds' own fields (Namespace
// spec.finalizers; ConfigMap data, binaryData, immutable; Secret data, stringData, type,
// immutable), the RBAC Role, ClusterRole, RoleBinding and ClusterRoleBinding `kubectl create
// role|clusterrole|rolebinding|clusterrolebinding` send (without a ClusterRole's
// aggregationRule), and the SelfSubjectAccessReview and SelfSubjectRulesReview `kubectl auth
// can-i [--list]` sends. Bytes fields become base64 strings, as in JSON. Other kinds are a 415
// naming what to send instead. Pure; bounded by the body's size; never throws.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

inline constexpr std::string_view kProtobufMediaType = "application/vnd.kubernetes.protobuf";

// `body` is the whole request body: the "k8s\0" magic, then a runtime.Unknown envelope.
// A body without the magic (JSON sent under the protobuf type) is a 415 as well.
StatusOr<nlohmann::json> DecodeKubeProtobuf(std::string_view body);

}  // namespace berth::api
