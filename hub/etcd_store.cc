#include "hub/etcd_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "api/object.h"
#include "hub/etcd_migration.h"
#include "hub/etcd_value_codec.h"
#include "hub/mutation_queue.h"
#include "hub/store_mirror.h"

namespace berth::hub {
namespace {

using nlohmann::json;

using Pending = MutationQueue::Pending;

using ValueCodec = EtcdValueCodec;

// One mutation's state within a batch.
struct Slot {
  std::string key;
  std::optional<StatusOr<json>> result;  // set once settled
  // The planned write of the current attempt:
  bool writes = false;
  bool deletes = false;
  std::string value;      // put
  json object;            // put: the new object; delete: the last state
  int64_t expected = 0;   // compared mod_revision (0: must not exist)
};

class EtcdStore final : public Store {
 public:
  EtcdStore(EtcdStoreOptions options, std::unique_ptr<EtcdClient> writer_client,
            std::unique_ptr<EtcdClient> watch_client)
      : options_(std::move(options)),
        writer_client_(std::move(writer_client)),
        watch_client_(std::move(watch_client)),
        mirror_(options_.event_window),
        codec_(options_.encrypted_resources, options_.cipher),
        range_start_(options_.prefix + "/"),
        range_end_(EtcdPrefixEnd(options_.prefix + "/")) {}

  ~EtcdStore() override {
    mutations_.Close();  // first: no Submit lands, and the writer takes no batch, once stopping
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    sync_cv_.notify_all();
    {
      std::lock_guard<std::mutex> lock(watch_mu_);
      if (stream_) stream_->Close();
    }
    SignalCaughtUp();
    if (writer_.joinable()) writer_.join();
    if (watcher_.joinable()) watcher_.join();
    if (syncer_.joinable()) syncer_.join();
    mutations_.FailRemaining();
    for (auto& done : sync_waiters_) done(Status::Unavailable("the store is shutting down"));
  }

  Status Open() {
    auto migration = ReadMigrationRecord(*watch_client_, options_.prefix);
    if (!migration.ok()) return migration.status().WithContext("open etcd store " + options_.prefix);
    if (*migration) codec_.set_offset((*migration)->offset);
    const int64_t offset = codec_.offset();
    std::vector<std::pair<std::string, EtcdKeyValue>> stale;
    std::deque<WatchEvent> history;
    auto listed = ReadMigratedState(*migration, &stale, &history);
    if (!listed.ok()) return listed.status().WithContext("open etcd store " + options_.prefix);
    size_t count = 0;
    for (const auto& [r, m] : listed->first) count += m.size();
    const int64_t revision = listed->second;
    const int64_t compacted = history.empty() ? revision + offset : (*migration)->source_compacted;
    const size_t history_events = history.size();
    mirror_.Load(std::move(listed->first), std::move(history), revision + offset, compacted);
    spdlog::info("etcd store {}: loaded {} objects at revision {} (resourceVersion {}; {} history events)",
                 options_.prefix, count, revision, revision + offset, history_events);
    watcher_ = std::thread([this, revision] { WatchLoop(revision); });
    writer_ = std::thread([this] { WriterLoop(); });
    syncer_ = std::thread([this] { SyncLoop(); });
    BERTH_RETURN_IF_ERROR(Reseal(stale));
    return Status::Ok();
  }

  void Submit(Mutation mutation, MutationCallback done) override {
    mutations_.Submit(std::move(mutation), std::move(done));
  }

  StatusOr<json> Get(const ObjectRef& ref) const override { return mirror_.Get(ref); }
  StatusOr<ListResult> List(const std::string& resource, const ListOptions& options) const override {
    return mirror_.List(resource, options);
  }
  StatusOr<uint64_t> Watch(const WatchOptions& options, WatchSink sink) override {
    return mirror_.Watch(options, std::move(sink));
  }
  void Unwatch(uint64_t id) override { mirror_.Unwatch(id); }
  void SyncThen(std::function<void(Status)> done) override {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (!stopping_) {
        sync_waiters_.push_back(std::move(done));
        sync_cv_.notify_one();
        return;
      }
    }
    done(Status::Unavailable("the store is shutting down"));
  }

