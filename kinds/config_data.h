// What core/v1 ConfigMap and Secret data may hold, decided as Kubernetes decides it:
// key names, base64 values, total size, the Secret types' required keys, `immutable`, and
// how Secret stringData folds into data. Pure functions of the objects (JSON as stored or
// as written); no I/O.
//
// Errors never contain a value from data, binaryData or stringData (Secret contents must
// not reach logs or clients through an error): causes name the field and key only, e.g.
// `data[tls.key]: must be base64-encoded ...`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::kinds {

// Kubernetes' limit on the total size of a ConfigMap's or Secret's data (1 MiB).
inline constexpr size_t kMaxConfigDataBytes = 1024 * 1024;

// Empty if `key` is a valid ConfigMap/Secret key ([-._a-zA-Z0-9]+, at most 253 characters,
// not "." or ".." and not starting with ".."), otherwise why not (Kubernetes' wording).
std::string CheckConfigKey(const std::string& key);

// A ConfigMap's data and binaryData: key names, binaryData base64, no key in both, total
// size. `old` (an update) also applies `immutable`. Invalid with one cause per problem.
Status ValidateConfigMap(const nlohmann::json& object, const nlohmann::json* old);

// A Secret's data (base64) and stringData: key names, total size, the keys its `type`
// requires (kubernetes.io/tls: tls.crt and tls.key, ...). `old` (an update) also checks
// that `type` is unchanged and applies `immutable` to data with stringData folded in.
Status ValidateSecret(const nlohmann::json& object, const nlohmann::json* old);

// The Secret as stored: stringData merged into data (base64-encoded; stringData wins on a
// shared key) and removed, `type` defaulted to Opaque. Call on a validated object.
void FoldSecretStringData(nlohmann::json& object);

}  // namespace berth::kinds
