#include "member-agent/sim/startup.h"

#include <gtest/gtest.h>


namespace berth::agent::sim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(SimStartupTest, PullThenLoadEachScaledAndInstantForACachedImage) {
  SimSettings settings;
  settings.time_scale = 0.5;
  settings.rates.image_sizes_gib["vllm"] = 5;  // 5 GiB at 250 MiB/s: 20.48 s
  Node node;
  Pod pod;
  pod.image = "vllm";
  pod.weights_gib = 8;
  const Clock::TimePoint t0{};
  StartPull(pod, node, settings, /*model_cached=*/false, t0);
  EXPECT_EQ(pod.pull_done - t0, 10240ms);
  EXPECT_EQ(pod.ready_at - pod.pull_done, 4s);
  node.images.insert("vllm");
  StartPull(pod, node, settings, /*model_cached=*/true, t0);
  EXPECT_EQ(pod.pull_done, t0);
  EXPECT_EQ(pod.ready_at - t0, 1s) << "the cached rate is 4 GiB/s";
  EXPECT_EQ(ImagePullSeconds(settings, {}, "other"), 10 * 1024.0 / 250) << "default size";
}

TEST(SimStartupTest, ContainersWaitForTheirSecretAndTheLoadStartsAfter) {
  Pod pod;
  pod.ns = "models";
  pod.node = "l4-0";
  pod.ready_at = Clock::TimePoint{} + 10s;
  pod.needs = {{"Secret", "hf-token", "inference.modelAccessSecret"}};
  Objects objects;
  CreateContainers(pod, objects, Clock::TimePoint{} + 2s);
  EXPECT_FALSE(pod.created);
  EXPECT_EQ(StartupState(pod, Clock::TimePoint{} + 2s).reason, "CreateContainerConfigError");
  EXPECT_EQ(pod.config_error, "secret \"hf-token\" not found");
  objects[ObjectKey{"v1", "Secret", "models", "hf-token"}] = json::object();
  CreateContainers(pod, objects, Clock::TimePoint{} + 5s);
  EXPECT_TRUE(pod.created);
  EXPECT_EQ(pod.ready_at, Clock::TimePoint{} + 13s) << "3 s waited for the Secret";
  EXPECT_FALSE(PodReady(pod, Clock::TimePoint{} + 12s));
  EXPECT_TRUE(PodReady(pod, Clock::TimePoint{} + 13s));
  EXPECT_TRUE(StartupState(pod, Clock::TimePoint{} + 13s).ready);
}

}  // namespace
}  // namespace berth::agent::sim
