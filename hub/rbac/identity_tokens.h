// Users' and service accounts' bearer tokens (issue #26): the record the hub stores for each
// token, never the token itself. A record names whom the token authenticates (a User with
// optional groups, or a ServiceAccount in a namespace), keeps the token's SHA-256, and can
// expire or be revoked. Pure, except MintIdentityToken, which draws randomness.
//
// Tokens authenticate as Kubernetes would: a User record as its name in its groups; a
// ServiceAccount record as "system:serviceaccount:<ns>:<name>" in "system:serviceaccounts" and
// "system:serviceaccounts:<ns>"; both also in "system:authenticated".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/status.h"
#include "hub/rbac/user_info.h"

namespace berth::rbac {

enum class IdentityKind { kUser, kServiceAccount };

struct IdentityToken {
  // Public handle of the token (the first 12 hex digits of its hash): what `berthctl … revoke`
  // and the audit of token creation name. Not a secret.
  std::string id;
  IdentityKind kind = IdentityKind::kUser;
  std::string name;
  std::string ns;                   // ServiceAccount only
  std::vector<std::string> groups;  // User only; never "system:*" (those are derived)
  std::string sha256;               // lower-case hex of the token
  Clock::TimePoint created_at;
  std::optional<Clock::TimePoint> expires_at;
  bool revoked = false;
  bool operator==(const IdentityToken&) const = default;
};

// {"id","kind":"User|ServiceAccount","name","namespace","groups","sha256","createdAt",
//  "expiresAt","revoked"}; times RFC 3339. Round-trips through IdentityTokenFromJson.
nlohmann::json IdentityTokenToJson(const IdentityToken& token);
// Invalid with field causes: name required (a DNS-1123 label for service accounts; a user name
// must not start with "system:"), namespace required exactly for service accounts, groups
// only for users and never "system:*", sha256 64 hex digits, times RFC 3339.
StatusOr<IdentityToken> IdentityTokenFromJson(const nlohmann::json& object);

// Ok, or Unauthenticated saying why the token no longer works (revoked, or expired at
// `expires_at`; a token is expired from that instant on).
Status TokenValid(const IdentityToken& token, Clock::TimePoint now);

// Whom a valid token authenticates.
UserInfo UserInfoOf(const IdentityToken& token);

struct MintedToken {
  std::string token;     // shown once to the creator (in the kubeconfig), never stored
  IdentityToken record;  // `who` with id and sha256 filled in
};
// Draws a 256-bit token from OpenSSL's CSPRNG (RAND_bytes) and fills in the record's hash and
// id. `who` must pass IdentityTokenFromJson's rules (the caller validates it).
MintedToken MintIdentityToken(IdentityToken who);

}  // namespace berth::rbac
