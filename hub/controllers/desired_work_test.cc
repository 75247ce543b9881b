// Unit tests of the desired Work on data: planner decisions, Workspaces, strategies, the
// snapshot and reports in; the Work entry each member should carry out. The rollout's own
// gates are tested in rollout/ and rollout_controller_test; here only what this stage adds.
#include "hub/controllers/desired_work.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

#include "api/kinds.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::seconds;

placement::PlacementDecision Decision(std::vector<placement::Allocation> allocations,
                                      int requested) {
  placement::PlacementDecision d;
  d.workspace = kKey;
  d.requested = requested;
  d.allocations = std::move(allocations);
  for (const auto& a : d.allocations) d.placed += a.replicas;
  return d;
}

json Workspace(json extra = json::object()) {
  json ws = {{"apiVersion", api::kApiVersion},
             {"kind", "Workspace"},
             {"metadata",
              {{"name", "llama"}, {"namespace", "default"}, {"uid", "u-1"}, {"generation", 3}}},
             {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
             {"placement", {{"replicas", 2}}}};
  ws.update(extra);
  return ws;
}

json Strategy(const std::string& name, json spec) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", "RolloutStrategy"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", spec}};
}

// --- StrategiesFrom and ResolveStrategy ---

TEST(StrategiesFrom, ParsesStrategiesByKeyAndLeavesOutBrokenOnes) {
  auto strategies = StrategiesFrom({Strategy("fast", {{"updateMode", "InPlace"}}),
                                    Strategy("broken", {{"updateMode", "Sideways"}})});
  ASSERT_EQ(strategies.size(), 1u);
  ASSERT_TRUE(strategies.count("default/fast"));
  EXPECT_EQ(strategies["default/fast"].update_mode, policies::UpdateMode::kInPlace);
}

TEST(ResolveStrategy, TheDefaultWithoutRolloutSettings) {
  WorkspaceRolloutInput in;
  ResolveStrategy(Workspace(), {}, in);
  EXPECT_EQ(in.strategy_source, "default");
  EXPECT_EQ(in.strategy.update_mode, policies::DefaultRolloutStrategy().update_mode);
  EXPECT_EQ(in.strategy.stages.size(), policies::DefaultRolloutStrategy().stages.size());
}

TEST(ResolveStrategy, InlineWinsOverARef) {
  const auto strategies = StrategiesFrom({Strategy("fast", {{"updateMode", "Surge"}})});
  WorkspaceRolloutInput in;
  ResolveStrategy(Workspace({{"rollout",
                              {{"strategy", {{"updateMode", "InPlace"}}},
                               {"strategyRef", {{"name", "fast"}}}}}}),
                  strategies, in);
  EXPECT_EQ(in.strategy_source, "inline");
  EXPECT_EQ(in.strategy.update_mode, policies::UpdateMode::kInPlace);
}

TEST(ResolveStrategy, ARefNamesAStrategyOfTheWorkspacesNamespace) {
  const auto strategies = StrategiesFrom({Strategy("fast", {{"updateMode", "InPlace"}})});
  WorkspaceRolloutInput in;
  ResolveStrategy(Workspace({{"rollout", {{"strategyRef", {{"name", "fast"}}}}}}), strategies, in);
  EXPECT_EQ(in.strategy_source, "fast");
  EXPECT_EQ(in.strategy.update_mode, policies::UpdateMode::kInPlace);

  json elsewhere = Workspace({{"rollout", {{"strategyRef", {{"name", "fast"}}}}}});
  elsewhere["metadata"]["namespace"] = "models";
  WorkspaceRolloutInput other;
  ResolveStrategy(elsewhere, strategies, other);
  EXPECT_EQ(other.strategy_source, "fast (not found: the default strategy applies)");
  EXPECT_EQ(other.strategy.update_mode, policies::UpdateMode::kSurge);
}

TEST(ResolveStrategy, AMissingRefFallsBackToTheDefaultAndSaysSo) {
  WorkspaceRolloutInput in;
  ResolveStrategy(Workspace({{"rollout", {{"strategyRef", {{"name", "slow"}}}}}}), {}, in);
  EXPECT_EQ(in.strategy_source, "slow (not found: the default strategy applies)");
  EXPECT_EQ(in.strategy.stages.size(), policies::DefaultRolloutStrategy().stages.size());
  EXPECT_EQ(in.strategy.update_mode, policies::DefaultRolloutStrategy().update_mode);
}

// --- OneShapePerMember ---

TEST(OneShapePerMember, KeepsTheLargerShapeAndCountsWhatIsDropped) {
  int dropped = 0;
  auto best = OneShapePerMember(Decision({Alloc("gpu-a", 3, 1, "A100-80GB"),
                                          Alloc("gpu-a", 1, 1, "H100-80GB"), Alloc("gpu-b", 2)},
                                         6),
                                &dropped);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best["gpu-a"].gpu, "A100-80GB");
  EXPECT_EQ(best["gpu-a"].replicas, 3);
  EXPECT_EQ(best["gpu-b"].replicas, 2);
  EXPECT_EQ(dropped, 1);
}

