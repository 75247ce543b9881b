// `berth-hub migrate`: moves a hub's whole store between SQLite and etcd, with every
// object's resourceVersion kept (SQLite target) or continued (etcd target: versions go on from
// the source's revision), and the watch history the source holds, so clients keep watching
// across the move (hub/store_seed.h, hub/etcd_migration.h, docs/OPERATIONS.md "Moving between
// SQLite and etcd"). The hubs must be stopped: writes made meanwhile are not carried.
#pragma once

#include <string>
#include <vector>

#include "api/status.h"
#include "hub/hub.h"

namespace berth::hub {

// `from` and `to` name the stores as berth-hub's flags do (store, data_dir, etcd endpoints and
// TLS, etcd_prefix, encryption_key_file; `to` uses `from`'s key file when it names none).
// Returns what it did, one line each. FailedPrecondition when the target is not empty, hubs
// still hold the etcd prefix, or the key file is missing.
StatusOr<std::vector<std::string>> MigrateStore(const HubOptions& from, HubOptions to);

}  // namespace berth::hub
