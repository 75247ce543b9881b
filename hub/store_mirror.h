// The in-memory side of a Store, shared by SqliteStore and EtcdStore: the current objects,
// a window of recent events for watch resume, consistent list snapshots (ListSnapshots) and
// the watch subscribers. Both stores serve Get/List/Watch from it, so the semantics clients
// see (NotFound wording, list order and continue tokens, selector watches that turn label
// changes into ADDED/DELETED, 410 Gone) are the same code whatever the storage engine.
//
// Threading: Get/List/Watch/Unwatch/CurrentRevision/CompactedRevision may be called from any
// thread. Load, Reset and Publish must be called from one thread at a time, the store's
// *publisher* (SqliteStore: its writer; EtcdStore: its etcd watch thread); only that thread
// may call Find. Sinks run under the mirror's exclusive lock: they must not call back into it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "hub/list_snapshots.h"
#include "hub/store.h"

namespace berth::hub {

using ObjectsByResource = std::map<std::string, ObjectMap>;

// One committed change: the object's key in its resource (the store's ObjectRef, which
// need not match the object's own metadata) and the event watchers see.
struct StoreChange {
  ObjectKey key;
  WatchEvent event;
};

class StoreMirror {
 public:
  // `event_window`: events kept for watch resume; older revisions answer 410 Gone.
  explicit StoreMirror(size_t event_window) : event_window_(event_window) {}

  // Kubernetes' wording: the qualified resource and the name (kubectl adds the namespace).
  static std::string NotFoundMessage(const ObjectRef& ref);

  // Publisher: the state at open. `events` ascend by revision; watches resume from
  // `compacted_revision` on. No watcher may exist yet.
  void Load(ObjectsByResource objects, std::deque<WatchEvent> events, int64_t current_revision,
            int64_t compacted_revision);
  // Publisher: replaces the whole state with `objects` as of `revision` (a re-list after the
  // engine compacted revisions this mirror had not seen). The event window restarts there,
  // continue tokens from before expire. A subscriber with resync_on_expiry receives the
  // difference between the old and the new state and stays; every other one receives one
  // kError event (a Kubernetes Status, code 410, reason Expired) and is dropped.
  void Reset(ObjectsByResource objects, int64_t revision);
  // Publisher: applies committed changes (ascending revisions, each at most `revision`),
  // delivers them to subscribers and advances the store to `revision`. A kDeleted event
  // removes the object; kAdded/kModified store event.object.
  void Publish(std::vector<StoreChange> changes, int64_t revision);
  // Publisher only: the current object or null, without a copy or a lock.
  const nlohmann::json* Find(const ObjectRef& ref) const;

  StatusOr<nlohmann::json> Get(const ObjectRef& ref) const;
  StatusOr<ListResult> List(const std::string& resource, const ListOptions& options) const;
  StatusOr<uint64_t> Watch(const WatchOptions& options, WatchSink sink);
  void Unwatch(uint64_t id);
  int64_t CurrentRevision() const;
  int64_t CompactedRevision() const;
  // The current revision and how many objects it holds (all resources), read together.
  std::pair<int64_t, size_t> RevisionAndCount() const;

 private:
  struct Watcher {
    WatchOptions options;
    WatchSink sink;
  };

  void TrimWindowLocked();

  const size_t event_window_;
  // State below is guarded by mu_.
  mutable std::shared_mutex mu_;
  ObjectsByResource objects_;
  mutable ListSnapshots snapshots_{32, 20000};
  std::deque<WatchEvent> events_;
  std::map<uint64_t, Watcher> watchers_;
  uint64_t next_watch_id_ = 0;
  int64_t current_rv_ = 0;
  int64_t compacted_rv_ = 0;
};

// Whether a watch with `options` sees `e`, and as which type: a change that moves an object
// into a label selection is ADDED, one that moves it out is DELETED (carrying the new
// state), as Kubernetes' watch cache sends them.
std::optional<EventType> DeliveredAs(const WatchOptions& options, const WatchEvent& e);

}  // namespace berth::hub