  // Serves SyncThen: one linearizable read for every waiter queued before it started.
  void SyncLoop() {
    while (true) {
      std::vector<std::function<void(Status)>> batch;
      {
        std::unique_lock<std::mutex> lock(stop_mu_);
        sync_cv_.wait(lock, [&] { return stopping_ || !sync_waiters_.empty(); });
        if (stopping_) return;
        batch.swap(sync_waiters_);
      }
      const Status s = SyncNow();
      for (auto& done : batch) done(s);
    }
  }

  // Reads are current when nothing under the prefix is newer than the mirror: no key there
  // was written after the mirror's revision, and etcd holds as many keys as the mirror
  // objects (a delete lowers the count; a create that would hide it is a key written since).
  // Otherwise the watch has events to deliver: wait for them, checking again every 100 ms,
  // since writes outside the prefix (the election's, another application's) never reach
  // this store's watch and etcd's latest revision may be one of them.
  Status SyncNow() {
    const auto deadline = std::chrono::steady_clock::now() + options_.catch_up_timeout;
    while (true) {
      const auto [rv, objects] = mirror_.RevisionAndCount();
      auto count = writer_client_->CountRange(range_start_, range_end_, rv - codec_.offset());
      if (!count.ok()) return count.status().WithContext("etcd store " + options_.prefix + ": sync");
      if (count->changed == 0 && count->total == static_cast<int64_t>(objects + IgnoredCount())) return Status::Ok();
      if (Stopping() || std::chrono::steady_clock::now() >= deadline) {
        return Status::Unavailable("etcd store " + options_.prefix + ": the watch has not reached revision " +
                                   std::to_string(count->revision) + " yet");
      }
      // Again once the watch publishes something newer, or after 100 ms (each check is two
      // etcd reads, so never in a tight loop).
      std::unique_lock<std::mutex> lock(caught_up_mu_);
      caught_up_cv_.wait_for(lock, std::chrono::milliseconds(100),
                             [&, seen = rv] { return Stopping() || mirror_.CurrentRevision() > seen; });
    }
  }
  int64_t CurrentRevision() const override { return mirror_.CurrentRevision(); }
  int64_t CompactedRevision() const override { return mirror_.CompactedRevision(); }

 private:
  std::string KeyOf(const ObjectRef& ref) const { return range_start_ + ref.resource + "/" + ref.ns + "/" + ref.name; }

  // (resource, namespace, name) of a key under the prefix; false if it does not follow the layout.
  bool ParseKey(const std::string& key, std::string* resource, ObjectKey* object) const {
    if (key.compare(0, range_start_.size(), range_start_) != 0) return false;
    const size_t a = key.find('/', range_start_.size());
    const size_t b = a == std::string::npos ? a : key.find('/', a + 1);
    if (b == std::string::npos || a == range_start_.size() || b + 1 == key.size()) return false;
    if (key.find('/', b + 1) != std::string::npos) return false;
    *resource = key.substr(range_start_.size(), a - range_start_.size());
    *object = {key.substr(a + 1, b - a - 1), key.substr(b + 1)};
    return true;
  }

  // Keys under the prefix the mirror does not hold (not the layout, or a value that does not
  // decode): SyncNow counts them with the mirror's objects.
  void NoteIgnored(const std::string& key, bool ignored) {
    std::lock_guard<std::mutex> lock(ignored_mu_);
    if (ignored) {
      ignored_.insert(key);
    } else if (!ignored_.empty()) {
      ignored_.erase(key);
    }
  }
  size_t IgnoredCount() {
    std::lock_guard<std::mutex> lock(ignored_mu_);
    return ignored_.size();
  }

  // ---- Reading the prefix (open, and after a compaction the watch missed) ----

