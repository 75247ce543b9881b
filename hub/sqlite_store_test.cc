// SqliteStore's own behaviour: dense revisions from 1, the watch log and its window surviving
// a restart, unsynced heartbeat commits. What every Store must do runs against both engines
// in store_contract_test.cc.
#include "hub/sqlite_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/object.h"

namespace berth::hub {
namespace {

using nlohmann::json;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(size_t window = 100) {
    store_.reset();
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    o.event_window = window;
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  static json Obj(const std::string& name, const std::string& ns = "default") {
    return {{"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", name}}}}},
            {"spec", {{"v", 1}}}};
  }
  StatusOr<json> Put(const std::string& name, json obj, const std::string& ns = "default") {
    return store_->Apply({{"things", ns, name}, [obj](const json*) -> StatusOr<std::optional<json>> {
                            return std::optional<json>(obj);
                          }});
  }
  StatusOr<json> Remove(const std::string& name) {
    return store_->Apply({{"things", "default", name},
                          [](const json*) -> StatusOr<std::optional<json>> { return std::optional<json>(); }});
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, WritesGetMonotonicVersionsAndSurviveReopen) {
  auto a = Put("a", Obj("a"));
  auto b = Put("b", Obj("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(api::ResourceVersionOf(*a), 1);
  EXPECT_EQ(api::ResourceVersionOf(*b), 2);
  Reopen();
  auto got = store_->Get({"things", "default", "b"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *b);
  EXPECT_EQ(store_->CurrentRevision(), 2);
  auto c = Put("c", Obj("c"));
  EXPECT_EQ(api::ResourceVersionOf(*c), 3) << "revisions continue after a restart";
}

TEST_F(StoreTest, WatchResumesFromRevisionAcrossRestart) {
  ASSERT_TRUE(Put("a", Obj("a")).ok());
  ASSERT_TRUE(Put("b", Obj("b")).ok());
  ASSERT_TRUE(Remove("a").ok());
  Reopen();
  std::vector<std::pair<std::string, int64_t>> seen;
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = 1;
  auto id = store_->Watch(wo, [&](const WatchEvent& e) {
    seen.push_back({EventTypeName(e.type), e.resource_version});
    return true;
  });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(Put("c", Obj("c")).ok());
  store_->Unwatch(*id);
  ASSERT_TRUE(Put("d", Obj("d")).ok());
  std::vector<std::pair<std::string, int64_t>> want = {{"ADDED", 2}, {"DELETED", 3}, {"ADDED", 4}};
  EXPECT_EQ(seen, want);
}

TEST_F(StoreTest, CompactedRevisionIsGone) {
  Reopen(/*window=*/3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put("o" + std::to_string(i), Obj("o")).ok());
  EXPECT_EQ(store_->CompactedRevision(), 7);
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = 5;
  auto gone = store_->Watch(wo, [](const WatchEvent&) { return true; });
  EXPECT_EQ(gone.status().code(), StatusCode::kGone);
  wo.from_revision = 7;
  int n = 0;
  auto ok = store_->Watch(wo, [&](const WatchEvent&) { return ++n, true; });
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(n, 3);
  Reopen(3);
  EXPECT_EQ(store_->CompactedRevision(), 7) << "the window survives a restart";
  wo.from_revision = 99;
  EXPECT_EQ(store_->Watch(wo, [](const WatchEvent&) { return true; }).status().code(), StatusCode::kGone);
}

TEST_F(StoreTest, ConcurrentSubmitsAllCommitInOrder) {
  constexpr int kWriters = 8, kEach = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach; ++i) {
        if (Put("w" + std::to_string(w) + "-" + std::to_string(i), Obj("x")).ok()) ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kWriters * kEach);
  EXPECT_EQ(store_->CurrentRevision(), kWriters * kEach);
  Reopen();
  auto l = store_->List("things", {});
  EXPECT_EQ(static_cast<int>(l->items.size()), kWriters * kEach);
}

TEST_F(StoreTest, HeartbeatUpdatesSkipTheSyncButNotCreatesOrOtherKinds) {
  std::vector<std::pair<int64_t, bool>> commits;  // (revisions, synced)
  auto open = [&] {
    store_.reset();
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    o.unsynced_resources = {"leases"};
    o.max_unsynced_revisions = 3;
    o.on_commit = [&](int64_t n, bool synced) { commits.push_back({n, synced}); };
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  };
  open();
  auto put = [&](const std::string& resource, const std::string& name, int v) {
    json obj = Obj(name);
    obj["spec"]["v"] = v;
    return store_->Apply({{resource, "default", name}, [obj](const json*) -> StatusOr<std::optional<json>> {
                            return std::optional<json>(obj);
                          }});
  };
  ASSERT_TRUE(put("leases", "m1", 0).ok());  // a create: synced
  for (int v = 1; v <= 4; ++v) ASSERT_TRUE(put("leases", "m1", v).ok());
  ASSERT_TRUE(put("things", "t", 1).ok());
  const std::vector<std::pair<int64_t, bool>> want = {
      {1, true}, {1, false}, {1, false}, {1, false}, {1, true} /* the run is capped at 3 */, {1, true}};
  EXPECT_EQ(commits, want);
  const int64_t last = store_->CurrentRevision();
  EXPECT_EQ(last, 3 + 6) << "every open skips max_unsynced_revisions, a fresh store's too";
  // What was written survives a restart of the process; revisions skip the ones that a
  // machine crash could have lost, so none is handed out twice.
  open();
  auto got = store_->Get({"leases", "default", "m1"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["spec"]["v"], 4);
  EXPECT_EQ(store_->CurrentRevision(), last + 3);
  auto next = put("things", "t", 2);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(api::ResourceVersionOf(*next), last + 4);
}

TEST(SqliteStoreOpenTest, UnwritablePathNamesTheFile) {
  SqliteStoreOptions o;
  o.path = "/proc/definitely/not/here/berth.db";
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/proc/definitely/not/here/berth.db"), std::string::npos);
}

}  // namespace
}  // namespace berth::hub
