// Unit tests of the planner's invariants; behaviour per rule is covered by the scenario
// files under tests/placement/scenarios/.
#include "placement/planner.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "placement/fleet_file.h"
#include "placement/sizing.h"

namespace berth::placement {
namespace {

FleetSnapshot TwoClusters() {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: cheap
    region: eastus
    prices: {A100-80GB: 2}
    nodePools: [{name: a, gpu: A100-80GB, gpusPerNode: 8, count: 2, usedPerNode: [5, 0]}]
  - name: dear
    region: westus
    prices: {A100-80GB: 4}
    nodePools: [{name: a, gpu: A100-80GB, gpusPerNode: 8, count: 1}]
)");
  EXPECT_TRUE(fleet.ok()) << fleet.status().ToString();
  return *fleet;
}

PlacementRequest Request(std::string name, int replicas, int gpus) {
  PlacementRequest r;
  r.workspace = std::move(name);
  r.replicas = replicas;
  r.sizer = FixedSizer({{"A100-80GB", {gpus, 1}}});
  auto policy = std::make_shared<policies::PlacementPolicySpec>();
  policy->scoring.weights = {0, 1, 0, 0, 0};
  r.policy = policy;
  return r;
}

TEST(Planner, UsesPerNodeFreeGpusNotClusterTotals) {
  auto planner = Planner::Create(TwoClusters());
  ASSERT_TRUE(planner.ok());
  // cheap has 3 + 8 = 11 free GPUs, but node a-0 has only 3: just node a-1 takes 4-GPU
  // replicas (two of them); the third goes to the dearer cluster.
  auto d = planner->Decide(Request("ns/a", 3, 4));
  EXPECT_EQ(d.placed, 3);
  ASSERT_EQ(d.allocations.size(), 2u);
  EXPECT_EQ(d.allocations[0].cluster, "cheap");
  EXPECT_EQ(d.allocations[0].replicas, 2);
  EXPECT_EQ(d.allocations[1].cluster, "dear");
  EXPECT_EQ(d.allocations[1].replicas, 1);
  EXPECT_DOUBLE_EQ(d.cost_per_hour(), 2 * 4 * 2 + 4 * 4);
}

// KAITO's resource.labelSelector: honoured in a cluster whose nodes carry the labels (only
// those nodes count), and where no node does, any node with the GPUs serves (KAITO's
// provisioner would have created and labelled them).
TEST(Planner, NodeSelectorIsHonouredWhereNodesCarryTheLabels) {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: byo
    region: eastus
    prices: {A100-80GB: 2}
    nodePools:
      - {name: plain, gpu: A100-80GB, gpusPerNode: 8, count: 1}
      - {name: phi, gpu: A100-80GB, gpusPerNode: 8, count: 1, usedPerNode: 6, labels: {apps: phi-4}}
  - name: provisioned
    region: westus
    prices: {A100-80GB: 4}
    nodePools: [{name: a, gpu: A100-80GB, gpusPerNode: 8, count: 1}]
)");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok());
  PlacementRequest r = Request("ns/phi", 3, 2);
  r.node_selector.match_labels["apps"] = "phi-4";
  auto d = planner->Decide(r);
  EXPECT_EQ(d.placed, 3);
  ASSERT_EQ(d.allocations.size(), 2u);
  // byo is cheaper, but only its labelled node counts there: 2 free GPUs, one replica.
  EXPECT_EQ(d.allocations[0].cluster, "byo");
  EXPECT_EQ(d.allocations[0].replicas, 1);
  EXPECT_TRUE(d.allocations[0].node_selector_honoured);
  EXPECT_EQ(d.allocations[1].cluster, "provisioned");
  EXPECT_EQ(d.allocations[1].replicas, 2);
  EXPECT_FALSE(d.allocations[1].node_selector_honoured) << "no node there carries apps=phi-4";
  // Without the selector, byo's plain node takes them all.
  auto plain = planner->Decide(Request("ns/any", 3, 2));
  ASSERT_EQ(plain.allocations.size(), 1u);
  EXPECT_EQ(plain.allocations[0].cluster, "byo");
}

