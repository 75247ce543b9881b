#include "hub/sqlite_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "api/object.h"
#include "hub/mutation_queue.h"
#include "hub/store_mirror.h"

namespace berth::hub {
namespace {

using nlohmann::json;

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void Bind(int i, const std::string& s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // Binds without copying: `s` must outlive the next Step.
  void BindStatic(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

constexpr const char* kSchema = R"(
      PRAGMA journal_mode=WAL;
      PRAGMA synchronous=FULL;
      PRAGMA foreign_keys=ON;
      PRAGMA busy_timeout=5000;
      CREATE TABLE IF NOT EXISTS objects (
        resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        rv INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (resource, namespace, name));
      CREATE TABLE IF NOT EXISTS events (
        rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    )";

using Pending = MutationQueue::Pending;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteStoreOptions options)
      : options_(std::move(options)), mirror_(options_.event_window) {}

  ~SqliteStore() override {
    mutations_.Close();  // the writer commits what is queued, then returns
    if (writer_.joinable()) writer_.join();
    mutations_.FailRemaining();  // only when the writer never ran: it drains the queue
    if (db_) sqlite3_close(db_);
  }

  Status Open() {
    // The store holds credentials' hashes and every object: owner-only, as are the WAL and
    // shared-memory files SQLite creates beside it (it copies the database file's mode).
    const int fd = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) ::chmod((options_.path + suffix).c_str(), 0600);
    if (sqlite3_open_v2(options_.path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return Status::Unavailable("open store " + options_.path + ": " +
                                 (db_ ? sqlite3_errmsg(db_) : "out of memory") +
                                 ": check the --data-dir path and its permissions");
    }
    const char* setup = kSchema;
    char* err = nullptr;
    if (sqlite3_exec(db_, setup, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return Status::Unavailable("initialise store " + options_.path + ": " + msg);
    }
    if (!options_.encrypted_resources.empty() && !options_.cipher) {
      return Status::Internal("store " + options_.path + ": encrypted resources need a cipher");
    }
    BERTH_RETURN_IF_ERROR(Load());
    writer_ = std::thread([this] { WriterLoop(); });
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
  int64_t CurrentRevision() const override { return mirror_.CurrentRevision(); }
  int64_t CompactedRevision() const override { return mirror_.CompactedRevision(); }

 private:
  static std::string NotFoundMessage(const ObjectRef& ref) { return StoreMirror::NotFoundMessage(ref); }

  Status Load() {
    using LoadClock = std::chrono::steady_clock;
    const auto load_start = LoadClock::now();
    Stmt objs(db_, "SELECT resource, namespace, name, data FROM objects");
    if (!objs.ok()) return Status::Internal(std::string("load objects: ") + sqlite3_errmsg(db_));
    int64_t max_rv = 0;
    ObjectsByResource objects;
    std::deque<WatchEvent> events;
    std::vector<Reseal> reseal;
    while (objs.Step() == SQLITE_ROW) {
      const std::string resource = objs.Text(0), ns = objs.Text(1), name = objs.Text(2);
      bool stale = false;
      auto obj = DecodeRow(resource, resource + " " + (ns.empty() ? name : ns + "/" + name), objs.Text(3), &stale);
      if (!obj.ok()) return obj.status();
      max_rv = std::max(max_rv, api::ResourceVersionOf(*obj));
      if (stale) reseal.push_back({false, {resource, ns, name}, 0, *obj});
      objects[resource][{ns, name}] = std::move(*obj);
    }
    const auto objects_done = LoadClock::now();
    Stmt evs(db_, "SELECT rv, resource, type, data FROM events ORDER BY rv");
    while (evs.Step() == SQLITE_ROW) {
      const int64_t rv = evs.Int(0);
      const std::string resource = evs.Text(1);
      bool stale = false;
      auto obj = DecodeRow(resource, "the watch log's revision " + std::to_string(rv) + " (" + resource + ")",
                           evs.Text(3), &stale);
      if (!obj.ok()) return obj.status();
      if (stale) reseal.push_back({true, {resource, "", ""}, rv, *obj});
      max_rv = std::max(max_rv, rv);
      events.push_back(WatchEvent{static_cast<EventType>(evs.Int(2)), rv, resource, std::move(*obj)});
    }
    BERTH_RETURN_IF_ERROR(ResealRows(reseal));
    while (events.size() > options_.event_window) events.pop_front();  // disk trims lazily
    Stmt meta(db_, "SELECT value FROM meta WHERE key = 'rv'");
    if (meta.Step() == SQLITE_ROW) max_rv = std::max(max_rv, meta.Int(0));
    // Revisions past the last durable one may have been acknowledged and lost (see the
    // header): skip them.
    const int64_t current_rv =
        max_rv + (options_.unsynced_resources.empty() ? 0 : options_.max_unsynced_revisions);
    const int64_t compacted_rv = events.empty() ? current_rv : events.front().resource_version - 1;
    size_t count = 0;
    for (const auto& [res, m] : objects) count += m.size();
    const size_t event_count = events.size();
    mirror_.Load(std::move(objects), std::move(events), current_rv, compacted_rv);
    const auto ms = [](LoadClock::duration d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    spdlog::info("store {}: loaded {} objects ({} ms), revision {}, {} events ({} ms)", options_.path,
                 count, ms(objects_done - load_start), current_rv, event_count,
                 ms(LoadClock::now() - objects_done));
    return Status::Ok();
  }

  // A row to seal again with the first key: stored in plain text or under an older key.
  struct Reseal {
    bool event_row;  // the watch log (keyed by rv) or the objects table (keyed by ref)
    ObjectRef ref;
    int64_t rv;
    json object;
  };

  bool Encrypted(const std::string& resource) const { return options_.encrypted_resources.count(resource) > 0; }

  // A stored row's object: plain JSON, or sealed (SecretCipher). `*stale` is set when the
  // row should be sealed again with the first key. Errors name the row (`what`) and, for a
  // sealed row, the key id, never the content.
  StatusOr<json> DecodeRow(const std::string& resource, const std::string& what, const std::string& text, bool* stale) {
    std::string plain;
    const bool sealed = SecretCipher::IsSealed(text);
    if (sealed) {
      if (!options_.cipher) {
        return Status::Unavailable("store " + options_.path + ": " + what +
                                   " is encrypted, but the hub has no encryption key: pass --encryption-key-file");
      }
      auto opened = options_.cipher->Open(text, resource);
      if (!opened.ok()) return opened.status().WithContext("store " + options_.path + ": " + what);
      plain = std::move(*opened);
      *stale = SecretCipher::KeyIdOf(text) != options_.cipher->primary_key_id();
    } else {
      *stale = Encrypted(resource);
    }
    const std::string& json_text = sealed ? plain : text;
    try {
      return json::parse(json_text);
    } catch (const json::exception& e) {
      // The parser quotes what it read: never for an encrypted resource.
      return Status::Internal("store " + options_.path + " holds a corrupt object: " + what +
                              (Encrypted(resource) ? std::string() : std::string(": ") + e.what()));
    }
  }

  Status ResealRows(const std::vector<Reseal>& rows) {
    if (rows.empty()) return Status::Ok();
    Stmt obj(db_, "UPDATE objects SET data = ? WHERE resource = ? AND namespace = ? AND name = ?");
    Stmt ev(db_, "UPDATE events SET data = ? WHERE rv = ?");
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Status::Unavailable(std::string("store: re-encrypt: begin: ") + sqlite3_errmsg(db_));
    }
    for (const auto& r : rows) {
      auto sealed = options_.cipher->Seal(r.object.dump(), r.ref.resource);
      if (!sealed.ok()) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return sealed.status();
      }
      Stmt& st = r.event_row ? ev : obj;
      st.Reset();
      st.Bind(1, *sealed);
      if (r.event_row) {
        st.Bind(2, r.rv);
      } else {
        st.Bind(2, r.ref.resource);
        st.Bind(3, r.ref.ns);
        st.Bind(4, r.ref.name);
      }
      if (st.Step() != SQLITE_DONE) {
        Status s = Status::Unavailable(std::string("store: re-encrypt: ") + sqlite3_errmsg(db_));
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return s;
      }
    }
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Status::Unavailable(std::string("store: re-encrypt: commit: ") + sqlite3_errmsg(db_));
    }
    spdlog::info("store {}: encrypted {} rows with key id {}", options_.path, rows.size(),
                 options_.cipher->primary_key_id());
    return Status::Ok();
  }

  void WriterLoop() {
    Stmt upsert(db_, "INSERT OR REPLACE INTO objects (resource, namespace, name, rv, data) VALUES (?,?,?,?,?)");
    Stmt remove(db_, "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?");
    Stmt event(db_, "INSERT INTO events (rv, resource, type, data) VALUES (?,?,?,?)");
    Stmt meta(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)");
    Stmt prune(db_, "DELETE FROM events WHERE rv <= ?");
    // Prepared once: sqlite3_exec would compile these on every commit.
    Stmt begin(db_, "BEGIN IMMEDIATE"), commit(db_, "COMMIT");
    begin_ = &begin;
    commit_ = &commit;
    while (true) {
      std::vector<Pending> batch = mutations_.Take(options_.max_batch, /*drain=*/true);
      if (batch.empty()) return;  // closed and drained
      CommitBatch(batch, upsert, remove, event, meta, prune);
    }
  }

  struct Outcome {
    StatusOr<json> result = Status::Internal("not applied");
    std::optional<WatchEvent> event;
    ObjectRef ref;
    bool erase = false;
  };

  void CommitBatch(std::vector<Pending>& batch, Stmt& upsert, Stmt& remove, Stmt& event, Stmt& meta,
                   Stmt& prune) {
    // Apply transforms against the current state plus this batch's earlier writes.
    // Objects this batch wrote so far (into outcomes, which does not reallocate); null: deleted.
    std::map<std::tuple<std::string, std::string, std::string>, const json*> staged;
    std::vector<Outcome> outcomes(batch.size());
    int64_t rv = mirror_.CurrentRevision();
    const int64_t first_rv = rv + 1;
    for (size_t i = 0; i < batch.size(); ++i) {
      const ObjectRef& ref = batch[i].mutation.ref;
      outcomes[i].ref = ref;
      auto skey = std::make_tuple(ref.resource, ref.ns, ref.name);
      const json* current = nullptr;
      if (auto s = staged.find(skey); s != staged.end()) {
        current = s->second;
      } else {
        // Only this thread changes the mirror, so reading it here needs no lock and no copy.
        current = mirror_.Find(ref);
      }
      StatusOr<std::optional<json>> next = RunTransform(batch[i].mutation.transform, current);
      if (!next.ok()) {
        outcomes[i].result = next.status();
        continue;
      }
      if (next->has_value() && current != nullptr && **next == *current) {
        outcomes[i].result = *current;  // no change: no write, no event, same version
        continue;
      }
      if (!next->has_value() && current == nullptr) {
        outcomes[i].result = Status::NotFound(NotFoundMessage(ref));
        continue;
      }
      ++rv;
      if (next->has_value()) {
        json obj = std::move(**next);
        obj["metadata"]["resourceVersion"] = std::to_string(rv);
        EventType type = current ? EventType::kModified : EventType::kAdded;
        outcomes[i].event = WatchEvent{type, rv, ref.resource, std::move(obj)};
        if (current) outcomes[i].event->labels_before = api::LabelsOf(*current);
        outcomes[i].result = outcomes[i].event->object;
        staged[skey] = &outcomes[i].event->object;
      } else {
        json last = *current;
        last["metadata"]["resourceVersion"] = std::to_string(rv);
        outcomes[i].event = WatchEvent{EventType::kDeleted, rv, ref.resource, last};
        outcomes[i].result = last;
        outcomes[i].erase = true;
        staged[skey] = nullptr;
      }
    }

    // Sync unless every change modifies a heartbeat object and the unsynced run stays short.
    bool sync = true;
    if (!options_.unsynced_resources.empty() && rv >= first_rv &&
        unsynced_revisions_ + (rv - first_rv + 1) <= options_.max_unsynced_revisions) {
      sync = false;
      for (const auto& o : outcomes) {
        if (o.event && (o.event->type != EventType::kModified || !options_.unsynced_resources.count(o.ref.resource))) {
          sync = true;
          break;
        }
      }
    }
    Status commit = rv >= first_rv ? Persist(outcomes, rv, sync, upsert, remove, event, meta, prune) : Status::Ok();
    if (commit.ok() && rv >= first_rv) {
      unsynced_revisions_ = sync ? 0 : unsynced_revisions_ + (rv - first_rv + 1);
      if (options_.on_commit) options_.on_commit(rv - first_rv + 1, sync);
    }
    if (!commit.ok()) {
      spdlog::error("store commit failed: {}", commit.ToString());
      for (size_t i = 0; i < batch.size(); ++i) RunMutationCallback(batch[i].done, commit);
      return;
    }
    std::vector<StoreChange> changes;
    for (auto& o : outcomes) {
      if (o.event) changes.push_back({{o.ref.ns, o.ref.name}, std::move(*o.event)});
    }
    if (!changes.empty()) mirror_.Publish(std::move(changes), rv);
    for (size_t i = 0; i < batch.size(); ++i) RunMutationCallback(batch[i].done, std::move(outcomes[i].result));
  }

  Status Persist(const std::vector<Outcome>& outcomes, int64_t rv, bool sync, Stmt& upsert, Stmt& remove,
                 Stmt& event, Stmt& meta, Stmt& prune) {
    auto exec = [&](const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); };
    // WAL with synchronous=NORMAL writes the commit without fsync; FULL syncs the WAL, and
    // with it every commit before.
    if (sync != synced_mode_) {
      if (exec(sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") != SQLITE_OK) {
        return Status::Unavailable(std::string("store: set synchronous: ") + sqlite3_errmsg(db_));
      }
      synced_mode_ = sync;
    }
    begin_->Reset();
    if (begin_->Step() != SQLITE_DONE) {
      return Status::Unavailable(std::string("store: begin: ") + sqlite3_errmsg(db_));
    }
    auto fail = [&](const char* what) {
      Status s = Status::Unavailable(std::string("store: ") + what + ": " + sqlite3_errmsg(db_));
      for (Stmt* st : {begin_, commit_, &upsert, &remove, &event, &meta, &prune}) st->Reset();
      exec("ROLLBACK");
      return s;
    };
    for (const auto& o : outcomes) {
      if (!o.event) continue;
      std::string data = o.event->object.dump();
      if (Encrypted(o.ref.resource)) {
        auto sealed = options_.cipher->Seal(data, o.ref.resource);
        if (!sealed.ok()) {
          fail("seal");  // rolls back
          return sealed.status();
        }
        data = std::move(*sealed);
      }
      if (o.erase) {
        remove.Reset();
        remove.Bind(1, o.ref.resource);
        remove.Bind(2, o.ref.ns);
        remove.Bind(3, o.ref.name);
        if (remove.Step() != SQLITE_DONE) return fail("delete");
      } else {
        upsert.Reset();
        upsert.Bind(1, o.ref.resource);
        upsert.Bind(2, o.ref.ns);
        upsert.Bind(3, o.ref.name);
        upsert.Bind(4, o.event->resource_version);
        upsert.BindStatic(5, data);
        if (upsert.Step() != SQLITE_DONE) return fail("write object");
      }
      event.Reset();
      event.Bind(1, o.event->resource_version);
      event.Bind(2, o.ref.resource);
      event.Bind(3, static_cast<int64_t>(o.event->type));
      event.BindStatic(4, data);
      if (event.Step() != SQLITE_DONE) return fail("write event");
    }
    meta.Reset();
    meta.Bind(1, rv);
    if (meta.Step() != SQLITE_DONE) return fail("write revision");
    // The on-disk event log is trimmed every 64 commits, not each: deleting its oldest row
    // every time rewrites another page per commit. A few dozen extra rows are harmless.
    const bool trim = ++commits_since_prune_ >= 64;
    if (trim) {
      prune.Reset();
      prune.Bind(1, rv - static_cast<int64_t>(options_.event_window));
      if (prune.Step() != SQLITE_DONE) return fail("prune events");
    }
    commit_->Reset();
    if (commit_->Step() != SQLITE_DONE) return fail("commit");
    if (trim) commits_since_prune_ = 0;
    return Status::Ok();
  }

  SqliteStoreOptions options_;
  bool synced_mode_ = true;          // writer thread: the connection's synchronous setting
  int64_t unsynced_revisions_ = 0;   // writer thread: revisions since the last synced commit
  int commits_since_prune_ = 0;      // writer thread
  Stmt* begin_ = nullptr;            // writer thread: prepared in WriterLoop
  Stmt* commit_ = nullptr;
  sqlite3* db_ = nullptr;  // used by the writer thread only (after Open)
  std::thread writer_;

  MutationQueue mutations_;

  StoreMirror mirror_;  // objects, watch window and subscribers; this store's writer publishes
};

}  // namespace

namespace {

// Writes `seed` into the open, empty database `db` in one transaction.
StatusOr<size_t> WriteSeed(sqlite3* db, const SqliteStoreOptions& options, const StoreSeed& seed) {
  auto fail = [db](const std::string& what) {
    Status s = Status::Internal("seed " + what + ": " + sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  };
  auto encode = [&](const std::string& resource, const json& object) -> StatusOr<std::string> {
    if (!options.encrypted_resources.count(resource)) return object.dump();
    return options.cipher->Seal(object.dump(), resource);
  };
  // The events table holds one change per revision; a history whose changes share revisions
  // (etcd commits a batch as one) cannot be carried.
  bool history_fits = true;
  for (size_t i = 1; i < seed.history.size(); ++i) {
    if (seed.history[i].resource_version <= seed.history[i - 1].resource_version) history_fits = false;
  }
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("begin");
  Stmt object(db, "INSERT INTO objects (resource, namespace, name, rv, data) VALUES (?,?,?,?,?)");
  for (const auto& [resource, objects] : seed.objects) {
    for (const auto& [key, obj] : objects) {
      auto data = encode(resource, obj);
      if (!data.ok()) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return data.status().WithContext("seal " + resource);
      }
      object.Reset();
      object.Bind(1, resource);
      object.Bind(2, key.first);
      object.Bind(3, key.second);
      object.Bind(4, api::ResourceVersionOf(obj));
      object.Bind(5, *data);
      if (object.Step() != SQLITE_DONE) return fail("object " + resource + " " + key.first + "/" + key.second);
    }
  }
  size_t events = 0;
  Stmt event(db, "INSERT INTO events (rv, resource, type, data) VALUES (?,?,?,?)");
  for (const auto& e : history_fits ? seed.history : std::deque<WatchEvent>{}) {
    auto data = encode(e.resource, e.object);
    if (!data.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return data.status().WithContext("seal " + e.resource);
    }
    event.Reset();
    event.Bind(1, e.resource_version);
    event.Bind(2, e.resource);
    event.Bind(3, static_cast<int64_t>(e.type));
    event.Bind(4, *data);
    if (event.Step() != SQLITE_DONE) return fail("event " + std::to_string(e.resource_version));
    ++events;
  }
  Stmt meta(db, "INSERT INTO meta (key, value) VALUES ('rv', ?)");
  meta.Bind(1, seed.revision);
  if (meta.Step() != SQLITE_DONE) return fail("revision");
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  return events;
}

}  // namespace

StatusOr<size_t> SeedSqliteStore(const SqliteStoreOptions& options, const StoreSeed& seed) {
  if (!options.encrypted_resources.empty() && !options.cipher) {
    return Status::Internal("store " + options.path + ": encrypted resources need a cipher");
  }
  struct stat st {};
  if (::stat(options.path.c_str(), &st) == 0) {
    return Status::FailedPrecondition(options.path + " exists: seeding writes a new store only (move it away first)");
  }
  const int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("create " + options.path + ": " + std::strerror(errno));
  ::close(fd);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(options.path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return Status::Unavailable("open " + options.path);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, sqlite3_close);
  char* err = nullptr;
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    closer.reset();
    ::unlink(options.path.c_str());
    return Status::Unavailable("initialise store " + options.path + ": " + msg);
  }
  auto written = WriteSeed(db, options, seed);
  if (!written.ok()) {
    // No half-written store for a hub to open, and nothing to stop a retry.
    closer.reset();
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((options.path + suffix).c_str());
  }
  return written;
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  BERTH_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace berth::hub