TEST(OneShapePerMember, ALargerSecondShapeReplacesTheFirst) {
  int dropped = 0;
  auto best = OneShapePerMember(
      Decision({Alloc("gpu-a", 1, 1, "H100-80GB"), Alloc("gpu-a", 4, 1, "A100-80GB")}, 5),
      &dropped);
  ASSERT_EQ(best.size(), 1u);
  EXPECT_EQ(best["gpu-a"].gpu, "A100-80GB");
  EXPECT_EQ(best["gpu-a"].replicas, 4);
  EXPECT_EQ(dropped, 1);
}

TEST(OneShapePerMember, NothingDroppedWithOneShapeEach) {
  int dropped = 0;
  auto best = OneShapePerMember(Decision({Alloc("gpu-a", 1), Alloc("gpu-b", 1)}, 2), &dropped);
  EXPECT_EQ(best.size(), 2u);
  EXPECT_EQ(dropped, 0);
}

// --- BuildDesiredWork ---

json InventoriedMember(const std::string& name) {
  return {{"metadata", {{"name", name}}},
          {"spec", {{"region", "eu"}}},
          {"status",
           {{"nodes",
             {{{"name", "n0"},
               {"ready", true},
               {"gpuProduct", "A100-80GB"},
               {"gfdProduct", "NVIDIA-A100-SXM4-80GB"},
               {"memoryGiB", 80},
               {"gpus", 8},
               {"freeGpus", 8}}}}}}};
}

placement::ClusterInventory Inventory(const std::string& name) {
  placement::ClusterInventory c;
  c.name = name;
  c.labels = {{"region", "eu"}};
  placement::GpuNode n;
  n.name = "n0";
  n.gpu_product = "A100-80GB";
  n.memory_gib = 80;
  n.units = 8;
  n.free_units = 8;
  c.nodes.push_back(n);
  return c;
}

// One pass's inputs for Workspaces placed on gpu-a and gpu-b (both healthy, 8 A100 each).
struct Pass {
  std::vector<placement::PlacementDecision> decisions;
  std::vector<placement::PlacementRequest> requests;
  std::vector<json> workspaces;
  std::vector<const json*> objects;
  std::map<std::string, policies::RolloutStrategySpec> strategies;
  placement::FleetSnapshot snapshot;
  std::map<std::string, json> member_objects;
  std::map<std::string, MemberView> members;
  MemberReports reported;
  GpuLedger ledger;

  Pass() {
    for (const char* m : {"gpu-a", "gpu-b"}) {
      member_objects[m] = InventoriedMember(m);
      snapshot.clusters.push_back(Inventory(m));
      ledger.spare[m]["A100-80GB"] = 8;
    }
    for (const auto& kv : member_objects)
      members[kv.first] = MemberView{&kv.second, MemberPhase::kHealthy, kT0};
  }
  Pass(const Pass&) = delete;

  void Add(json workspace, placement::PlacementDecision d) {
    workspaces.push_back(std::move(workspace));
    decisions.push_back(std::move(d));
    placement::PlacementRequest r;
    r.workspace = decisions.back().workspace;
    requests.push_back(r);
  }
  DesiredWork Build(Clock::TimePoint now = kT0) {
    objects.clear();
    for (const auto& w : workspaces) objects.push_back(&w);
    DesiredWorkInput in;
    in.decisions = &decisions;
    in.requests = &requests;
    in.objects = &objects;
    in.strategies = &strategies;
    in.snapshot = &snapshot;
    in.members = &members;
    in.reported = &reported;
    in.now = now;
    return BuildDesiredWork(in, ledger);
  }
};

