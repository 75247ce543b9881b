// A client of etcd 3.4's v3 API through its JSON gateway: HTTP/1.1 POSTs under /v3/ with
// keys and values base64-encoded (the gateway the etcd server itself serves on its client
// URLs; no gRPC dependency). Covers what the hub's store and leader election need: range,
// transactions, delete, compaction, status, leases, and a streaming watch.
//
// Endpoints are tried in order: a request that cannot connect (or, when it is safe to
// repeat, fails on the way) moves on to the next endpoint and stays there.
//
// Errors: Unavailable when no endpoint answers (or, for a non-repeatable request that
// failed after it was sent, with a message saying its outcome is unknown); Gone for a
// revision etcd compacted; NotFound for an expired or unknown lease; Timeout when etcd
// reports a deadline; Internal for anything else etcd rejects (the message is etcd's).
//
// Threading: an EtcdClient is thread-safe; its requests share one keep-alive connection and
// are serialized. Each EtcdWatchStream has its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"

namespace berth::hub {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://etcd-0:2379"
  // TLS (https endpoints): the CA that signed the servers' certificates (empty: the
  // system's), and an optional client certificate and key for etcd's --client-cert-auth.
  std::string ca_file, cert_file, key_file;
  std::chrono::milliseconds request_timeout{5000};  // connect, and each request
  // A watch that receives nothing for this long ends (Unavailable); 0: never. Dead members
  // are found without it (TCP keepalive, ~10 s), and a member that loses its raft leader
  // ends its watches itself (the watch asks for "hasleader").
  std::chrono::milliseconds watch_idle_timeout{0};
};

struct EtcdKeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

// One condition of a transaction: the key's field equals `number` (revisions, lease id)
// or `value`. A missing key has create_revision, mod_revision and lease 0.
struct EtcdCompare {
  enum class Target { kCreateRevision, kModRevision, kValue, kLease };
  std::string key;
  Target target = Target::kModRevision;
  int64_t number = 0;
  std::string value;
};

struct EtcdOp {
  enum class Type { kPut, kDelete, kRange };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut: attach the key to this lease (0: none)
};

struct EtcdTxn {
  std::vector<EtcdCompare> compare;
  std::vector<EtcdOp> success, failure;
};

struct EtcdTxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the txn (its writes' mod_revision)
  // The kvs each kRange op of the branch that ran returned, in op order (empty: absent).
  std::vector<std::vector<EtcdKeyValue>> ranges;
};

struct EtcdRangeResult {
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;  // the revision the range was read at
  bool more = false;     // a limit cut it short
};

struct EtcdWatchEvent {
  bool deleted = false;  // DELETE (kv holds the key and the deletion's mod_revision) or PUT
  EtcdKeyValue kv;
  std::optional<EtcdKeyValue> prev_kv;  // when the watch asked for it
};

struct EtcdWatchResponse {
  // Header revision. A response without events that neither creates nor cancels is a
  // progress notification: every event up to `revision` has been delivered.
  int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // set when canceled because start_revision was compacted
  std::string cancel_reason;
  std::vector<EtcdWatchEvent> events;
};

// The result of trying to take a key (an election): whether this call created it, and the
// key as it is now (ours, or the current holder's).
struct EtcdClaim {
  bool acquired = false;
  EtcdKeyValue holder;
};

class EtcdWatchStream {
 public:
  virtual ~EtcdWatchStream() = default;
  // Blocks for the next response. Unavailable when the stream broke, went silent for the
  // idle timeout or was closed: open a new watch from the last revision seen + 1.
  virtual Status Next(EtcdWatchResponse* response) = 0;
  // Ends the stream from any thread: a blocked Next returns Unavailable.
  virtual void Close() = 0;
};

class EtcdClient {
 public:
  virtual ~EtcdClient() = default;

  // Reads [key, range_end) (range_end empty: only key) at `revision` (0: latest), at most
  // `limit` keys (0: all), in key order.
  virtual StatusOr<EtcdRangeResult> Range(const std::string& key, const std::string& range_end, int64_t revision = 0,
                                          int64_t limit = 0) = 0;
  // How many keys in [key, range_end) exist now, and whether any was last written after
  // `modified_after` (changed: 0 or 1; with modified_after 0, the count): {total, changed,
  // the revision read at}.
  struct Count {
    int64_t total = 0, changed = 0, revision = 0;
  };
  virtual StatusOr<Count> CountRange(const std::string& key, const std::string& range_end, int64_t modified_after) = 0;
  virtual StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn) = 0;
  // Deletes [key, range_end); returns the number of keys deleted.
  virtual StatusOr<int64_t> DeleteRange(const std::string& key, const std::string& range_end) = 0;
  // Discards history before `revision` (watches from before it are canceled).
  virtual Status Compact(int64_t revision) = 0;
  // The cluster's current revision (maintenance/status of the endpoint in use).
  virtual StatusOr<int64_t> CurrentRevision() = 0;

  // Leases: Grant returns the lease id; KeepAlive renews it once and returns the TTL left
  // (NotFound once it expired); Revoke deletes it and every key attached to it.
  virtual StatusOr<int64_t> GrantLease(int64_t ttl_seconds) = 0;
  virtual StatusOr<int64_t> KeepAlive(int64_t lease) = 0;
  virtual Status RevokeLease(int64_t lease) = 0;

  // Election primitives. CreateIfAbsent puts key=value attached to `lease` only if the key
  // does not exist, atomically; either way it returns the key's holder. StillOwns tells
  // whether `key` exists and is attached to `lease` (a leader checks it before acting; its
  // writes are fenced with Fence{key, holder.create_revision} in Mutation).
  StatusOr<EtcdClaim> CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease);
  StatusOr<bool> StillOwns(const std::string& key, int64_t lease);

  // Watches [key, range_end) from `start_revision` (0: from now). The first response has
  // `created`; a start revision etcd compacted yields one `canceled` response with
  // compact_revision set.
  virtual StatusOr<std::unique_ptr<EtcdWatchStream>> Watch(const std::string& key, const std::string& range_end,
                                                           int64_t start_revision, bool prev_kv) = 0;
};

// The range_end that covers every key starting with `prefix` (etcd's "prefix end").
std::string EtcdPrefixEnd(const std::string& prefix);

// Validates the options (endpoint URLs, readable TLS files); connects lazily.
StatusOr<std::unique_ptr<EtcdClient>> NewEtcdClient(const EtcdClientOptions& options);

}  // namespace berth::hub
