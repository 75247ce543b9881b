#include "member-agent/prepull.h"

#include <gtest/gtest.h>

#include "member-agent/backend.h"

namespace berth::agent {
namespace {

using nlohmann::json;

TEST(PrePullTest, ParsesTheEntryAndRequiresAnImage) {
  auto none = ParsePrePull(json());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto spec =
      ParsePrePull({{"revision", 5}, {"image", "img:1"}, {"model", "llama-3.1-8b-instruct"}});
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(**spec, (PrePullSpec{5, "img:1", "llama-3.1-8b-instruct"}));
  auto bad = ParsePrePull({{"revision", 5}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().causes()[0].field, "prePull.image");
}

TEST(PrePullTest, DaemonSetRunsTheImageOnNodesOfTheShapeAndNeverJoinsTheServices) {
  json gpu = {{"product", "L4"}, {"gfdProduct", "NVIDIA-L4"}, {"gpusPerNode", 1}};
  auto ds = RenderPrePullDaemonSet("phi", "models", {5, "img:1", "llama-3.1-8b-instruct"}, gpu);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ((*ds)["kind"], "DaemonSet");
  EXPECT_EQ((*ds)["metadata"]["name"], "berth-prepull-phi");
  EXPECT_EQ((*ds)["metadata"]["labels"][kManagedByLabel], "berth");
  EXPECT_EQ((*ds)["metadata"]["labels"][kWorkspaceLabel], "phi");  // pruned with the workspace
  EXPECT_EQ((*ds)["metadata"]["labels"][kRevisionLabel], "5");
  EXPECT_EQ((*ds)["metadata"]["annotations"][kModelAnnotation], "llama-3.1-8b-instruct");
  const json& pod = (*ds)["spec"]["template"];
  EXPECT_FALSE(pod["metadata"]["labels"].contains(kWorkspaceLabel));
  EXPECT_EQ(pod["metadata"]["labels"], (json{{kManagedByLabel, "berth"}, {kPrePullLabel, "phi"}}));
  EXPECT_EQ((*ds)["spec"]["selector"]["matchLabels"], (json{{kPrePullLabel, "phi"}}));
  EXPECT_EQ(pod["spec"]["nodeSelector"], (json{{"nvidia.com/gpu.product", "NVIDIA-L4"}}));
  EXPECT_EQ(pod["spec"]["initContainers"][0]["image"], "img:1");
  EXPECT_EQ(pod["spec"]["initContainers"][0]["command"], (json{"/bin/sh", "-c", "true"}));
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], kPauseImage);
  EXPECT_EQ(pod["spec"]["tolerations"][0]["key"], "nvidia.com/gpu");
  // No GPU is requested: pre-pulling never takes GPUs from serving replicas.
  EXPECT_EQ(pod.dump().find("nvidia.com/gpu\":"), std::string::npos);
}

TEST(PrePullTest, MigShapesMatchBothGfdNamingsAndTheProductComesFromTheCatalog) {
  json gpu = {{"product", "A100-80GB"}, {"migProfile", "3g.40gb"}};
  auto ds = RenderPrePullDaemonSet("phi", "models", {5, "img:1", ""}, gpu);
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  const json values = (*ds)["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
                           ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                           [0]["matchExpressions"][0]["values"];
  EXPECT_EQ(values, (json{"NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"}));
  EXPECT_FALSE(
      RenderPrePullDaemonSet("phi", "models", {5, "img:1", ""}, {{"product", "Nope"}}).ok());
}

}  // namespace
}  // namespace berth::agent