// The pods Berth renders tolerate nvidia.com/gpu (Exists) and sku=gpu, both NoSchedule
// (workspace::RenderedPodTolerations): a pool tainted otherwise takes no replica, as the
// member's scheduler would refuse its nodes; PreferNoSchedule never keeps a replica off.
TEST(Planner, PoolsWhoseNodeTaintsThePodsDoNotTolerateTakeNoReplica) {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: aks
    region: eastus
    prices: {A100-80GB: 2}
    nodePools:
      - {name: dedicated, gpu: A100-80GB, gpusPerNode: 8, taints: [{key: dedicated, value: inference, effect: NoSchedule}]}
      - {name: sku, gpu: A100-80GB, gpusPerNode: 2, taints: [{key: sku, value: gpu, effect: NoSchedule}]}
  - name: gke
    region: eastus
    prices: {A100-80GB: 3}
    nodePools:
      - name: gpu
        gpu: A100-80GB
        gpusPerNode: 8
        taints:
          - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
          - {key: spot, effect: PreferNoSchedule}
  - name: drained
    region: eastus
    prices: {A100-80GB: 1}
    nodePools:
      - {name: a, gpu: A100-80GB, gpusPerNode: 8, taints: [{key: drain, effect: NoExecute}]}
      - {name: b, gpu: A100-80GB, gpusPerNode: 8, taints: [{key: sku, value: cpu, effect: NoSchedule}]}
)");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok());
  auto d = planner->Decide(Request("ns/a", 3, 2), {.explain = true});
  // aks: only the sku=gpu pool (2 GPUs, one replica), never the 8-GPU dedicated one;
  // gke takes the rest; drained, the cheapest, takes none.
  std::map<std::string, int> placed;
  for (const auto& a : d.allocations) placed[a.cluster] += a.replicas;
  EXPECT_EQ(placed, (std::map<std::string, int>{{"aks", 1}, {"gke", 2}}));
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].reason, RejectReason::kNodeTaintsNotTolerated);
  EXPECT_EQ(RejectReasonName(d.rejections[0].reason), "NodeTaintsNotTolerated");
  EXPECT_EQ(d.rejections[0].message,
            "nodes of pool a carry taint drain:NoExecute; nodes of pool b carry taint "
            "sku=cpu:NoSchedule, which Berth's pods do not tolerate (their tolerations: "
            "docs/WORKSPACE.md)");
  for (const auto& r : planner->new_reservations()) {
    EXPECT_NE(r.node, "dedicated-0") << "a replica on a node its pods cannot be scheduled on";
  }
}

// A tainted pool is reported only when it is the furthest a cluster got: a pool of a
// product the policy refuses does not hide it, and the message names only tainted pools.
TEST(Planner, NodeTaintRejectionNamesOnlyTheTaintedPool) {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: c
    region: eastus
    prices: {A100-80GB: 2, L4: 1}
    nodePools:
      - {name: a100, gpu: A100-80GB, gpusPerNode: 8, taints: [{key: team, value: research, effect: NoSchedule}]}
      - {name: l4, gpu: L4, gpusPerNode: 8}
)");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok());
  PlacementRequest r = Request("ns/a", 1, 2);
  r.gpu_products = {"A100-80GB"};
  auto d = planner->Decide(r, {.explain = true});
  EXPECT_EQ(d.placed, 0);
  ASSERT_EQ(d.rejections.size(), 1u);
  EXPECT_EQ(d.rejections[0].reason, RejectReason::kNodeTaintsNotTolerated);
  EXPECT_EQ(d.rejections[0].message.find("l4"), std::string::npos) << d.rejections[0].message;
  EXPECT_NE(d.rejections[0].message.find("team=research:NoSchedule"), std::string::npos);
}

// Was: with no member at all, the Scheduled condition and its Event had an empty message.
TEST(Planner, AnEmptyFleetSaysNoMemberHasJoined) {
  auto planner = Planner::Create(FleetSnapshot{});
  ASSERT_TRUE(planner.ok());
  auto d = planner->Decide(Request("ns/a", 1, 1));
  EXPECT_EQ(d.placed, 0);
  EXPECT_EQ(d.unplaced_reason, "NoFeasibleCluster");
  EXPECT_NE(d.unplaced_message.find("no member cluster has joined"), std::string::npos) << d.unplaced_message;
}