  // The prefix at one revision; `stale` (if given) collects the values to seal again.
  // `at` > 0: as of that (past) revision.
  StatusOr<std::pair<ObjectsByResource, int64_t>> ReadPrefix(std::vector<std::pair<std::string, EtcdKeyValue>>* stale =
                                                                 nullptr, int64_t at = 0) {
    std::set<std::string> ignored;
    ObjectsByResource objects;
    int64_t revision = at;
    std::string from = range_start_;
    // Pages at one revision: the first page fixes it.
    while (true) {
      auto page = watch_client_->Range(from, range_end_, revision, 1000);
      if (!page.ok()) return page.status();
      if (at == 0) revision = page->revision;
      for (const auto& kv : page->kvs) {
        std::string resource;
        ObjectKey key;
        if (!ParseKey(kv.key, &resource, &key)) {
          spdlog::warn("etcd store {}: ignoring key {} (not <prefix>/<resource>/<ns>/<name>)", options_.prefix, kv.key);
          ignored.insert(kv.key);
          continue;
        }
        auto obj = codec_.Decode(resource, kv);
        if (!obj.ok()) return obj.status();
        if (stale && codec_.Stale(resource, kv)) stale->push_back({resource, kv});
        objects[resource][key] = std::move(*obj);
      }
      if (!page->more || page->kvs.empty()) break;
      from = page->kvs.back().key + '\0';
    }
    {
      std::lock_guard<std::mutex> lock(ignored_mu_);
      ignored_ = std::move(ignored);
    }
    return std::make_pair(std::move(objects), revision);
  }

  // The prefix at open. After a migration, as of its end revision (while etcd still has it)
  // with its history and one MODIFIED event per object that the migration rewrote
  // (hub/etcd_migration.h), so watches resume across the move; otherwise the latest state.
  StatusOr<std::pair<ObjectsByResource, int64_t>> ReadMigratedState(
      const std::optional<MigrationRecord>& migration, std::vector<std::pair<std::string, EtcdKeyValue>>* stale,
      std::deque<WatchEvent>* history) {
    // Only while the history would still be in the event window: a hub opening long after the
    // migration would replay every write since only to drop the history again.
    if (!migration) return ReadPrefix(stale);
    auto head = watch_client_->Range(range_start_, range_end_, 0, 1);
    if (!head.ok()) return head.status();
    if (head->revision - migration->end_revision <= static_cast<int64_t>(options_.event_window)) {
      auto past = ReadPrefix(nullptr, migration->end_revision);
      if (past.ok()) {
        auto h = ReadMigrationHistory(*watch_client_, options_.prefix, *migration, options_.cipher.get());
        if (!h.ok()) return h.status();
        *history = std::move(*h);
        std::vector<WatchEvent> rewrites;
        for (const auto& [resource, objects] : past->first) {
          for (const auto& [key, obj] : objects) {
            rewrites.push_back(WatchEvent{EventType::kModified, api::ResourceVersionOf(obj), resource, obj});
          }
        }
        std::stable_sort(rewrites.begin(), rewrites.end(), [](const WatchEvent& a, const WatchEvent& b) {
          return a.resource_version < b.resource_version;
        });
        for (auto& e : rewrites) history->push_back(std::move(e));
        // What to seal again is read as etcd holds it now (values written since the
        // migration included), not as of its end.
        auto now = ReadPrefix(stale);
        if (!now.ok()) return now.status();
        return past;
      }
      spdlog::warn("etcd store {}: the migration's end revision {} cannot be read ({}): starting without the "
                   "history it carried (watches from before the migration get 410 Gone and list again)",
                   options_.prefix, migration->end_revision, past.status().ToString());
    }
    return ReadPrefix(stale);
  }

