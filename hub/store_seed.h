// A whole store's content as `berth-hub migrate` moves it between engines (SQLite <-> etcd):
// every object with its resourceVersion, the watch history the source still holds, and the
// source's revision. ExportStore reads it from any open Store; SeedSqliteStore
// (hub/sqlite_store.h) and SeedEtcdStore (hub/etcd_store.h) write it into an empty target so
// that resourceVersions keep growing and clients can keep watching (docs/OPERATIONS.md,
// "Moving between SQLite and etcd").
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "api/status.h"
#include "hub/store_mirror.h"

namespace berth::hub {

struct StoreSeed {
  ObjectsByResource objects;       // each with metadata.resourceVersion
  std::deque<WatchEvent> history;  // ascending; every resource_version in (compacted, revision]
  int64_t revision = 0;            // the source's current revision
  int64_t compacted = 0;           // watches could resume from here on (history starts after it)
  size_t object_count() const;
};

// Reads every object of `resources` and the history the store's event window holds. Call it
// on a store nobody else writes (the hubs stopped): objects and history are read resource by
// resource. A history that starts at revision 1 is carried from revision 2 on (a watch from
// 0 means "list first", so the first event cannot be asked for).
StatusOr<StoreSeed> ExportStore(Store& store, const std::vector<std::string>& resources);

}  // namespace berth::hub