TEST(Planner, AvoidedClusterTakesNewReplicasOnlyAsLastResort) {
  // cheap wins on cost, but the request avoids it: new replicas go to dear first; what dear
  // cannot hold still lands on cheap. Replicas kept on cheap stay.
  {
    auto planner = Planner::Create(TwoClusters());
    ASSERT_TRUE(planner.ok());
    auto r = Request("ns/a", 2, 4);
    r.avoid = {"cheap"};
    auto d = planner->Decide(r);
    EXPECT_EQ(d.placed, 2);
    ASSERT_EQ(d.allocations.size(), 1u);
    EXPECT_EQ(d.allocations[0].cluster, "dear");
  }
  {
    auto planner = Planner::Create(TwoClusters());
    ASSERT_TRUE(planner.ok());
    auto r = Request("ns/a", 4, 4);
    r.avoid = {"cheap"};
    r.current = {{"cheap", 1}};
    auto d = planner->Decide(r);
    EXPECT_EQ(d.placed, 4);
    std::map<std::string, std::pair<int, int>> by;  // cluster → (replicas, kept)
    for (const auto& a : d.allocations) {
      by[a.cluster].first += a.replicas;
      by[a.cluster].second += a.kept;
    }
    EXPECT_EQ(by["dear"].first, 2);   // dear's one node holds two 4-GPU replicas
    EXPECT_EQ(by["cheap"].first, 2);  // the kept one, plus the one nothing else could hold
    EXPECT_EQ(by["cheap"].second, 1);
  }
}

// A replica running on a dearer shape because the cheap pool was full stays on that shape:
// moving it to the cheapest pool on paper would replace its pod (and find no room there).
TEST(Planner, KeptReplicasStayOnTheGpuShapeTheyRunOn) {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: gke
    region: westus
    prices: {T4: 0.35, L4: 0.71}
    nodePools:
      - {name: t4, gpu: T4, gpusPerNode: 2, count: 1, usedPerNode: 2}
      - {name: l4, gpu: L4, gpusPerNode: 1, count: 2, usedPerNode: 1}
)");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok());
  PlacementRequest r;
  r.workspace = "ns/llama";
  r.replicas = 2;
  r.sizer = FixedSizer({{"T4", {2, 1}}, {"L4", {1, 1}}});
  r.current = {{"gke", 2}};
  r.current_gpus = {{"gke", {{"T4", 1}, {"L4", 1}}}};
  auto d = planner->Decide(r);
  EXPECT_EQ(d.placed, 2);
  std::map<std::string, int> by_gpu;
  for (const auto& a : d.allocations) {
    by_gpu[a.gpu] += a.replicas;
    EXPECT_EQ(a.kept, a.replicas) << a.gpu;
  }
  EXPECT_EQ(by_gpu, (std::map<std::string, int>{{"L4", 1}, {"T4", 1}}));

  // Without the shape the hub knows only the count: both sit on the cheapest pool (the old
  // behaviour, kept for replicas whose status predates the gpu field).
  r.current_gpus.clear();
  auto planner2 = Planner::Create(*fleet);
  auto d2 = planner2->Decide(r);
  ASSERT_EQ(d2.allocations.size(), 1u);
  EXPECT_EQ(d2.allocations[0].gpu, "T4");

  // Scale-in keeps the cheaper shape and lets the dearer replica go.
  r.current_gpus = {{"gke", {{"T4", 1}, {"L4", 1}}}};
  r.replicas = 1;
  auto planner3 = Planner::Create(*fleet);
  auto d3 = planner3->Decide(r);
  ASSERT_EQ(d3.allocations.size(), 1u);
  EXPECT_EQ(d3.allocations[0].gpu, "T4");
  EXPECT_EQ(d3.allocations[0].replicas, 1);

  // A shape whose pool is gone (here: no longer an allowed product) falls back to the cheapest.
  r.replicas = 2;
  r.gpu_products = {"T4"};
  auto planner4 = Planner::Create(*fleet);
  auto d4 = planner4->Decide(r);
  ASSERT_EQ(d4.allocations.size(), 1u);
  EXPECT_EQ(d4.allocations[0].gpu, "T4");
  EXPECT_EQ(d4.allocations[0].replicas, 2);
}

TEST(Planner, LedgerPreventsOvercommitAcrossDecisions) {
  auto planner = Planner::Create(TwoClusters());
  ASSERT_TRUE(planner.ok());
  int placed = 0;
  for (int i = 0; i < 10; ++i)
    placed += planner->Decide(Request("ns/w" + std::to_string(i), 1, 2)).placed;
  // Node capacities in 2-GPU slots: 3/2=1, 8/2=4, 8/2=4.
  EXPECT_EQ(placed, 9);
  EXPECT_EQ(planner->FreeUnits("cheap", "a-0"), 1);
  EXPECT_EQ(planner->FreeUnits("dear", "a-0"), 0);
  int reserved = 0;
  for (const auto& r : planner->new_reservations()) reserved += r.units;
  EXPECT_EQ(reserved, 18);
}

