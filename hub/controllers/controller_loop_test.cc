// ControllerLoop with a fake clock: due order, deduplication, backoff, requeue and coalescing.
#include "hub/controllers/controller_loop.h"

#include <gtest/gtest.h>

#include <vector>

namespace berth::hub {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ControllerLoopTest : public ::testing::Test {
 protected:
  ControllerLoopTest() : loop_(clock_) {
    loop_.Register("k", [this](const std::string& key) -> ReconcileResult {
      ran_.push_back(key);
      if (fail_left_ > 0) {
        --fail_left_;
        return {Status::Unavailable("injected")};
      }
      return {Status::Ok(), requeue_};
    });
  }
  FakeClock clock_;
  ControllerLoop loop_;
  std::vector<std::string> ran_;
  int fail_left_ = 0;
  std::optional<Clock::Duration> requeue_;
};

TEST_F(ControllerLoopTest, RunsDueKeysInDueOrderAndMergesDuplicates) {
  loop_.EnqueueAfter("k/late", seconds(5));
  loop_.EnqueueAfter("k/b", seconds(1));
  loop_.Enqueue("k/a");
  loop_.Enqueue("k/a");                      // merged with the one queued
  loop_.EnqueueAfter("k/a", seconds(10));    // a later time never delays an earlier one
  EXPECT_EQ(loop_.pending(), 3u);
  EXPECT_EQ(loop_.RunDue(), 1);
  EXPECT_EQ(ran_, (std::vector<std::string>{"k/a"}));
  clock_.Advance(seconds(5));
  EXPECT_EQ(loop_.RunDue(), 2);
  EXPECT_EQ(ran_, (std::vector<std::string>{"k/a", "k/b", "k/late"}));
  EXPECT_EQ(loop_.pending(), 0u);
}

TEST_F(ControllerLoopTest, AnEarlierTimeMovesAQueuedKeyForward) {
  loop_.EnqueueAfter("k/x", seconds(30));
  loop_.EnqueueAfter("k/y", seconds(20));
  loop_.EnqueueAfter("k/x", seconds(10));
  clock_.Advance(seconds(10));
  EXPECT_EQ(loop_.RunDue(), 1);
  EXPECT_EQ(ran_, (std::vector<std::string>{"k/x"}));
  clock_.Advance(seconds(20));
  EXPECT_EQ(loop_.RunDue(), 1);  // x ran once: its old 30 s entry is gone
  EXPECT_EQ(ran_.back(), "k/y");
}

TEST_F(ControllerLoopTest, FailuresBackOffAndSuccessResets) {
  fail_left_ = 3;
  loop_.Enqueue("k/f");
  EXPECT_EQ(loop_.RunDue(), 1);  // fails: retry after 100 ms
  EXPECT_EQ(loop_.RunDue(), 0);
  clock_.Advance(milliseconds(100));
  EXPECT_EQ(loop_.RunDue(), 1);  // fails: 200 ms
  clock_.Advance(milliseconds(199));
  EXPECT_EQ(loop_.RunDue(), 0);
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(loop_.RunDue(), 1);  // fails: 400 ms
  clock_.Advance(milliseconds(400));
  EXPECT_EQ(loop_.RunDue(), 1);  // succeeds
  EXPECT_EQ(loop_.pending(), 0u);
  fail_left_ = 1;
  loop_.Enqueue("k/f");
  EXPECT_EQ(loop_.RunDue(), 1);
  clock_.Advance(milliseconds(100));  // the count started over: 100 ms again
  EXPECT_EQ(loop_.RunDue(), 1);
}

TEST_F(ControllerLoopTest, RequeueAfterComesBack) {
  requeue_ = seconds(15);
  loop_.Enqueue("k/lease");
  EXPECT_EQ(loop_.RunDue(), 1);
  clock_.Advance(seconds(14));
  EXPECT_EQ(loop_.RunDue(), 0);
  clock_.Advance(seconds(1));
  EXPECT_EQ(loop_.RunDue(), 1);
}

TEST_F(ControllerLoopTest, CoalescedKeyRunsAtMostOncePerGap) {
  const auto gap = milliseconds(500);
  loop_.EnqueueCoalesced("k/fleet", gap);  // never ran: due at once
  EXPECT_EQ(loop_.RunDue(), 1);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(milliseconds(40));
    loop_.EnqueueCoalesced("k/fleet", gap);
    EXPECT_EQ(loop_.RunDue(), 0) << "burst trigger " << i;
  }
  clock_.Advance(milliseconds(100));  // 500 ms since the last start
  EXPECT_EQ(loop_.RunDue(), 1);
  // A plain Enqueue (a spec change) is not held back by the gap.
  loop_.Enqueue("k/fleet");
  EXPECT_EQ(loop_.RunDue(), 1);
  EXPECT_EQ(ran_.size(), 3u);
}

}  // namespace
}  // namespace berth::hub