TEST(BuildDesiredWork, AnEntryPerPlacedMemberWithTheWorkspaceAsOfItsRevision) {
  Pass p;
  p.Add(Workspace({{"status", {{"conditions", json::array()}}}}), Decision({Alloc("gpu-a", 2)}, 2));
  DesiredWork d = p.Build();
  ASSERT_TRUE(d.invalid.empty()) << d.invalid.begin()->second;
  EXPECT_EQ(d.requested[kKey], 2);
  ASSERT_EQ(d.allocations[kKey].size(), 1u);
  EXPECT_EQ(d.allocations[kKey][0].cluster, "gpu-a");
  EXPECT_FALSE(d.split_dropped.count(kKey));
  ASSERT_TRUE(d.rollouts.count(kKey));
  EXPECT_EQ(d.rollouts[kKey].target_revision, 1);
  EXPECT_EQ(d.rollouts[kKey].rollout["strategy"], "default");

  ASSERT_EQ(d.entries.size(), 1u) << "only members that run something";
  const json& e = d.entries.at("gpu-a").at(kKey);
  EXPECT_EQ(e["replicas"], 2);
  EXPECT_EQ(e["revision"], 1);
  EXPECT_EQ(e["workspace"]["metadata"],
            (json{{"name", "llama"}, {"namespace", "default"}, {"uid", "u-1"}, {"generation", 3}}));
  EXPECT_EQ(e["workspace"]["kind"], "Workspace");
  EXPECT_EQ(e["workspace"]["placement"], (json{{"replicas", 2}}));
  EXPECT_EQ(e["workspace"]["inference"]["preset"]["name"], "llama-3.1-8b-instruct")
      << "the model fields of the revision the member runs";
  EXPECT_FALSE(e["workspace"].contains("status")) << "the Work carries no Workspace status";
  EXPECT_EQ(e["gpu"], (json{{"product", "A100-80GB"},
                            {"migProfile", ""},
                            {"gpusPerReplica", 1},
                            {"nodesPerReplica", 1},
                            {"gfdProduct", "NVIDIA-A100-SXM4-80GB"},
                            {"memoryGiB", 80.0},
                            {"gpusPerNode", 8}}));
  EXPECT_TRUE(e["update"].is_object());
  EXPECT_TRUE(e["update"].contains("mode"));
}

TEST(BuildDesiredWork, AMigShapeNamesItsProfileAndNoNodeFacts) {
  Pass p;
  p.Add(Workspace(), Decision({Alloc("gpu-a", 1, 1, "A100-80GB/1g.10gb")}, 1));
  DesiredWork d = p.Build();
  const json& gpu = d.entries.at("gpu-a").at(kKey)["gpu"];
  EXPECT_EQ(gpu["product"], "A100-80GB");
  EXPECT_EQ(gpu["migProfile"], "1g.10gb");
  EXPECT_FALSE(gpu.contains("gfdProduct")) << "the member reports no node of that shape";
}

// The planner's per-member verdict on resource.labelSelector reaches the agent, which leaves
// the selector out where no node carries it.
TEST(BuildDesiredWork, TheLabelSelectorVerdictIsInTheGpuBlock) {
  Pass p;
  json selector = {{"resource", {{"labelSelector", {{"matchLabels", {{"apps", "llama"}}}}}}}};
  placement::Allocation honoured = Alloc("gpu-a", 1);
  honoured.node_selector_honoured = true;
  p.Add(Workspace(selector), Decision({honoured, Alloc("gpu-b", 1)}, 2));
  DesiredWork d = p.Build();
  ASSERT_TRUE(d.invalid.empty()) << d.invalid.begin()->second;
  EXPECT_EQ(d.entries.at("gpu-a").at(kKey)["gpu"]["labelSelector"], "Honoured");
  EXPECT_EQ(d.entries.at("gpu-b").at(kKey)["gpu"]["labelSelector"], "NoMatchingNodes");
  Pass none;
  none.Add(Workspace(), Decision({Alloc("gpu-a", 1)}, 1));
  EXPECT_FALSE(none.Build().entries.at("gpu-a").at(kKey)["gpu"].contains("labelSelector"))
      << "nothing to say without a selector";
}

TEST(BuildDesiredWork, OneShapePerMemberAndTheDroppedReplicasCounted) {
  Pass p;
  p.Add(Workspace(), Decision({Alloc("gpu-a", 2, 1, "A100-80GB"), Alloc("gpu-a", 1, 1, "H100-80GB"),
                               Alloc("gpu-b", 1)},
                              4));
  DesiredWork d = p.Build();
  EXPECT_EQ(d.split_dropped[kKey], 1);
  EXPECT_EQ(d.requested[kKey], 4);
  ASSERT_EQ(d.allocations[kKey].size(), 2u);
  EXPECT_EQ(d.entries.at("gpu-a").at(kKey)["gpu"]["product"], "A100-80GB");
  EXPECT_EQ(d.entries.at("gpu-a").at(kKey)["replicas"], 2);
  EXPECT_EQ(d.entries.at("gpu-b").at(kKey)["replicas"], 1);
}

TEST(BuildDesiredWork, TheStrategyFollowsTheRef) {
  Pass p;
  p.strategies = StrategiesFrom({Strategy("fast", {{"updateMode", "InPlace"}})});
  p.Add(Workspace({{"rollout", {{"strategyRef", {{"name", "fast"}}}}}}),
        Decision({Alloc("gpu-a", 1)}, 1));
  json missing = Workspace({{"rollout", {{"strategyRef", {{"name", "slow"}}}}}});
  missing["metadata"]["name"] = "mistral";
  placement::PlacementDecision md = Decision({Alloc("gpu-b", 1)}, 1);
  md.workspace = "default/mistral";
  p.Add(missing, md);
  DesiredWork d = p.Build();
  EXPECT_EQ(d.rollouts[kKey].rollout["strategy"], "fast");
  EXPECT_EQ(d.entries.at("gpu-a").at(kKey)["update"]["mode"], "InPlace");
  EXPECT_EQ(d.rollouts["default/mistral"].rollout["strategy"],
            "slow (not found: the default strategy applies)");
}