TEST(Planner, BatchPlacesBiggestReplicasFirst) {
  auto planner = Planner::Create(TwoClusters());
  ASSERT_TRUE(planner.ok());
  // In request order the small ones would take the 8-GPU nodes' space first and leave the
  // 8-GPU replica nowhere; the batch orders big first.
  std::vector<PlacementRequest> reqs = {Request("ns/small1", 1, 4), Request("ns/small2", 1, 4),
                                        Request("ns/big", 1, 8)};
  auto ds = planner->PlanBatch(reqs);
  EXPECT_EQ(ds[2].placed, 1);
  EXPECT_EQ(ds[0].placed + ds[1].placed, 2);
  EXPECT_EQ(ds[2].allocations[0].cluster, "cheap");
}

TEST(Planner, ExplainCapsListedRejectionsAndCountsTheRest) {
  std::string yaml = "clusters:\n";
  for (int i = 0; i < 30; ++i) {
    yaml += "  - {name: c" + std::to_string(100 + i) +
            ", region: r, health: Unhealthy, prices: {T4: 1}, "
            "nodePools: [{name: t, gpu: T4, gpusPerNode: 1, count: 1}]}\n";
  }
  auto fleet = ParseFleetYaml(yaml);
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok());
  auto d = planner->Decide(Request("ns/a", 1, 1), {.explain = true});
  EXPECT_EQ(d.placed, 0);
  EXPECT_EQ(d.unplaced_reason, "NoFeasibleCluster");
  auto j = planner->ExplainJson(d, {.max_scores = 5, .max_rejections = 4});
  EXPECT_EQ(j["rejected"].size(), 4u);
  EXPECT_EQ(j["rejected"][0]["cluster"], "c100");
  EXPECT_EQ(j["rejectedOmitted"]["ClusterUnhealthy"], 26);
  EXPECT_LT(j.dump().size(), 2000u);
}

TEST(Planner, ReservationThatOvercommitsIsInvalid) {
  auto fleet = TwoClusters();
  fleet.reservations.push_back({"ns/x", "cheap", "a-0", 4});
  auto planner = Planner::Create(fleet);
  ASSERT_FALSE(planner.ok());
  EXPECT_EQ(planner.status().causes()[0].field, "reservations[0].gpus");
}

TEST(Planner, PlanJsonHasTheDocumentedShape) {
  auto planner = Planner::Create(TwoClusters());
  ASSERT_TRUE(planner.ok());
  auto ds = planner->PlanBatch({Request("ns/a", 1, 2), Request("ns/b", 1, 16)});
  auto j = PlanToJson(ds);
  ASSERT_EQ(j["placements"].size(), 1u);
  EXPECT_EQ(j["placements"][0]["workspace"], "ns/a");
  EXPECT_EQ(j["placements"][0]["gpu"], "A100-80GB");
  EXPECT_EQ(j["placements"][0]["gpusPerReplica"], 2);
  EXPECT_DOUBLE_EQ(j["placements"][0]["costPerHour"].get<double>(), 4.0);
  ASSERT_EQ(j["unplaced"].size(), 1u);
  EXPECT_EQ(j["unplaced"][0]["reason"], "NoFeasibleCluster");
  EXPECT_DOUBLE_EQ(j["totalCostPerHour"].get<double>(), 4.0);
}

// The relocation chain of scenario 43: four 1-GPU L4 nodes (1.0/h), one A100 (1.2/h), one
// H100 (5.0/h); x1..x3 and m take the L4s, b is decided last.
FleetSnapshot ChainFleet() {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - {name: l4, region: eastus, prices: {L4: 1.0}, nodePools: [{name: l, gpu: L4, gpusPerNode: 1, count: 4}]}
  - {name: a100, region: eastus, prices: {A100-80GB: 1.2}, nodePools: [{name: a, gpu: A100-80GB, gpusPerNode: 1, count: 1}]}
  - {name: h100, region: eastus, prices: {H100-80GB: 5.0}, nodePools: [{name: h, gpu: H100-80GB, gpusPerNode: 1, count: 1}]}
)");
  EXPECT_TRUE(fleet.ok()) << fleet.status().ToString();
  return *fleet;
}