  // Seals values of encrypted resources again with the first key (plain text from before
  // encryption, or an older key), so a rotated-out key can be dropped after one start, as
  // with SQLite. Unlike SQLite's in-place rewrite this is an etcd write: the objects get a new
  // resourceVersion (watchers see MODIFIED with the same content). Each write compares the
  // revision read, so a value another hub changed (and sealed) meanwhile is left alone.
  Status Reseal(const std::vector<std::pair<std::string, EtcdKeyValue>>& stale) {
    size_t done = 0, skipped = 0;
    for (size_t next = 0; next < stale.size();) {
      EtcdTxn txn;
      size_t bytes = 0;
      // Transactions within the same bounds as the writer's.
      for (; next < stale.size() && txn.success.size() < options_.max_batch && bytes < options_.max_batch_bytes; ++next) {
        const auto& [resource, kv] = stale[next];
        auto obj = codec_.Decode(resource, kv);
        if (!obj.ok()) return obj.status();
        auto sealed = codec_.Encode(resource, *obj);
        if (!sealed.ok()) return sealed.status();
        bytes += kv.key.size() + sealed->size();
        txn.compare.push_back({kv.key, EtcdCompare::Target::kModRevision, kv.mod_revision, {}});
        txn.success.push_back({EtcdOp::Type::kPut, kv.key, std::move(*sealed), 0});
      }
      auto r = writer_client_->Txn(txn);
      if (!r.ok()) return r.status().WithContext("etcd store " + options_.prefix + ": re-encrypt");
      (r->succeeded ? done : skipped) += txn.success.size();
    }
    if (done + skipped > 0) {
      spdlog::info("etcd store {}: encrypted {} values with key id {} ({} changed meanwhile: left to their writer)",
                   options_.prefix, done, options_.cipher->primary_key_id(), skipped);
    }
    return Status::Ok();
  }

  // ---- The watch thread: etcd's events into the mirror ----

