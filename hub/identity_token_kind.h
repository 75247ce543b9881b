// Users' and service accounts' bearer tokens as a served kind: IdentityToken
// (berth.dev/v1alpha1, cluster-scoped), one object per token, named by the token's public id
// (the first 12 hex digits of its SHA-256), holding the record of hub/rbac/identity_tokens.h
// in its spec and never the token:
//   spec: {type: User|ServiceAccount, name, namespace (service accounts), groups (users),
//          sha256, expiresAt (optional), revoked}
// `berthctl user create` / `serviceaccount create` mint a token, store its record here and
// print the token once in a kubeconfig; `berthctl user revoke` sets spec.revoked.
// Writing an IdentityToken creates a credential for any user and groups (except system:*), so
// RBAC's `create` on identitytokens is as strong as cluster-admin: only cluster-admin holds it
// among the built-in roles. Pure, except WatchIdentityTokens.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/auth.h"
#include "hub/rbac/identity_tokens.h"
#include "hub/store.h"

namespace berth::hub {

api::KindInfo IdentityTokenKind();

// The record a stored (or written) IdentityToken object holds; Invalid as
// rbac::IdentityTokenFromJson, with field paths under spec.
StatusOr<rbac::IdentityToken> IdentityTokenOfObject(const nlohmann::json& object);

// The object form of a record (what berthctl sends).
nlohmann::json IdentityTokenObject(const rbac::IdentityToken& token);

// Keeps `auth` in step with the stored IdentityTokens (every stored one first, then each
// change): a valid record's hash authenticates as rbac::UserInfoOf(record) until its expiry;
// a revoked or deleted one no longer authenticates. Watch ids are appended to `ids`.
Status WatchIdentityTokens(Store& store, const api::KindInfo& kind, TokenAuthenticator& auth,
                           std::vector<uint64_t>& ids);

}  // namespace berth::hub
