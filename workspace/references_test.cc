// inference.config (KAITO's inference config → parameters), the objects a Workspace
// references, and how the renderer delivers and points at them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/yaml_json.h"
#include "workspace/inference_config.h"
#include "workspace/pod_template.h"
#include "workspace/renderer.h"

namespace berth::workspace {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json Yaml(const std::string& text) {
  auto j = api::YamlToJson(text);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return *j;
}

json LlamaWithConfig(const std::string& parameters = "") {
  return Yaml("apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: llama, namespace: team}\n"
              "inference:\n  preset: {name: llama-3.1-8b-instruct, revision: r1}\n  config: llama-cfg\n" +
              parameters);
}

json ConfigMap(const std::string& inference_config) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "llama-cfg"}, {"namespace", "team"}}},
          {"data", {{kInferenceConfigKey, inference_config}}}};
}

TEST(InferenceConfigTest, VllmSectionBecomesParametersAndFlags) {
  const json cm = ConfigMap(
      "vllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.95\n  swap-space: 4\n  max-model-len: 16384\n"
      "  enable-prefix-caching: true\n  enforce-eager: false\n  dtype: float16\nmax_probe_steps: 6\n");
  auto eff = ApplyInferenceConfig(LlamaWithConfig(), &cm);
  ASSERT_TRUE(eff.ok()) << eff.status().ToString();
  const json& p = (*eff)["inference"]["parameters"];
  EXPECT_EQ(p["maxModelLen"], 16384);
  EXPECT_DOUBLE_EQ(p["gpuMemoryUtilization"].get<double>(), 0.95);
  EXPECT_EQ(p["dtype"], "float16");
  // Unmapped arguments become flags; false is vLLM's default (left out); KAITO's own keys
  // outside vllm: are ignored.
  EXPECT_EQ(p["extraArgs"], json({"--cpu-offload-gb=0", "--enable-prefix-caching", "--swap-space=4"}));
  auto ws = ParseWorkspace(*eff);
  ASSERT_TRUE(ws.ok());
  auto r = RenderWorkspace(*ws, ClusterAssignment{1, GpuShape{"A100-80GB", 0, 1, ""}, "", 3, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto args = r->objects.back()["spec"]["template"]["spec"]["containers"][0]["args"].get<std::vector<std::string>>();
  EXPECT_THAT(args, Contains("--max-model-len=16384"));
  EXPECT_THAT(args, Contains("--gpu-memory-utilization=0.95"));
  EXPECT_THAT(args, Contains("--enable-prefix-caching"));
}

TEST(InferenceConfigTest, WorkspaceParametersWinAndExtraArgsComeLast) {
  const json cm = ConfigMap("vllm:\n  max-model-len: 16384\n  swap-space: 4\n");
  auto eff = ApplyInferenceConfig(LlamaWithConfig("  parameters: {maxModelLen: 4096, extraArgs: [--seed=7]}\n"), &cm);
  ASSERT_TRUE(eff.ok()) << eff.status().ToString();
  EXPECT_EQ((*eff)["inference"]["parameters"]["maxModelLen"], 4096);
  EXPECT_EQ((*eff)["inference"]["parameters"]["extraArgs"], json({"--swap-space=4", "--seed=7"}));
}

TEST(InferenceConfigTest, ErrorsNameTheConfigMapKeyAndArgument) {
  auto err = [](const std::string& text) {
    const json cm = ConfigMap(text);
    auto eff = ApplyInferenceConfig(LlamaWithConfig(), &cm);
    EXPECT_FALSE(eff.ok());
    return eff.status().message();
  };
  EXPECT_THAT(err("vllm:\n  max-model-len: 999999999\n"),
              HasSubstr("ConfigMap team/llama-cfg inference_config.yaml: vllm.max-model-len: 999999999 is above "
                        "llama-3.1-8b-instruct's context limit"));
  EXPECT_THAT(err("vllm:\n  max-model-len: long\n"), HasSubstr("vllm.max-model-len: must be an integer, got string"));
  EXPECT_THAT(err("vllm:\n  tensor-parallel-size: 2\n"), HasSubstr("vllm.tensor-parallel-size: set by Berth"));
  EXPECT_THAT(err("vllm:\n  Bad Key: 1\n"), HasSubstr("not a vLLM argument name"));
  EXPECT_THAT(err("max_probe_steps: 6\n"), HasSubstr("has no vllm: section"));
  EXPECT_THAT(err("vllm: [unclosed\n"), HasSubstr("not YAML"));
  json no_key = ConfigMap("");
  no_key["data"] = {{"other.yaml", "x"}};
  auto missing_key = ApplyInferenceConfig(LlamaWithConfig(), &no_key);
  EXPECT_THAT(missing_key.status().message(), HasSubstr("inference_config.yaml: the key is missing"));
  auto absent = ApplyInferenceConfig(LlamaWithConfig(), nullptr);
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(absent.status().message(), HasSubstr("ConfigMap team/llama-cfg not found"));
  // Without inference.config the object comes back unchanged.
  const json plain = Yaml("apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: p}\n"
                          "inference: {preset: {name: phi-4-mini-instruct}}\n");
  EXPECT_EQ(*ApplyInferenceConfig(plain, nullptr), plain);
}

json TemplateWorkspace() {
  return Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: tgi, namespace: team}
resource:
  instanceType: Standard_NC24ads_A100_v4
  labelSelector: {matchLabels: {apps: tgi}}
inference:
  template:
    metadata: {labels: {team: search}}
    spec:
      imagePullSecrets: [{name: regcred}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]
      containers:
        - name: tgi
          image: ghcr.io/huggingface/text-generation-inference:2.0
          ports: [{containerPort: 8080}]
          env:
            - {name: HF_TOKEN, valueFrom: {secretKeyRef: {name: hf-token, key: HF_TOKEN}}}
            - {name: MODE, valueFrom: {configMapKeyRef: {name: tgi-settings, key: mode}}}
          envFrom: [{configMapRef: {name: tgi-env}}]
          resources: {limits: {nvidia.com/gpu: 1}}
      volumes:
        - {name: certs, secret: {secretName: tls-certs}}
        - {name: both, projected: {sources: [{configMap: {name: tgi-settings}}, {secret: {name: extra}}]}}
)");
}

