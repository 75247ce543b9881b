#include "workspace/workspace_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "api/yaml_json.h"

namespace berth::workspace {
using api::JsonToYaml;
using api::JsonToYamlDocuments;
using api::YamlDocumentsToJson;
using api::YamlToJson;
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

json Yaml(const std::string& text) {
  auto v = YamlToJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : json();
}

json File(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return Yaml(ss.str());
}

const char* kGood = R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: llama, namespace: models}
resource:
  gpuProducts: [A100-80GB]
  labelSelector:
    matchLabels: {pool: gpu}
    matchExpressions: [{key: zone, operator: In, values: [a, b]}]
inference:
  preset: {name: Llama-3.3-70B-Instruct, revision: abc123}
  parameters: {maxModelLen: 8192, gpuMemoryUtilization: 0.9}
placement:
  replicas: 2
  policy: {spread: {maxSkew: 1}}
rollout: {strategyRef: {name: staged}}
)";

// The FieldCause list of a failed parse, for matchers.
std::vector<FieldCause> Causes(const json& obj) {
  auto ws = ParseWorkspace(obj);
  EXPECT_FALSE(ws.ok());
  return ws.ok() ? std::vector<FieldCause>{} : ws.status().causes();
}

auto CauseAt(const std::string& field, const std::string& text) {
  return AllOf(Field(&FieldCause::field, field), Field(&FieldCause::message, HasSubstr(text)));
}

TEST(WorkspaceParseTest, GoodWorkspace) {
  auto ws = ParseWorkspace(Yaml(kGood));
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->name, "llama");
  EXPECT_EQ(ws->namespace_, "models");
  EXPECT_EQ(ws->model.hf_id, "meta-llama/Llama-3.3-70B-Instruct");
  EXPECT_EQ(ws->inference.revision, "abc123");
  EXPECT_EQ(ws->inference.parameters.max_model_len, 8192);
  EXPECT_EQ(ws->resource.label_selector.match_labels.at("pool"), "gpu");
  ASSERT_EQ(ws->resource.label_selector.match_expressions.size(), 1u);
  EXPECT_EQ(ws->resource.label_selector.match_expressions[0].values,
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ws->placement.replicas, 2);
  EXPECT_EQ(ws->placement.inline_policy["spread"]["maxSkew"], 1);
  EXPECT_EQ(ws->rollout.strategy_ref, "staged");
  EXPECT_EQ(ws->ServedModelName(), "llama-3.3-70b-instruct");
  EXPECT_EQ(ws->warnings, (std::vector<std::string>{kLabelSelectorNote})) << "pinned revision: only the selector note";
  EXPECT_DOUBLE_EQ(ws->EstimateOptionsFor().gpu_memory_utilization, 0.9);
}

TEST(WorkspaceParseTest, RoundTripThroughJson) {
  auto ws = ParseWorkspace(Yaml(kGood));
  ASSERT_TRUE(ws.ok());
  json again = WorkspaceToJson(*ws);
  auto ws2 = ParseWorkspace(again);
  ASSERT_TRUE(ws2.ok()) << ws2.status().ToString();
  EXPECT_EQ(WorkspaceToJson(*ws2), again);
}

TEST(WorkspaceParseTest, ExamplesParse) {
  for (const char* f :
       {"llama-3.3-70b.yaml", "phi-4-mini.yaml", "deepseek-r1.yaml", "custom-model.yaml"}) {
    auto ws = ParseWorkspace(File(std::string("examples/workspaces/") + f));
    EXPECT_TRUE(ws.ok()) << f << ": " << ws.status().ToString();
  }
}

TEST(WorkspaceParseTest, UnknownPresetSuggestsClosest) {
  json obj = Yaml(kGood);
  obj["inference"]["preset"]["name"] = "llama-3.3-70b-instrct";
  EXPECT_THAT(Causes(obj),
              Contains(CauseAt("inference.preset.name", "did you mean llama-3.3-70b-instruct")));
}

TEST(WorkspaceParseTest, TypeErrorsNameTheField) {
  json obj = Yaml(kGood);
  obj["placement"]["replicas"] = "two";
  obj["inference"]["parameters"]["maxModelLen"] = 1.5;
  obj["resource"]["gpuProducts"] = "A100";
  auto causes = Causes(obj);
  EXPECT_THAT(causes, Contains(CauseAt("placement.replicas", "must be an integer, got string")));
  EXPECT_THAT(causes, Contains(CauseAt("inference.parameters.maxModelLen", "must be an integer")));
  EXPECT_THAT(causes, Contains(CauseAt("resource.gpuProducts", "must be an array")));
}

