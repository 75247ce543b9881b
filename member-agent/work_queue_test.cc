#include "member-agent/work_queue.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueueTest, DuplicatesMergeAndFailuresBackOffExponentiallyUpToTheCap) {
  FakeClock clock;
  WorkQueue q(&clock, 1s, 8s);
  q.Add("a");
  q.Add("a");
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.PopReady(), "a");
  EXPECT_FALSE(q.PopReady());
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) {
    q.AddAfterFailure("a");
    delays.push_back((*q.NextDue() - clock.Now()).count());
    clock.Advance(*q.NextDue() - clock.Now());
    EXPECT_EQ(q.PopReady(), "a");
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 4000, 8000, 8000, 8000}));
  q.Forget("a");
  q.AddAfterFailure("a");
  EXPECT_EQ((*q.NextDue() - clock.Now()).count(), 1000);
}

TEST(WorkQueueTest, PlainAddKeepsBackoffButUrgentCutsIt) {
  FakeClock clock;
  WorkQueue q(&clock, 1s, 60s);
  q.AddAfterFailure("a");
  q.AddAfterFailure("a");  // 2 s
  q.Add("a");              // a resync must not defeat backoff
  EXPECT_FALSE(q.PopReady());
  q.Add("a", /*urgent=*/true);  // the desired state changed
  EXPECT_EQ(q.PopReady(), "a");
}

}  // namespace
}  // namespace berth::agent
