#include "member-agent/sim/prepull_daemonsets.h"

#include <gtest/gtest.h>

#include "member-agent/sim/scheduling.h"

namespace berth::agent::sim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Node FleetNode(const std::string& name, const std::string& product) {
  placement::GpuNode spec;
  spec.name = name;
  spec.pool = name;
  spec.gpu_product = product;
  spec.units = 1;
  spec.free_units = 1;
  return NodeFromFleet(spec, {});
}

TEST(SimPrePullTest, RunsOnReadyNodesItsSelectorMatches) {
  json ds = json::parse(R"({"spec": {"template": {"spec": {
      "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-L4"},
      "initContainers": [{"name": "pull", "image": "vllm"}],
      "containers": [{"name": "pause", "image": "pause"}]}}}})");
  std::vector<Node> nodes = {FleetNode("a", "L4"), FleetNode("b", "T4"), FleetNode("c", "L4")};
  nodes[2].down = true;
  EXPECT_EQ(NodesOfDaemonSet(nodes, ds), std::vector<size_t>{0});
  EXPECT_EQ(PrePullImage(ds), "vllm");
  ds["spec"]["template"]["spec"].erase("initContainers");
  EXPECT_EQ(PrePullImage(ds), "pause") << "without an init container, the first container's";
}

TEST(SimPrePullTest, ProgressCountsDoneAndFailingNodes) {
  SimSettings settings;
  settings.rates.image_sizes_gib["vllm"] = 0.25;  // 1.024 s at 250 MiB/s
  Node node = FleetNode("a", "L4");
  PrePulls pulls;
  PrePull& a = pulls["a"] = PrePull{"DaemonSet models/p", "a", "vllm", "phi"};
  StartPrePull(a, node, settings, /*weights_gib=*/2, /*model_cached=*/false, Clock::TimePoint{});
  EXPECT_EQ(a.weights_done - a.image_done, 2s);
  EXPECT_EQ(PrePullPhase(a, Clock::TimePoint{} + 1s), "ImagePulling");
  EXPECT_EQ(PrePullPhase(a, Clock::TimePoint{} + 2s), "DownloadingWeights");
  PrePull& b = pulls["b"] = PrePull{"DaemonSet models/p", "b", "vllm", "phi"};
  b.pull_failed = true;
  PrePullState s = PrePullProgress("DaemonSet models/p", "vllm", pulls, Clock::TimePoint{} + 4s);
  EXPECT_TRUE(s.found);
  EXPECT_EQ(s.desired_nodes, 2);
  EXPECT_EQ(s.done_nodes, 1);
  EXPECT_EQ(s.failed_nodes, 1);
  EXPECT_EQ(s.reason, "ImagePullBackOff");
  EXPECT_EQ(s.message, "pulling image vllm on b failed (simulated fault)");
}

}  // namespace
}  // namespace berth::agent::sim