TEST(WorkspaceParseTest, SemanticErrorsNameTheField) {
  json obj = Yaml(kGood);
  obj["placement"]["replicas"] = -1;
  obj["inference"]["parameters"]["maxModelLen"] = 200000;
  obj["metadata"]["name"] = "Llama_70B";
  obj["placement"]["policyRef"] = {{"name", "p"}};
  obj["resource"]["labelSelector"]["matchExpressions"][0]["operator"] = "Maybe";
  auto causes = Causes(obj);
  EXPECT_THAT(causes, Contains(CauseAt("placement.replicas", "must be >= 0, got -1")));
  EXPECT_THAT(causes,
              Contains(CauseAt("inference.parameters.maxModelLen", "context limit of 131072")));
  EXPECT_THAT(causes, Contains(CauseAt("metadata.name", "DNS-1035")));
  EXPECT_THAT(causes, Contains(CauseAt("placement", "not both")));
  EXPECT_THAT(causes,
              Contains(CauseAt("resource.labelSelector.matchExpressions[0].operator", "Maybe")));
}

TEST(WorkspaceParseTest, ModelThatFitsNoListedGpuSaysTheSmallestShapeThatWould) {
  json obj = Yaml(kGood);
  obj["resource"]["gpuProducts"] = {"T4"};
  obj["inference"]["preset"]["name"] = "deepseek-r1-0528";  // 9 nodes of 8×T4: over the limit
  obj["inference"].erase("parameters");
  auto causes = Causes(obj);
  EXPECT_THAT(causes,
              Contains(CauseAt("resource.gpuProducts", "no listed GPU can hold one replica")));
  EXPECT_THAT(causes,
              Contains(CauseAt("resource.gpuProducts", "smallest catalog shape that fits is")));
}

TEST(WorkspaceParseTest, ModelThatFitsNoCatalogGpu) {
  json obj = Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: huge}
inference:
  model: {huggingFaceId: x/huge, weightsGiB: 9000, contextLimit: 4096, kvBytesPerToken: 100000}
)");
  EXPECT_THAT(Causes(obj),
              Contains(CauseAt("inference.model", "fits no GPU shape in the catalog")));
}

TEST(WorkspaceParseTest, CustomModelNeedsSizingFacts) {
  json obj = Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: custom}
inference:
  model: {huggingFaceId: nope, weightsGiB: 0}
)");
  auto causes = Causes(obj);
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.huggingFaceId", "org/name")));
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.weightsGiB", "must be > 0")));
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.kvBytesPerToken", "must be > 0")));
}

TEST(WorkspaceParseTest, CustomModelSizesAreBounded) {
  json obj = Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: custom}
inference:
  model: {huggingFaceId: org/m, weightsGiB: 3e63, contextLimit: 99999999, kvBytesPerToken: 99999999}
)");
  auto causes = Causes(obj);
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.weightsGiB", "at most 65536")));
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.contextLimit", "at most 16777216")));
  EXPECT_THAT(causes, Contains(CauseAt("inference.model.kvBytesPerToken", "at most 16777216")));
}

TEST(WorkspaceParseTest, MissingInferenceAndWrongKind) {
  auto causes = Causes(json{
      {"apiVersion", "kaito.sh/v1beta1"}, {"kind", "Workspace"}, {"metadata", {{"name", "x"}}}});
  EXPECT_THAT(causes, Contains(CauseAt("apiVersion", "ConvertKaitoWorkspace")));
  EXPECT_THAT(causes, Contains(CauseAt("inference", "is required")));
}

TEST(WorkspaceParseTest, UnpinnedRevisionWarns) {
  json obj = Yaml(kGood);
  obj["inference"]["preset"].erase("revision");
  auto ws = ParseWorkspace(obj);
  ASSERT_TRUE(ws.ok());
  EXPECT_THAT(ws->warnings, Contains(HasSubstr("revision is not set")));
}

TEST(WorkspaceParseTest, StatusIsLenient) {
  json obj = Yaml(kGood);
  obj["status"] = {
      {"revision", 3},
      {"conditions", {{{"type", "Available"}, {"status", "True"}, {"extra", 1}}, "junk"}},
      {"placements", {{{"cluster", "east"}, {"replicas", 2}, {"readyReplicas", "x"}}}},
      {"futureField", true}};
  auto ws = ParseWorkspace(obj);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->status.revision, 3);
  ASSERT_EQ(ws->status.conditions.size(), 1u);
  EXPECT_EQ(ws->status.conditions[0].type, "Available");
  ASSERT_EQ(ws->status.placements.size(), 1u);
  EXPECT_EQ(ws->status.placements[0].replicas, 2);
  EXPECT_EQ(ws->status.placements[0].ready_replicas, 0);
  EXPECT_EQ(WorkspaceToJson(*ws)["status"]["futureField"], true);
}

