// EtcdClient against a real single-member etcd on loopback (skipped without /usr/bin/etcd).
#include "hub/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "hub/etcd_test_fixture.h"

namespace berth::hub {
namespace {

using namespace std::chrono_literals;

TEST(EtcdPrefixEndTest, CoversEveryKeyWithThePrefix) {
  EXPECT_EQ(EtcdPrefixEnd("/berth/"), "/berth0");
  EXPECT_EQ(EtcdPrefixEnd("a\xff"), "b");
  EXPECT_EQ(EtcdPrefixEnd(std::string("\xff\xff")), std::string(1, '\0'));
}

TEST(EtcdClientOptionsTest, BadEndpointsAndTlsFilesAreRejectedUpFront) {
  EtcdClientOptions o;
  EXPECT_EQ(NewEtcdClient(o).status().code(), StatusCode::kBadRequest);
  o.endpoints = {"127.0.0.1:2379"};
  auto no_scheme = NewEtcdClient(o);
  EXPECT_EQ(no_scheme.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(no_scheme.status().message().find("127.0.0.1:2379"), std::string::npos);
  o.endpoints = {"http://127.0.0.1:2379"};
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_EQ(NewEtcdClient(o).status().code(), StatusCode::kBadRequest) << "TLS files without https";
  o.endpoints = {"https://127.0.0.1:2379"};
  o.ca_file = "/nonexistent/ca.crt";
  EXPECT_EQ(NewEtcdClient(o).status().code(), StatusCode::kBadRequest);
}

class EtcdClientTest : public EtcdFixture {
 protected:
  static EtcdOp Put(const std::string& key, const std::string& value) { return {EtcdOp::Type::kPut, key, value, 0}; }

};

TEST_F(EtcdClientTest, AnEndpointThatRefusesIsSkipped) {
  EtcdClientOptions o = cluster_->ClientOptions();
  o.endpoints.insert(o.endpoints.begin(), "http://127.0.0.1:1");  // nothing listens there
  auto client = NewEtcdClient(o).value();
  EXPECT_TRUE(client->CurrentRevision().ok());
  EXPECT_TRUE(client->Txn({{}, {Put("/k", "v")}, {}}).ok()) << "and stays on the one that answers";
  o.endpoints = {"http://127.0.0.1:1"};
  auto none = NewEtcdClient(o).value()->CurrentRevision();
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("127.0.0.1:1"), std::string::npos);
}

TEST_F(EtcdClientTest, TransactionsCompareAndTheFailureBranchReadsBack) {
  auto created = client_->Txn({{{"/a", EtcdCompare::Target::kCreateRevision, 0, {}}}, {Put("/a", "1")}, {}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(created->succeeded);
  EtcdTxn again{{{"/a", EtcdCompare::Target::kCreateRevision, 0, {}}},
                {Put("/a", "2")},
                {{EtcdOp::Type::kRange, "/a", {}, 0}, {EtcdOp::Type::kRange, "/missing", {}, 0}}};
  auto lost = client_->Txn(again);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->succeeded);
  ASSERT_EQ(lost->ranges.size(), 2u);
  ASSERT_EQ(lost->ranges[0].size(), 1u);
  EXPECT_EQ(lost->ranges[0][0].value, "1");
  EXPECT_EQ(lost->ranges[0][0].mod_revision, created->revision);
  EXPECT_TRUE(lost->ranges[1].empty());
  auto by_mod = client_->Txn({{{"/a", EtcdCompare::Target::kModRevision, created->revision, {}},
                               {"/a", EtcdCompare::Target::kValue, 0, "1"}},
                              {Put("/a", "3")},
                              {}});
  EXPECT_TRUE(by_mod.ok() && by_mod->succeeded);
  auto dup = client_->Txn({{}, {Put("/d", "x"), Put("/d", "y")}, {}});
  EXPECT_EQ(dup.status().code(), StatusCode::kBadRequest) << dup.status().ToString();
  ASSERT_TRUE(client_->Txn({{}, {Put("/p/1", "a"), Put("/p/2", "b"), Put("/q", "c")}, {}}).ok());
  auto page = client_->Range("/p/", EtcdPrefixEnd("/p/"), 0, 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->kvs.size(), 1u);
  EXPECT_TRUE(page->more);
  EXPECT_EQ(client_->DeleteRange("/p/", EtcdPrefixEnd("/p/")).value(), 2);
  EXPECT_TRUE(client_->Range("/p/", EtcdPrefixEnd("/p/"))->kvs.empty());
  EXPECT_EQ(client_->Range("/q", "")->kvs.size(), 1u);
}

TEST_F(EtcdClientTest, WatchStreamsPutsAndDeletesWithPrevKvAndReportsCompaction) {
  const int64_t start = client_->CurrentRevision().value() + 1;
  ASSERT_TRUE(client_->Txn({{}, {Put("/w/a", "1")}, {}}).ok());
  ASSERT_TRUE(client_->Txn({{}, {Put("/w/a", "2")}, {}}).ok());
  ASSERT_TRUE(client_->DeleteRange("/w/a", "").ok());
  auto stream = client_->Watch("/w/", EtcdPrefixEnd("/w/"), start, /*prev_kv=*/true);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::vector<EtcdWatchEvent> events;
  EtcdWatchResponse r;
  while (events.size() < 3) {
    ASSERT_TRUE((*stream)->Next(&r).ok());
    events.insert(events.end(), r.events.begin(), r.events.end());
  }
  EXPECT_FALSE(events[0].deleted);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].prev_kv->value, "1");
  EXPECT_TRUE(events[2].deleted);
  EXPECT_EQ(events[2].prev_kv->value, "2");
  EXPECT_GT(events[2].kv.mod_revision, events[1].kv.mod_revision);

  // Close from another thread ends a blocked Next.
  auto blocked = std::async(std::launch::async, [&] { return (*stream)->Next(&r); });
  std::this_thread::sleep_for(100ms);
  (*stream)->Close();
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(blocked.get().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(client_->Compact(client_->CurrentRevision().value()).ok());
  auto old = client_->Watch("/w/", EtcdPrefixEnd("/w/"), start, false);
  ASSERT_TRUE(old.ok());
  do {
    ASSERT_TRUE((*old)->Next(&r).ok());
  } while (!r.canceled);
  EXPECT_GT(r.compact_revision, start);
  EXPECT_EQ(client_->Range("/w/", EtcdPrefixEnd("/w/"), start).status().code(), StatusCode::kGone);
}

}  // namespace
}  // namespace berth::hub
