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

TEST(PrePullTest, PhaseIsDoneWhenEveryNodeOfTheShapeHasPulledFailedWhenOneCannot) {
  const PrePullSpec spec{5, "img:2", "llama-3.1-8b-instruct"};
  auto summarize = [&](PrePullState s) { return SummarizePrePull("phi", spec, s); };
  PrePullState s;
  EXPECT_EQ(summarize(s).phase, "Pulling");
  EXPECT_EQ(summarize(s).reason, "PrePullPending");  // no DaemonSet yet
  EXPECT_EQ(summarize(s).revision, 5);
  s.found = true;
  s.image = "img:1";
  s.desired_nodes = 2;
  s.done_nodes = 2;
  EXPECT_EQ(summarize(s).phase, "Pulling");  // done, but for the previous image
  EXPECT_EQ(summarize(s).reason, "PrePullPending");
  s.image = "img:2";
  s.done_nodes = 1;
  PrePullReport r = summarize(s);
  EXPECT_EQ(r.phase, "Pulling");
  EXPECT_EQ(r.reason, "");
  EXPECT_NE(r.message.find("1/2"), std::string::npos) << r.message;
  s.done_nodes = 2;
  r = summarize(s);
  EXPECT_EQ(r.phase, "Done");
  EXPECT_EQ(r.ToJson(),
            (json{{"revision", 5},
                  {"phase", "Done"},
                  {"reason", ""},
                  {"message", "pre-pull of img:2 done on 2/2 node(s) of the GPU shape"}}));
  // One node failing beats the others being done.
  s.failed_nodes = 1;
  s.reason = "ErrImagePull";
  s.message = "pod berth-prepull-phi-x on n1: manifest unknown";
  r = summarize(s);
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(r.reason, "ErrImagePull");
  EXPECT_NE(r.message.find("manifest unknown"), std::string::npos) << r.message;
  // Nothing to pull on: waiting, not done.
  s = {true, "img:2", 0, 0, 0, "", ""};
  EXPECT_EQ(summarize(s).phase, "Pulling");
  EXPECT_EQ(summarize(s).reason, "NoMatchingNodes");
  s.desired_nodes.reset();  // the DaemonSet controller has not caught up
  EXPECT_EQ(summarize(s).reason, "PrePullPending");
}

}  // namespace
}  // namespace berth::agent
