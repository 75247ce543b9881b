#include "member-agent/readiness.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

// A pod of `sts` at `revision`: Ready when `reason` is empty.
PodState Pod(const std::string& name, const std::string& sts, const std::string& revision,
             const std::string& reason = "", int restarts = 0) {
  PodState p;
  p.name = name;
  p.statefulset = sts;
  p.node = reason == "InsufficientGPU" ? "" : "n1";
  p.ready = reason.empty();
  p.reason = reason;
  p.revision = revision;
  p.restarts = restarts;
  return p;
}

TEST(ReadinessTest, SingleAndMultiNodeReplicas) {
  WorkloadState single{
      {{"ws", 3, 2}},
      {Pod("ws-0", "ws", "1"), Pod("ws-1", "ws", "1"), Pod("ws-2", "ws", "1", "LoadingWeights")}};
  auto r = SummarizeWorkload("ws", single, 3, 1);
  EXPECT_EQ(r.ready_replicas, 2);
  EXPECT_EQ(r.updated_replicas, 3);
  EXPECT_EQ(r.phase, "Starting");
  EXPECT_EQ(r.reason, "LoadingWeights");

  // Multi-node: a replica is one StatefulSet; it counts when all its pods are Ready.
  WorkloadState multi{{{"ws-r0", 2, 2}, {"ws-r1", 2, 1}},
                      {Pod("ws-r0-0", "ws-r0", "1"), Pod("ws-r0-1", "ws-r0", "1"),
                       Pod("ws-r1-0", "ws-r1", "1"), Pod("ws-r1-1", "ws-r1", "1", "ImagePulling")}};
  EXPECT_EQ(SummarizeWorkload("ws", multi, 2, 1).ready_replicas, 1);
  EXPECT_EQ(SummarizeWorkload("ws", multi, 2, 1).updated_replicas, 2);
  multi.pods[3] = Pod("ws-r1-1", "ws-r1", "1");
  EXPECT_EQ(SummarizeWorkload("ws", multi, 2, 1).phase, "Ready");
}

TEST(ReadinessTest, FailureBeatsPendingBeatsStarting) {
  WorkloadState s{
      {{"ws", 3, 0}},
      {Pod("ws-0", "ws", "1", "ImagePulling"), Pod("ws-1", "ws", "1", "InsufficientGPU"),
       Pod("ws-2", "ws", "1", "CrashLoopBackOff")}};
  EXPECT_EQ(SummarizeWorkload("ws", s, 3, 1).phase, "Failed");
  EXPECT_EQ(SummarizeWorkload("ws", s, 3, 1).reason, "CrashLoopBackOff");
  s.pods.pop_back();
  EXPECT_EQ(SummarizeWorkload("ws", s, 3, 1).phase, "Pending");
  EXPECT_EQ(SummarizeWorkload("ws", s, 3, 1).reason, "InsufficientGPU");
  EXPECT_EQ(SummarizeWorkload("ws", WorkloadState{}, 1, 1).reason, "PodsNotCreated");
}

TEST(ReadinessTest, ReadyReplicasCountOnlyPodsOfTheAskedForRevision) {
  // Revision 5 rolls over revision 4: two old pods still serve, one new pod is Ready.
  WorkloadState s{{{"ws", 3, 3}},
                  {Pod("ws-0", "ws", "4"), Pod("ws-1", "ws", "4"), Pod("ws-2", "ws", "5")}};
  auto r = SummarizeWorkload("ws", s, 3, 5);
  EXPECT_EQ(r.ready_replicas, 1);
  EXPECT_EQ(r.updated_replicas, 1);
  EXPECT_EQ(r.other_revision_ready, 2);
  EXPECT_NE(r.phase, "Ready");
  // The same pods, asked about revision 4 (e.g. a rollback): 2 ready, not 3.
  EXPECT_EQ(SummarizeWorkload("ws", s, 3, 4).ready_replicas, 2);
  // Only old pods: the update has not reached any pod yet.
  WorkloadState old{{{"ws", 2, 2}}, {Pod("ws-0", "ws", "4"), Pod("ws-1", "ws", "4")}};
  r = SummarizeWorkload("ws", old, 2, 5);
  EXPECT_EQ(r.ready_replicas, 0);
  EXPECT_EQ(r.phase, "Starting");
  EXPECT_EQ(r.reason, "RolloutPending");
}