  void WatchLoop(int64_t revision) {
    auto backoff = std::chrono::milliseconds(50);
    while (!Stopping()) {
      if (options_.before_watch) options_.before_watch(revision + 1);
      auto stream = watch_client_->Watch(range_start_, range_end_, revision + 1, /*prev_kv=*/true);
      if (!stream.ok()) {
        spdlog::warn("etcd store {}: watch: {}; retrying", options_.prefix, stream.status().ToString());
        SleepUnlessStopping(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(watch_mu_);
        if (Stopping()) return;
        stream_ = stream->get();
      }
      const auto opened = std::chrono::steady_clock::now();
      const bool compacted = Follow(**stream, &revision);
      {
        std::lock_guard<std::mutex> lock(watch_mu_);
        stream_ = nullptr;
      }
      if (compacted && !Stopping()) {
        Relist(&revision);
      } else if (std::chrono::steady_clock::now() - opened < std::chrono::seconds(1)) {
        // Ended at once (a member without a leader cancels a "hasleader" watch as it is
        // created): do not spin on it while the cluster elects one.
        SleepUnlessStopping(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
      } else {
        backoff = std::chrono::milliseconds(50);
      }
    }
  }

  // Applies one stream's responses until it ends; true if etcd canceled it because the
  // revision it resumed from was compacted.
  bool Follow(EtcdWatchStream& stream, int64_t* revision) {
    EtcdWatchResponse r;
    while (!Stopping()) {
      Status s = stream.Next(&r);
      if (!s.ok()) {
        if (!Stopping()) spdlog::info("etcd store {}: watch ended ({}); resuming", options_.prefix, s.ToString());
        return false;
      }
      if (r.canceled) {
        if (r.compact_revision > 0) {
          spdlog::warn("etcd store {}: etcd compacted revision {} before this hub saw it: re-reading",
                       options_.prefix, r.compact_revision);
          return true;
        }
        spdlog::warn("etcd store {}: etcd canceled the watch: {}", options_.prefix, r.cancel_reason);
        return false;
      }
      if (r.events.empty() && !r.created && r.revision > *revision) {
        // Progress: nothing under the prefix changed up to r.revision, so a resumed watch
        // may start after it (a watch resumed from an old revision would find it compacted).
        mirror_.Publish({}, r.revision + codec_.offset());
        *revision = r.revision;
        continue;
      }
      // Events arrive in revision order, and etcd never splits a revision across responses.
      size_t i = 0;
      while (i < r.events.size()) {
        const int64_t rev = r.events[i].kv.mod_revision;
        std::vector<StoreChange> changes;
        std::map<std::string, std::optional<json>> staged;  // earlier states in this revision
        for (; i < r.events.size() && r.events[i].kv.mod_revision == rev; ++i) {
          if (auto c = ToChange(r.events[i], &staged)) changes.push_back(std::move(*c));
        }
        if (rev <= *revision) continue;  // already applied (a resumed stream repeats nothing, but be safe)
        mirror_.Publish(std::move(changes), rev + codec_.offset());
        *revision = rev;
        SignalCaughtUp();
      }
    }
    return false;
  }

  std::optional<StoreChange> ToChange(const EtcdWatchEvent& e, std::map<std::string, std::optional<json>>* staged) {
    std::string resource;
    ObjectKey key;
    if (!ParseKey(e.kv.key, &resource, &key)) {
      NoteIgnored(e.kv.key, !e.deleted);
      return std::nullopt;
    }
    NoteIgnored(e.kv.key, false);
    // The state before: this revision's earlier change of the key, else the mirror (exact,
    // since revisions apply in order), else etcd's prev_kv.
    std::optional<json> prior;
    if (auto s = staged->find(e.kv.key); s != staged->end()) {
      prior = s->second;
    } else if (const json* m = mirror_.Find({resource, key.first, key.second})) {
      prior = *m;
    } else if (e.prev_kv) {
      if (auto p = codec_.Decode(resource, *e.prev_kv); p.ok()) prior = std::move(*p);
    }
    if (e.deleted) {
      (*staged)[e.kv.key] = std::nullopt;
      if (!prior) return std::nullopt;  // never seen: nothing to tell
      json last = std::move(*prior);
      const int64_t rv = e.kv.mod_revision + codec_.offset();
      last["metadata"]["resourceVersion"] = std::to_string(rv);
      return StoreChange{key, WatchEvent{EventType::kDeleted, rv, resource, std::move(last)}};
    }
    auto obj = codec_.Decode(resource, e.kv);
    if (!obj.ok()) {
      spdlog::error("etcd store {}: {}", options_.prefix, obj.status().ToString());
      NoteIgnored(e.kv.key, true);
      return std::nullopt;
    }
    (*staged)[e.kv.key] = *obj;
    WatchEvent ev{prior ? EventType::kModified : EventType::kAdded, e.kv.mod_revision + codec_.offset(), resource,
                  std::move(*obj)};
    if (prior) ev.labels_before = api::LabelsOf(*prior);
    return StoreChange{key, std::move(ev)};
  }

  void Relist(int64_t* revision) {
    auto backoff = std::chrono::milliseconds(50);
    while (!Stopping()) {
      auto listed = ReadPrefix();
      if (listed.ok()) {
        *revision = listed->second;
        mirror_.Reset(std::move(listed->first), listed->second + codec_.offset());
        SignalCaughtUp();
        return;
      }
      spdlog::warn("etcd store {}: re-read: {}; retrying", options_.prefix, listed.status().ToString());
      SleepUnlessStopping(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    }
  }

  // ---- The writer thread: queued mutations into etcd transactions ----

  void WriterLoop() {
    while (true) {
      // Distinct keys only: etcd rejects a transaction that writes a key twice, and a
      // second change of a key must see the first one's revision.
      std::set<std::tuple<std::string, std::string, std::string>> keys;
      std::vector<Pending> batch =
          mutations_.Take(options_.max_batch, /*drain=*/false, [&](const Mutation& m) {
            return keys.insert({m.ref.resource, m.ref.ns, m.ref.name}).second;
          });
      if (batch.empty()) return;  // closed
      CommitBatch(batch);
    }
  }

  void CommitBatch(std::vector<Pending>& batch) {
    std::vector<Slot> slots(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const ObjectRef& ref = batch[i].mutation.ref;
      slots[i].key = KeyOf(ref);
      if (ref.resource.empty() || ref.name.empty() ||
          (ref.resource + ref.ns + ref.name).find('/') != std::string::npos) {
        slots[i].result = Status::BadRequest("invalid object reference " + ref.resource + " " + ref.ns + "/" + ref.name);
      }
    }
    // States read from etcd after a failed attempt (nullopt: absent), fresher than the mirror.
    std::map<std::string, std::optional<EtcdKeyValue>> fresh;
    int64_t committed = 0;
    int conflicts = 0;
    while (conflicts < options_.max_attempts) {
      const EtcdTxn txn = Plan(batch, slots, fresh);
      if (txn.success.empty()) break;
      auto r = writer_client_->Txn(txn);
      if (r.ok() && r->succeeded) {
        committed = Settle(slots, r->revision);
        continue;  // mutations the size budget left out go next
      }
      if (!r.ok()) {
        const bool unknown = r.status().code() == StatusCode::kUnavailable || r.status().code() == StatusCode::kTimeout;
        if (!unknown) {
          // etcd rejected it (too large, ...): nothing changed; only its mutations fail.
          FailPlanned(slots, r.status());
          continue;
        }
        // The transaction may or may not have committed: the keys tell, once etcd answers.
        auto landed = ResolveUnknownWhenEtcdAnswers(txn, slots, &fresh);
        if (!landed.ok()) {
          for (auto& s : slots) {
            if (!s.result) s.result = r.status();  // etcd is out of reach: the whole batch fails
          }
          break;
        }
        if (*landed > 0) {
          committed = Settle(slots, *landed);
        } else {
          ++conflicts;
        }
        continue;
      }
      // Retried at once: a failed compare means another writer committed, so the writers
      // as a whole always progress; backing off only hands a busy rival more wins (measured:
      // with a jittered backoff the loser of a two-hub race ran out of attempts every time).
      AbsorbFailure(txn, *r, batch, slots, &fresh);
      ++conflicts;
    }
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].result) {
        slots[i].result = Status::Conflict("the object " + batch[i].mutation.ref.name +
                                           " kept changing under concurrent writers (other hubs); try again");
      }
    }
    if (committed > 0) WaitForMirror(committed);
    for (size_t i = 0; i < batch.size(); ++i) RunMutationCallback(batch[i].done, std::move(*slots[i].result));
  }