TEST(PodTemplateTest, ReferencedObjectsAndMemberCopies) {
  auto ws = ParseWorkspace(TemplateWorkspace());
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  std::vector<std::string> refs;
  for (const auto& r : ReferencedObjects(*ws)) refs.push_back(r.kind + "/" + r.name + " @" + r.field);
  EXPECT_THAT(refs, ElementsAre("Secret/hf-token @inference.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name",
                                "ConfigMap/tgi-settings @inference.template.spec.containers[0].env[1].valueFrom.configMapKeyRef.name",
                                "ConfigMap/tgi-env @inference.template.spec.containers[0].envFrom[0].configMapRef.name",
                                "Secret/tls-certs @inference.template.spec.volumes[0].secret.secretName",
                                "Secret/extra @inference.template.spec.volumes[1].projected.sources[1].secret.name",
                                "Secret/regcred @inference.template.spec.imagePullSecrets[0].name"));
  EXPECT_EQ(MemberCopyName("tgi", "hf-token"), "tgi-hf-token");
  const std::string long_name = MemberCopyName("tgi", std::string(260, 'a'));
  EXPECT_EQ(long_name.size(), 253u);
  EXPECT_NE(long_name, MemberCopyName("tgi", std::string(259, 'a') + "b"));
}

TEST(PodTemplateTest, RendersTheTemplateWithBerthsPlacementAndCopies) {
  auto ws = ParseWorkspace(TemplateWorkspace());
  ASSERT_TRUE(ws.ok());
  ClusterAssignment a{2, GpuShape{"A100-80GB", 0, 1, ""}, "", 1, ""};
  a.references = {{{"kind", "Secret"}, {"name", "hf-token"}, {"type", "Opaque"}, {"data", {{"HF_TOKEN", "aGY="}}}}};
  auto r = RenderWorkspace(*ws, a);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> kinds;
  for (const auto& o : r->objects) kinds.push_back(o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>());
  EXPECT_THAT(kinds, ElementsAre("Secret/tgi-hf-token", "Service/tgi", "Service/tgi-headless", "StatefulSet/tgi"));
  EXPECT_EQ(r->objects[0]["data"]["HF_TOKEN"], "aGY=");
  EXPECT_EQ(r->objects[1]["spec"]["ports"][0]["targetPort"], 8080);
  const json& sts = r->objects[3];
  EXPECT_EQ(sts["spec"]["replicas"], 2);
  const json& pod = sts["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["labels"]["team"], "search");
  EXPECT_EQ(pod["metadata"]["labels"]["berth.dev/workspace"], "tgi");
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"], "tgi-hf-token");
  EXPECT_EQ(spec["containers"][0]["envFrom"][0]["configMapRef"]["name"], "tgi-tgi-env");
  EXPECT_EQ(spec["volumes"][1]["projected"]["sources"][1]["secret"]["name"], "tgi-extra");
  EXPECT_EQ(spec["imagePullSecrets"][0]["name"], "tgi-regcred");
  // The template's own node affinity is kept and ANDed with the GPU product and labelSelector.
  const json term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0];
  EXPECT_EQ(term["matchExpressions"].size(), 3u);
  EXPECT_EQ(term["matchExpressions"][0]["key"], "zone");
  EXPECT_EQ(term["matchExpressions"][1]["key"], "nvidia.com/gpu.product");
  EXPECT_EQ(term["matchExpressions"][2]["key"], "apps");
  EXPECT_EQ(r->estimate.gpus_per_node, 1);
  // A user template with a field of the wrong type where Berth adds its own is refused, not thrown.
  json odd = TemplateWorkspace();
  odd["inference"]["template"]["spec"]["affinity"] = "anywhere";
  auto odd_ws = ParseWorkspace(odd);
  ASSERT_TRUE(odd_ws.ok()) << odd_ws.status().ToString();
  auto refused = RenderWorkspace(*odd_ws, a);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalid);
  EXPECT_THAT(refused.status().message(), HasSubstr("inference.template: a field has the wrong type"));
  // MIG slices and too-small nodes are refused.
  EXPECT_FALSE(RenderWorkspace(*ws, ClusterAssignment{1, GpuShape{"A100-80GB", 0, 1, "3g.40gb"}, "", 1, ""}).ok());
}