TEST(ReadinessTest, SurgePodsServeButAreNotReplicasAndReadyIsCapped) {
  WorkloadState s{
      {{"ws", 2, 2}, {"ws-surge", 1, 1}},
      {Pod("ws-0", "ws", "5"), Pod("ws-1", "ws", "5"), Pod("ws-surge-0", "ws-surge", "5")}};
  auto r = SummarizeWorkload("ws", s, 2, 5);
  EXPECT_EQ(r.ready_replicas, 2);  // 3 Ready pods at revision 5, capped at 2
  EXPECT_EQ(r.updated_replicas, 2);
  EXPECT_EQ(r.surge_replicas, 1);
  EXPECT_EQ(r.phase, "Ready");
  // Mid-surge: the surge pod is Ready, the main pods are old.
  WorkloadState mid{
      {{"ws", 2, 2}, {"ws-surge", 1, 1}},
      {Pod("ws-0", "ws", "4"), Pod("ws-1", "ws", "4"), Pod("ws-surge-0", "ws-surge", "5")}};
  r = SummarizeWorkload("ws", mid, 2, 5);
  EXPECT_EQ(r.ready_replicas, 1);
  EXPECT_EQ(r.updated_replicas, 0);
}

TEST(ReadinessTest, AvailableReplicasCountReadyPodsOfAnyRevisionCappedAtReplicas) {
  // In place, revision 5 over 4: two old pods serve, the new one is still loading.
  WorkloadState in_place{
      {{"ws", 3, 2}},
      {Pod("ws-0", "ws", "4"), Pod("ws-1", "ws", "4"), Pod("ws-2", "ws", "5", "LoadingWeights")}};
  auto r = SummarizeWorkload("ws", in_place, 3, 5);
  EXPECT_EQ(r.ready_replicas, 0);
  EXPECT_EQ(r.available_replicas, 2);
  // Surge: two old main pods and one new surge pod serve; capped at the 2 replicas.
  WorkloadState surge{
      {{"ws", 2, 2}, {"ws-surge", 1, 1}},
      {Pod("ws-0", "ws", "4"), Pod("ws-1", "ws", "4"), Pod("ws-surge-0", "ws-surge", "5")}};
  r = SummarizeWorkload("ws", surge, 2, 5);
  EXPECT_EQ(r.ready_replicas, 1);
  EXPECT_EQ(r.available_replicas, 2);
  // Terminating pods do not serve.
  surge.pods[0].terminating = true;
  surge.pods[1].terminating = true;
  EXPECT_EQ(SummarizeWorkload("ws", surge, 2, 5).available_replicas, 1);
  // Multi-node: a replica serves when all its pods are Ready at one revision.
  WorkloadState multi{{{"ws-r0", 2, 2}, {"ws-r1", 2, 2}, {"ws-r2", 2, 1}},
                      {Pod("ws-r0-0", "ws-r0", "4"), Pod("ws-r0-1", "ws-r0", "4"),
                       Pod("ws-r1-0", "ws-r1", "5"), Pod("ws-r1-1", "ws-r1", "4"),
                       Pod("ws-r2-0", "ws-r2", "5"), Pod("ws-r2-1", "ws-r2", "5", "ImagePulling")}};
  r = SummarizeWorkload("ws", multi, 3, 5);
  EXPECT_EQ(r.available_replicas, 1);  // r0 (old, whole); r1 mixed; r2 not all Ready
  EXPECT_EQ(r.ready_replicas, 0);
}

TEST(ReadinessTest, FailuresCountFailingPodsAndRestartsOfTheRevisionOnly) {
  WorkloadState s{
      {{"ws", 3, 0}},
      {Pod("ws-0", "ws", "4", "CrashLoopBackOff", 7),  // old revision: ignored
       Pod("ws-1", "ws", "5", "ImagePullBackOff"), Pod("ws-2", "ws", "5", "CrashLoopBackOff", 3)}};
  auto r = SummarizeWorkload("ws", s, 3, 5);
  EXPECT_EQ(r.failures, 1 + 1 + 3);
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(r.reason, "ImagePullBackOff");
  // Healthy pods at the revision: 0.
  WorkloadState healthy{{{"ws", 1, 1}}, {Pod("ws-0", "ws", "5")}};
  EXPECT_EQ(SummarizeWorkload("ws", healthy, 1, 5).failures, 0);
  // A terminating pod is neither counted nor blamed.
  PodState gone = Pod("ws-1", "ws", "5", "CrashLoopBackOff", 2);
  gone.terminating = true;
  healthy.pods.push_back(gone);
  EXPECT_EQ(SummarizeWorkload("ws", healthy, 1, 5).failures, 0);
}

}  // namespace
}  // namespace berth::agent
