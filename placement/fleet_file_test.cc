#include "placement/fleet_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::placement {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;

// The field paths an invalid fleet names (empty for a valid one).
std::vector<std::string> BadFields(const StatusOr<FleetSnapshot>& fleet) {
  std::vector<std::string> fields;
  if (!fleet.ok()) {
    for (const auto& c : fleet.status().causes()) fields.push_back(c.field);
  }
  return fields;
}

// A cluster's `sim:` block is its startup rates for the planner too; bad values name the field.
TEST(FleetFile, SimBlockGivesTheStartupRates) {
  auto fleet = ParseFleet(nlohmann::json::parse(R"({"clusters": [
      {"name": "a", "region": "r", "sim": {"imagePullMiBps": 500, "imageSizesGiB": {"vllm:1": 5},
                                           "weightLoadGiBps": 2}},
      {"name": "b", "region": "r"}]})"));
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  const StartupRates& a = fleet->clusters[0].startup;
  EXPECT_EQ(a.image_pull_mib_per_s, 500);
  EXPECT_EQ(a.cached_weight_load_gib_per_s, 4.0) << "unset keeps the default";
  // vllm:1 is 5 GiB at 500 MiB/s (10.24 s), then 16 GiB at 2 GiB/s (8 s); cached: nothing to pull.
  EXPECT_DOUBLE_EQ(ExpectedStartSeconds(a, "vllm:1", false, 16, false), 18.24);
  EXPECT_DOUBLE_EQ(ExpectedStartSeconds(a, "vllm:1", true, 16, true), 4);
  // Unknown image: the default 10 GiB.
  EXPECT_DOUBLE_EQ(ExpectedStartSeconds(fleet->clusters[1].startup, "other", false, 0, false), 40.96);
  auto bad = ParseFleet(nlohmann::json::parse(R"({"clusters": [{"name": "a", "region": "r",
      "sim": {"imagePullMiBps": 0, "imageSizesGiB": {"x": -1}, "weightLoadGiBps": "fast"}}]})"));
  EXPECT_THAT(BadFields(bad), IsSupersetOf({"clusters[0].sim.imagePullMiBps", "clusters[0].sim.imageSizesGiB.x",
                                            "clusters[0].sim.weightLoadGiBps"}));
}

constexpr const char* kFleet = R"(
kind: Fleet
regionLatencies:
  - {from: eastus, to: westeurope, ms: 85}
clusters:
  - name: onprem
    region: eastus
    provider: onprem
    labels: {env: prod}
    taints: [{key: maintenance, value: "true", effect: NoExecute}]
    prices: {A100-80GB: 0}
    cached: {images: [vllm:0.6], models: [phi-4]}
    nodePools:
      - name: a100
        gpu: NVIDIA-A100-SXM4-80GB
        gpusPerNode: 8
        count: 3
        usedPerNode: [8, 2]
        driverVersion: "470.82.01"
        cudaVersion: 11.4
      - name: mig
        gpu: A100-80GB
        gpusPerNode: 2
        count: 1
        mig: {profile: 3g.40gb, slicesPerGpu: 2}
        labels: {apps: phi-4, tier: 2}
)";

TEST(FleetFile, ExpandsPoolsIntoNodesWithCatalogDefaults) {
  auto fleet = ParseFleetYaml(kFleet);
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  ASSERT_EQ(fleet->clusters.size(), 1u);
  const auto& c = fleet->clusters[0];
  EXPECT_EQ(c.region(), "eastus");
  EXPECT_EQ(c.Label("provider"), "onprem");
  EXPECT_EQ(c.Label("env"), "prod");
  ASSERT_EQ(c.nodes.size(), 4u);
  EXPECT_EQ(c.nodes[0].name, "a100-0");
  EXPECT_EQ(c.nodes[0].gpu_product, "A100-80GB");  // GFD label resolved to the catalog name
  EXPECT_DOUBLE_EQ(c.nodes[0].memory_gib, 80);
  EXPECT_EQ(c.nodes[0].free_units, 0);
  EXPECT_EQ(c.nodes[1].free_units, 6);
  EXPECT_EQ(c.nodes[2].free_units, 8);
  EXPECT_EQ(c.nodes[0].cuda_version.ToString(), "11.4");
  EXPECT_EQ(c.nodes[3].mig_profile, "3g.40gb");
  EXPECT_EQ(c.nodes[3].units, 4);
  EXPECT_DOUBLE_EQ(c.nodes[3].memory_gib, 40);
  EXPECT_EQ(c.nodes[3].labels, (std::map<std::string, std::string>{{"apps", "phi-4"}, {"tier", "2"}}));
  EXPECT_TRUE(c.nodes[0].labels.empty());
  EXPECT_EQ(c.taints[0].effect, policies::TaintEffect::kNoExecute);
  EXPECT_TRUE(c.cached_models.count("phi-4"));
  ASSERT_EQ(fleet->latencies.size(), 1u);
  EXPECT_DOUBLE_EQ(fleet->latencies[0].ms, 85);
}