TEST(WorkspaceUpdateTest, ImmutableFields) {
  auto old_ws = ParseWorkspace(Yaml(kGood));
  ASSERT_TRUE(old_ws.ok());
  Workspace changed_model = *old_ws;
  changed_model.inference.preset_name = "llama-3.1-8b-instruct";
  Status s = ValidateWorkspaceUpdate(*old_ws, changed_model);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.causes(), Contains(CauseAt("inference.servedModelName", "is immutable")));

  // Keeping the served name makes a model change an ordinary rollout.
  Workspace pinned_old = *old_ws;
  pinned_old.inference.served_model_name = "chat";
  Workspace pinned_new = changed_model;
  pinned_new.inference.served_model_name = "chat";
  pinned_new.placement.replicas = 5;
  EXPECT_TRUE(ValidateWorkspaceUpdate(pinned_old, pinned_new).ok());

  Workspace renamed = *old_ws;
  renamed.namespace_ = "other";
  EXPECT_THAT(ValidateWorkspaceUpdate(*old_ws, renamed).causes(),
              Contains(CauseAt("metadata.namespace", "is immutable")));
}

// Found by fuzz/fuzz_workspace: a null or numeric kind threw out of a function that promises
// a Status.
TEST(KaitoConversionTest, WrongTypesAreInvalidNotExceptions) {
  for (const char* text : {"{apiVersion: kaito.sh/v1beta1, kind: null}", "{apiVersion: 1, kind: Workspace}"}) {
    auto r = ConvertKaitoWorkspace(*api::YamlToJson(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalid);
  }
}

TEST(KaitoConversionTest, V1beta1ConvertsWithDefaultPlacement) {
  json kaito = File("examples/workspaces/kaito-phi-4-mini.yaml");
  std::vector<std::string> notes;
  auto converted = ConvertKaitoWorkspace(kaito, &notes);
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  EXPECT_EQ((*converted)["apiVersion"], "berth.dev/v1alpha1");
  EXPECT_EQ((*converted)["placement"]["replicas"], 1);
  EXPECT_EQ((*converted)["resource"]["instanceType"], "Standard_NC24ads_A100_v4");
  EXPECT_TRUE(notes.empty());
  auto ws = ParseWorkspace(*converted);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->model.preset, "phi-4-mini-instruct");
  EXPECT_EQ(ws->resource.label_selector.match_labels.at("apps"), "phi-4-mini");
}

TEST(KaitoConversionTest, V1alpha1DropsWhatBerthDoesNotCarryAndSaysSo) {
  json kaito = Yaml(R"(
apiVersion: kaito.sh/v1alpha1
kind: Workspace
metadata: {name: ws-llama, namespace: default, uid: abc, resourceVersion: "7"}
resource:
  count: 2
  instanceType: Standard_NC96ads_A100_v4
  preferredNodes: [node-a]
  labelSelector: {matchLabels: {apps: llama}}
inference:
  preset:
    name: llama-3.3-70b-instruct
    presetOptions: {modelAccessSecret: hf-token}
  config: my-vllm-config
)");
  std::vector<std::string> notes;
  auto converted = ConvertKaitoWorkspace(kaito, &notes);
  ASSERT_TRUE(converted.ok());
  EXPECT_FALSE((*converted)["metadata"].contains("uid"));
  // count is nodes: llama-3.3-70b fits one 4×A100-80GB node, so 2 nodes are 2 replicas.
  EXPECT_THAT(notes, Contains(HasSubstr("resource.count 2 (nodes) → placement.replicas 2")));
  EXPECT_EQ((*converted)["placement"]["replicas"], 2);
  EXPECT_THAT(notes, Contains(HasSubstr("resource.preferredNodes")));
  // The model-access Secret and the config ConfigMap carry over (no "dropped" note).
  EXPECT_EQ((*converted)["inference"]["modelAccessSecret"], "hf-token");
  EXPECT_EQ((*converted)["inference"]["config"], "my-vllm-config");
  EXPECT_THAT(notes, Not(Contains(HasSubstr("presetOptions"))));
  EXPECT_THAT(notes, Not(Contains(HasSubstr("inference.config"))));
  auto ws = ParseWorkspace(*converted);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_EQ(ws->inference.model_access_secret, "hf-token");
  EXPECT_EQ(ws->inference.config, "my-vllm-config");
  EXPECT_FALSE(ConvertKaitoWorkspace(Yaml(kGood)).ok());
}