  // Runs the transforms of unsettled mutations on the freshest known state and builds the
  // transaction: compares and writes for those that change something, fences, and a
  // failure branch that reads back every compared key.
  EtcdTxn Plan(std::vector<Pending>& batch, std::vector<Slot>& slots,
               const std::map<std::string, std::optional<EtcdKeyValue>>& fresh) {
    EtcdTxn txn;
    std::set<std::tuple<std::string, int64_t, std::optional<std::string>>> fences;
    size_t bytes = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      Slot& s = slots[i];
      if (s.result) continue;
      s.writes = s.deletes = false;
      s.value.clear();
      if (bytes >= options_.max_batch_bytes) continue;  // next transaction
      std::optional<json> current;
      if (auto f = fresh.find(s.key); f != fresh.end()) {
        if (f->second) {
          auto obj = codec_.Decode(batch[i].mutation.ref.resource, *f->second);
          if (!obj.ok()) {
            s.result = obj.status();
            continue;
          }
          current = std::move(*obj);
        }
      } else if (auto got = mirror_.Get(batch[i].mutation.ref); got.ok()) {
        current = std::move(*got);
      }
      StatusOr<std::optional<json>> next = RunTransform(batch[i].mutation.transform, current ? &*current : nullptr);
      if (!next.ok()) {
        s.result = next.status();
        continue;
      }
      if (next->has_value() && current && **next == *current) {
        s.result = *current;  // no change: no write, no event, same version
        continue;
      }
      if (!next->has_value() && !current) {
        s.result = Status::NotFound(StoreMirror::NotFoundMessage(batch[i].mutation.ref));
        continue;
      }
      s.expected = current ? api::ResourceVersionOf(*current) - codec_.offset() : 0;
      if (next->has_value()) {
        s.object = std::move(**next);
        auto value = codec_.Encode(batch[i].mutation.ref.resource, s.object);
        if (!value.ok()) {
          s.writes = false;
          s.result = value.status();
          continue;
        }
        // Over the budget: left for the next transaction, unless it is alone (then etcd
        // decides, and a value over its --max-request-bytes fails by itself).
        if (!txn.success.empty() && bytes + s.key.size() + value->size() > options_.max_batch_bytes) {
          bytes = options_.max_batch_bytes;
          continue;
        }
        s.value = std::move(*value);
        txn.success.push_back({EtcdOp::Type::kPut, s.key, s.value, 0});
      } else {
        s.deletes = true;
        s.object = std::move(*current);
        txn.success.push_back({EtcdOp::Type::kDelete, s.key, {}, 0});
      }
      s.writes = true;
      bytes += s.key.size() + s.value.size();
      txn.compare.push_back(s.expected ? EtcdCompare{s.key, EtcdCompare::Target::kModRevision, s.expected, {}}
                                       : EtcdCompare{s.key, EtcdCompare::Target::kCreateRevision, 0, {}});
      txn.failure.push_back({EtcdOp::Type::kRange, s.key, {}, 0});
      if (const auto& f = batch[i].mutation.fence) fences.insert({f->key, f->create_revision, f->value});
    }
    for (const auto& [key, create_revision, value] : fences) {
      txn.compare.push_back({key, EtcdCompare::Target::kCreateRevision, create_revision, {}});
      if (value) txn.compare.push_back({key, EtcdCompare::Target::kValue, 0, *value});
      txn.failure.push_back({EtcdOp::Type::kRange, key, {}, 0});
    }
    return txn;
  }