TEST(FleetFile, NamesEveryBadField) {
  auto fleet = ParseFleetYaml(R"(
clusters:
  - name: a
    prices: {A100-80GB: -1}
    nodePools:
      - {name: p, gpu: Mystery-GPU, gpusPerNode: 0, usedPerNode: 9}
  - name: a
    region: x
)");
  ASSERT_FALSE(fleet.ok());
  std::vector<std::string> fields;
  for (const auto& c : fleet.status().causes()) fields.push_back(c.field);
  EXPECT_THAT(fields, Contains("clusters[0].region"));
  EXPECT_THAT(fields, Contains("clusters[0].prices.A100-80GB"));
  EXPECT_THAT(fields, Contains("clusters[0].nodePools[0].memoryGiB"));
  EXPECT_THAT(fields, Contains("clusters[0].nodePools[0].gpusPerNode"));
  EXPECT_THAT(fields, Contains("clusters[1].name"));
}

// Found by fuzz/fuzz_fleet_file: a numeric pool name threw. It reads as its text, like
// every other string field of the file, and duplicates are still found.
TEST(FleetFile, NumericPoolNameReadsAsText) {
  const std::string head = "clusters:\n  - name: a\n    region: r\n    prices: {A100-80GB: 2}\n    nodePools:\n";
  EXPECT_TRUE(ParseFleetYaml(head + "      - {name: 7, gpu: A100-80GB}\n").ok());
  auto dup = ParseFleetYaml(head + "      - {name: 7, gpu: A100-80GB}\n      - {name: \"7\", gpu: A100-80GB}\n");
  ASSERT_FALSE(dup.ok());
  std::vector<std::string> fields;
  for (const auto& c : dup.status().causes()) fields.push_back(c.field);
  EXPECT_THAT(fields, Contains("clusters[0].nodePools[1].name"));
}

// Node taints are Kubernetes' own: per pool, on every node of it; an effect is required and
// the key must be a label key.
TEST(FleetFile, PoolTaintsGoOnEveryNodeOfThePool) {
  const std::string head = "clusters:\n  - name: a\n    region: r\n    prices: {A100-80GB: 2}\n    nodePools:\n";
  auto fleet = ParseFleetYaml(head + R"(
      - name: gpu
        gpu: A100-80GB
        count: 2
        taints:
          - {key: sku, value: gpu, effect: NoSchedule}
          - {key: example.com/drain, effect: NoExecute}
      - {name: plain, gpu: A100-80GB}
)");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  const auto& nodes = fleet->clusters[0].nodes;
  ASSERT_EQ(nodes.size(), 3u);
  const std::vector<Taint> want = {{"sku", "gpu", policies::TaintEffect::kNoSchedule},
                                   {"example.com/drain", "", policies::TaintEffect::kNoExecute}};
  EXPECT_EQ(nodes[0].taints, want);
  EXPECT_EQ(nodes[1].taints, want);
  EXPECT_TRUE(nodes[2].taints.empty());
  EXPECT_TRUE(fleet->clusters[0].taints.empty()) << "pool taints are not cluster taints";

  auto bad = ParseFleetYaml(head + R"(
      - name: gpu
        gpu: A100-80GB
        taints: [{value: x, effect: NoSchedule}, {key: "bad key", effect: NoSchedule}, {key: k}, {key: k, effect: Sometimes}, 7]
      - {name: other, gpu: A100-80GB, taints: {key: k}}
)");
  EXPECT_THAT(BadFields(bad), IsSupersetOf({"clusters[0].nodePools[0].taints[0].key",
                                             "clusters[0].nodePools[0].taints[1].key",
                                             "clusters[0].nodePools[0].taints[2].effect",
                                             "clusters[0].nodePools[0].taints[3].effect",
                                             "clusters[0].nodePools[0].taints[4]",
                                             "clusters[0].nodePools[1].taints"}));
}

TEST(FleetFile, YamlSyntaxErrorNamesTheLine) {
  auto fleet = ParseFleetYaml("clusters: [a, b");
  ASSERT_FALSE(fleet.ok());
  EXPECT_NE(fleet.status().message().find("line"), std::string::npos);
}

}  // namespace
}  // namespace berth::placement
