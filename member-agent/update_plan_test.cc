#include "member-agent/update_plan.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using nlohmann::json;

TEST(UpdateSpecTest, DefaultsPercentagesAndErrors) {
  auto none = ParseUpdateSpec(json(), 3);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->mode, UpdateSpec::Mode::kInPlace);
  EXPECT_EQ(none->max_unavailable, 1);
  EXPECT_EQ(none->max_surge, 0);

  auto surge = ParseUpdateSpec(
      {{"mode", "Surge"}, {"maxSurge", "25%"}, {"maxUnavailable", 0}, {"previousRevision", 3}}, 5);
  ASSERT_TRUE(surge.ok()) << surge.status().ToString();
  EXPECT_EQ(surge->mode, UpdateSpec::Mode::kSurge);
  EXPECT_EQ(surge->max_surge, 2);        // 25% of 5, rounded up
  EXPECT_EQ(surge->max_unavailable, 1);  // 0 would stop every update
  EXPECT_EQ(surge->previous_revision, 3);

  auto bad = ParseUpdateSpec({{"mode", "Fast"}, {"maxSurge", -1}, {"previousRevision", "3"}}, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalid);
  ASSERT_EQ(bad.status().causes().size(), 3u);
  EXPECT_EQ(bad.status().causes()[0].field, "update.mode");
  EXPECT_FALSE(ParseUpdateSpec({{"maxUnavailable", "lots%"}}, 2).ok());
}

// What the renderer emits for a single-node workspace, reduced to what planning reads.
std::vector<json> Rendered(const std::string& ws, int replicas, int64_t revision) {
  const std::string rev = std::to_string(revision);
  json labels = {{kWorkspaceLabel, ws}, {kRevisionLabel, rev}};
  return {{{"apiVersion", "v1"},
           {"kind", "Service"},
           {"metadata", {{"name", ws}, {"namespace", "m"}, {"labels", labels}}}},
          {{"apiVersion", "apps/v1"},
           {"kind", "StatefulSet"},
           {"metadata", {{"name", ws}, {"namespace", "m"}, {"labels", labels}}},
           {"spec",
            {{"replicas", replicas},
             {"selector", {{"matchLabels", {{kWorkspaceLabel, ws}}}}},
             {"template", {{"metadata", {{"labels", labels}}}}}}}}};
}

ManagedObject LiveSts(const std::string& name, const std::string& revision) {
  return {{"apps/v1", "StatefulSet", "m", name}, "ws", "hash", revision};
}

PodState Pod(const std::string& sts, int ordinal, const std::string& revision, bool ready) {
  PodState p;
  p.name = sts + "-" + std::to_string(ordinal);
  p.statefulset = sts;
  p.node = "n";
  p.ready = ready;
  p.revision = revision;
  return p;
}

const json* Find(const UpdatePlan& plan, const std::string& name) {
  for (const auto& o : plan.objects) {
    if (o["kind"] == "StatefulSet" && o["metadata"]["name"] == name) return &o;
  }
  return nullptr;
}

const UpdateSpec kSurge{UpdateSpec::Mode::kSurge, 1, 1, 1};
const ObjectKey kMain{"apps/v1", "StatefulSet", "m", "ws"};

TEST(PlanUpdateTest, InPlaceSetsTheBudgetAndHoldsNothing) {
  UpdateSpec in_place;
  in_place.max_unavailable = 2;
  WorkloadState observed{{}, {Pod("ws", 0, "1", true), Pod("ws", 1, "1", true)}};
  auto plan =
      PlanUpdate("ws", 2, 2, in_place, Rendered("ws", 2, 2), {LiveSts("ws", "1")}, observed);
  ASSERT_NE(Find(plan, "ws"), nullptr);
  EXPECT_EQ((*Find(plan, "ws"))["spec"]["updateStrategy"],
            (json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 2}}}}));
  EXPECT_TRUE(plan.held.empty());
  EXPECT_EQ(plan.surge_replicas, 0);
  EXPECT_EQ(plan.objects.size(), 2u);
}