std::vector<PlacementRequest> ChainRequests() {
  auto cost_only = std::make_shared<policies::PlacementPolicySpec>();
  cost_only->scoring.weights = {0, 1, 0, 0, 0};
  auto req = [&](std::string name, std::string second) {
    PlacementRequest r;
    r.workspace = std::move(name);
    r.sizer = FixedSizer({{"L4", {1, 1}}, {second, {1, 1}}});
    r.policy = cost_only;
    return r;
  };
  return {req("ns/x1", "H100-80GB"), req("ns/x2", "H100-80GB"), req("ns/x3", "H100-80GB"),
          req("ns/y-m", "A100-80GB"), req("ns/z-b", "H100-80GB")};
}

double Total(const std::vector<PlacementDecision>& ds) {
  double t = 0;
  for (const auto& d : ds) t += d.cost_per_hour();
  return t;
}

TEST(Planner, CostRelocationBeatsGreedyAndKeepsLedgerAndExplanationConsistent) {
  auto greedy = Planner::Create(ChainFleet());
  ASSERT_TRUE(greedy.ok());
  auto plain = greedy->PlanBatch(ChainRequests(), {.explain = true, .improve_cost = false});
  EXPECT_NEAR(Total(plain), 9.0, 1e-9);  // b on the H100

  auto planner = Planner::Create(ChainFleet());
  ASSERT_TRUE(planner.ok());
  auto ds = planner->PlanBatch(ChainRequests(), {.explain = true});
  EXPECT_NEAR(Total(ds), 5.2, 1e-9);
  for (const auto& d : ds) EXPECT_EQ(d.placed, 1) << d.workspace;
  ASSERT_EQ(ds[4].allocations.size(), 1u);
  EXPECT_EQ(ds[4].allocations[0].cluster, "l4");
  EXPECT_EQ(ds[3].allocations[0].cluster, "a100");

  // The ledger and the reservations agree with the final allocations.
  EXPECT_EQ(planner->FreeUnits("h100", "h-0"), 1);
  EXPECT_EQ(planner->FreeUnits("a100", "a-0"), 0);
  std::map<std::string, int> reserved;
  for (const auto& r : planner->new_reservations())
    reserved[r.workspace + "@" + r.cluster] += r.units;
  EXPECT_EQ(reserved["ns/z-b@l4"], 1);
  EXPECT_EQ(reserved["ns/y-m@a100"], 1);
  EXPECT_EQ(reserved.count("ns/z-b@h100"), 0u);
  EXPECT_EQ(reserved.count("ns/y-m@l4"), 0u);

  // b's explanation: l4 was full when b was decided; now it holds b's replica, so it is
  // listed with that replica and no longer rejected.
  auto j = planner->ExplainJson(ds[4], {.max_scores = 5, .max_rejections = 10});
  int listed = 0;
  for (const auto& s : j["scores"]) {
    listed += s["replicas"].get<int>();
    if (s["cluster"] == "l4") {
      EXPECT_EQ(s["replicas"], 1);
    }
    if (s["cluster"] == "h100") {
      EXPECT_EQ(s["replicas"], 0);
    }
  }
  EXPECT_EQ(listed, 1);
  for (const auto& r : j["rejected"]) EXPECT_NE(r["cluster"], "l4");
}

TEST(Planner, CostRelocationLeavesRunningReplicasWhereTheyAre) {
  auto planner = Planner::Create(ChainFleet());
  ASSERT_TRUE(planner.ok());
  auto reqs = ChainRequests();
  reqs[4].current = {{"h100", 1}};  // b already runs on the H100: sticky, not new
  auto ds = planner->PlanBatch(reqs);
  ASSERT_EQ(ds[4].allocations.size(), 1u);
  EXPECT_EQ(ds[4].allocations[0].cluster, "h100");
  EXPECT_EQ(ds[4].allocations[0].kept, 1);
  EXPECT_EQ(ds[3].allocations[0].cluster, "l4");  // nothing to gain by moving m
}

// Issue #23: a big model takes the cheap L4 node first (4 × 0.8 < 2 × 3.0) and the small
// replicas then pay for A100s. No single move fixes it — a small replica frees one A100,
// the big one needs two — but deciding the small replicas first does: they take the L4s,
// the big one two A100s.
FleetSnapshot TightFleet(int l4_nodes, int l4_used_on_first) {
  std::string used = std::to_string(l4_used_on_first);
  for (int n = 1; n < l4_nodes; ++n) used += ", 0";
  auto fleet = ParseFleetYaml(
      "clusters:\n"
      "  - {name: l4, region: eastus, prices: {L4: 0.8}, nodePools: [{name: l, gpu: L4, "
      "gpusPerNode: 4, count: " + std::to_string(l4_nodes) + ", usedPerNode: [" + used + "]}]}\n"
      "  - {name: a100, region: eastus, prices: {A100-80GB: 3.0}, nodePools: [{name: a, "
      "gpu: A100-80GB, gpusPerNode: 4, count: 1}]}\n");
  EXPECT_TRUE(fleet.ok()) << fleet.status().ToString();
  return *fleet;
}