  static void FailPlanned(std::vector<Slot>& slots, const Status& status) {
    for (auto& s : slots) {
      if (!s.result && s.writes) s.result = status;
    }
  }

  // The transaction committed at `revision`: every planned write succeeded.
  int64_t Settle(std::vector<Slot>& slots, int64_t revision) {
    for (auto& s : slots) {
      if (s.result || !s.writes) continue;
      s.object["metadata"]["resourceVersion"] = std::to_string(revision + codec_.offset());
      s.result = std::move(s.object);
    }
    return revision;
  }

  // A failed compare: remember the keys as etcd has them now, and fail the mutations whose
  // fence no longer holds (a deposed leader's); the rest run again.
  void AbsorbFailure(const EtcdTxn& txn, const EtcdTxnResult& r, std::vector<Pending>& batch,
                     std::vector<Slot>& slots, std::map<std::string, std::optional<EtcdKeyValue>>* fresh) {
    std::map<std::string, std::optional<EtcdKeyValue>> read;
    for (size_t k = 0; k < txn.failure.size() && k < r.ranges.size(); ++k) {
      read[txn.failure[k].key] = r.ranges[k].empty() ? std::nullopt : std::optional(r.ranges[k].front());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Slot& s = slots[i];
      if (s.result || !s.writes) continue;
      if (auto it = read.find(s.key); it != read.end()) (*fresh)[s.key] = it->second;
      const auto& f = batch[i].mutation.fence;
      if (!f) continue;
      const auto& holder = read[f->key];
      const int64_t create_revision = holder ? holder->create_revision : 0;
      if (create_revision != f->create_revision || (f->value && (!holder || holder->value != *f->value))) {
        s.result = Status::FailedPrecondition("fenced: " + f->key + " changed (create_revision " +
                                              std::to_string(create_revision) + ", expected " +
                                              std::to_string(f->create_revision) +
                                              "): this hub is no longer the leader");
      }
    }
  }

  // After a transaction whose outcome is unknown: reads its keys. Returns the revision it
  // committed at, 0 if it did not commit (the keys are remembered for the next attempt), or
  // an error if etcd cannot be read either.
  StatusOr<int64_t> ResolveUnknown(const EtcdTxn& txn, const std::vector<Slot>& slots,
                                   std::map<std::string, std::optional<EtcdKeyValue>>* fresh) {
    EtcdTxn read;  // read-only, so the client may retry it on another endpoint
    for (const auto& s : slots) {
      if (!s.result && s.writes) read.success.push_back({EtcdOp::Type::kRange, s.key, {}, 0});
    }
    auto r = writer_client_->Txn(read);
    if (!r.ok()) return r.status();
    int64_t landed = -1;  // -1: undecided
    size_t k = 0;
    for (const auto& s : slots) {
      if (s.result || !s.writes) continue;
      const auto& kvs = r->ranges.at(k++);
      std::optional<EtcdKeyValue> now = kvs.empty() ? std::nullopt : std::optional(kvs.front());
      (*fresh)[s.key] = now;
      // The transaction is atomic, so one put tells for all; deletes only show "absent".
      if (!s.deletes && landed < 0) {
        landed = now && now->value == s.value && now->mod_revision > s.expected ? now->mod_revision : 0;
      } else if (s.deletes && landed < 0 && now) {
        landed = 0;
      }
    }
    if (landed < 0) landed = r->revision;  // only deletes, all keys gone: they committed by this revision
    if (landed > 0) spdlog::info("etcd store {}: a write with an unknown outcome had committed at {}", options_.prefix, landed);
    return landed;
  }

