// The Store contract, run against every engine: SqliteStore (embedded) and EtcdStore (a
// real single-member etcd on loopback; skipped without /usr/bin/etcd). Revisions are compared,
// not spelled out: etcd's start at 1 before any write and may advance for keys outside the
// store. Engine-specific behaviour stays in sqlite_store_test.cc and etcd_store_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "api/object.h"
#include "hub/etcd_store.h"
#include "hub/etcd_test_cluster.h"
#include "hub/sqlite_store.h"

namespace berth::hub {
namespace {

using nlohmann::json;

// Opens the same stored state again each time, with a watch window of `window` events.
class StoreEngine {
 public:
  virtual ~StoreEngine() = default;
  virtual StatusOr<std::unique_ptr<Store>> Open(size_t window) = 0;
};

class SqliteEngine final : public StoreEngine {
 public:
  SqliteEngine() {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '-');  // "Case/sqlite": one directory, not two
    dir_ = std::filesystem::temp_directory_path() / ("berth-contract-" + std::to_string(::getpid()) + "-" + test);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteEngine() override { std::filesystem::remove_all(dir_); }
  StatusOr<std::unique_ptr<Store>> Open(size_t window) override {
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    o.event_window = window;
    return OpenSqliteStore(o);
  }

 private:
  std::filesystem::path dir_;
};

class EtcdEngine final : public StoreEngine {
 public:
  EtcdEngine() : cluster_(1) {}
  bool Start(std::string* why) { return cluster_.Start(why); }
  StatusOr<std::unique_ptr<Store>> Open(size_t window) override {
    EtcdStoreOptions o;
    o.client = cluster_.ClientOptions();
    o.prefix = "/berth-contract";
    o.event_window = window;
    return OpenEtcdStore(o);
  }

