// Moving a store between SQLite and etcd (ExportStore, SeedEtcdStore, SeedSqliteStore) with a
// real etcd on loopback: objects, resourceVersions that keep growing, sealed values, and a
// watch from a revision of the old store that resumes on the new one. Skipped without etcd.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "api/object.h"
#include "hub/etcd_migration.h"
#include "hub/etcd_store.h"
#include "hub/etcd_test_fixture.h"
#include "hub/sqlite_store.h"
#include "hub/store_seed.h"

namespace berth::hub {
namespace {

using nlohmann::json;

json Obj(const std::string& name, int v) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"labels", {{"app", name}}}}}, {"spec", {{"v", v}}}};
}
Transform SetTo(json obj) {
  return [obj](const json*) -> StatusOr<std::optional<json>> { return std::optional<json>(obj); };
}
Transform Delete() {
  return [](const json*) -> StatusOr<std::optional<json>> { return std::optional<json>(); };
}
json WithoutVersion(json o) {
  o["metadata"].erase("resourceVersion");
  return o;
}

// Every event of `resource` after `from` (replayed at once: nobody writes meanwhile).
std::vector<WatchEvent> EventsAfter(Store& store, const std::string& resource, int64_t from) {
  std::vector<WatchEvent> out;
  WatchOptions w;
  w.resource = resource;
  w.from_revision = from;
  auto id = store.Watch(w, [&](const WatchEvent& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (id.ok()) store.Unwatch(*id);
  return out;
}

class StoreMigrationTest : public EtcdFixture {
 protected:
  void SetUp() override {
    EtcdFixture::SetUp();
    if (IsSkipped()) return;
    dir_ = std::filesystem::temp_directory_path() / ("berth-migrate-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    cipher_ = std::make_shared<const SecretCipher>(
        SecretCipher::FromKeyFile(SecretCipher::NewKeyFileText().value(), "test-key").value());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SqliteStoreOptions Sqlite(const std::string& file) const {
    SqliteStoreOptions o;
    o.path = (dir_ / file).string();
    o.encrypted_resources = {"secrets"};
    o.cipher = cipher_;
    return o;
  }
  EtcdStoreOptions Etcd() const {
    EtcdStoreOptions o;
    o.client = cluster_->ClientOptions();
    o.prefix = "/migrated";
    o.encrypted_resources = {"secrets"};
    o.cipher = cipher_;
    return o;
  }

  std::filesystem::path dir_;
  std::shared_ptr<const SecretCipher> cipher_;
};

TEST_F(StoreMigrationTest, SqliteToEtcdKeepsObjectsVersionsGrowingAndTheHistoryWatchable) {
  auto sqlite = OpenSqliteStore(Sqlite("source.db")).value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(sqlite->Apply({{"things", "default", "t" + std::to_string(i)}, SetTo(Obj("t" + std::to_string(i), i))}).ok());
  ASSERT_TRUE(sqlite->Apply({{"secrets", "default", "db"}, SetTo(Obj("db", 42))}).ok());
  const int64_t watched_at = sqlite->CurrentRevision();  // a client's last seen resourceVersion
  ASSERT_TRUE(sqlite->Apply({{"things", "default", "t1"}, SetTo(Obj("t1", 100))}).ok());
  ASSERT_TRUE(sqlite->Apply({{"things", "default", "t2"}, Delete()}).ok());
  const auto source_events = EventsAfter(*sqlite, "things", watched_at);
  ASSERT_EQ(source_events.size(), 2u);

  auto seed = ExportStore(*sqlite, {"things", "secrets"});
  ASSERT_TRUE(seed.ok()) << seed.status().ToString();
  EXPECT_EQ(seed->object_count(), 5u);
  EXPECT_EQ(seed->history.size(), 7u) << "every change the window holds but the first (ExportStore)";
  sqlite.reset();

  auto report = SeedEtcdStore(Etcd(), *seed);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->objects, 5u);
  EXPECT_EQ(SeedEtcdStore(Etcd(), *seed).status().code(), StatusCode::kFailedPrecondition) << "the prefix is not empty";
  auto raw = client_->Range("/migrated/secrets/default/db", "");
  ASSERT_TRUE(raw.ok() && raw->kvs.size() == 1);
  EXPECT_TRUE(SecretCipher::IsSealed(raw->kvs[0].value)) << "Secrets stay sealed in etcd";

  auto etcd = OpenEtcdStore(Etcd());
  ASSERT_TRUE(etcd.ok()) << etcd.status().ToString();
  for (const auto& [resource, objects] : seed->objects) {
    for (const auto& [key, obj] : objects) {
      auto got = (*etcd)->Get({resource, key.first, key.second});
      ASSERT_TRUE(got.ok()) << key.second;
      EXPECT_EQ(WithoutVersion(*got), WithoutVersion(obj));
      EXPECT_GT(api::ResourceVersionOf(*got), seed->revision) << "versions keep growing across the move";
    }
  }
  // A watch from the client's old resourceVersion: the two changes it missed, then each
  // object at its new version.
  auto resumed = EventsAfter(**etcd, "things", watched_at);
  ASSERT_EQ(resumed.size(), 2u + 4u);
  EXPECT_EQ(resumed[0].resource_version, source_events[0].resource_version);
  EXPECT_EQ(resumed[0].object, source_events[0].object);
  EXPECT_EQ(resumed[1].type, EventType::kDeleted);
  for (size_t i = 2; i < resumed.size(); ++i) {
    EXPECT_EQ(resumed[i].type, EventType::kModified);
    EXPECT_GT(resumed[i].resource_version, seed->revision);
    EXPECT_GE(resumed[i].resource_version, resumed[i - 1].resource_version);
  }
  auto written = (*etcd)->Apply({{"things", "default", "t9"}, SetTo(Obj("t9", 9))});
  ASSERT_TRUE(written.ok());
  EXPECT_GT(api::ResourceVersionOf(*written), api::ResourceVersionOf(resumed.back().object));
  auto updated = (*etcd)->Apply({{"things", "default", "t1"}, SetTo(Obj("t1", 101))});
  ASSERT_TRUE(updated.ok()) << "a migrated object's version compares as its etcd revision";
  etcd->reset();

  // A hub opening later (after more writes) still carries the history: it reads the prefix as
  // of the migration's end and replays etcd from there.
  auto later = OpenEtcdStore(Etcd()).value();
  ASSERT_TRUE(later->Sync().ok());
  auto again = EventsAfter(*later, "things", watched_at);
  ASSERT_EQ(again.size(), resumed.size() + 2u);
  EXPECT_EQ(again.back().object["spec"]["v"], 101);
}

TEST_F(StoreMigrationTest, AHubRefusesAPrefixWhoseMigrationDidNotFinish) {
  EtcdTxn put;
  put.success.push_back({EtcdOp::Type::kPut, "/migrated.hub/migration", R"({"state":"importing","revisionOffset":5})", 0});
  ASSERT_TRUE(client_->Txn(put).ok());
  auto store = OpenEtcdStore(Etcd());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("did not finish"), std::string::npos) << store.status().message();
}

TEST_F(StoreMigrationTest, EtcdToSqliteKeepsEveryResourceVersion) {
  auto etcd = OpenEtcdStore(Etcd()).value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(etcd->Apply({{"things", "default", "e" + std::to_string(i)}, SetTo(Obj("e" + std::to_string(i), i))}).ok());
  ASSERT_TRUE(etcd->Apply({{"secrets", "default", "db"}, SetTo(Obj("db", 1))}).ok());
  auto seed = ExportStore(*etcd, {"things", "secrets"});
  ASSERT_TRUE(seed.ok());
  etcd.reset();
  ASSERT_TRUE(SeedSqliteStore(Sqlite("back.db"), *seed).ok());
  EXPECT_EQ(SeedSqliteStore(Sqlite("back.db"), *seed).status().code(), StatusCode::kFailedPrecondition);
  auto sqlite = OpenSqliteStore(Sqlite("back.db")).value();
  EXPECT_EQ(sqlite->CurrentRevision(), seed->revision);
  for (const auto& [resource, objects] : seed->objects) {
    for (const auto& [key, obj] : objects) EXPECT_EQ(sqlite->Get({resource, key.first, key.second}).value(), obj);
  }
  auto written = sqlite->Apply({{"things", "default", "e0"}, SetTo(Obj("e0", 7))});
  ASSERT_TRUE(written.ok());
  EXPECT_GT(api::ResourceVersionOf(*written), seed->revision);
}

}  // namespace
}  // namespace berth::hub