// Was: both were refused with "inference.preset.name: is required", which explains neither.
TEST(KaitoConversionTest, TuningAndCustomTemplatesAreRefusedWithTheReason) {
  auto tuning = ConvertKaitoWorkspace(Yaml(R"(
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata: {name: tune-phi}
resource: {instanceType: Standard_NC24ads_A100_v4}
tuning:
  preset: {name: phi-3-mini-128k-instruct}
  method: qlora
  input: {urls: ["https://example.com/data.parquet"]}
  output: {image: "registry.example/phi-adapter:0.1"}
)"));
  ASSERT_EQ(tuning.status().code(), StatusCode::kInvalid);
  EXPECT_THAT(tuning.status().message(), HasSubstr("does not run tuning jobs"));
  EXPECT_EQ(tuning.status().causes().at(0).field, "tuning");
}

// A custom template runs as given: one node, sized by its containers' nvidia.com/gpu limits.
TEST(KaitoConversionTest, CustomTemplateIsSizedByItsGpuLimits) {
  auto converted = ConvertKaitoWorkspace(Yaml(R"(
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata: {name: custom}
resource: {instanceType: Standard_NC12s_v3}
inference:
  template:
    spec:
      containers:
        - name: tgi
          image: ghcr.io/huggingface/text-generation-inference:2.0
          resources: {limits: {nvidia.com/gpu: 2}, requests: {nvidia.com/gpu: "2"}}
        - {name: sidecar, image: busybox:1.36}
)"));
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  auto ws = ParseWorkspace(*converted);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  EXPECT_TRUE(ws->custom_template());
  EXPECT_EQ(ws->template_gpus, 2);
  EXPECT_EQ(ws->EstimateOptionsFor().gpu_count_override, 2);
  EXPECT_EQ(ws->ServedModelName(), "custom");
  // Round trip keeps the template.
  auto back = ParseWorkspace(WorkspaceToJson(*ws));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->inference.pod_template, ws->inference.pod_template);
}

TEST(WorkspaceParseTest, CustomTemplateErrorsNameTheField) {
  auto parse = [](const std::string& inference) {
    return ParseWorkspace(Yaml("apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: t}\n"
                               "resource: {instanceType: Standard_NC6s_v3}\ninference:\n" + inference));
  };
  auto fields = [](const Status& s) {
    std::vector<std::string> out;
    for (const auto& c : s.causes()) out.push_back(c.field + ": " + c.message);
    return out;
  };
  // No GPU at all: Berth places GPU workloads.
  auto none = parse("  template: {spec: {containers: [{name: a, image: b}]}}\n");
  EXPECT_THAT(fields(none.status()), Contains(HasSubstr("inference.template.spec.containers: no container requests nvidia.com/gpu")));
  // A fractional GPU, and requests that differ from limits.
  auto bad = parse("  template: {spec: {containers: [{name: a, image: b, resources: {limits: {nvidia.com/gpu: \"0.5\"}}},"
                   " {name: c, image: d, resources: {limits: {nvidia.com/gpu: 1}, requests: {nvidia.com/gpu: 2}}}]}}\n");
  EXPECT_THAT(fields(bad.status()), Contains(HasSubstr("inference.template.spec.containers[0].resources.limits[nvidia.com/gpu]: must be a whole number")));
  EXPECT_THAT(fields(bad.status()), Contains(HasSubstr("containers[1].resources.requests[nvidia.com/gpu]: must equal the limit (1)")));
  // More GPUs than the instance type has on one node.
  auto big = parse("  template: {spec: {containers: [{name: a, image: b, resources: {limits: {nvidia.com/gpu: 2}}}]}}\n");
  EXPECT_THAT(fields(big.status()), Contains(HasSubstr("resource.instanceType: Standard_NC6s_v3 has 1 GPUs per node")));
  // vLLM-only fields do not combine with a template; nor do two sources.
  auto mixed = parse("  template: {spec: {containers: [{name: a, image: b, resources: {limits: {nvidia.com/gpu: 1}}}]}}\n"
                     "  config: cfg\n  modelAccessSecret: tok\n");
  EXPECT_THAT(fields(mixed.status()), Contains(HasSubstr("inference.config: is not used with inference.template")));
  EXPECT_THAT(fields(mixed.status()), Contains(HasSubstr("inference.modelAccessSecret: is not used with inference.template")));
  auto both = parse("  preset: {name: phi-4-mini-instruct}\n  template: {spec: {containers: [{name: a, image: b}]}}\n");
  EXPECT_THAT(fields(both.status()), Contains(HasSubstr("inference: set one of inference.preset, inference.model or inference.template")));
}

TEST(WorkspaceParseTest, AdaptersAndReferencesAreValidated) {
  auto ws = ParseWorkspace(Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: lora}
inference:
  preset: {name: phi-3-mini-128k-instruct, revision: abc}
  modelAccessSecret: Bad_Name
  adapters:
    - source: {name: sql-adapter, image: "registry.example/sql:1", imagePullSecrets: [regcred]}
      strength: "0.5"
    - source: {name: sql-adapter, image: ""}
)"));
  ASSERT_FALSE(ws.ok());
  std::vector<std::string> got;
  for (const auto& c : ws.status().causes()) got.push_back(c.field + ": " + c.message);
  EXPECT_THAT(got, Contains(HasSubstr("inference.modelAccessSecret: \"Bad_Name\" is not a valid object name")));
  EXPECT_THAT(got, Contains(HasSubstr("inference.adapters[1].source.name: \"sql-adapter\" is used by another adapter")));
  EXPECT_THAT(got, Contains(HasSubstr("inference.adapters[1].source.image: is required")));
  auto good = ParseWorkspace(Yaml(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: lora}
inference:
  preset: {name: phi-3-mini-128k-instruct, revision: abc}
  adapters:
    - source: {name: sql-adapter, image: "registry.example/sql:1", imagePullSecrets: [regcred]}
      strength: "0.5"
)"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  ASSERT_EQ(good->inference.adapters.size(), 1u);
  EXPECT_EQ(good->inference.adapters[0].image_pull_secrets, std::vector<std::string>{"regcred"});
  EXPECT_THAT(good->warnings, Contains(HasSubstr("strength of \"sql-adapter\" is not used")));
}