TEST(RendererReferencesTest, ModelAccessSecretAndLoraAdapters) {
  auto ws = ParseWorkspace(Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: phi, namespace: team}
inference:
  preset: {name: phi-3-mini-128k-instruct, revision: r1}
  modelAccessSecret: hf-token
  adapters:
    - source: {name: sql-lora, image: "registry.example/sql-lora:1", imagePullSecrets: [regcred]}
    - source: {name: chat-lora, image: "registry.example/chat-lora:2"}
)"));
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  auto r = RenderWorkspace(*ws, ClusterAssignment{1, GpuShape{"A100-80GB", 0, 1, ""}, "", 1, ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& spec = r->objects.back()["spec"]["template"]["spec"];
  const json& c = spec["containers"][0];
  EXPECT_THAT(c["env"].dump(), HasSubstr(R"({"name":"HF_TOKEN","valueFrom":{"secretKeyRef":{"key":"HF_TOKEN","name":"phi-hf-token"}}})"));
  const auto args = c["args"].get<std::vector<std::string>>();
  auto lora = std::find(args.begin(), args.end(), "--lora-modules");
  ASSERT_NE(lora, args.end());
  EXPECT_EQ(*(lora + 1), "sql-lora=/mnt/adapter/sql-lora");
  EXPECT_EQ(*(lora + 2), "chat-lora=/mnt/adapter/chat-lora");
  EXPECT_THAT(args, Contains("--enable-lora"));
  EXPECT_THAT(args, Contains("--max-loras=2"));
  ASSERT_EQ(spec["initContainers"].size(), 2u);
  EXPECT_EQ(spec["initContainers"][0]["image"], "registry.example/sql-lora:1");
  EXPECT_THAT(spec["initContainers"][0]["command"][2].get<std::string>(), HasSubstr("cp -r /data/. /mnt/adapter/sql-lora/"));
  EXPECT_EQ(spec["imagePullSecrets"], json::array({{{"name", "phi-regcred"}}}));
  EXPECT_THAT(spec["volumes"].dump(), HasSubstr(R"("name":"adapters")"));
}

}  // namespace
}  // namespace berth::workspace