TEST(PlanUpdateTest, SurgeStartsBesideTheOldPodsAndHoldsTheMainStatefulSet) {
  WorkloadState observed{{}, {Pod("ws", 0, "1", true), Pod("ws", 1, "1", true)}};
  auto plan = PlanUpdate("ws", 2, 2, kSurge, Rendered("ws", 2, 2), {LiveSts("ws", "1")}, observed);
  EXPECT_EQ(plan.held, std::set<ObjectKey>{kMain});
  EXPECT_EQ(Find(plan, "ws"), nullptr);
  const json* surge = Find(plan, "ws-surge");
  ASSERT_NE(surge, nullptr);
  EXPECT_EQ((*surge)["spec"]["replicas"], 1);
  EXPECT_EQ((*surge)["spec"]["selector"]["matchLabels"][kSurgeLabel], "true");
  EXPECT_EQ((*surge)["spec"]["template"]["metadata"]["labels"][kSurgeLabel], "true");
  EXPECT_EQ((*surge)["spec"]["template"]["metadata"]["labels"][kWorkspaceLabel], "ws");
  EXPECT_EQ((*surge)["spec"]["template"]["metadata"]["labels"][kRevisionLabel], "2");
  EXPECT_EQ(plan.surge_replicas, 1);
  EXPECT_NE(plan.note.find("0/1"), std::string::npos);

  // The surge pod is Ready: the main StatefulSet is switched, maxUnavailable = maxSurge.
  observed.pods.push_back(Pod("ws-surge", 0, "2", true));
  plan = PlanUpdate("ws", 2, 2, kSurge, Rendered("ws", 2, 2),
                    {LiveSts("ws", "1"), LiveSts("ws-surge", "2")}, observed);
  EXPECT_TRUE(plan.held.empty());
  ASSERT_NE(Find(plan, "ws"), nullptr);
  EXPECT_EQ((*Find(plan, "ws"))["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 1);
  EXPECT_NE(Find(plan, "ws-surge"), nullptr);
}

TEST(PlanUpdateTest, SurgeStaysUntilEveryMainPodIsReadyAtTheRevisionThenGoes) {
  std::vector<ManagedObject> live = {LiveSts("ws", "2"), LiveSts("ws-surge", "2")};
  WorkloadState rolling{
      {}, {Pod("ws", 0, "1", true), Pod("ws", 1, "2", false), Pod("ws-surge", 0, "2", true)}};
  auto plan = PlanUpdate("ws", 2, 2, kSurge, Rendered("ws", 2, 2), live, rolling);
  EXPECT_NE(Find(plan, "ws-surge"), nullptr);
  EXPECT_TRUE(plan.held.empty());

  WorkloadState done{
      {}, {Pod("ws", 0, "2", true), Pod("ws", 1, "2", true), Pod("ws-surge", 0, "2", true)}};
  plan = PlanUpdate("ws", 2, 2, kSurge, Rendered("ws", 2, 2), live, done);
  EXPECT_EQ(Find(plan, "ws-surge"), nullptr);  // not planned: the reconciler deletes it
  EXPECT_EQ(plan.surge_replicas, 0);
  // Same when the entry stops asking for a surge mid-way.
  plan = PlanUpdate("ws", 2, 2, UpdateSpec{}, Rendered("ws", 2, 2), live, rolling);
  EXPECT_EQ(Find(plan, "ws-surge"), nullptr);
}

TEST(PlanUpdateTest, NoSurgeWithoutAMainStatefulSetOrPreviousRevision) {
  auto first = PlanUpdate("ws", 2, 2, kSurge, Rendered("ws", 2, 2), {}, {});
  EXPECT_EQ(Find(first, "ws-surge"), nullptr);
  EXPECT_NE(Find(first, "ws"), nullptr);
  UpdateSpec no_previous = kSurge;
  no_previous.previous_revision = 0;
  WorkloadState observed{{}, {Pod("ws", 0, "1", true)}};
  auto plan =
      PlanUpdate("ws", 2, 1, no_previous, Rendered("ws", 1, 2), {LiveSts("ws", "1")}, observed);
  EXPECT_EQ(Find(plan, "ws-surge"), nullptr);
  EXPECT_TRUE(plan.held.empty());
}

TEST(PlanUpdateTest, NothingServingMeansNothingToProtect) {
  // A rollback from a revision whose pods never came up: switch at once.
  WorkloadState observed{{}, {Pod("ws", 0, "3", false), Pod("ws", 1, "3", false)}};
  UpdateSpec back = kSurge;
  back.previous_revision = 3;
  auto plan = PlanUpdate("ws", 2, 2, back, Rendered("ws", 2, 2), {LiveSts("ws", "3")}, observed);
  EXPECT_TRUE(plan.held.empty());
  EXPECT_NE(Find(plan, "ws"), nullptr);
}

TEST(PlanUpdateTest, SurgeIsCappedAtTheReplicas) {
  UpdateSpec big = kSurge;
  big.max_surge = 5;
  WorkloadState observed{{}, {Pod("ws", 0, "1", true), Pod("ws", 1, "1", true)}};
  auto plan = PlanUpdate("ws", 2, 2, big, Rendered("ws", 2, 2), {LiveSts("ws", "1")}, observed);
  ASSERT_NE(Find(plan, "ws-surge"), nullptr);
  EXPECT_EQ((*Find(plan, "ws-surge"))["spec"]["replicas"], 2);
}

// Multi-node: StatefulSets ws-r0 … ws-r<n-1>, two pods each.
std::vector<json> RenderedMultiNode(int replicas, int64_t revision) {
  std::vector<json> out;
  for (int r = 0; r < replicas; ++r) {
    out.push_back({{"apiVersion", "apps/v1"},
                   {"kind", "StatefulSet"},
                   {"metadata", {{"name", "ws-r" + std::to_string(r)}, {"namespace", "m"}}},
                   {"spec", {{"replicas", 2}, {"template", {{"x", revision}}}}}});
  }
  return out;
}

TEST(PlanUpdateTest, MultiNodeReplicasSwitchAtMostMaxUnavailableAtATime) {
  std::vector<ManagedObject> live;
  WorkloadState observed;
  for (int r = 0; r < 3; ++r) {
    std::string sts = "ws-r" + std::to_string(r);
    live.push_back(LiveSts(sts, "1"));
    observed.pods.push_back(Pod(sts, 0, "1", true));
    observed.pods.push_back(Pod(sts, 1, "1", true));
  }
  auto plan = PlanUpdate("ws", 2, 3, kSurge, RenderedMultiNode(3, 2), live, observed);
  EXPECT_EQ(Find(plan, "ws-surge"), nullptr);  // surge is single-node only
  EXPECT_NE(Find(plan, "ws-r2"), nullptr);     // highest index first
  EXPECT_EQ(plan.held, (std::set<ObjectKey>{{"apps/v1", "StatefulSet", "m", "ws-r0"},
                                            {"apps/v1", "StatefulSet", "m", "ws-r1"}}));
  EXPECT_EQ((*Find(plan, "ws-r2"))["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            2);  // a replica's pods go together

  // r2 switched and still starting: r1 and r0 wait.
  live[2].revision = "2";
  observed.pods[4] = Pod("ws-r2", 0, "2", false);
  observed.pods[5] = Pod("ws-r2", 1, "2", false);
  plan = PlanUpdate("ws", 2, 3, kSurge, RenderedMultiNode(3, 2), live, observed);
  EXPECT_EQ(plan.held.size(), 2u);
  // r0 does not serve anyway (a pod failed): it may switch at once.
  observed.pods[0] = Pod("ws-r0", 0, "1", false);
  plan = PlanUpdate("ws", 2, 3, kSurge, RenderedMultiNode(3, 2), live, observed);
  EXPECT_EQ(plan.held, (std::set<ObjectKey>{{"apps/v1", "StatefulSet", "m", "ws-r1"}}));
}

}  // namespace
}  // namespace berth::agent