std::vector<PlacementRequest> TightRequests() {
  auto cost_only = std::make_shared<policies::PlacementPolicySpec>();
  cost_only->scoring.weights = {0, 1, 0, 0, 0};
  auto req = [&](std::string name, int replicas, int l4, int a100) {
    PlacementRequest r;
    r.workspace = std::move(name);
    r.replicas = replicas;
    r.sizer = FixedSizer({{"L4", {l4, 1}}, {"A100-80GB", {a100, 1}}});
    r.policy = cost_only;
    return r;
  };
  return {req("ns/small-a", 2, 1, 1), req("ns/small-b", 2, 1, 1), req("ns/big", 1, 4, 2)};
}

TEST(Planner, SmallFirstPlanBeatsGreedyOrderWhenModelsCompeteForCheapGpus) {
  auto greedy = Planner::Create(TightFleet(1, 0));
  ASSERT_TRUE(greedy.ok());
  auto plain = greedy->PlanBatch(TightRequests(), {.improve_cost = false});
  EXPECT_NEAR(Total(plain), 3.2 + 4 * 3.0, 1e-9);  // big on the L4 node, smalls on A100s

  auto planner = Planner::Create(TightFleet(1, 0));
  ASSERT_TRUE(planner.ok());
  auto ds = planner->PlanBatch(TightRequests(), {.explain = true});
  EXPECT_NEAR(Total(ds), 4 * 0.8 + 2 * 3.0, 1e-9);
  for (const auto& d : ds) EXPECT_EQ(d.placed, d.requested) << d.workspace;
  ASSERT_EQ(ds[2].allocations.size(), 1u);
  EXPECT_EQ(ds[2].allocations[0].cluster, "a100");
  EXPECT_EQ(ds[0].allocations[0].cluster, "l4");
  EXPECT_EQ(ds[1].allocations[0].cluster, "l4");
  // The ledger and reservations are those of the plan returned, and so are explanations.
  EXPECT_EQ(planner->FreeUnits("l4", "l-0"), 0);
  EXPECT_EQ(planner->FreeUnits("a100", "a-0"), 2);
  std::map<std::string, int> reserved;
  for (const auto& r : planner->new_reservations()) reserved[r.workspace + "@" + r.cluster] += r.units;
  EXPECT_EQ(reserved, (std::map<std::string, int>{
                          {"ns/small-a@l4", 2}, {"ns/small-b@l4", 2}, {"ns/big@a100", 2}}));
  auto j = planner->ExplainJson(ds[2], {.max_scores = 5, .max_rejections = 10});
  for (const auto& sc : j["scores"]) {
    EXPECT_EQ(sc["replicas"], sc["cluster"] == "a100" ? 1 : 0) << j.dump();
  }
  for (const auto& r : j["rejected"]) EXPECT_NE(r["cluster"], "a100") << j.dump();
}

TEST(Planner, SmallFirstPlanLeavesRunningReplicasWhereTheyAre) {
  // big already runs one replica on the first L4 node (its 4 GPUs are in use); its second,
  // new replica competes with the smalls for the free L4 node. The cheaper plan moves only
  // the new replica; the running one stays on l4.
  auto planner = Planner::Create(TightFleet(2, 4));
  ASSERT_TRUE(planner.ok());
  auto reqs = TightRequests();
  reqs[2].replicas = 2;
  reqs[2].current = {{"l4", 1}};
  auto ds = planner->PlanBatch(reqs);
  for (const auto& d : ds) EXPECT_EQ(d.placed, d.requested) << d.workspace;
  std::map<std::string, std::pair<int, int>> big;  // cluster → (replicas, kept)
  for (const auto& a : ds[2].allocations) {
    big[a.cluster].first += a.replicas;
    big[a.cluster].second += a.kept;
  }
  EXPECT_EQ(big["l4"], std::make_pair(1, 1));
  EXPECT_EQ(big["a100"], std::make_pair(1, 0));
  EXPECT_EQ(ds[0].allocations[0].cluster, "l4");
  EXPECT_EQ(ds[1].allocations[0].cluster, "l4");
  EXPECT_EQ(planner->FreeUnits("l4", "l-0"), 0);
}

}  // namespace
}  // namespace berth::placement
