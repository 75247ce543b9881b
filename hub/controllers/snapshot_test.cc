#include "hub/controllers/snapshot.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

using nlohmann::json;

TEST(InventoryFromMember, ReadsNodesWithTheirLabels) {
  json member = {{"metadata", {{"name", "gpu-eu-1"}, {"labels", {{"env", "prod"}}}}},
                 {"spec", {{"region", "westeurope"}}},
                 {"status",
                  {{"nodes",
                    {{{"name", "a100-0"}, {"pool", "a100"}, {"gpuProduct", "A100-80GB"}, {"memoryGiB", 80},
                      {"gpus", 4}, {"freeGpus", 3}, {"berthGpus", 1}, {"labels", {{"apps", "phi-4"}, {"n", 1}}}},
                     {{"name", "down"}, {"ready", false}, {"gpus", 4}},
                     {{"name", "l4-0"}, {"gpuProduct", "L4"}, {"gpus", 2}, {"freeGpus", 2}}}}}}};
  auto c = InventoryFromMember(member, true);
  EXPECT_EQ(c.Label("region"), "westeurope");
  ASSERT_EQ(c.nodes.size(), 2u) << "a node that is not ready offers nothing";
  EXPECT_EQ(c.nodes[0].free_units, 4) << "Berth's own GPUs count as free (the ledger reserves them)";
  EXPECT_EQ(c.nodes[0].labels, (std::map<std::string, std::string>{{"apps", "phi-4"}}))
      << "a label that is not a string is not a label";
  EXPECT_TRUE(c.nodes[1].labels.empty());
}

// status.startup (what the sim agent reports) feeds the expected start time; a bad value
// keeps its default, and an agent that reports none gets the defaults.
TEST(InventoryFromMember, ReadsStartupRates) {
  json member = {{"metadata", {{"name", "m"}}},
                 {"status",
                  {{"startup",
                    {{"imagePullMiBps", 1000}, {"weightLoadGiBps", -2}, {"cachedWeightLoadGiBps", "fast"},
                     {"imageSizesGiB", {{"vllm:1", 4}, {"bad", "x"}}}}}}}};
  auto c = InventoryFromMember(member, true);
  EXPECT_EQ(c.startup.image_pull_mib_per_s, 1000);
  EXPECT_EQ(c.startup.weight_load_gib_per_s, 1.0);
  EXPECT_EQ(c.startup.cached_weight_load_gib_per_s, 4.0);
  EXPECT_EQ(c.startup.image_sizes_gib, (std::map<std::string, double>{{"vllm:1", 4}}));
  EXPECT_EQ(InventoryFromMember({{"metadata", {{"name", "m"}}}}, true).startup, placement::StartupRates{});
  // A rate a hostile member makes tiny still gives a finite start time.
  json tiny = {{"metadata", {{"name", "m"}}}, {"status", {{"startup", {{"weightLoadGiBps", 1e-300}}}}}};
  EXPECT_EQ(placement::ExpectedStartSeconds(InventoryFromMember(tiny, true).startup, "i", true, 16, false),
            placement::kMaxStartSeconds);
}

// Node taints as the agent reports them (a kube node's spec.taints, a sim pool's): the
// planner keeps replicas off nodes Berth's pods cannot be scheduled on. Malformed entries
// are skipped, and no node carries more than kMaxNodeTaints.
TEST(InventoryFromMember, ReadsNodeTaintsBounded) {
  json taints = {{{"key", "sku"}, {"value", "gpu"}, {"effect", "NoSchedule"}},
                 {{"key", "drain"}, {"effect", "NoExecute"}},
                 {{"key", "odd"}, {"effect", "Sometimes"}},
                 {{"key", 7}, {"effect", "NoSchedule"}},
                 "not-an-object"};
  json many = json::array();
  for (int i = 0; i < 40; ++i) many.push_back({{"key", "t" + std::to_string(i)}, {"effect", "NoSchedule"}});
  json member = {{"metadata", {{"name", "m"}}},
                 {"status",
                  {{"nodes",
                    {{{"name", "a"}, {"gpuProduct", "L4"}, {"gpus", 1}, {"taints", taints}},
                     {{"name", "b"}, {"gpuProduct", "L4"}, {"gpus", 1}, {"taints", many}}}}}}};
  auto c = InventoryFromMember(member, true);
  ASSERT_EQ(c.nodes.size(), 2u);
  EXPECT_EQ(c.nodes[0].taints,
            (std::vector<placement::Taint>{{"sku", "gpu", policies::TaintEffect::kNoSchedule},
                                           {"drain", "", policies::TaintEffect::kNoExecute}}));
  EXPECT_EQ(c.nodes[1].taints.size(), placement::kMaxNodeTaints);
  EXPECT_TRUE(c.taints.empty()) << "node taints are not the cluster's placement taints";
}

}  // namespace
}  // namespace berth::hub
