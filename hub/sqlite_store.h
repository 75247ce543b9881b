// SQLite implementation of Store: WAL, synchronous=FULL, one writer thread with group
// commit, the whole current state mirrored in memory for reads and watches.
//
// Heartbeat resources (`unsynced_resources`, the hub passes Leases) may skip the fsync: a
// commit whose every change modifies such an object is written to the WAL without syncing
// it (it survives a crash of the hub process, not of the machine); the next synced commit,
// forced at least every `max_unsynced_revisions` revisions, makes it durable with
// everything before it. A power loss therefore loses at most that many trailing renewals
// and never leaves a gap. Because those revisions may have been seen by clients, a store
// opened with unsynced resources starts its revisions `max_unsynced_revisions` past the
// last durable one, so no revision is ever handed out twice.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "hub/secret_encryption.h"
#include "hub/store.h"
#include "hub/store_seed.h"

namespace berth::hub {

struct SqliteStoreOptions {
  std::string path;                  // database file; created if missing
  size_t event_window = 20000;       // events kept for watch resume (older: 410 Gone)
  size_t max_batch = 512;            // mutations committed in one transaction at most
  std::set<std::string> unsynced_resources;  // e.g. {"leases"}; empty: every commit syncs
  int64_t max_unsynced_revisions = 256;
  // Objects of these resources (the hub passes Secrets) are sealed with `cipher` in both the
  // objects table and the watch log: the file never holds their JSON. Reads, lists and
  // watches see plaintext (the memory mirror is decrypted once at open). Open fails, naming
  // the row and the key id, if a sealed row does not open with the key file's keys; rows
  // sealed with an older key (or stored before encryption) are re-sealed with the first key
  // at open, so a rotated-out key can be dropped after one restart.
  std::set<std::string> encrypted_resources;
  std::shared_ptr<const SecretCipher> cipher;  // required when encrypted_resources is set
  // Called on the writer thread after each commit: revisions written and whether synced.
  std::function<void(int64_t revisions, bool synced)> on_commit;
};

// Opens (or creates) the database and loads its state. Errors name the file.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

// Writes `seed` into a new database at options.path (FailedPrecondition if the file exists),
// objects with their resourceVersions and the store revision, sealed as OpenSqliteStore
// would seal them. The history goes in too when each of its changes has its own revision
// (SQLite's watch log holds one change per revision; a history from etcd, whose batches share
// revisions, is left out, and watches resume from seed.revision on). Returns the number of
// history events written. `berth-hub migrate` (etcd -> SQLite) uses it.
StatusOr<size_t> SeedSqliteStore(const SqliteStoreOptions& options, const StoreSeed& seed);

}  // namespace berth::hub
