// SQLite implementation of Store: WAL, synchronous=FULL, one writer thread with group
// commit, the whole current state mirrored in memory for reads and watches.
#pragma once

#include <memory>
#include <string>

#include "hub/store.h"

namespace berth::hub {

struct SqliteStoreOptions {
  std::string path;                  // database file; created if missing
  size_t event_window = 20000;       // events kept for watch resume (older: 410 Gone)
  size_t max_batch = 512;            // mutations committed in one transaction at most
};

// Opens (or creates) the database and loads its state. Errors name the file.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace berth::hub