 private:
  EtcdTestCluster cluster_;
};

class StoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "etcd") {
      if (!EtcdTestCluster::Available()) GTEST_SKIP() << "no " << EtcdTestCluster::kBinary;
      auto etcd = std::make_unique<EtcdEngine>();
      std::string why;
      ASSERT_TRUE(etcd->Start(&why)) << why;
      engine_ = std::move(etcd);
    } else {
      engine_ = std::make_unique<SqliteEngine>();
    }
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    engine_.reset();
  }
  void Reopen(size_t window = 100) {
    store_.reset();
    auto s = engine_->Open(window);
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

  std::unique_ptr<StoreEngine> engine_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, WritesGetIncreasingVersionsAndSurviveReopen) {
  auto a = Put("a", Obj("a"));
  auto b = Put("b", Obj("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(api::ResourceVersionOf(*a), 0);
  EXPECT_GT(api::ResourceVersionOf(*b), api::ResourceVersionOf(*a));
  Reopen();
  auto got = store_->Get({"things", "default", "b"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *b);
  EXPECT_EQ(store_->CurrentRevision(), api::ResourceVersionOf(*b));
  auto c = Put("c", Obj("c"));
  EXPECT_GT(api::ResourceVersionOf(*c), api::ResourceVersionOf(*b)) << "revisions continue after a restart";
}

TEST_P(StoreContractTest, UnchangedWriteKeepsVersionAndEmitsNothing) {
  auto a = Put("a", Obj("a"));
  ASSERT_TRUE(a.ok());
  auto again = store_->Apply({{"things", "default", "a"}, [](const json* cur) -> StatusOr<std::optional<json>> {
                                return std::optional<json>(*cur);
                              }});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(api::ResourceVersionOf(*again), api::ResourceVersionOf(*a));
  EXPECT_EQ(store_->CurrentRevision(), api::ResourceVersionOf(*a));
}

TEST_P(StoreContractTest, TransformErrorsAbortOnlyThatMutation) {
  const int64_t before = store_->CurrentRevision();
  auto bad = store_->Apply({{"things", "default", "x"}, [](const json*) -> StatusOr<std::optional<json>> {
                              return Status::Conflict("stale");
                            }});
  EXPECT_EQ(bad.status().code(), StatusCode::kConflict);
  EXPECT_EQ(Remove("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Remove("missing").status().message(), "things \"missing\" not found");
  EXPECT_EQ(store_->CurrentRevision(), before) << "nothing was written";
  auto a = Put("a", Obj("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(store_->CurrentRevision(), api::ResourceVersionOf(*a));
}

TEST_P(StoreContractTest, ListFiltersPagesAndSorts) {
  for (const char* n : {"c", "a", "b", "d"}) ASSERT_TRUE(Put(n, Obj(n)).ok());
  ASSERT_TRUE(Put("z", Obj("z", "other"), "other").ok());
  ListOptions all;
  auto l = store_->List("things", all);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->items.size(), 5u);
  EXPECT_EQ(api::NameOf(l->items[0]), "a");
  ListOptions ns;
  ns.ns = "default";
  ns.limit = 3;
  auto p1 = store_->List("things", ns);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 3u);
  EXPECT_EQ(p1->remaining, 1);
  ASSERT_FALSE(p1->continue_token.empty());
  ns.continue_token = p1->continue_token;
  auto p2 = store_->List("things", ns);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->items.size(), 1u);
  EXPECT_EQ(api::NameOf(p2->items[0]), "d");
  EXPECT_TRUE(p2->continue_token.empty());
  ListOptions sel;
  sel.labels = *api::LabelSelector::Parse("app in (b,z)");
  auto l2 = store_->List("things", sel);
  ASSERT_EQ(l2->items.size(), 2u);
  ListOptions bad;
  bad.continue_token = "zz";
  EXPECT_EQ(store_->List("things", bad).status().code(), StatusCode::kBadRequest);
}

std::vector<std::string> Names(const ListResult& l) {
  std::vector<std::string> out;
  for (const auto& o : l.items) out.push_back(api::NameOf(o) + "@" + o["spec"]["v"].dump());
  return out;
}

TEST_P(StoreContractTest, LaterPagesShowTheFirstPagesRevision) {
  for (const char* n : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(Put(n, Obj(n)).ok());
  ListOptions page;
  page.limit = 2;
  auto p1 = store_->List("things", page);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(Names(*p1), (std::vector<std::string>{"a@1", "b@1"}));
  EXPECT_EQ(p1->remaining, 3);
  const int64_t first_rv = p1->resource_version;
  // Between pages: a create after the cursor, a change and a delete of later objects.
  ASSERT_TRUE(Put("bb", Obj("bb")).ok());
  json changed = Obj("c");
  changed["spec"]["v"] = 2;
  ASSERT_TRUE(Put("c", changed).ok());
  ASSERT_TRUE(Remove("d").ok());
  ASSERT_TRUE(Put("c", Obj("c")).ok());  // a second change: the first one's prior state counts
  page.continue_token = p1->continue_token;
  auto p2 = store_->List("things", page);
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  EXPECT_EQ(Names(*p2), (std::vector<std::string>{"c@1", "d@1"}));
  EXPECT_EQ(p2->resource_version, first_rv);
  EXPECT_EQ(p2->remaining, 1);
  page.continue_token = p2->continue_token;
  auto p3 = store_->List("things", page);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(Names(*p3), (std::vector<std::string>{"e@1"}));
  EXPECT_TRUE(p3->continue_token.empty());
  // A new list sees the present.
  ListOptions fresh;
  auto now = store_->List("things", fresh);
  EXPECT_EQ(Names(*now), (std::vector<std::string>{"a@1", "b@1", "bb@1", "c@1", "e@1"}));
  EXPECT_GT(now->resource_version, first_rv);
}

TEST_P(StoreContractTest, ContinueTokenExpiresWithTheWatchLog) {
  Reopen(/*window=*/4);
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(Put(n, Obj(n)).ok());
  ListOptions page;
  page.limit = 1;
  auto p1 = store_->List("things", page);
  ASSERT_TRUE(p1.ok());
  page.continue_token = p1->continue_token;
  // Unchanged store: the token still reads the same revision.
  EXPECT_TRUE(store_->List("things", page).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Put("x" + std::to_string(i), Obj("x")).ok());
  auto expired = store_->List("things", page);
  ASSERT_EQ(expired.status().code(), StatusCode::kGone) << expired.status().ToString();
  EXPECT_NE(expired.status().message().find("too old to display a consistent list"), std::string::npos);
  // After a restart no snapshot survives: a token from before it expires too.
  ListOptions again;
  again.limit = 1;
  auto q1 = store_->List("things", again);
  ASSERT_TRUE(Put("y", Obj("y")).ok());
  Reopen(4);
  again.continue_token = q1->continue_token;
  EXPECT_EQ(store_->List("things", again).status().code(), StatusCode::kGone);
}

// Was: a label change moving an object out of a selection sent nothing, into it a MODIFIED.
TEST_P(StoreContractTest, SelectorWatchesSeeObjectsEnterAndLeaveTheirSelection) {
  ASSERT_TRUE(Put("a", Obj("a")).ok());  // label app=a
  WatchOptions wo;
  wo.resource = "things";
  wo.labels = *api::LabelSelector::Parse("tier=gpu");
  wo.from_revision = store_->CurrentRevision();
  std::vector<std::string> seen;
  auto id = store_->Watch(wo, [&](const WatchEvent& e) {
    seen.push_back(std::string(EventTypeName(e.type)) + " " + api::LabelsOf(e.object)["tier"]);
    return true;
  });
  ASSERT_TRUE(id.ok());
  json in = Obj("a");
  in["metadata"]["labels"]["tier"] = "gpu";
  ASSERT_TRUE(Put("a", in).ok());
  in["spec"]["v"] = 2;
  ASSERT_TRUE(Put("a", in).ok());
  ASSERT_TRUE(Put("a", Obj("a")).ok());  // leaves
  ASSERT_TRUE(Put("a", Obj("a")).ok());  // no change: nothing
  json other = Obj("a");
  other["spec"]["v"] = 3;
  ASSERT_TRUE(Put("a", other).ok());  // outside the selection: nothing
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED gpu", "MODIFIED gpu", "DELETED "}));
  store_->Unwatch(*id);
}

TEST_P(StoreContractTest, WatchFromZeroListsCurrentObjectsFirst) {
  ASSERT_TRUE(Put("a", Obj("a")).ok());
  auto a2 = Put("a", Obj("a2"));
  ASSERT_TRUE(a2.ok());
  std::vector<std::string> seen;
  WatchOptions wo;
  wo.resource = "things";
  auto id = store_->Watch(wo, [&](const WatchEvent& e) {
    seen.push_back(std::string(EventTypeName(e.type)) + ":" + std::to_string(e.resource_version));
    return true;
  });
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(seen, std::vector<std::string>{"ADDED:" + std::to_string(api::ResourceVersionOf(*a2))});
}

TEST_P(StoreContractTest, WatchFromRevisionReplaysLaterChangesThenFollows) {
  auto a = Put("a", Obj("a"));
  auto b = Put("b", Obj("b"));
  auto gone = Remove("a");
  ASSERT_TRUE(a.ok() && b.ok() && gone.ok());
  std::vector<std::pair<std::string, int64_t>> seen;
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = api::ResourceVersionOf(*a);
  auto id = store_->Watch(wo, [&](const WatchEvent& e) {
    seen.push_back({EventTypeName(e.type), e.resource_version});
    return true;
  });
  ASSERT_TRUE(id.ok());
  auto c = Put("c", Obj("c"));
  ASSERT_TRUE(c.ok());
  store_->Unwatch(*id);
  ASSERT_TRUE(Put("d", Obj("d")).ok());
  std::vector<std::pair<std::string, int64_t>> want = {{"ADDED", api::ResourceVersionOf(*b)},
                                                       {"DELETED", api::ResourceVersionOf(*gone)},
                                                       {"ADDED", api::ResourceVersionOf(*c)}};
  EXPECT_EQ(seen, want);
}

TEST_P(StoreContractTest, OlderThanTheWatchWindowIsGone) {
  Reopen(/*window=*/3);
  std::vector<int64_t> rvs;
  for (int i = 0; i < 10; ++i) rvs.push_back(api::ResourceVersionOf(Put("o" + std::to_string(i), Obj("o")).value()));
  EXPECT_EQ(store_->CompactedRevision(), rvs[6]);
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = rvs[4];
  EXPECT_EQ(store_->Watch(wo, [](const WatchEvent&) { return true; }).status().code(), StatusCode::kGone);
  wo.from_revision = rvs[6];
  int n = 0;
  EXPECT_TRUE(store_->Watch(wo, [&](const WatchEvent&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 3);
  wo.from_revision = store_->CurrentRevision() + 1;
  EXPECT_EQ(store_->Watch(wo, [](const WatchEvent&) { return true; }).status().code(), StatusCode::kGone);
}

TEST_P(StoreContractTest, ConcurrentSubmitsAllCommit) {
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
  Reopen();
  auto l = store_->List("things", {});
  EXPECT_EQ(static_cast<int>(l->items.size()), kWriters * kEach);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreContractTest, ::testing::Values("sqlite", "etcd"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace berth::hub
