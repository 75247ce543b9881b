// Leader election and fenced writes against a real etcd on loopback (skipped when
// /usr/bin/etcd is missing: scripts/install-deps.sh installs etcd-server).
#include "hub/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "hub/etcd_store.h"
#include "hub/etcd_test_fixture.h"
#include "hub/fenced_store.h"

namespace berth::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kKey = "/berth-test.hub/leader";

// One campaigning replica and what it saw.
// Members in this order: `election` goes first, its last callback (resigning) still writing
// into `deposals`.
struct Candidate {
  std::unique_ptr<EtcdClient> etcd;
  std::mutex mu;
  std::vector<LeaderTerm> terms;       // every term it was elected for
  std::vector<std::string> deposals;   // why each ended
  std::unique_ptr<LeaderElection> election;
};

class LeaderElectionTest : public EtcdFixture {
 protected:

  std::unique_ptr<Candidate> Campaign(const std::string& identity) {
    auto c = std::make_unique<Candidate>();
    EtcdClientOptions o = cluster_->ClientOptions();
    o.request_timeout = 1000ms;
    c->etcd = NewEtcdClient(o).value();
    LeaderElectionOptions options{kKey, identity, std::chrono::seconds(2), 100ms};
    Candidate* raw = c.get();
    c->election = std::make_unique<LeaderElection>(
        *c->etcd, options,
        [raw](const LeaderTerm& t) {
          std::lock_guard<std::mutex> lock(raw->mu);
          raw->terms.push_back(t);
        },
        [raw](const std::string& why) {
          std::lock_guard<std::mutex> lock(raw->mu);
          raw->deposals.push_back(why);
        });
    EXPECT_TRUE(c->election->Start().ok());
    return c;
  }

  static bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }

};

TEST_F(LeaderElectionTest, ExactlyOneLeadsAndAStandbyTakesOverWhenItResigns) {
  auto a = Campaign("hub-a");
  ASSERT_TRUE(WaitUntil([&] { return a->election->leading(); }));
  auto b = Campaign("hub-b");
  std::this_thread::sleep_for(600ms);  // several of b's attempts
  EXPECT_TRUE(a->election->leading());
  EXPECT_FALSE(b->election->leading());
  EXPECT_EQ(b->election->last_seen_leader(), "hub-a");
  auto holder = client_->Range(kKey, "");
  ASSERT_TRUE(holder.ok() && holder->kvs.size() == 1);
  EXPECT_EQ(holder->kvs[0].value, "hub-a");

  const auto resigned = std::chrono::steady_clock::now();
  a->election->Stop();
  ASSERT_TRUE(WaitUntil([&] { return b->election->leading(); }, 3s)) << "resigning revokes the lease";
  EXPECT_LT(std::chrono::steady_clock::now() - resigned, 1s) << "a resignation is taken over at b's next try";
  std::lock_guard<std::mutex> la(a->mu), lb(b->mu);
  ASSERT_EQ(a->terms.size(), 1u);
  ASSERT_EQ(a->deposals.size(), 1u);
  EXPECT_EQ(a->deposals[0], "stopping");
  ASSERT_EQ(b->terms.size(), 1u);
  EXPECT_GT(b->terms[0].fence.create_revision, a->terms[0].fence.create_revision) << "terms only move forward";
}

// A leader whose lease is gone (etcd expired it while the leader was paused or cut off)
// steps down at its next renewal, and a standby leads within the lease's TTL.
TEST_F(LeaderElectionTest, ALeaderWhoseLeaseIsGoneStepsDownAndIsSucceeded) {
  auto a = Campaign("hub-a");
  ASSERT_TRUE(WaitUntil([&] { return a->election->leading(); }));
  auto b = Campaign("hub-b");
  int64_t lease = 0;
  {
    std::lock_guard<std::mutex> lock(a->mu);
    lease = a->terms.at(0).lease;
  }
  ASSERT_TRUE(client_->RevokeLease(lease).ok());
  ASSERT_TRUE(WaitUntil([&] { return !a->election->leading(); }, 3s));
  ASSERT_TRUE(WaitUntil([&] { return b->election->leading() || a->election->leading(); }, 3s));
  std::lock_guard<std::mutex> lock(a->mu);
  ASSERT_EQ(a->deposals.size(), 1u);
  EXPECT_NE(a->deposals[0].find("expired"), std::string::npos) << a->deposals[0];
}

// The safety net under the election: a deposed leader's fenced write fails in etcd's own
// transaction, while its successor's succeeds; a store without the fence is unaffected.
TEST_F(LeaderElectionTest, ADeposedLeadersFencedWritesFail) {
  EtcdStoreOptions so;
  so.client = cluster_->ClientOptions();
  so.prefix = "/berth-test";
  auto store = OpenEtcdStore(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto set = [](int v) {
    return [v](const json*) -> StatusOr<std::optional<json>> {
      return std::optional<json>(json{{"metadata", {{"name", "x"}}}, {"spec", {{"v", v}}}});
    };
  };
  auto a = Campaign("hub-a");
  ASSERT_TRUE(WaitUntil([&] { return a->election->leading(); }));
  LeaderTerm first;
  {
    std::lock_guard<std::mutex> lock(a->mu);
    first = a->terms.at(0);
  }
  FencedStore old_leader(**store, first.fence);
  ASSERT_TRUE(old_leader.Apply({{"things", "", "x"}, set(1)}).ok());

  auto b = Campaign("hub-b");
  ASSERT_TRUE(client_->RevokeLease(first.lease).ok());  // a's lease is gone: b takes over
  ASSERT_TRUE(WaitUntil([&] { return b->election->leading(); }, 3s));
  LeaderTerm second;
  {
    std::lock_guard<std::mutex> lock(b->mu);
    second = b->terms.at(0);
  }
  FencedStore new_leader(**store, second.fence);
  auto late = old_leader.Apply({{"things", "", "x"}, set(2)});
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition) << late.status().ToString();
  EXPECT_NE(late.status().message().find("fenced"), std::string::npos);
  auto fresh = new_leader.Apply({{"things", "", "x"}, set(3)});
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ((*store)->Get({"things", "", "x"}).value()["spec"]["v"], 3);
  EXPECT_TRUE((*store)->Apply({{"things", "", "x"}, set(4)}).ok()) << "the API's writes carry no fence";
}

TEST_F(LeaderElectionTest, OptionsAreValidated) {
  auto etcd = NewEtcdClient(cluster_->ClientOptions()).value();
  auto noop = [](const LeaderTerm&) {};
  auto none = [](const std::string&) {};
  EXPECT_FALSE(LeaderElection(*etcd, {"", "a"}, noop, none).Start().ok());
  EXPECT_FALSE(LeaderElection(*etcd, {kKey, ""}, noop, none).Start().ok());
  Status short_ttl = LeaderElection(*etcd, {kKey, "a", std::chrono::seconds(1)}, noop, none).Start();
  EXPECT_NE(short_ttl.message().find("at least 2s"), std::string::npos) << short_ttl.message();
}

}  // namespace
}  // namespace berth::hub
