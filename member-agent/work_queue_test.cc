#include "member-agent/work_queue.h"

#include <gtest/gtest.h>

#include "member-agent/readiness.h"

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

TEST(ReadinessTest, SingleAndMultiNodeReplicas) {
  WorkloadState single{{{"ws", 3, 2}},
                       {{"ws-2", "ws", "n1", false, false, "LoadingWeights", "loading"}}};
  auto r = SummarizeWorkload("ws", single, 3);
  EXPECT_EQ(r.ready_replicas, 2);
  EXPECT_EQ(r.phase, "Starting");
  EXPECT_EQ(r.reason, "LoadingWeights");

  WorkloadState multi{{{"ws-r0", 2, 2}, {"ws-r1", 2, 1}}, {}};
  EXPECT_EQ(SummarizeWorkload("ws", multi, 2).ready_replicas, 1);
  multi.statefulsets[1].ready_replicas = 2;
  EXPECT_EQ(SummarizeWorkload("ws", multi, 2).phase, "Ready");
}

TEST(ReadinessTest, FailureBeatsPendingBeatsStarting) {
  WorkloadState s{{{"ws", 3, 0}},
                  {{"ws-0", "ws", "n1", false, false, "ImagePulling", ""},
                   {"ws-1", "ws", "", false, false, "InsufficientGPU", ""},
                   {"ws-2", "ws", "n2", false, false, "CrashLoopBackOff", "exit 1"}}};
  EXPECT_EQ(SummarizeWorkload("ws", s, 3).phase, "Failed");
  EXPECT_EQ(SummarizeWorkload("ws", s, 3).reason, "CrashLoopBackOff");
  s.pods.pop_back();
  EXPECT_EQ(SummarizeWorkload("ws", s, 3).phase, "Pending");
  EXPECT_EQ(SummarizeWorkload("ws", s, 3).reason, "InsufficientGPU");
  EXPECT_EQ(SummarizeWorkload("ws", WorkloadState{}, 1).reason, "PodsNotCreated");
}

}  // namespace
}  // namespace berth::agent
