#include "member-agent/sim/scheduling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "member-agent/hub_api.h"
#include "member-agent/readiness.h"
#include "member-agent/sim/sim_cluster.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"
#include "placement/taints.h"
#include "workspace/renderer.h"
#include "workspace/workspace_types.h"

namespace berth::agent {
namespace {

using nlohmann::json;
using sim::ChooseNode;
using sim::FreeUnits;
using sim::MatchesNodeSelectorTerms;
using sim::Node;
using sim::NodeFromFleet;
using sim::NodeTakesPod;
using sim::PendingPodState;
using sim::Pod;
using sim::Pods;
using sim::UnschedulableMessage;
using sim::UsedUnits;

// A fleet file pool's labels are its nodes' labels: the simulated scheduler matches a
// workspace's resource.labelSelector against them, and the inventory reports them.
TEST(SimLabelsTest, PoolLabelsAreNodeLabelsTheSchedulerMatches) {
  FakeClock clock;
  auto sim = SimCluster::FromFleetYaml(R"(
kind: Fleet
clusters:
  - name: c
    region: r
    prices: {L4: 1}
    nodePools:
      - {name: plain, gpu: L4, gpusPerNode: 2, count: 1}
      - {name: phi, gpu: L4, gpusPerNode: 2, count: 1, labels: {apps: phi-4}}
)", "c", {}, &clock);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  json object = testing::WorkspaceObject("phi", "phi-4-mini-instruct");
  object["resource"]["labelSelector"] = {{"matchLabels", {{"apps", "phi-4"}}}};
  auto ws = workspace::ParseWorkspace(object);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  workspace::ClusterAssignment a;
  a.revision = 1;
  a.replicas = 3;
  a.shape.product = "L4";
  a.shape.gpus_per_node = 1;
  a.gfd_product = "NVIDIA-L4";
  auto rendered = workspace::RenderWorkspace(*ws, a);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  for (const auto& obj : rendered->objects) ASSERT_TRUE((*sim)->Apply(obj).ok());
  auto inv = (*sim)->ReadInventory();
  ASSERT_TRUE(inv.ok());
  int free_plain = -1, free_phi = -1;
  for (const auto& n : inv->nodes) {
    if (n.pool == "plain") free_plain = n.free_gpus;
    if (n.pool == "phi") {
      free_phi = n.free_gpus;
      EXPECT_EQ(n.labels.at("apps"), "phi-4");
    }
  }
  EXPECT_EQ(free_phi, 0) << "two replicas on the labelled node";
  EXPECT_EQ(free_plain, 2) << "the unlabelled node takes none, though it has room";
  // The third is Pending, and says why in the scheduler's words.
  auto w = (*sim)->ReadWorkload("models", "phi");
  ASSERT_TRUE(w.ok());
  auto r = SummarizeWorkload("phi", *w, 3, 1);
  EXPECT_EQ(r.reason, "InsufficientGPU");
  EXPECT_NE(r.message.find("0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match "
                           "Pod's node affinity/selector"),
            std::string::npos)
      << r.message;
  // A selector no node carries (rendered anyway): Unschedulable, naming the affinity.
  object["metadata"]["name"] = "nowhere";
  object["resource"]["labelSelector"] = {{"matchLabels", {{"apps", "nowhere"}}}};
  auto other = workspace::ParseWorkspace(object);
  ASSERT_TRUE(other.ok());
  a.replicas = 1;
  auto r2 = workspace::RenderWorkspace(*other, a);
  ASSERT_TRUE(r2.ok());
  for (const auto& obj : r2->objects) ASSERT_TRUE((*sim)->Apply(obj).ok());
  auto w2 = (*sim)->ReadWorkload("models", "nowhere");
  ASSERT_TRUE(w2.ok());
  auto s2 = SummarizeWorkload("nowhere", *w2, 1, 1);
  EXPECT_EQ(s2.reason, "Unschedulable");
  EXPECT_NE(s2.message.find("2 node(s) didn't match Pod's node affinity/selector"), std::string::npos) << s2.message;
}

// Node taints, as kube-scheduler's TaintToleration applies them: a pod lands on a node only
// if it tolerates every NoSchedule and NoExecute taint there; PreferNoSchedule never keeps
// it off. Berth's pods tolerate nvidia.com/gpu (Exists) and sku=gpu (NoSchedule).
constexpr char kTaintedFleet[] = R"(
kind: Fleet
clusters:
  - name: c
    region: r
    prices: {L4: 1, T4: 1}
    nodePools:
      - {name: dedicated, gpu: L4, gpusPerNode: 2, taints: [{key: dedicated, value: inference, effect: NoSchedule}]}
      - {name: sku, gpu: L4, gpusPerNode: 1, taints: [{key: sku, value: gpu, effect: NoSchedule}]}
      - {name: soft, gpu: L4, gpusPerNode: 1, taints: [{key: spot, value: "true", effect: PreferNoSchedule}]}
      - {name: t4, gpu: T4, gpusPerNode: 2}
  - name: drained
    region: r
    prices: {L4: 1, T4: 1}
    nodePools:
      - {name: l4, gpu: L4, gpusPerNode: 2, taints: [{key: nvidia.com/gpu, value: present, effect: NoSchedule}, {key: drain, effect: NoExecute}]}
      - {name: t4, gpu: T4, gpusPerNode: 2}
)";

WorkspaceReadiness DeployL4(SimCluster& sim, const std::string& name, int replicas) {
  auto ws = workspace::ParseWorkspace(testing::WorkspaceObject(name, "phi-4-mini-instruct"));
  EXPECT_TRUE(ws.ok()) << ws.status().ToString();
  workspace::ClusterAssignment a;
  a.replicas = replicas;
  a.shape.product = "L4";
  a.shape.gpus_per_node = 1;
  a.gfd_product = "NVIDIA-L4";
  auto rendered = workspace::RenderWorkspace(*ws, a);
  EXPECT_TRUE(rendered.ok()) << rendered.status().ToString();
  for (const auto& obj : rendered->objects) EXPECT_TRUE(sim.Apply(obj).ok());
  auto w = sim.ReadWorkload("models", name);
  EXPECT_TRUE(w.ok());
  return SummarizeWorkload(name, *w, replicas, 1);
}

std::map<std::string, int> BerthGpusByNode(SimCluster& sim) {
  std::map<std::string, int> out;
  auto inv = sim.ReadInventory();
  EXPECT_TRUE(inv.ok());
  for (const auto& n : inv->nodes) out[n.name] = n.berth_gpus;
  return out;
}

TEST(SimTaintsTest, PodsLandOnlyOnNodesWhoseTaintsTheyTolerate) {
  FakeClock clock;
  auto sim = SimCluster::FromFleetYaml(kTaintedFleet, "c", {}, &clock);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  DeployL4(**sim, "phi", 2);
  // sku=gpu is tolerated and spot is only a preference; dedicated=inference is not tolerated.
  EXPECT_EQ(BerthGpusByNode(**sim),
            (std::map<std::string, int>{{"dedicated-0", 0}, {"sku-0", 1}, {"soft-0", 1}, {"t4-0", 0}}));
  // A third replica finds the tolerated nodes full, the free L4s behind a taint, the T4s
  // of another product: kube-scheduler's words, sorted as it sorts them.
  auto r = DeployL4(**sim, "more", 1);
  EXPECT_EQ(r.phase, "Pending");
  EXPECT_EQ(r.reason, "InsufficientGPU") << "freeing a GPU on sku-0 or soft-0 would schedule it";
  EXPECT_NE(r.message.find("0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                           "1 node(s) had untolerated taint {dedicated: inference}, 2 Insufficient nvidia.com/gpu"),
            std::string::npos)
      << r.message;
  // The inventory reports each node's taints, as a kube node's spec.taints.
  auto inv = (*sim)->ReadInventory();
  ASSERT_TRUE(inv.ok());
  json status = InventoryStatusJson(*inv, kAgentVersion, (*sim)->name(), true);
  EXPECT_EQ(status["nodes"][0]["taints"],
            json::parse(R"([{"key": "dedicated", "value": "inference", "effect": "NoSchedule"}])"));
  EXPECT_FALSE(status["nodes"][3].contains("taints"));
}

TEST(SimTaintsTest, OnlyTaintsKeepingAPodOffEveryNodeIsUnschedulableNamingTheTaint) {
  FakeClock clock;
  auto sim = SimCluster::FromFleetYaml(kTaintedFleet, "drained", {}, &clock);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  // nvidia.com/gpu=present is tolerated (Exists); drain:NoExecute is not, so the L4 node,
  // with free GPUs, is refused for its taint and the reason is not a GPU shortage.
  auto r = DeployL4(**sim, "phi", 1);
  EXPECT_EQ(r.phase, "Pending");
  EXPECT_EQ(r.reason, "Unschedulable");
  EXPECT_NE(r.message.find("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                           "1 node(s) had untolerated taint {drain: }"),
            std::string::npos)
      << r.message;
  EXPECT_EQ(BerthGpusByNode(**sim)["l4-0"], 0);
}

// The toleration rules the sim's scheduler applies (Kubernetes' Toleration semantics).
TEST(SimTaintsTest, TolerationMatchingFollowsKubernetes) {
  using policies::TaintEffect;
  const placement::Taint dedicated{"dedicated", "inference", TaintEffect::kNoSchedule};
  const placement::Taint drain{"drain", "", TaintEffect::kNoExecute};
  const placement::Taint soft{"spot", "true", TaintEffect::kPreferNoSchedule};
  auto admits = [&](const char* tolerations, std::vector<placement::Taint> taints) {
    return placement::FirstUntoleratedTaint(taints, placement::ParsePodTolerations(json::parse(tolerations))) ==
           nullptr;
  };
  EXPECT_TRUE(admits("[]", {soft})) << "PreferNoSchedule is only a preference";
  EXPECT_FALSE(admits("[]", {dedicated}));
  EXPECT_TRUE(admits(R"([{"key": "dedicated", "value": "inference", "effect": "NoSchedule"}])", {dedicated}))
      << "operator defaults to Equal";
  EXPECT_FALSE(admits(R"([{"key": "dedicated", "operator": "Equal", "value": "training"}])", {dedicated}));
  EXPECT_TRUE(admits(R"([{"key": "dedicated", "operator": "Exists"}])", {dedicated}))
      << "Exists ignores the value; an empty effect matches every effect";
  EXPECT_FALSE(admits(R"([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])", {dedicated}));
  EXPECT_TRUE(admits(R"([{"operator": "Exists"}])", {dedicated, drain})) << "empty key with Exists tolerates all";
  EXPECT_FALSE(admits(R"([{"key": "dedicated", "operator": "Exists"}])", {dedicated, drain}))
      << "every NoSchedule and NoExecute taint must be tolerated";
  EXPECT_FALSE(admits(R"([{"key": "dedicated", "operator": "Sometimes"}])", {dedicated}));
}


// --- the scheduler's decisions alone, on hand-built nodes and pods ---

Node L4Node(const std::string& name, int gpus, int free) {
  placement::GpuNode spec;
  spec.name = name;
  spec.pool = "l4";
  spec.gpu_product = "L4";
  spec.units = gpus;
  spec.free_units = free;
  return NodeFromFleet(spec, {});
}

Pod GpuPod(const std::string& name, int gpus, const std::string& node = "") {
  Pod pod;
  pod.ns = "models";
  pod.name = name;
  pod.statefulset = "phi";
  pod.resource = "nvidia.com/gpu";
  pod.units = gpus;
  pod.node = node;
  return pod;
}

TEST(SimSchedulingTest, FleetNodesCarryTheLabelsTheSchedulerMatches) {
  Node node = L4Node("l4-0", 4, 3);
  EXPECT_EQ(node.labels.at("nvidia.com/gpu.product"), "NVIDIA-L4");
  EXPECT_EQ(node.labels.at("kubernetes.io/hostname"), "l4-0");
  EXPECT_EQ(node.labels.at("berth.dev/pool"), "l4");
  EXPECT_EQ(node.resource, "nvidia.com/gpu");
  EXPECT_EQ(node.other_used, 1) << "usedPerNode is held by other workloads";
}

TEST(SimSchedulingTest, BestFitTakesTheNodeWithFewestFreeUnits) {
  std::vector<Node> nodes = {L4Node("big", 8, 8), L4Node("small", 2, 2)};
  Pods pods;
  pods["models/phi-0"] = GpuPod("phi-0", 2);
  const Node* node = ChooseNode(nodes, pods["models/phi-0"], pods);
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->spec.name, "small");
  pods["models/phi-0"].node = "small";
  EXPECT_EQ(FreeUnits(nodes[1], pods), 0);
  EXPECT_EQ(UsedUnits(nodes[1], pods), 2);
}

TEST(SimSchedulingTest, AntiAffinityKeepsSiblingsOnSeparateNodes) {
  std::vector<Node> nodes = {L4Node("a", 4, 4), L4Node("b", 4, 4)};
  Pods pods;
  pods["models/phi-0"] = GpuPod("phi-0", 1, "a");
  Pod second = GpuPod("phi-1", 1);
  second.anti_affinity = true;
  EXPECT_FALSE(NodeTakesPod(nodes[0], second, pods));
  EXPECT_EQ(ChooseNode(nodes, second, pods)->spec.name, "b");
  nodes[1].down = true;
  EXPECT_EQ(ChooseNode(nodes, second, pods), nullptr);
  EXPECT_EQ(UnschedulableMessage(nodes, second, pods),
            "0/2 nodes are available: 1 node(s) didn't match pod anti-affinity rules, "
            "1 node(s) were not ready (simulated cluster)");
}

TEST(SimSchedulingTest, PendingPodIsInsufficientGpuOnlyForAShortage) {
  std::vector<Node> nodes = {L4Node("a", 1, 1)};
  Pods pods;
  Pod pod = GpuPod("phi-0", 2);
  const std::string message = UnschedulableMessage(nodes, pod, pods);
  EXPECT_EQ(message, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu (simulated cluster)");
  EXPECT_EQ(PendingPodState(pod, message).reason, "InsufficientGPU");
  pod.node_affinity_terms = json::parse(R"([{"matchExpressions":
      [{"key": "berth.dev/pool", "operator": "In", "values": ["h100"]}]}])");
  EXPECT_EQ(PendingPodState(pod, UnschedulableMessage(nodes, pod, pods)).reason, "Unschedulable");
  pod.displaced = "NodeLost";
  PodState lost = PendingPodState(pod, message);
  EXPECT_EQ(lost.reason, "NodeLost");
  EXPECT_EQ(lost.message.rfind("its node went down; 0/1", 0), 0u) << lost.message;
}

TEST(SimSchedulingTest, NodeAffinityOperators) {
  const std::map<std::string, std::string> labels = {{"pool", "l4"}};
  auto term = [](const char* expr) {
    return json::array({{{"matchExpressions", json::array({json::parse(expr)})}}});
  };
  EXPECT_TRUE(MatchesNodeSelectorTerms(labels, json::array())) << "no terms: any node";
  EXPECT_TRUE(MatchesNodeSelectorTerms(labels, term(R"({"key": "pool", "operator": "In", "values": ["l4"]})")));
  EXPECT_FALSE(MatchesNodeSelectorTerms(labels, term(R"({"key": "pool", "operator": "NotIn", "values": ["l4"]})")));
  EXPECT_TRUE(MatchesNodeSelectorTerms(labels, term(R"({"key": "pool", "operator": "Exists"})")));
  EXPECT_TRUE(MatchesNodeSelectorTerms(labels, term(R"({"key": "zone", "operator": "DoesNotExist"})")));
  EXPECT_FALSE(MatchesNodeSelectorTerms(labels, term(R"({"key": "pool", "operator": "Gt"})")));
}

}  // namespace
}  // namespace berth::agent
