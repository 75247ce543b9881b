#include "workspace/renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/yaml_json.h"

namespace berth::workspace {
using api::JsonToYaml;
using api::JsonToYamlDocuments;
using api::YamlDocumentsToJson;
using api::YamlToJson;
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

Workspace Ws(const std::string& preset, const std::string& extra = "") {
  auto obj = YamlToJson(
      "apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: ws, namespace: ns}\n"
      "inference:\n  preset: {name: " +
      preset + ", revision: r1}\n" + extra);
  EXPECT_TRUE(obj.ok());
  auto ws = ParseWorkspace(*obj);
  EXPECT_TRUE(ws.ok()) << ws.status().ToString();
  return *ws;
}

const json* Find(const std::vector<json>& objs, const std::string& kind, const std::string& name) {
  for (const auto& o : objs) {
    if (o["kind"] == kind && o["metadata"]["name"] == name) return &o;
  }
  return nullptr;
}

std::vector<std::string> Args(const json& sts) {
  return sts["spec"]["template"]["spec"]["containers"][0]["args"].get<std::vector<std::string>>();
}

TEST(RendererTest, SingleNodeReplicasShareOneStatefulSet) {
  auto r = RenderWorkspace(Ws("llama-3.3-70b-instruct"),
                           {3, GpuShape{"A100-80GB", 0, 8, ""}, "", 5, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->objects.size(), 4u);
  const json* sts = Find(r->objects, "StatefulSet", "ws");
  ASSERT_NE(sts, nullptr);
  EXPECT_EQ((*sts)["spec"]["replicas"], 3);
  EXPECT_EQ((*sts)["spec"]["serviceName"], "ws-headless");
  EXPECT_EQ((*sts)["spec"]["podManagementPolicy"], "Parallel");
  EXPECT_EQ((*sts)["metadata"]["namespace"], "ns");
  EXPECT_FALSE((*sts)["spec"]["selector"]["matchLabels"].contains("berth.dev/revision"));
  EXPECT_EQ((*sts)["spec"]["template"]["metadata"]["labels"]["berth.dev/revision"], "5");
  const json& c = (*sts)["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "4");
  EXPECT_EQ(c["resources"]["requests"], c["resources"]["limits"]);
  auto args = Args(*sts);
  EXPECT_THAT(args, Contains("--model=meta-llama/Llama-3.3-70B-Instruct"));
  EXPECT_THAT(args, Contains("--revision=r1"));
  EXPECT_THAT(args, Contains("--tensor-parallel-size=4"));
  EXPECT_THAT(args, Contains("--dtype=bfloat16"));
  EXPECT_THAT(args, Contains("--gpu-memory-utilization=0.84"));
  EXPECT_THAT(args, Contains("--max-model-len=2048"));
  EXPECT_THAT(args, Not(Contains(HasSubstr("--pipeline-parallel-size"))));
  // 15 min + 18 s × 131.42 GiB = 3266 s -> 327 probes of 10 s.
  EXPECT_EQ(c["startupProbe"]["failureThreshold"], 327);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/health");
  EXPECT_EQ(c["readinessProbe"]["initialDelaySeconds"], 30);
  const json& term =
      (*sts)["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0];
  EXPECT_EQ(term["matchExpressions"][0]["values"][0], "NVIDIA-A100-SXM4-80GB");
  const json* svc = Find(r->objects, "Service", "ws");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ((*svc)["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ((*svc)["spec"]["ports"][0]["targetPort"], 5000);
  EXPECT_EQ(Find(r->objects, "Service", "ws-headless")->at("spec")["clusterIP"], "None");
  EXPECT_NE(Find(r->objects, "ConfigMap", "ws-inference-params"), nullptr);
}

TEST(RendererTest, MultiNodeReplicasGetOneStatefulSetEach) {
  auto r = RenderWorkspace(Ws("deepseek-r1-0528"), {2, GpuShape{"H100-80GB", 0, 8, ""}, "", 1, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->estimate.nodes, 2);
  for (const char* name : {"ws-r0", "ws-r1"}) {
    const json* sts = Find(r->objects, "StatefulSet", name);
    ASSERT_NE(sts, nullptr) << name;
    EXPECT_EQ((*sts)["spec"]["replicas"], 2);
    const std::string script = (*sts)["spec"]["template"]["spec"]["containers"][0]["command"][2];
    EXPECT_THAT(script, HasSubstr("--pipeline-parallel-size=2"));
    EXPECT_THAT(script, HasSubstr("--distributed-executor-backend=ray"));
    EXPECT_THAT(script, HasSubstr("--dtype=auto"));  // fp8 checkpoint
    EXPECT_THAT(script, HasSubstr(std::string(name) + "-0.ws-headless.ns.svc.cluster.local:6379"));
    EXPECT_TRUE((*sts)["spec"]["template"]["spec"]["affinity"].contains("podAntiAffinity"));
  }
  EXPECT_EQ(
      Find(r->objects, "Service", "ws")->at("spec")["selector"]["apps.kubernetes.io/pod-index"],
      "0");
}

TEST(RendererTest, MigSliceRequestsTheMigResource) {
  auto r = RenderWorkspace(Ws("phi-4-mini-instruct"),
                           {1, GpuShape{"A100-80GB", 0, 2, "3g.40gb"}, "", 1, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& c =
      Find(r->objects, "StatefulSet", "ws")->at("spec")["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/mig-3g.40gb"], "1");
  EXPECT_FALSE(c["resources"]["limits"].contains("nvidia.com/gpu"));
  auto small = RenderWorkspace(Ws("mistral-7b-instruct"),
                               {1, GpuShape{"A100-80GB", 0, 7, "1g.10gb"}, "", 1, ""});
  ASSERT_FALSE(small.ok());
  EXPECT_THAT(small.status().message(), HasSubstr("MIG slice cannot span nodes"));
  auto no_mig =
      RenderWorkspace(Ws("phi-4-mini-instruct"), {1, GpuShape{"L4", 0, 1, "1g.10gb"}, "", 1, ""});
  ASSERT_FALSE(no_mig.ok());
  EXPECT_THAT(no_mig.status().message(), HasSubstr("does not support MIG"));
}

TEST(RendererTest, PreAmpereGpusGetFloat16AndRejectBfloat16) {
  auto r = RenderWorkspace(Ws("llama-3.1-8b-instruct"), {1, GpuShape{"T4", 0, 4, ""}, "", 1, ""});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Args(*Find(r->objects, "StatefulSet", "ws")), Contains("--dtype=float16"));
  auto bad = RenderWorkspace(Ws("llama-3.1-8b-instruct", "  parameters: {dtype: bfloat16}\n"),
                             {1, GpuShape{"T4", 0, 4, ""}, "", 1, ""});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("compute capability 8.0"));
}

TEST(RendererTest, LabelSelectorAndExtraArgsCarryOver) {
  auto ws = Ws("phi-4-mini-instruct",
               "  parameters: {extraArgs: [--enable-prefix-caching]}\nresource:\n  labelSelector:\n"
               "    matchLabels: {pool: inference}\n");
  auto r = RenderWorkspace(ws, {1, GpuShape{"L4", 0, 1, ""}, "", 1, ""});
  ASSERT_TRUE(r.ok());
  const json* sts = Find(r->objects, "StatefulSet", "ws");
  EXPECT_EQ(Args(*sts).back(), "--enable-prefix-caching");
  const json& exprs = (*sts)["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
                            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                            [0]["matchExpressions"];
  EXPECT_EQ(exprs[1], (json{{"key", "pool"}, {"operator", "In"}, {"values", {"inference"}}}));
  // Where the hub found no node carrying the labels, only the GPU product constrains the pods.
  ClusterAssignment standin{1, GpuShape{"L4", 0, 1, ""}, "", 1, ""};
  standin.label_selector_honoured = false;
  auto r2 = RenderWorkspace(ws, standin);
  ASSERT_TRUE(r2.ok());
  const json& exprs2 = (*Find(r2->objects, "StatefulSet", "ws"))["spec"]["template"]["spec"]["affinity"]
                           ["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                           [0]["matchExpressions"];
  ASSERT_EQ(exprs2.size(), 1u);
  EXPECT_EQ(exprs2[0]["key"], "nvidia.com/gpu.product");
}

TEST(RendererTest, ShapeTooSmallIsAPreciseError) {
  auto r = RenderWorkspace(Ws("llama-3.3-70b-instruct"), {1, GpuShape{"T4", 0, 1, ""}, "", 1, ""});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("workspace ws on 1×T4"));
  EXPECT_THAT(r.status().message(), HasSubstr("needs 140.8 GiB across GPUs"));
}

TEST(RendererTest, StartupBudgetIsClamped) {
  EXPECT_EQ(StartupBudgetSeconds(1), 30 * 60);
  EXPECT_EQ(StartupBudgetSeconds(100), 15 * 60 + 1800);
  EXPECT_EQ(StartupBudgetSeconds(700), 180 * 60);
}

}  // namespace
}  // namespace berth::workspace
