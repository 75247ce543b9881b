// A store moved from SQLite into etcd (`berth-hub migrate`): how the seeded prefix is laid
// out and how EtcdStore reads it back at open.
//
// Keys beside the object prefix (outside `<prefix>/`, like the election's):
//   <prefix>.hub/migration      {"state": "importing"|"done", "revisionOffset", "sourceRevision",
//                                "sourceCompacted", "endRevision", "historyKeys"}
//   <prefix>.hub/history/NNNNNN the source's watch history: a JSON array of
//                                {type, resourceVersion, resource, object} per key (at most
//                                ~512 KiB each), sealed with the encryption key (it holds
//                                Secrets' past states)
//
// resourceVersion = etcd mod_revision + revisionOffset, where the offset makes the first
// revision written by the migration the source's revision + 1: versions keep growing across
// the move, so a client's resourceVersion from the old hub still compares right. A hub that
// opens the prefix reads the objects as of endRevision (while etcd has not compacted it),
// loads the history, then one MODIFIED event per object at its new resourceVersion (the
// migration rewrote every object), and follows etcd from endRevision on: a watch from any
// resourceVersion the old hub still had in its window resumes without a gap.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "api/status.h"
#include "hub/etcd_client.h"
#include "hub/etcd_store.h"
#include "hub/store_seed.h"

namespace berth::hub {

struct MigrationRecord {
  bool done = false;
  int64_t offset = 0;
  int64_t source_revision = 0;
  int64_t source_compacted = 0;
  int64_t end_revision = 0;  // etcd revision of the last object or history write
  int64_t history_keys = 0;
};

// nullopt when the prefix was not seeded by a migration. FailedPrecondition for a migration
// that did not finish (says how to start over).
StatusOr<std::optional<MigrationRecord>> ReadMigrationRecord(EtcdClient& client, const std::string& prefix);

// The history the migration stored (ascending resourceVersions).
StatusOr<std::deque<WatchEvent>> ReadMigrationHistory(EtcdClient& client, const std::string& prefix,
                                                      const MigrationRecord& record, const SecretCipher* cipher);

struct EtcdSeedReport {
  int64_t offset = 0;
  int64_t end_revision = 0;     // etcd revision
  size_t objects = 0;
  size_t history_events = 0;
  size_t history_keys = 0;
};

// Writes `seed` into an empty prefix (FailedPrecondition naming what is there, or naming a
// hub that holds the prefix's leader key), values sealed as EtcdStore seals them.
StatusOr<EtcdSeedReport> SeedEtcdStore(const EtcdStoreOptions& options, const StoreSeed& seed);

}  // namespace berth::hub
