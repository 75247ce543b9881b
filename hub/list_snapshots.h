// Consistent paging over the SQLite store's in-memory mirror: every page of a limit/continue
// list shows the objects as they were at the first page's revision, as Kubernetes' lists
// from etcd do.
//
// Copy-on-write per object: a list that hands out a continue token registers a snapshot
// (resource, revision) — no copy. Before the writer changes an object of that resource, it
// records the object's state at the snapshot (its JSON, or "absent" for a create) unless the
// snapshot already holds one for that key. A later page reads the snapshot's recorded states
// over the current objects (ForEachAt). Memory is what changed since the first page, bounded
// by `max_recorded` in total; a snapshot dropped for that bound, for the count bound, or
// because the watch log was compacted past its revision makes its continue tokens expire
// (410), exactly as a compacted etcd revision does for Kubernetes.
//
// Threading: Register and Find take an internal mutex and may run under the store's shared
// lock; BeforeChange and Compact run on the writer while it holds the store's exclusive lock,
// so readers never see a snapshot's recorded states change under them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace berth::hub {

using ObjectKey = std::pair<std::string, std::string>;  // (namespace, name)
using ObjectMap = std::map<ObjectKey, nlohmann::json>;

// States at the snapshot's revision of the objects changed since: nullopt = did not exist.
struct ListSnapshot {
  int64_t revision = 0;
  std::map<ObjectKey, std::optional<nlohmann::json>> before;
};

class ListSnapshots {
 public:
  ListSnapshots(size_t max_snapshots, size_t max_recorded)
      : max_snapshots_(max_snapshots), max_recorded_(max_recorded) {}

  // Keeps (resource, revision) from now on; the caller holds the store's lock so that no
  // change lands between its read of the revision and this call.
  void Register(const std::string& resource, int64_t revision);
  // The snapshot, or null when it is not (or no longer) kept.
  std::shared_ptr<const ListSnapshot> Find(const std::string& resource, int64_t revision) const;
  // Before the writer changes `key` of `resource`: `current` is its state now (null: absent).
  void BeforeChange(const std::string& resource, const ObjectKey& key, const nlohmann::json* current);
  // Drops snapshots at revisions the watch log no longer reaches (< compacted revision).
  void Compact(int64_t compacted_revision);
  size_t size() const;

 private:
  void EvictOldestLocked();

  const size_t max_snapshots_;
  const size_t max_recorded_;
  mutable std::mutex mu_;
  // resource → revision → snapshot. Writers mutate a snapshot's `before` only under the
  // store's exclusive lock (see the header comment); the shared_ptr keeps a snapshot alive
  // for a reader while it is evicted.
  std::map<std::string, std::map<int64_t, std::shared_ptr<ListSnapshot>>> snapshots_;
  size_t count_ = 0;
  size_t recorded_ = 0;
};

// Visits, in key order, the objects as of `snapshot` (null: as they are now) whose key is
// after `from` (or not before it when `inclusive`). `visit` returns false to stop.
void ForEachAt(const ObjectMap& current, const ListSnapshot* snapshot, const ObjectKey& from, bool inclusive,
               const std::function<bool(const ObjectKey&, const nlohmann::json&)>& visit);

}  // namespace berth::hub
