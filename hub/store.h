// The hub's object store: durable current state of every object, a global monotonic
// resourceVersion, and an event log for watches. Storage-agnostic interface; SqliteStore
// is the embedded implementation, EtcdStore the one several hubs can share. Both serve
// reads from a StoreMirror (hub/store_mirror.h), so they answer alike.
//
// Threading: Get/List/Watch may be called from any thread and never block on I/O (reads
// are served from memory). Mutations are queued to one writer thread that applies them in
// order, commits them durably in batches (group commit) and only then publishes them to
// readers and watchers and runs the caller's callback. Several objects committed in one
// batch may share a resourceVersion (EtcdStore: one etcd transaction is one revision).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/selector.h"
#include "api/status.h"

namespace berth::hub {

// Identifies an object: resource is the storage key of its kind ("workspaces.berth.dev").
struct ObjectRef {
  std::string resource;
  std::string ns;    // empty for cluster-scoped kinds
  std::string name;
};

// Computes the next state of one object from its current state (nullptr if absent).
// Returns the new object to store, std::nullopt to delete it, or an error that aborts
// only this mutation. Runs on the writer thread: it must be fast and must not block.
using Transform =
    std::function<StatusOr<std::optional<nlohmann::json>>(const nlohmann::json* current)>;

// Commits a mutation only while a key outside the objects still holds what the writer
// saw: a leader fences its writes with its election key, so a deposed leader's writes fail
// (FailedPrecondition) instead of overwriting its successor's. Stores that have one writer
// by construction (SqliteStore: one hub) have no leader to depose and ignore fences.
struct Fence {
  std::string key;               // the engine's key, e.g. EtcdStore: the full etcd key
  int64_t create_revision = 0;   // the key's create_revision must equal this (0: must not exist)
  std::optional<std::string> value = std::nullopt;  // if set, the key's value must equal it
};

// `transform` may run more than once: a store shared by several hubs (EtcdStore) runs it
// again on the fresh state when another writer changed the object first. It must be a
// function of `current` without side effects.
struct Mutation {
  ObjectRef ref;
  Transform transform;
  std::optional<Fence> fence = std::nullopt;
};

// Receives the stored object (with its new resourceVersion; for a delete, the last state
// stamped with the deletion's resourceVersion) or the error. Called on the writer thread
// after the commit is durable: it must not block.
using MutationCallback = std::function<void(StatusOr<nlohmann::json>)>;

// kError ends a subscription the store can no longer continue (its revisions were
// compacted away before it could deliver them): the object is a Kubernetes Status (code 410,
// reason Expired), and the subscriber must list again. Only stores that re-list (EtcdStore)
// send it.
enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* EventTypeName(EventType t);

struct WatchEvent {
  EventType type;
  int64_t resource_version;
  std::string resource;
  nlohmann::json object;
  // MODIFIED: the object's labels before the change, so a watch with a label selector sees an
  // object that enters its selection as ADDED and one that leaves it as DELETED, as Kubernetes
  // sends them. Absent when unknown (events replayed from disk after a restart).
  std::optional<std::map<std::string, std::string>> labels_before = std::nullopt;
};

struct ListOptions {
  std::string ns;  // empty: all namespaces
  api::LabelSelector labels;
  api::FieldSelector fields;
  int64_t limit = 0;          // 0: no limit
  std::string continue_token; // from a previous ListResult
};

struct ListResult {
  std::vector<nlohmann::json> items;  // sorted by namespace, then name
  int64_t resource_version = 0;       // store revision the list reflects
  std::string continue_token;         // empty when complete
  int64_t remaining = 0;              // items left after this page
};

struct WatchOptions {
  std::string resource;
  std::string ns;  // empty: all namespaces
  api::LabelSelector labels;
  api::FieldSelector fields;
  // 0: first an ADDED event for every existing object, then changes. N > 0: every change
  // after revision N; Gone if the event log no longer reaches back to N.
  int64_t from_revision = 0;
  // With from_revision 0: after the ADDED events, a kBookmark event at the revision they
  // reflect (Kubernetes' streaming list: the "k8s.io/initial-events-end" bookmark).
  bool initial_events_end = false;
  // When the store re-reads its state after missing compacted revisions (EtcdStore), it ends
  // a watch with a kError event (410 Expired, the client lists again). With resync it sends
  // the difference instead (ADDED/MODIFIED/DELETED, the event's resource_version the re-read
  // revision) and keeps the watch: for the hub's level-triggered controllers, which need the
  // states to converge, not every step between them.
  bool resync_on_expiry = false;
};

// Receives events in revision order. Called on the store's publishing thread (SqliteStore:
// the writer; EtcdStore: its etcd watch thread) or the caller's thread during replay: must
// not block. Return false to end the subscription.
using WatchSink = std::function<bool(const WatchEvent&)>;

class Store {
 public:
  virtual ~Store() = default;

  // Queues a mutation; `done` runs once it is durable (or failed).
  virtual void Submit(Mutation mutation, MutationCallback done) = 0;
  // Blocking convenience for controllers, tools and tests. Never call it from an HTTP
  // handler or any other thread pool that the writer's callbacks might need.
  StatusOr<nlohmann::json> Apply(Mutation mutation);

  virtual StatusOr<nlohmann::json> Get(const ObjectRef& ref) const = 0;
  virtual StatusOr<ListResult> List(const std::string& resource, const ListOptions& options) const = 0;

  // Subscribes; returns an id for Unwatch. Gone when from_revision is compacted away.
  virtual StatusOr<uint64_t> Watch(const WatchOptions& options, WatchSink sink) = 0;
  virtual void Unwatch(uint64_t id) = 0;

  // Calls `done` once reads show every write any writer had committed when it was called
  // (bounded; an error if that could not be established). Reads are served from memory, so
  // on a store several hubs share (EtcdStore) another hub's write of a moment ago may not show
  // yet: a read that must not miss it (a join with a token just created through another hub)
  // syncs first. EtcdStore: one etcd round trip, shared by the syncs queued meanwhile, and
  // `done` runs on its sync thread (it must not block). SqliteStore has a single writer and
  // calls `done` at once, on the caller's thread.
  virtual void SyncThen(std::function<void(Status)> done) { done(Status::Ok()); }
  // Blocking convenience for tools and tests. Never from an HTTP handler.
  Status Sync();

  // The latest committed revision.
  virtual int64_t CurrentRevision() const = 0;
  // The oldest revision a watch can resume from.
  virtual int64_t CompactedRevision() const = 0;
};

// For stores: runs `transform` on `current`; an exception (our bug) becomes Internal.
StatusOr<std::optional<nlohmann::json>> RunTransform(const Transform& transform, const nlohmann::json* current);
// For stores: hands `result` to `done`; a callback that throws is logged and must not take
// the writer thread (and the process) with it.
void RunMutationCallback(const MutationCallback& done, StatusOr<nlohmann::json> result);

// A controller's watch: every event of `resource` from now on goes to `on` (the watch never
// ends itself); the id is appended to `ids` so the caller can Unwatch them all when it stops.
Status WatchResource(Store& store, const std::string& resource, std::function<void(const WatchEvent&)> on,
                     std::vector<uint64_t>& ids);

}  // namespace berth::hub
