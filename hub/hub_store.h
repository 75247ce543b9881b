// The hub's store as HubOptions name it (--store sqlite|etcd), with the hub's per-resource
// policies: Secrets and Work sealed with the encryption keys, Lease renewals not fsynced on
// SQLite. berth-hub opens it at start; `berth-hub migrate` opens one and seeds the other.
#pragma once

#include <memory>
#include <string>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/hub.h"
#include "hub/secret_encryption.h"
#include "hub/store.h"
#include "hub/store_seed.h"

namespace berth::hub {

// The kinds every hub serves: Berth's, the core and RBAC kinds, IdentityToken.
Status RegisterHubKinds(api::KindRegistry& registry);

StatusOr<std::unique_ptr<Store>> OpenHubStore(const HubOptions& options, const api::KindRegistry& registry,
                                              std::shared_ptr<const SecretCipher> keys);

// Writes `seed` into the empty store `options` name (SeedSqliteStore / SeedEtcdStore) and
// says what it wrote, in one line.
StatusOr<std::string> SeedHubStore(const HubOptions& options, const api::KindRegistry& registry,
                                   std::shared_ptr<const SecretCipher> keys, const StoreSeed& seed);

}  // namespace berth::hub