TEST(WorkspaceSchemaTest, SchemaIsStructuralAndDescribed) {
  const json& s = WorkspaceSchema();
  EXPECT_EQ(s["type"], "object");
  EXPECT_EQ(s["properties"]["apiVersion"]["enum"][0], kWorkspaceApiVersion);
  EXPECT_EQ(
      s["properties"]["placement"]["properties"]["policy"]["x-kubernetes-preserve-unknown-fields"],
      true);
  EXPECT_EQ(s["properties"]["status"]["x-kubernetes-preserve-unknown-fields"], true);
  EXPECT_EQ(s["properties"]["placement"]["properties"]["replicas"]["minimum"], 0);
  // Every property has a type and (except status item details) a description.
  std::function<void(const json&, const std::string&)> walk = [&](const json& node,
                                                                  const std::string& path) {
    EXPECT_TRUE(node.contains("type")) << path;
    const bool is_item = path.size() > 2 && path.compare(path.size() - 2, 2, "[]") == 0;
    if (!is_item && path.find("status.") == std::string::npos) {
      EXPECT_TRUE(node.contains("description")) << path;
    }
    if (node.contains("properties")) {
      for (auto it = node["properties"].begin(); it != node["properties"].end(); ++it) {
        walk(it.value(), path + "." + it.key());
      }
    }
    if (node.contains("items")) walk(node["items"], path + "[]");
  };
  walk(s, "workspace");
  // Every field the parser reads is in the schema (so the hub's validator accepts it).
  json good = WorkspaceToJson(*ParseWorkspace(Yaml(kGood)));
  for (auto it = good.begin(); it != good.end(); ++it) {
    EXPECT_TRUE(s["properties"].contains(it.key())) << it.key();
    if (it.value().is_object() && s["properties"][it.key()].contains("additionalProperties")) {
      for (auto f = it.value().begin(); f != it.value().end(); ++f) {
        EXPECT_TRUE(s["properties"][it.key()]["properties"].contains(f.key()))
            << it.key() << "." << f.key();
      }
    }
  }
}

TEST(CatalogShapesTest, SmallestFittingShape) {
  auto llama = Catalog::BuiltIn().FindModel("llama-3.3-70b-instruct");
  auto best = SmallestFittingShape(*llama, EstimateOptions{}, Catalog::BuiltIn());
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->label, "1 node of 2×H100-94GB");
  EXPECT_EQ(CatalogShapes(Catalog::BuiltIn()).size(), 12u * 4 + 27);
}

}  // namespace
}  // namespace berth::workspace