TEST(BuildDesiredWork, ARolloutTheWorkspaceCannotHaveMakesItInvalidAndPlacesNothing) {
  Pass p;
  json bad = Workspace();
  bad["metadata"]["annotations"] = {{"berth.dev/min-driver-version", "not-a-version"}};
  p.Add(bad, Decision({Alloc("gpu-a", 1)}, 1));
  DesiredWork d = p.Build();
  ASSERT_TRUE(d.invalid.count(kKey));
  EXPECT_NE(d.invalid[kKey].find("min-driver-version"), std::string::npos) << d.invalid[kKey];
  EXPECT_FALSE(d.rollouts.count(kKey));
  EXPECT_FALSE(d.allocations.count(kKey));
  EXPECT_TRUE(d.entries.empty());
  EXPECT_EQ(d.requested[kKey], 1) << "what was asked is still known";
}

MemberReport ReadyOn(int64_t revision, int replicas) {
  MemberReport r;
  r.replicas = replicas;
  r.ready = replicas;
  r.available = replicas;
  r.updated = replicas;
  r.revision = revision;
  r.applied = true;
  r.phase = "Ready";
  return r;
}

// llama (2 replicas on gpu-a, surge updates, no pre-pull or soak) deployed at revision 1 and
// Ready there; its image then changes: revision 2 is to roll out.
json UpdatedWorkspace() {
  const json strategy = {{"stages", json::array()},
                         {"restOfFleet", {{"prePull", false}, {"soakSeconds", 0}}},
                         {"updateMode", "Surge"}};
  json ws = Workspace({{"rollout", {{"strategy", strategy}}}});
  ws["inference"]["image"] = "vllm/vllm-openai:v1";
  for (int pass = 0; pass < 2; ++pass) {
    Pass p;
    if (pass == 1) p.reported["gpu-a"][kKey] = ReadyOn(1, 2);
    p.Add(ws, Decision({Alloc("gpu-a", 2)}, 2));
    DesiredWork d = p.Build(kT0 + seconds(10 * pass));
    ws["status"] = {{"revisions", d.rollouts[kKey].revisions},
                    {"rollout", d.rollouts[kKey].rollout}};
  }
  EXPECT_EQ(ws["status"]["rollout"]["phase"], "Completed") << ws["status"].dump();
  ws["inference"]["image"] = "vllm/vllm-openai:v2";
  return ws;
}

TEST(BuildDesiredWork, ASurgeUsesTheLedgersSpareGpusAndHoldsThem) {
  const json ws = UpdatedWorkspace();
  Pass p;
  p.reported["gpu-a"][kKey] = ReadyOn(1, 2);
  p.Add(ws, Decision({Alloc("gpu-a", 2)}, 2));
  DesiredWork d = p.Build(kT0 + seconds(20));
  EXPECT_EQ(d.rollouts[kKey].target_revision, 2);
  const json& e = d.entries.at("gpu-a").at(kKey);
  EXPECT_EQ(e["revision"], 2);
  EXPECT_EQ(e["workspace"]["inference"]["image"], "vllm/vllm-openai:v2");
  EXPECT_EQ(e["update"]["mode"], "Surge");
  EXPECT_EQ(e["update"]["maxSurge"], 2);
  EXPECT_EQ(e["update"]["previousRevision"], 1);
  EXPECT_EQ(p.ledger.Spare("gpu-a", "A100-80GB"), 6) << "the surge holds 2 × 1 GPU";
  EXPECT_EQ(p.ledger.Spare("gpu-b", "A100-80GB"), 8);
}

TEST(BuildDesiredWork, NoSpareGpusNoSurge) {
  const json ws = UpdatedWorkspace();
  Pass p;
  p.ledger.spare["gpu-a"]["A100-80GB"] = 0;
  p.reported["gpu-a"][kKey] = ReadyOn(1, 2);
  p.Add(ws, Decision({Alloc("gpu-a", 2)}, 2));
  DesiredWork d = p.Build(kT0 + seconds(20));
  const json& e = d.entries.at("gpu-a").at(kKey);
  EXPECT_FALSE(e["update"].contains("maxSurge")) << e["update"].dump();
  EXPECT_EQ(p.ledger.Spare("gpu-a", "A100-80GB"), 0);
  EXPECT_EQ(p.ledger.spare["gpu-a"]["A100-80GB"], 0) << "nothing taken";
}

}  // namespace
}  // namespace berth::hub
