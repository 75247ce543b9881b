#include "hub/hub_store.h"

#include <filesystem>
#include <set>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "hub/etcd_migration.h"
#include "hub/etcd_store.h"
#include "hub/identity_token_kind.h"
#include "hub/sqlite_store.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {

namespace {

// Secrets are sealed on their way to disk; the API, the watch cache and controllers see
// plaintext (docs/OPERATIONS.md, "Secrets at rest"). Work carries the Secrets a Workspace
// references to its members: sealed the same way.
std::set<std::string> EncryptedResources(const api::KindRegistry& registry) {
  std::set<std::string> encrypted;
  if (const auto* secrets = registry.ByKind("v1", "Secret")) encrypted.insert(secrets->resource());
  if (const auto* works = registry.ByKind(api::kApiVersion, "Work")) encrypted.insert(works->resource());
  return encrypted;
}

SqliteStoreOptions SqliteOptionsOf(const HubOptions& options, const api::KindRegistry& registry,
                                   std::shared_ptr<const SecretCipher> keys) {
  SqliteStoreOptions sqlite;
  sqlite.path = (std::filesystem::path(options.data_dir) / "berth.db").string();
  // Lease renewals are heartbeats: resent every period, and after a restart every member
  // gets a fresh grace period anyway. They skip the fsync (docs/OPERATIONS.md, durability).
  if (const auto* lease = registry.ByKind(api::kApiVersion, "Lease")) sqlite.unsynced_resources = {lease->resource()};
  sqlite.encrypted_resources = EncryptedResources(registry);
  sqlite.cipher = std::move(keys);
  return sqlite;
}

EtcdStoreOptions EtcdOptionsOf(const HubOptions& options, const api::KindRegistry& registry,
                               std::shared_ptr<const SecretCipher> keys) {
  EtcdStoreOptions etcd;
  etcd.client = options.etcd;
  etcd.prefix = options.etcd_prefix;
  etcd.encrypted_resources = EncryptedResources(registry);
  etcd.cipher = std::move(keys);
  return etcd;
}

}  // namespace

Status RegisterHubKinds(api::KindRegistry& registry) {
  BERTH_RETURN_IF_ERROR(kinds::RegisterBerthKinds(registry));
  return registry.Register(IdentityTokenKind());
}

StatusOr<std::unique_ptr<Store>> OpenHubStore(const HubOptions& options, const api::KindRegistry& registry,
                                              std::shared_ptr<const SecretCipher> keys) {
  if (options.store == "etcd") {
    spdlog::info("store on etcd ({} under {})", fmt::join(options.etcd.endpoints, ","), options.etcd_prefix);
    return OpenEtcdStore(EtcdOptionsOf(options, registry, std::move(keys)));
  }
  if (options.store != "sqlite") return Status::BadRequest("unknown store \"" + options.store + "\": sqlite or etcd");
  return OpenSqliteStore(SqliteOptionsOf(options, registry, std::move(keys)));
}

StatusOr<std::string> SeedHubStore(const HubOptions& options, const api::KindRegistry& registry,
                                   std::shared_ptr<const SecretCipher> keys, const StoreSeed& seed) {
  if (options.store == "etcd") {
    auto report = SeedEtcdStore(EtcdOptionsOf(options, registry, std::move(keys)), seed);
    if (!report.ok()) return report.status();
    return fmt::format("wrote {} objects and {} history events ({} keys) under {}/ by etcd revision {}; "
                       "resourceVersion = etcd revision + {}",
                       report->objects, report->history_events, report->history_keys, options.etcd_prefix,
                       report->end_revision, report->offset);
  }
  const auto sqlite = SqliteOptionsOf(options, registry, std::move(keys));
  auto events = SeedSqliteStore(sqlite, seed);
  if (!events.ok()) return events.status();
  return fmt::format("wrote {} objects and {} history events into {} at revision {}{}", seed.object_count(), *events,
                     sqlite.path, seed.revision,
                     *events < seed.history.size() ? " (the history's batches share revisions: not carried)" : "");
}

}  // namespace berth::hub
