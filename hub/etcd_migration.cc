#include "hub/etcd_migration.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "hub/etcd_value_codec.h"

namespace berth::hub {

using nlohmann::json;

namespace {

constexpr size_t kHistoryKeyBytes = 512 << 10;
constexpr size_t kTxnOps = 100;
constexpr size_t kTxnBytes = 1 << 20;
constexpr const char* kHistoryContext = "berth.history";

std::string RecordKey(const std::string& prefix) { return prefix + ".hub/migration"; }
std::string HistoryKey(const std::string& prefix, size_t i) {
  char n[16];
  std::snprintf(n, sizeof n, "%06zu", i);
  return prefix + ".hub/history/" + n;
}

json RecordJson(const MigrationRecord& r) {
  return {{"state", r.done ? "done" : "importing"}, {"revisionOffset", r.offset},
          {"sourceRevision", r.source_revision},   {"sourceCompacted", r.source_compacted},
          {"endRevision", r.end_revision},         {"historyKeys", r.history_keys}};
}

json EventJson(const WatchEvent& e) {
  return {{"type", static_cast<int>(e.type)}, {"resourceVersion", e.resource_version}, {"resource", e.resource},
          {"object", e.object}};
}

// One transaction; FailedPrecondition when a compared key was not as expected.
Status Commit(EtcdClient& client, const EtcdTxn& txn, const std::string& what, int64_t* revision) {
  auto r = client.Txn(txn);
  if (!r.ok()) return r.status().WithContext(what);
  if (!r->succeeded) {
    return Status::FailedPrecondition(what + ": another writer is using the prefix (a key appeared meanwhile)");
  }
  *revision = r->revision;
  return Status::Ok();
}

// The history in keys of at most kHistoryKeyBytes, sealed when there is a cipher.
StatusOr<std::vector<std::string>> HistoryValues(const std::deque<WatchEvent>& history, const SecretCipher* cipher) {
  std::vector<std::string> values;
  json chunk = json::array();
  size_t bytes = 0;
  auto flush = [&]() -> Status {
    if (chunk.empty()) return Status::Ok();
    std::string plain = chunk.dump();
    if (cipher) {
      auto sealed = cipher->Seal(plain, kHistoryContext);
      if (!sealed.ok()) return sealed.status();
      plain = std::move(*sealed);
    }
    values.push_back(std::move(plain));
    chunk = json::array();
    bytes = 0;
    return Status::Ok();
  };
  for (const auto& e : history) {
    json j = EventJson(e);
    const size_t size = j.dump().size();
    if (bytes > 0 && bytes + size > kHistoryKeyBytes) BERTH_RETURN_IF_ERROR(flush());
    chunk.push_back(std::move(j));
    bytes += size;
  }
  BERTH_RETURN_IF_ERROR(flush());
  return values;
}

Status CheckEmpty(EtcdClient& client, const EtcdStoreOptions& options, int64_t* revision) {
  const std::string start = options.prefix + "/";
  auto objects = client.Range(start, EtcdPrefixEnd(start), 0, 1);
  if (!objects.ok()) return objects.status().WithContext("read " + start);
  if (!objects->kvs.empty()) {
    return Status::FailedPrecondition("etcd prefix " + start + " is not empty (it holds " + objects->kvs.front().key +
                                      "): migrate into an empty prefix, or remove it first with "
                                      "`etcdctl del --prefix " + start + "` if nothing there is needed");
  }
  *revision = objects->revision;
  for (const std::string& key : {RecordKey(options.prefix), options.prefix + ".hub/leader"}) {
    auto held = client.Range(key, "", 0, 1);
    if (!held.ok()) return held.status().WithContext("read " + key);
    if (!held->kvs.empty()) {
      return Status::FailedPrecondition(key + " exists: hubs or an earlier migration use this prefix; stop them "
                                        "and remove the prefix's keys first");
    }
  }
  return Status::Ok();
}

// Puts each (key, value) with a must-not-exist compare, in transactions within etcd's limits.
Status PutAll(EtcdClient& client, const std::vector<std::pair<std::string, std::string>>& kvs, int64_t* revision) {
  EtcdTxn txn;
  size_t bytes = 0;
  auto flush = [&]() -> Status {
    if (txn.success.empty()) return Status::Ok();
    BERTH_RETURN_IF_ERROR(Commit(client, txn, "seed " + txn.success.front().key, revision));
    txn = EtcdTxn{};
    bytes = 0;
    return Status::Ok();
  };
  for (const auto& [key, value] : kvs) {
    if (txn.success.size() >= kTxnOps || (bytes > 0 && bytes + key.size() + value.size() > kTxnBytes)) {
      BERTH_RETURN_IF_ERROR(flush());
    }
    txn.compare.push_back({key, EtcdCompare::Target::kCreateRevision, 0, {}});
    txn.success.push_back({EtcdOp::Type::kPut, key, value, 0});
    bytes += key.size() + value.size();
  }
  return flush();
}

}  // namespace

StatusOr<std::optional<MigrationRecord>> ReadMigrationRecord(EtcdClient& client, const std::string& prefix) {
  auto got = client.Range(RecordKey(prefix), "", 0, 1);
  if (!got.ok()) return got.status();
  if (got->kvs.empty()) return std::optional<MigrationRecord>();
  json j = json::parse(got->kvs.front().value, nullptr, false);
  if (!j.is_object()) return Status::Internal(RecordKey(prefix) + " does not hold a JSON object");
  MigrationRecord r;
  r.done = j.value("state", "") == "done";
  r.offset = j.value("revisionOffset", int64_t{0});
  r.source_revision = j.value("sourceRevision", int64_t{0});
  r.source_compacted = j.value("sourceCompacted", int64_t{0});
  r.end_revision = j.value("endRevision", int64_t{0});
  r.history_keys = j.value("historyKeys", int64_t{0});
  if (!r.done) {
    return Status::FailedPrecondition("a migration into " + prefix + "/ did not finish (" + RecordKey(prefix) +
                                      " says importing): remove its keys (etcdctl del --prefix " + prefix + "/ and etcdctl del --prefix " +
                                      prefix + ".hub/) and run `berth-hub migrate` again");
  }
  return std::optional<MigrationRecord>(r);
}

StatusOr<std::deque<WatchEvent>> ReadMigrationHistory(EtcdClient& client, const std::string& prefix,
                                                      const MigrationRecord& record, const SecretCipher* cipher) {
  std::deque<WatchEvent> history;
  for (int64_t i = 0; i < record.history_keys; ++i) {
    const std::string key = HistoryKey(prefix, static_cast<size_t>(i));
    auto got = client.Range(key, "", 0, 1);
    if (!got.ok()) return got.status().WithContext(key);
    if (got->kvs.empty()) return Status::Internal(key + " is missing");
    std::string plain = got->kvs.front().value;
    if (SecretCipher::IsSealed(plain)) {
      if (!cipher) return Status::Unavailable(key + " is encrypted, but the hub has no encryption key");
      auto opened = cipher->Open(plain, kHistoryContext);
      if (!opened.ok()) return opened.status().WithContext(key);
      plain = std::move(*opened);
    }
    json chunk = json::parse(plain, nullptr, false);
    if (!chunk.is_array()) return Status::Internal(key + " does not hold a JSON array");
    for (auto& e : chunk) {
      if (!e.is_object() || !e.contains("object")) return Status::Internal(key + " holds a malformed event");
      history.push_back(WatchEvent{static_cast<EventType>(e.value("type", 0)), e.value("resourceVersion", int64_t{0}),
                                   e.value("resource", ""), std::move(e["object"])});
    }
  }
  return history;
}

StatusOr<EtcdSeedReport> SeedEtcdStore(const EtcdStoreOptions& options, const StoreSeed& seed) {
  if (!options.encrypted_resources.empty() && !options.cipher) {
    return Status::Internal("etcd store " + options.prefix + ": encrypted resources need a cipher");
  }
  auto client = NewEtcdClient(options.client);
  if (!client.ok()) return client.status();
  EtcdClient& etcd = **client;
  int64_t revision = 0;
  BERTH_RETURN_IF_ERROR(CheckEmpty(etcd, options, &revision));

  MigrationRecord record;
  // The record's own write is revision + 1 and gets resourceVersion seed.revision + 1.
  record.offset = seed.revision - revision;
  record.source_revision = seed.revision;
  record.source_compacted = seed.compacted;
  EtcdTxn begin;
  begin.compare.push_back({RecordKey(options.prefix), EtcdCompare::Target::kCreateRevision, 0, {}});
  begin.success.push_back({EtcdOp::Type::kPut, RecordKey(options.prefix), RecordJson(record).dump(), 0});
  BERTH_RETURN_IF_ERROR(Commit(etcd, begin, "start the migration", &revision));

  EtcdValueCodec codec(options.encrypted_resources, options.cipher);
  std::vector<std::pair<std::string, std::string>> kvs;
  for (const auto& [resource, objects] : seed.objects) {
    for (const auto& [key, obj] : objects) {
      auto value = codec.Encode(resource, obj);
      if (!value.ok()) return value.status().WithContext(resource + " " + key.first + "/" + key.second);
      kvs.emplace_back(options.prefix + "/" + resource + "/" + key.first + "/" + key.second, std::move(*value));
    }
  }
  auto history = HistoryValues(seed.history, options.cipher.get());
  if (!history.ok()) return history.status().WithContext("seal the history");
  for (size_t i = 0; i < history->size(); ++i) kvs.emplace_back(HistoryKey(options.prefix, i), std::move((*history)[i]));
  BERTH_RETURN_IF_ERROR(PutAll(etcd, kvs, &revision));

  record.done = true;
  record.end_revision = revision;
  record.history_keys = static_cast<int64_t>(history->size());
  EtcdTxn end;
  end.success.push_back({EtcdOp::Type::kPut, RecordKey(options.prefix), RecordJson(record).dump(), 0});
  int64_t ignored = 0;
  BERTH_RETURN_IF_ERROR(Commit(etcd, end, "finish the migration", &ignored));
  return EtcdSeedReport{record.offset, record.end_revision, seed.object_count(), seed.history.size(), history->size()};
}

}  // namespace berth::hub
