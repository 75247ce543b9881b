#include "member-agent/inventory.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

using nlohmann::json;

json GpuNode(const std::string& name, json allocatable, json extra_labels = json::object(),
             bool ready = true) {
  json labels = {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"},
                 {"nvidia.com/gpu.memory", "81920"},
                 {"nvidia.com/gpu.count", "4"},
                 {"nvidia.com/cuda.driver.major", "550"},
                 {"nvidia.com/cuda.driver.minor", "54"},
                 {"nvidia.com/cuda.driver.rev", "15"},
                 {"nvidia.com/cuda.runtime.major", "12"},
                 {"nvidia.com/cuda.runtime.minor", "4"},
                 {"agentpool", "gpu"}};
  labels.update(extra_labels);
  return {{"metadata", {{"name", name}, {"labels", labels}}},
          {"status",
           {{"allocatable", allocatable},
            {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

json Pod(const std::string& node, json requests, const std::string& phase = "Running",
         json init = nullptr) {
  json pod = {
      {"spec",
       {{"nodeName", node},
        {"containers",
         {{{"name", "c"}, {"resources", {{"requests", requests}, {"limits", requests}}}}}}}},
      {"status", {{"phase", phase}}}};
  if (!init.is_null()) {
    pod["spec"]["initContainers"] = {{{"name", "i"}, {"resources", {{"limits", init}}}}};
  }
  return pod;
}

TEST(InventoryTest, FreeGpusAreAllocatableMinusRequestsOfLivePods) {
  json nodes = json::array({GpuNode("n1", {{"cpu", "96"}, {"nvidia.com/gpu", "4"}})});
  json pods = json::array({
      Pod("n1", {{"nvidia.com/gpu", "2"}}),
      Pod("n1", {{"nvidia.com/gpu", "1"}}, "Succeeded"),  // terminated: holds nothing
      Pod("n1", {{"nvidia.com/gpu", "1"}}, "Pending"),    // bound, not started: holds
      Pod("other", {{"nvidia.com/gpu", "4"}}), Pod("", {{"nvidia.com/gpu", "4"}}),  // unscheduled
  });
  GpuInventory inv = ComputeInventory(nodes, pods);
  ASSERT_EQ(inv.nodes.size(), 1u);
  const auto& n = inv.nodes[0];
  EXPECT_EQ(n.gpus, 4);
  EXPECT_EQ(n.free_gpus, 1);
  EXPECT_EQ(n.gpu_product, "A100-80GB");
  EXPECT_EQ(n.gfd_product, "NVIDIA-A100-SXM4-80GB");
  EXPECT_DOUBLE_EQ(n.memory_gib, 80);
  EXPECT_EQ(n.driver_version, "550.54.15");
  EXPECT_EQ(n.cuda_version, "12.4");
  EXPECT_EQ(n.pool, "gpu");
  EXPECT_EQ(inv.total_gpus(), 4);
  EXPECT_EQ(inv.free_gpus(), 1);
}

TEST(InventoryTest, MigSlicesCountPerProfile) {
  json node = GpuNode("mig", {{"nvidia.com/mig-3g.40gb", "8"}, {"nvidia.com/mig-1g.10gb", "0"}},
                      {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"},
                       {"nvidia.com/mig.config", "all-3g.40gb"}});
  json pods = json::array({Pod("mig", {{"nvidia.com/mig-3g.40gb", "1"}}),
                           Pod("mig", {{"nvidia.com/mig-3g.40gb", "2"}})});
  GpuInventory inv = ComputeInventory(json::array({node}), pods);
  ASSERT_EQ(inv.nodes.size(), 1u);  // a profile with 0 allocatable is not listed
  const auto& n = inv.nodes[0];
  EXPECT_EQ(n.mig_profile, "3g.40gb");
  EXPECT_EQ(n.gfd_product, "NVIDIA-A100-SXM4-80GB");
  EXPECT_EQ(n.gpu_product, "A100-80GB");
  EXPECT_EQ(n.gpus, 8);
  EXPECT_EQ(n.slices_per_gpu, 2);
  EXPECT_EQ(n.free_gpus, 5);
  EXPECT_DOUBLE_EQ(n.memory_gib, 40);
  EXPECT_EQ(inv.total_gpus(), 4);
  EXPECT_EQ(inv.free_gpus(), 2);  // 5 free slices = 2 whole GPUs' worth
}

TEST(InventoryTest, InitContainersAndLimitsOnlyCount) {
  json pod = Pod("n1", json::object(), "Running", {{"nvidia.com/gpu", "3"}});
  pod["spec"]["containers"][0]["resources"] = {{"limits", {{"nvidia.com/gpu", 1}}}};
  auto req = PodGpuRequests(pod);
  EXPECT_EQ(req["nvidia.com/gpu"], 3);  // max(sum of containers 1, init 3)
  GpuInventory inv =
      ComputeInventory(json::array({GpuNode("n1", {{"nvidia.com/gpu", "4"}})}), json::array({pod}));
  EXPECT_EQ(inv.nodes[0].free_gpus, 1);
}

TEST(InventoryTest, NotReadyOrCordonedNodesOfferNothing) {
  json down = GpuNode("down", {{"nvidia.com/gpu", "8"}}, json::object(), /*ready=*/false);
  json cordoned = GpuNode("cordoned", {{"nvidia.com/gpu", "8"}});
  cordoned["spec"]["unschedulable"] = true;
  json cpu_only = {{"metadata", {{"name", "cpu"}}}, {"status", {{"allocatable", {{"cpu", "8"}}}}}};
  GpuInventory inv = ComputeInventory(json::array({down, cordoned, cpu_only}), json::array());
  ASSERT_EQ(inv.nodes.size(), 2u);
  for (const auto& n : inv.nodes) {
    EXPECT_FALSE(n.ready);
    EXPECT_EQ(n.free_gpus, 0);
    EXPECT_EQ(n.gpus, 8);
  }
}

// A workspace's resource.labelSelector (KAITO's `apps: phi-4`) is planned against these.
TEST(InventoryTest, NodesReportTheirOwnLabelsNotKubernetesOrNvidiaOnes) {
  json node = GpuNode("a100-0", {{"nvidia.com/gpu", "4"}},
                      {{"apps", "phi-4"},
                       {"kubernetes.io/hostname", "a100-0"},
                       {"node.kubernetes.io/instance-type", "Standard_NC96ads_A100_v4"},
                       {"topology.kubernetes.io/zone", "eastus-1"},
                       {"kubernetes.azure.com/agentpool", "gpu"},
                       {"feature.node.kubernetes.io/pci-10de.present", "true"},
                       {"notkubernetes.io/keep", "yes"}});
  auto labels = ReportedNodeLabels(node);
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"agentpool", "gpu"},
                                                         {"apps", "phi-4"},
                                                         {"kubernetes.azure.com/agentpool", "gpu"},
                                                         {"notkubernetes.io/keep", "yes"}}));
  GpuInventory inv;
  NodeInventory n;
  n.name = "a100-0";
  n.gpus = 4;
  n.labels = labels;
  inv.nodes.push_back(n);
  EXPECT_EQ(InventoryStatusJson(inv, "0.1.0", "kube", false)["nodes"][0]["labels"]["apps"], "phi-4");
  json many = GpuNode("big", {{"nvidia.com/gpu", "1"}});
  for (int i = 0; i < 100; ++i) many["metadata"]["labels"]["team-" + std::to_string(i)] = "x";
  EXPECT_EQ(ReportedNodeLabels(many).size(), 64u) << "bounded";
}

// A kube node's spec.taints are reported as they are (bounded), so the hub plans only with
// nodes Berth's pods tolerate.
TEST(InventoryTest, NodesReportTheirTaints) {
  json node = GpuNode("a100-0", {{"nvidia.com/gpu", "4"}});
  node["spec"]["taints"] = {
      {{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}},
      {{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}, {"timeAdded", "2026-01-01T00:00:00Z"}},
      {{"key", "bad"}, {"effect", "Maybe"}}};
  auto inv = ComputeInventory(json::array({node}), json::array());
  ASSERT_EQ(inv.nodes.size(), 1u);
  const std::vector<placement::Taint> want = {
      {"sku", "gpu", policies::TaintEffect::kNoSchedule},
      {"node.kubernetes.io/unreachable", "", policies::TaintEffect::kNoExecute}};
  EXPECT_EQ(inv.nodes[0].taints, want);
  json status = InventoryStatusJson(inv, "0.1.0", "kube", false);
  EXPECT_EQ(status["nodes"][0]["taints"],
            json::parse(R"([{"key": "sku", "value": "gpu", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])"));
  for (int i = 0; i < 40; ++i) node["spec"]["taints"].push_back({{"key", "t" + std::to_string(i)}, {"effect", "NoSchedule"}});
  EXPECT_EQ(ReportedNodeTaints(node).size(), placement::kMaxNodeTaints) << "bounded";
}

TEST(InventoryTest, StatusJsonHasTheContractShape) {
  GpuInventory inv;
  inv.nodes.push_back({"h100-0", "h100", true, "H100-80GB", "NVIDIA-H100-80GB-HBM3", 80, 8, 6, 2, "",
                       1, "550.54.15", "12.4"});
  inv.prices_per_gpu_hour["H100-80GB"] = 6.98;
  json s = InventoryStatusJson(inv, "0.1.0", "kube", false);
  EXPECT_EQ(s["gpus"], (json{{"total", 8}, {"free", 6}}));
  EXPECT_EQ(s["nodes"][0]["freeGpus"], 6);
  EXPECT_EQ(s["nodes"][0]["berthGpus"], 2);
  EXPECT_EQ(s["simulated"], false);
  EXPECT_FALSE(s.contains("conditions"));  // the hub owns conditions
  EXPECT_FALSE(s.contains("startup")) << "not known: the hub assumes the defaults";
  inv.startup = placement::StartupRates{};
  inv.startup->image_pull_mib_per_s = 500;
  inv.startup->image_sizes_gib["vllm:1"] = 5;
  s = InventoryStatusJson(inv, "0.1.0", "sim", true);
  EXPECT_EQ(s["startup"], (json{{"imagePullMiBps", 500}, {"defaultImageGiB", 10}, {"weightLoadGiBps", 1},
                                {"cachedWeightLoadGiBps", 4}, {"imageSizesGiB", {{"vllm:1", 5}}}}));
  EXPECT_EQ(placement::ParseStartupRates(s["startup"], "status.startup", {}, nullptr), *inv.startup)
      << "what the agent writes, the hub reads back";
}

}  // namespace
}  // namespace berth::agent
