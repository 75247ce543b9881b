// EtcdStore and EtcdClient against real etcd processes on loopback (skipped when
// /usr/bin/etcd is missing: scripts/install-deps.sh installs etcd-server).
#include "hub/etcd_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "api/object.h"
#include "hub/etcd_test_cluster.h"

namespace berth::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json Obj(const std::string& name, const std::string& ns = "default") {
  return {{"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", name}}}}}, {"spec", {{"v", 1}}}};
}

Transform SetTo(json obj) {
  return [obj](const json*) -> StatusOr<std::optional<json>> { return std::optional<json>(obj); };
}
Transform Delete() {
  return [](const json*) -> StatusOr<std::optional<json>> { return std::optional<json>(); };
}

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { StartCluster(1); }

  void StartCluster(int members, std::vector<std::string> extra_args = {}) {
    if (!EtcdTestCluster::Available()) GTEST_SKIP() << "no " << EtcdTestCluster::kBinary;
    cluster_.reset();
    cluster_ = std::make_unique<EtcdTestCluster>(members, std::move(extra_args));
    std::string why;
    ASSERT_TRUE(cluster_->Start(&why)) << why;
    client_ = NewEtcdClient(cluster_->ClientOptions()).value();
  }

  EtcdStoreOptions Options(size_t window = 100) const {
    EtcdStoreOptions o;
    o.client = cluster_->ClientOptions();
    o.prefix = "/berth-test";
    o.event_window = window;
    return o;
  }
  std::unique_ptr<Store> Open(EtcdStoreOptions o) {
    auto s = OpenEtcdStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static StatusOr<json> Put(Store& s, const std::string& name, json obj, const std::string& ns = "default") {
    return s.Apply({{"things", ns, name}, SetTo(std::move(obj))});
  }
  static StatusOr<json> Remove(Store& s, const std::string& name) {
    return s.Apply({{"things", "default", name}, Delete()});
  }

  std::unique_ptr<EtcdTestCluster> cluster_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdStoreTest, ResourceVersionIsTheKeysModRevisionAndWritesConflictAsInSqlite) {
  auto store = Open(Options());
  auto a = Put(*store, "a", Obj("a"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto kv = client_->Range("/berth-test/things/default/a", "");
  ASSERT_TRUE(kv.ok() && kv->kvs.size() == 1);
  EXPECT_EQ(api::ResourceVersionOf(*a), kv->kvs[0].mod_revision);
  EXPECT_EQ(json::parse(kv->kvs[0].value)["metadata"].count("resourceVersion"), 0u) << "etcd's revision is the truth";
  EXPECT_EQ(store->Get({"things", "default", "a"}).value(), *a) << "the callback runs once reads show the write";
  EXPECT_EQ(store->CurrentRevision(), api::ResourceVersionOf(*a));

  // No change: no write, same version.
  auto same = store->Apply({{"things", "default", "a"}, [](const json* cur) -> StatusOr<std::optional<json>> {
                              return std::optional<json>(*cur);
                            }});
  EXPECT_EQ(api::ResourceVersionOf(same.value()), api::ResourceVersionOf(*a));
  // Transform errors abort only their mutation; deleting a missing object is NotFound.
  auto bad = store->Apply({{"things", "default", "x"}, [](const json*) -> StatusOr<std::optional<json>> {
                             return Status::Conflict("stale");
                           }});
  EXPECT_EQ(bad.status().code(), StatusCode::kConflict);
  EXPECT_EQ(Remove(*store, "missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Remove(*store, "missing").status().message(), "things \"missing\" not found");

  json changed = Obj("a");
  changed["spec"]["v"] = 2;
  auto b = Put(*store, "a", changed);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(api::ResourceVersionOf(*b), api::ResourceVersionOf(*a));
  auto gone = Remove(*store, "a");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ((*gone)["spec"]["v"], 2) << "a delete returns the last state";
  EXPECT_GT(api::ResourceVersionOf(*gone), api::ResourceVersionOf(*b)) << "stamped with the deletion's revision";
  EXPECT_EQ(store->Get({"things", "default", "a"}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(client_->Range("/berth-test/things/default/a", "")->kvs.empty());

  // Cluster-scoped objects: an empty namespace segment.
  ASSERT_TRUE(store->Apply({{"nodes", "", "n1"}, SetTo(Obj("n1", ""))}).ok());
  EXPECT_EQ(client_->Range("/berth-test/nodes//n1", "")->kvs.size(), 1u);
}

TEST_F(EtcdStoreTest, ListFiltersPagesAndSortsAndStateSurvivesReopen) {
  {
    auto store = Open(Options());
    for (const char* n : {"c", "a", "b", "d"}) ASSERT_TRUE(Put(*store, n, Obj(n)).ok());
    ASSERT_TRUE(Put(*store, "z", Obj("z", "other"), "other").ok());
  }
  auto store = Open(Options());  // a second hub, or a restart: the state comes from etcd
  auto l = store->List("things", {});
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->items.size(), 5u);
  EXPECT_EQ(api::NameOf(l->items[0]), "a");
  EXPECT_EQ(api::NameOf(l->items[4]), "z") << "sorted by namespace, then name";
  ListOptions ns;
  ns.ns = "default";
  ns.limit = 3;
  auto p1 = store->List("things", ns);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 3u);
  EXPECT_EQ(p1->remaining, 1);
  ASSERT_TRUE(Put(*store, "bb", Obj("bb")).ok());  // between pages: not in the consistent list
  ns.continue_token = p1->continue_token;
  auto p2 = store->List("things", ns);
  ASSERT_TRUE(p2.ok()) << p2.status().ToString();
  ASSERT_EQ(p2->items.size(), 1u);
  EXPECT_EQ(api::NameOf(p2->items[0]), "d");
  EXPECT_EQ(p2->resource_version, p1->resource_version);
  ListOptions sel;
  sel.labels = *api::LabelSelector::Parse("app in (b,z)");
  EXPECT_EQ(store->List("things", sel)->items.size(), 2u);
  ListOptions field;
  field.fields = *api::FieldSelector::Parse("metadata.name=c");
  EXPECT_EQ(store->List("things", field)->items.size(), 1u);
  ListOptions bad;
  bad.continue_token = "zz";
  EXPECT_EQ(store->List("things", bad).status().code(), StatusCode::kBadRequest);
}

TEST_F(EtcdStoreTest, WatchFromZeroFromNAndSelectorTransitions) {
  auto store = Open(Options());
  auto a1 = Put(*store, "a", Obj("a"));
  ASSERT_TRUE(a1.ok());
  auto a2 = Put(*store, "a", Obj("a2"));
  ASSERT_TRUE(a2.ok());
  std::vector<std::string> from_zero;
  WatchOptions all;
  all.resource = "things";
  all.initial_events_end = true;
  auto id0 = store->Watch(all, [&](const WatchEvent& e) {
    from_zero.push_back(std::string(EventTypeName(e.type)) + ":" + std::to_string(e.resource_version));
    return true;
  });
  ASSERT_TRUE(id0.ok());
  const std::string rv2 = std::to_string(api::ResourceVersionOf(*a2));
  EXPECT_EQ(from_zero, (std::vector<std::string>{"ADDED:" + rv2, "BOOKMARK:" + rv2}));
  store->Unwatch(*id0);

  // From N: every change after N, in order, as MODIFIED/DELETED with the right revisions.
  WatchOptions from_n;
  from_n.resource = "things";
  from_n.from_revision = api::ResourceVersionOf(*a1);
  std::vector<std::pair<std::string, int64_t>> seen;
  auto idn = store->Watch(from_n, [&](const WatchEvent& e) {
    seen.push_back({EventTypeName(e.type), e.resource_version});
    return true;
  });
  ASSERT_TRUE(idn.ok());
  auto gone = Remove(*store, "a");
  ASSERT_TRUE(gone.ok());
  store->Unwatch(*idn);
  std::vector<std::pair<std::string, int64_t>> want = {{"MODIFIED", api::ResourceVersionOf(*a2)},
                                                       {"DELETED", api::ResourceVersionOf(*gone)}};
  EXPECT_EQ(seen, want);

  // Label selector: entering the selection is ADDED, leaving it DELETED (labels_before).
  ASSERT_TRUE(Put(*store, "s", Obj("s")).ok());
  WatchOptions gpu;
  gpu.resource = "things";
  gpu.labels = *api::LabelSelector::Parse("tier=gpu");
  gpu.from_revision = store->CurrentRevision();
  std::vector<std::string> sel;
  auto ids = store->Watch(gpu, [&](const WatchEvent& e) {
    sel.push_back(std::string(EventTypeName(e.type)) + " " + api::LabelsOf(e.object)["tier"]);
    return true;
  });
  ASSERT_TRUE(ids.ok());
  json in = Obj("s");
  in["metadata"]["labels"]["tier"] = "gpu";
  ASSERT_TRUE(Put(*store, "s", in).ok());
  in["spec"]["v"] = 2;
  ASSERT_TRUE(Put(*store, "s", in).ok());
  ASSERT_TRUE(Put(*store, "s", Obj("s")).ok());
  EXPECT_EQ(sel, (std::vector<std::string>{"ADDED gpu", "MODIFIED gpu", "DELETED "}));
  store->Unwatch(*ids);
}

TEST_F(EtcdStoreTest, WatchBeforeTheEventWindowIsGone) {
  auto store = Open(Options(/*window=*/3));
  std::vector<int64_t> rvs;
  for (int i = 0; i < 10; ++i) rvs.push_back(api::ResourceVersionOf(Put(*store, "o" + std::to_string(i), Obj("o")).value()));
  EXPECT_EQ(store->CompactedRevision(), rvs[6]);
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = rvs[4];
  EXPECT_EQ(store->Watch(wo, [](const WatchEvent&) { return true; }).status().code(), StatusCode::kGone);
  wo.from_revision = rvs[6];
  int n = 0;
  auto ok = store->Watch(wo, [&](const WatchEvent&) { return ++n, true; });
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(n, 3);
  wo.from_revision = store->CurrentRevision() + 100;
  EXPECT_EQ(store->Watch(wo, [](const WatchEvent&) { return true; }).status().code(), StatusCode::kGone);
}

// The store's own etcd watch is down while another hub writes and etcd compacts: when it
// resumes, etcd says the revision is compacted; the store re-reads, ends client watches with
// a 410 ERROR event, sends controllers' watches the difference, and serves the other hub's
// writes. (Was: controllers' watches ended too, and they ran on stale state until a restart.)
TEST_F(EtcdStoreTest, EtcdCompactionWhileTheWatchWasDownReReadsEndsClientWatchesAndResyncsControllers) {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false, held = false;
  EtcdStoreOptions o = Options();
  o.client.watch_idle_timeout = 200ms;  // the stream reopens when idle, passing before_watch
  o.before_watch = [&](int64_t) {
    std::unique_lock<std::mutex> lock(mu);
    held = hold;
    cv.notify_all();
    cv.wait_for(lock, 10s, [&] { return !hold; });
  };
  auto store = Open(o);
  ASSERT_TRUE(Put(*store, "a", Obj("a")).ok());
  ASSERT_TRUE(Put(*store, "gone", Obj("gone")).ok());
  std::vector<std::string> seen, resynced;
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = store->CurrentRevision();
  ASSERT_TRUE(store->Watch(wo, [&](const WatchEvent& e) {
                      seen.push_back(std::string(EventTypeName(e.type)) + " " + e.object.value("reason", ""));
                      return true;
                    }).ok());
  // A controller's watch (WatchResource) is sent the difference instead and stays.
  std::vector<uint64_t> ids;
  ASSERT_TRUE(WatchResource(*store, "things", [&](const WatchEvent& e) {
                resynced.push_back(std::string(EventTypeName(e.type)) + " " + api::NameOf(e.object));
              }, ids).ok());
  resynced.clear();  // the initial ADDED events
  {
    std::unique_lock<std::mutex> lock(mu);
    hold = true;
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return held; })) << "the watch did not reopen";
  }
  auto other = Open(Options());
  ASSERT_TRUE(Put(*other, "b", Obj("b")).ok());
  ASSERT_TRUE(Put(*other, "c", Obj("c")).ok());
  ASSERT_TRUE(Remove(*other, "gone").ok());
  json changed = Obj("a");
  changed["spec"]["v"] = 2;
  ASSERT_TRUE(Put(*other, "a", changed).ok());
  ASSERT_TRUE(client_->Compact(client_->CurrentRevision().value()).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
  }
  cv.notify_all();
  for (int i = 0; i < 100 && !store->Get({"things", "default", "c"}).ok(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(store->Get({"things", "default", "b"}).ok());
  EXPECT_TRUE(store->Get({"things", "default", "c"}).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"ERROR Expired"}));
  EXPECT_EQ(resynced, (std::vector<std::string>{"MODIFIED a", "ADDED b", "ADDED c", "DELETED gone"}));
  EXPECT_EQ(store->Get({"things", "default", "gone"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->CompactedRevision(), store->CurrentRevision()) << "no resume from before the re-read";
  ASSERT_TRUE(Put(*store, "d", Obj("d")).ok()) << "and it writes on";
  EXPECT_EQ(resynced.back(), "ADDED d") << "the controller's watch goes on";
  for (auto id : ids) store->Unwatch(id);
}

// Was: a quiet prefix left the store's watch revision behind the cluster's (other keys,
// like election leases, move it); after compaction and a reconnect the store re-listed and
// ended every subscriber for nothing. etcd's progress notifications now advance it.
TEST_F(EtcdStoreTest, AQuietStoreResumesAfterCompactionWithoutReListing) {
  StartCluster(1, {"--experimental-watch-progress-notify-interval=200ms"});
  auto store = Open(Options());
  ASSERT_TRUE(Put(*store, "a", Obj("a")).ok());
  int ended = 0;
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = store->CurrentRevision();
  ASSERT_TRUE(store->Watch(wo, [&](const WatchEvent& e) { return ended += e.type == EventType::kError, true; }).ok());
  EtcdOp outside{EtcdOp::Type::kPut, "/berth-test-elsewhere", "x", 0};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_->Txn({{}, {outside}, {}}).ok());
  const int64_t cluster_revision = client_->CurrentRevision().value();
  for (int i = 0; i < 100 && store->CurrentRevision() < cluster_revision; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(store->CurrentRevision(), cluster_revision) << "progress notifications advance the store";
  ASSERT_TRUE(client_->Compact(cluster_revision).ok());
  cluster_->Kill(0);  // the store's watch breaks and resumes after the restart
  cluster_->Restart(0);
  client_ = NewEtcdClient(cluster_->ClientOptions()).value();
  auto b = Put(*store, "b", Obj("b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(ended, 0);
  EXPECT_LE(store->CompactedRevision(), cluster_revision) << "no re-read: the window reaches back as before";
}

// Two hubs increment one counter concurrently: every increment lands once (the loser of each
// race re-runs its transform on the winner's state).
TEST_F(EtcdStoreTest, TwoStoresOnOnePrefixSeeEachOtherAndLoseNoConcurrentUpdate) {
  auto s1 = Open(Options());
  auto s2 = Open(Options());
  ASSERT_TRUE(Put(*s1, "counter", Obj("counter")).ok());
  for (int i = 0; i < 100 && !s2->Get({"things", "default", "counter"}).ok(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(s2->Get({"things", "default", "counter"}).ok()) << "s2 sees s1's write through its watch";
  constexpr int kEach = 40;
  auto increment = [](const json* cur) -> StatusOr<std::optional<json>> {
    if (!cur) return Status::NotFound("counter");
    json next = *cur;
    next["spec"]["v"] = next["spec"]["v"].get<int>() + 1;
    return std::optional<json>(next);
  };
  std::atomic<int> failed{0}, succeeded{0};
  auto run = [&](Store* s) {
    // Several in flight at once, as an API server's handlers submit them.
    std::vector<std::future<StatusOr<json>>> futures;
    for (int i = 0; i < kEach; ++i) {
      auto p = std::make_shared<std::promise<StatusOr<json>>>();
      futures.push_back(p->get_future());
      s->Submit({{"things", "default", "counter"}, increment}, [p](StatusOr<json> r) { p->set_value(std::move(r)); });
    }
    for (auto& f : futures) {
      auto r = f.get();
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        failed++;
      } else {
        succeeded++;
      }
    }
  };
  std::thread t1(run, s1.get()), t2(run, s2.get());
  t1.join();
  t2.join();
  EXPECT_EQ(failed.load(), 0);
  auto kv = client_->Range("/berth-test/things/default/counter", "");
  EXPECT_EQ(json::parse(kv->kvs.at(0).value)["spec"]["v"], 1 + succeeded.load()) << "no acknowledged increment lost";
  EXPECT_EQ(json::parse(kv->kvs.at(0).value)["spec"]["v"], 1 + 2 * kEach);
  for (int i = 0; i < 100 && s1->CurrentRevision() < kv->kvs[0].mod_revision; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s1->Get({"things", "default", "counter"}).value()["spec"]["v"], 1 + 2 * kEach);
  // A create racing another hub's create of the same name: one wins, the other's transform
  // sees the winner (as the API's create does, answering AlreadyExists).
  auto create = [](const json* cur) -> StatusOr<std::optional<json>> {
    if (cur) return Status::AlreadyExists("exists");
    return std::optional<json>(Obj("x"));
  };
  auto f1 = std::async(std::launch::async, [&] { return s1->Apply({{"things", "default", "x"}, create}); });
  auto f2 = std::async(std::launch::async, [&] { return s2->Apply({{"things", "default", "x"}, create}); });
  auto r1 = f1.get(), r2 = f2.get();
  EXPECT_NE(r1.ok(), r2.ok());
  EXPECT_EQ((r1.ok() ? r2 : r1).status().code(), StatusCode::kAlreadyExists);
}

// Sync makes a read on one store see what another store (another hub) committed just before:
// each of 200 creates through `a` is read at once through `b`.
TEST_F(EtcdStoreTest, SyncMakesAnotherStoresFreshWriteVisible) {
  auto a = Open(Options());
  auto b = Open(Options());
  ASSERT_TRUE(a && b);
  int seen_without_sync = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "fresh-" + std::to_string(i);
    ASSERT_TRUE(Put(*a, name, Obj(name)).ok());
    if (b->Get({"things", "default", name}).ok()) ++seen_without_sync;
    ASSERT_TRUE(b->Sync().ok());
    auto got = b->Get({"things", "default", name});
    ASSERT_TRUE(got.ok()) << "after Sync, " << name << ": " << got.status().ToString();
  }
  std::printf("without Sync, %d of 200 fresh writes were already visible through the other store\n",
              seen_without_sync);
}

// etcd's latest revision may be a write outside the prefix (the election's key, another
// application's): the store's watch never sees it, and Sync must not wait for it.
TEST_F(EtcdStoreTest, SyncIsNotHeldUpByWritesOutsideThePrefix) {
  auto o = Options();
  o.catch_up_timeout = std::chrono::milliseconds(3000);
  auto store = Open(o);
  ASSERT_TRUE(store);
  ASSERT_TRUE(Put(*store, "a", Obj("a")).ok());
  EtcdTxn foreign;
  foreign.success.push_back({EtcdOp::Type::kPut, "/another-app/key", "v", 0});
  ASSERT_TRUE(client_->Txn(foreign).ok());
  EXPECT_TRUE(store->Sync().ok()) << "Sync waited for a revision its watch cannot show";
  // Nor by a key under the prefix that is not an object's (the store ignores it).
  EtcdTxn stray;
  stray.success.push_back({EtcdOp::Type::kPut, "/berth-test/not-an-object", "v", 0});
  ASSERT_TRUE(client_->Txn(stray).ok());
  EXPECT_TRUE(store->Sync().ok()) << "Sync counted an ignored key as an object the mirror lacks";
  // A delete under the prefix that the store has not shown yet is still waited for.
  ASSERT_TRUE(client_->DeleteRange("/berth-test/things/default/a", "").ok());
  ASSERT_TRUE(client_->Txn(foreign).ok());
  ASSERT_TRUE(store->Sync().ok());
  EXPECT_EQ(store->Get({"things", "default", "a"}).status().code(), StatusCode::kNotFound);
}

TEST_F(EtcdStoreTest, LeaseElectionAndAFencedWriteOfADeposedLeader) {
  auto lease = client_->GrantLease(30);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_GT(client_->KeepAlive(*lease).value(), 0);
  auto won = client_->CreateIfAbsent("/berth-test-leader", "hub-1", *lease);
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  EXPECT_TRUE(won->acquired);
  auto other_lease = client_->GrantLease(30).value();
  auto lost = client_->CreateIfAbsent("/berth-test-leader", "hub-2", other_lease);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->acquired);
  EXPECT_EQ(lost->holder.value, "hub-1");
  EXPECT_TRUE(client_->StillOwns("/berth-test-leader", *lease).value());
  EXPECT_FALSE(client_->StillOwns("/berth-test-leader", other_lease).value());

  auto store = Open(Options());
  const Fence fence{"/berth-test-leader", won->holder.create_revision, std::string("hub-1")};
  Mutation m{{"things", "default", "f"}, SetTo(Obj("f")), fence};
  ASSERT_TRUE(store->Apply(m).ok()) << "the leader's fenced write";
  // hub-1 loses its lease; hub-2 takes over. hub-1's late write must not land.
  ASSERT_TRUE(client_->RevokeLease(*lease).ok());
  EXPECT_FALSE(client_->StillOwns("/berth-test-leader", *lease).value());
  EXPECT_EQ(client_->KeepAlive(*lease).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(client_->CreateIfAbsent("/berth-test-leader", "hub-2", other_lease).value().acquired);
  json late = Obj("f");
  late["spec"]["v"] = 99;
  auto fenced = store->Apply({{"things", "default", "f"}, SetTo(late), fence});
  EXPECT_EQ(fenced.status().code(), StatusCode::kFailedPrecondition) << fenced.status().ToString();
  EXPECT_EQ(store->Get({"things", "default", "f"}).value()["spec"]["v"], 1);
  // Unfenced writes in the same batch are unaffected by another mutation's fence.
  EXPECT_TRUE(Put(*store, "g", Obj("g")).ok());
}

// Submits `objects` at once (so they queue into shared batches) and waits for every result.
std::vector<StatusOr<json>> SubmitAll(Store& store, const std::vector<std::pair<std::string, json>>& objects) {
  std::vector<std::future<StatusOr<json>>> futures;
  for (const auto& [name, obj] : objects) {
    auto p = std::make_shared<std::promise<StatusOr<json>>>();
    futures.push_back(p->get_future());
    store.Submit({{"things", "default", name}, SetTo(obj)}, [p](StatusOr<json> r) { p->set_value(std::move(r)); });
  }
  std::vector<StatusOr<json>> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

TEST_F(EtcdStoreTest, QueuedWritesShareTransactionsWithinTheByteBudget) {
  EtcdStoreOptions o = Options();
  o.max_batch_bytes = 2000;
  auto store = Open(o);
  std::vector<std::pair<std::string, json>> objects;
  for (int i = 0; i < 40; ++i) {
    json obj = Obj("o" + std::to_string(i));
    obj["spec"]["blob"] = std::string(400, 'x');
    objects.push_back({"o" + std::to_string(i), obj});
  }
  std::set<int64_t> revisions;
  for (const auto& r : SubmitAll(*store, objects)) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    revisions.insert(api::ResourceVersionOf(*r));
  }
  EXPECT_GE(revisions.size(), 10u) << "at most 4 objects of ~450 bytes per 2000-byte transaction";
  EXPECT_LT(revisions.size(), 40u) << "queued writes share transactions";
  EXPECT_EQ(store->List("things", {})->items.size(), 40u);
  EXPECT_EQ(EtcdStoreOptions{}.max_batch_bytes, 1u << 20);
  o.max_batch = 500;
  EXPECT_EQ(OpenEtcdStore(o).status().code(), StatusCode::kBadRequest);
}

TEST_F(EtcdStoreTest, AnObjectOverEtcdsRequestLimitFailsAloneAsTooLarge) {
  StartCluster(1, {"--max-request-bytes=20000"});
  EtcdStoreOptions o = Options();
  o.max_batch_bytes = 10000;
  auto store = Open(o);
  json big = Obj("big");
  big["spec"]["blob"] = std::string(50000, 'x');
  auto results = SubmitAll(*store, {{"a", Obj("a")}, {"big", big}, {"b", Obj("b")}});
  EXPECT_TRUE(results[0].ok()) << results[0].status().ToString();
  EXPECT_EQ(results[1].status().code(), StatusCode::kTooLarge) << results[1].status().ToString();
  EXPECT_TRUE(results[2].ok()) << results[2].status().ToString();
  EXPECT_EQ(store->Get({"things", "default", "big"}).status().code(), StatusCode::kNotFound);
}

TEST_F(EtcdStoreTest, EncryptedResourcesAreSealedInEtcdAndResealedAfterAKeyRotation) {
  const std::string old_key_text = SecretCipher::NewKeyFileText().value();
  auto key = std::make_shared<const SecretCipher>(SecretCipher::FromKeyFile(old_key_text, "test-key").value());
  // Stored before encryption was on: still readable.
  ASSERT_TRUE(client_->Txn({{}, {{EtcdOp::Type::kPut, "/berth-test/secrets/default/old", Obj("old").dump(), 0}}, {}}).ok());
  EtcdStoreOptions o = Options();
  o.encrypted_resources = {"secrets"};
  o.cipher = key;
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Get({"secrets", "default", "old"}).value()["metadata"]["name"], "old");
  json secret = Obj("db");
  secret["data"] = {{"password", "aHVudGVyMg=="}};
  ASSERT_TRUE(store->Apply({{"secrets", "default", "db"}, SetTo(secret)}).ok());
  const std::string stored = client_->Range("/berth-test/secrets/default/db", "")->kvs.at(0).value;
  EXPECT_TRUE(SecretCipher::IsSealed(stored));
  EXPECT_EQ(stored.find("aHVudGVyMg"), std::string::npos);
  EXPECT_EQ(store->Get({"secrets", "default", "db"}).value()["data"]["password"], "aHVudGVyMg==");
  ASSERT_TRUE(Put(*store, "plain", Obj("plain")).ok());
  EXPECT_FALSE(SecretCipher::IsSealed(client_->Range("/berth-test/things/default/plain", "")->kvs.at(0).value));

  const std::string old_value = client_->Range("/berth-test/secrets/default/old", "")->kvs.at(0).value;
  EXPECT_TRUE(SecretCipher::IsSealed(old_value)) << "a value from before encryption is sealed at open";
  EXPECT_EQ(store->Get({"secrets", "default", "old"}).value()["metadata"]["name"], "old");

  // Rotation: a new first key, the old one kept; one start re-seals, and the old key can go.
  const std::string new_key = SecretCipher::NewKeyFileText().value();
  store.reset();
  o.cipher = std::make_shared<const SecretCipher>(
      SecretCipher::FromKeyFile(new_key + old_key_text, "rotating").value());
  ASSERT_NE(Open(o), nullptr);
  const std::string rotated = client_->Range("/berth-test/secrets/default/db", "")->kvs.at(0).value;
  EXPECT_NE(SecretCipher::KeyIdOf(rotated), SecretCipher::KeyIdOf(stored));
  o.cipher = std::make_shared<const SecretCipher>(SecretCipher::FromKeyFile(new_key, "new-only").value());
  auto after = Open(o);
  ASSERT_NE(after, nullptr) << "the old key is no longer needed";
  EXPECT_EQ(after->Get({"secrets", "default", "db"}).value()["data"]["password"], "aHVudGVyMg==");
  after.reset();

  // A hub with another key cannot open the store, and says which key the value needs.
  o.cipher = std::make_shared<const SecretCipher>(
      SecretCipher::FromKeyFile(SecretCipher::NewKeyFileText().value(), "other-key").value());
  auto wrong = OpenEtcdStore(o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find(SecretCipher::KeyIdOf(rotated)), std::string::npos) << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("/berth-test/secrets/default/db"), std::string::npos);
  o.cipher = nullptr;
  EXPECT_FALSE(OpenEtcdStore(o).ok());
}

// Mints a CA, a server certificate for 127.0.0.1 and a client certificate with the openssl
// command (Debian's openssl package); false if it is missing.
bool MintCertificates(const std::string& dir) {
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  const std::string cmd =
      "cd " + dir + " && openssl req -x509" + ec + "-keyout ca.key -out ca.crt -subj /CN=berth-test-ca -days 2" +
      " && openssl req -new" + ec + "-keyout server.key -out server.csr -subj /CN=etcd" +
      " -addext subjectAltName=IP:127.0.0.1" +
      " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2" +
      " -copy_extensions copy" + " && openssl req -new" + ec +
      "-keyout client.key -out client.csr -subj /CN=berth-hub" +
      " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2" +
      " && openssl req -x509" + ec + "-keyout other-ca.key -out other-ca.crt -subj /CN=other-ca -days 2";
  return std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0;
}

TEST_F(EtcdStoreTest, TlsWithClientCertificates) {
  const auto dir = std::filesystem::temp_directory_path() / ("berth-etcd-tls-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (!MintCertificates(dir.string())) GTEST_SKIP() << "openssl cannot mint test certificates";
  const std::string d = dir.string() + "/";
  cluster_.reset();
  cluster_ = std::make_unique<EtcdTestCluster>(1);
  cluster_->ServeTls(d + "ca.crt", d + "server.crt", d + "server.key", d + "client.crt", d + "client.key");
  std::string why;
  ASSERT_TRUE(cluster_->Start(&why)) << why;
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Put(*store, "a", Obj("a")).ok());
  EXPECT_TRUE(store->Get({"things", "default", "a"}).ok()) << "the watch runs over TLS too";

  EtcdClientOptions wrong_ca = cluster_->ClientOptions();
  wrong_ca.ca_file = d + "other-ca.crt";
  auto untrusting = NewEtcdClient(wrong_ca).value()->CurrentRevision();
  EXPECT_EQ(untrusting.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(untrusting.status().message().find("certificate verify failed"), std::string::npos)
      << untrusting.status().ToString();
  EtcdClientOptions no_cert = cluster_->ClientOptions();
  no_cert.cert_file = no_cert.key_file = "";
  EXPECT_FALSE(NewEtcdClient(no_cert).value()->CurrentRevision().ok()) << "etcd requires a client certificate";
  EtcdClientOptions half = cluster_->ClientOptions();
  half.key_file = "";
  EXPECT_EQ(NewEtcdClient(half).status().code(), StatusCode::kBadRequest);
  std::filesystem::remove_all(dir);
}

// Three members; one is SIGKILLed while writers write. Every acknowledged write is in etcd
// and in the store, and a watcher never sees a resourceVersion go backwards.
TEST_F(EtcdStoreTest, ThreeMembersOneKilledMidWritesLosesNoAcknowledgedWrite) {
  StartCluster(3);
  auto store = Open(Options(100000));
  std::mutex mu;
  std::vector<int64_t> watched;
  WatchOptions wo;
  wo.resource = "things";
  wo.from_revision = store->CurrentRevision();
  ASSERT_TRUE(store->Watch(wo, [&](const WatchEvent& e) {
                      std::lock_guard<std::mutex> lock(mu);
                      watched.push_back(e.resource_version);
                      return true;
                    }).ok());
  std::atomic<bool> stop{false};
  std::mutex acked_mu;
  std::vector<std::string> acked;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
        auto r = Put(*store, name, Obj(name));
        if (r.ok()) {
          std::lock_guard<std::mutex> lock(acked_mu);
          acked.push_back(name);
        } else {
          failures++;
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  size_t before_kill;
  {
    std::lock_guard<std::mutex> lock(acked_mu);
    before_kill = acked.size();
  }
  cluster_->Kill(0);  // the member the store's clients use first (perhaps the raft leader)
  const auto killed = std::chrono::steady_clock::now();
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(acked_mu);
    return acked.size();
  };
  // Bounded: a new leader needs an election timeout (1 s) and the clients a reconnect.
  while (acked_count() < before_kill + 200 && std::chrono::steady_clock::now() - killed < 15s) {
    std::this_thread::sleep_for(20ms);
  }
  const auto resumed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed);
  EXPECT_GE(acked_count(), before_kill + 200) << "writes go on through the other members";
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(acked.size(), 20u);
  EtcdClientOptions survivors;
  survivors.endpoints = {cluster_->ClientUrl(1), cluster_->ClientUrl(2)};
  auto survivor = NewEtcdClient(survivors).value();
  auto all = survivor->Range("/berth-test/", EtcdPrefixEnd("/berth-test/"));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::set<std::string> in_etcd;
  for (const auto& kv : all->kvs) in_etcd.insert(kv.key);
  for (const auto& name : acked) {
    EXPECT_TRUE(in_etcd.count("/berth-test/things/default/" + name)) << name << " was acknowledged";
    EXPECT_TRUE(store->Get({"things", "default", name}).ok()) << name;
  }
  std::lock_guard<std::mutex> lock(mu);
  for (size_t i = 1; i < watched.size(); ++i) ASSERT_LE(watched[i - 1], watched[i]) << "at event " << i;
  std::printf("acknowledged %zu writes, %d failed around the kill, watcher saw %zu events; 200 more writes "
              "%lld ms after the kill\n",
              acked.size(), failures.load(), watched.size(), static_cast<long long>(resumed_ms.count()));
}

}  // namespace
}  // namespace berth::hub