  // ResolveUnknown, retried while no etcd member answers (a restart, an election) for up to
  // `unavailable_timeout`.
  StatusOr<int64_t> ResolveUnknownWhenEtcdAnswers(const EtcdTxn& txn, const std::vector<Slot>& slots,
                                                  std::map<std::string, std::optional<EtcdKeyValue>>* fresh) {
    const auto deadline = std::chrono::steady_clock::now() + options_.unavailable_timeout;
    auto backoff = std::chrono::milliseconds(50);
    while (true) {
      auto landed = ResolveUnknown(txn, slots, fresh);
      if (landed.ok() || Stopping() || std::chrono::steady_clock::now() + backoff > deadline) return landed;
      SleepUnlessStopping(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  // Read-your-writes: the callback runs once the mirror (Get, List, watches) shows `revision`.
  bool WaitForMirror(int64_t revision) {
    std::unique_lock<std::mutex> lock(caught_up_mu_);
    const bool ok = caught_up_cv_.wait_for(lock, options_.catch_up_timeout, [&] {
      return Stopping() || mirror_.CurrentRevision() >= revision + codec_.offset();
    });
    if (!ok) {
      spdlog::warn("etcd store {}: revision {} committed but the watch has not shown it after {} ms",
                   options_.prefix, revision, options_.catch_up_timeout.count());
    }
    return ok;
  }

  // Taking the mutex orders this wake-up after a waiter's check of the revision.
  void SignalCaughtUp() {
    { std::lock_guard<std::mutex> lock(caught_up_mu_); }
    caught_up_cv_.notify_all();
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    return stopping_;
  }

  void SleepUnlessStopping(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, d, [&] { return stopping_; });
  }

  const EtcdStoreOptions options_;
  const std::unique_ptr<EtcdClient> writer_client_;  // writer thread, and the sync thread (thread-safe)
  const std::unique_ptr<EtcdClient> watch_client_;   // watch thread (and Open)
  StoreMirror mirror_;  // published by the watch thread only
  ValueCodec codec_;  // its offset is set in Open, before the threads start
  const std::string range_start_, range_end_;

  MutationQueue mutations_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // SleepUnlessStopping
  std::condition_variable sync_cv_;
  std::vector<std::function<void(Status)>> sync_waiters_;  // guarded by stop_mu_
  bool stopping_ = false;                                  // guarded by stop_mu_

  std::mutex watch_mu_;
  EtcdWatchStream* stream_ = nullptr;  // guarded by watch_mu_: the open stream, to close it

  std::mutex ignored_mu_;
  std::set<std::string> ignored_;  // guarded by ignored_mu_ (NoteIgnored)

  std::mutex caught_up_mu_;  // with caught_up_cv_: the writer waits for the mirror
  std::condition_variable caught_up_cv_;

  std::thread writer_, watcher_, syncer_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options) {
  if (options.max_batch < 1 || options.max_batch > 120) {
    return Status::BadRequest("etcd store: max_batch must be 1..120 (etcd allows 128 operations per transaction)");
  }
  if (!options.encrypted_resources.empty() && !options.cipher) {
    return Status::Internal("etcd store " + options.prefix + ": encrypted resources need a cipher");
  }
  auto writer = NewEtcdClient(options.client);
  if (!writer.ok()) return writer.status();
  auto watcher = NewEtcdClient(options.client);
  if (!watcher.ok()) return watcher.status();
  auto store = std::make_unique<EtcdStore>(options, std::move(*writer), std::move(*watcher));
  BERTH_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace berth::hub
