// etcd implementation of Store, so that several hub replicas share one state (HA hubs).
//
// Key layout: `<prefix>/<resource>/<namespace>/<name>`. A cluster-scoped object has an
// empty namespace segment: `<prefix>/<resource>//<name>` (resources, namespaces and names
// never contain '/', so the split is unambiguous). The value is the object's JSON without
// metadata.resourceVersion: an object's resourceVersion is its key's mod_revision, stamped
// on every read, so it is the etcd revision of its last change as Kubernetes does. Keys
// under the prefix that do not follow the layout are ignored (and logged). Election keys
// must live outside `<prefix>/`.
//
// Reads never touch etcd: at open the store reads the whole prefix at one revision into a
// StoreMirror, then one etcd watch (from that revision + 1, with prev_kv) keeps it current
// and feeds this store's subscribers in revision order, including changes other hubs make.
// Watch(from N) replays from the mirror's event window; older revisions are 410 Gone as in
// SqliteStore. If etcd compacted revisions the store's own watch had not seen yet (it was
// disconnected long enough), the store re-reads the prefix, ends every subscription with a
// kError 410 event, and serves the new state.
//
// Mutations: one writer thread takes up to `max_batch` queued mutations on distinct keys,
// runs their transforms on the mirror's state and commits them in one etcd transaction that
// compares each key's mod_revision (create: that the key does not exist) and each fence. If
// another writer got there first, the transaction's failure branch returns the current
// keys; the transforms run again on them, up to `max_attempts` times (then Conflict). The
// callback runs once etcd acknowledged the write (durable on a quorum) and the mirror has
// caught up with it, so a Get after the callback sees the write. One transaction is one
// etcd revision: the objects of one batch share a resourceVersion.
//
// A write whose outcome is unknown (the connection broke after it was sent) is resolved by
// re-reading its keys: if they hold exactly what was written, it committed; otherwise the
// transforms run again on what the keys hold. (If another writer overwrote a committed
// write before that re-read, the mutation is applied a second time on top of it: rare,
// and the same as a client retrying after a lost reply.)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "hub/etcd_client.h"
#include "hub/secret_encryption.h"
#include "hub/store.h"

namespace berth::hub {

struct EtcdStoreOptions {
  EtcdClientOptions client;
  std::string prefix = "/berth";   // no trailing '/'
  size_t event_window = 20000;     // events kept for watch resume (older: 410 Gone)
  size_t max_batch = 64;           // mutations per transaction: 1..120 (etcd's --max-txn-ops is 128)
  // Bytes of keys and values per transaction (etcd's --max-request-bytes is 1.5 MiB); a
  // single larger object goes alone, and etcd's limit fails it (TooLarge) by itself.
  size_t max_batch_bytes = 1 << 20;
  int max_attempts = 32;           // transaction attempts per batch under concurrent writers
  std::chrono::milliseconds catch_up_timeout{10000};  // waiting for the watch to show a write
  // How long a write whose outcome is unknown waits for etcd to answer again (to tell
  // whether it committed) before its callback gets Unavailable.
  std::chrono::milliseconds unavailable_timeout{10000};
  // Objects of these resources (the hub passes Secrets and Work) are sealed with `cipher`
  // (AES-256-GCM, hub/secret_encryption.h) before they reach etcd, so neither etcd's data
  // dirs, its snapshots nor anyone reading its keys see their JSON; the store's readers see
  // plaintext. Every hub sharing the prefix needs the same key file. Open fails, naming the
  // key and the key id, if a sealed value does not open with the key file's keys. Values
  // sealed with an older key (or stored before encryption) are sealed with the first key at
  // open, as SqliteStore does; here that is an etcd write, so those objects get a new
  // resourceVersion.
  std::set<std::string> encrypted_resources;
  std::shared_ptr<const SecretCipher> cipher;  // required when encrypted_resources is set
  // Tests: called on the watch thread before each etcd watch is (re)opened, with the
  // revision it will start from.
  std::function<void(int64_t start_revision)> before_watch;
};

// Connects, reads the prefix and starts watching. Errors name the endpoints.
StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options);

}  // namespace berth::hub
