// `berthctl render` and `berthctl estimate`: offline views of what a Workspace becomes
// on a GPU shape, using the same catalog, estimator and renderer as the member agent.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command_registry.h"
#include "api/kinds.h"
#include "workspace/inference_config.h"
#include "workspace/renderer.h"
#include "api/yaml_json.h"

namespace {

using berth::workspace::Catalog;
using berth::workspace::CatalogShapes;
using berth::workspace::ClusterAssignment;
using berth::workspace::EstimateOptions;
using berth::workspace::EstimateReplica;
using berth::workspace::GpuShape;

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  throw CLI::RuntimeError(1);
}

std::string ReadFileOrStdin(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) Fail("cannot read " + path);
    ss << in.rdbuf();
  }
  return ss.str();
}

struct RenderFlags {
  std::string file;
  std::string gpu;
  std::string instance_type;
  int gpus_per_node = 0;
  int replicas = -1;
  std::string mig;
  int64_t revision = 1;
  std::string ns;
  std::string config;  // a ConfigMap file for inference.config ("" = none)
};

void RunRender(const RenderFlags& f) {
  auto obj = berth::api::YamlToJson(ReadFileOrStdin(f.file));
  if (!obj.ok()) Fail(f.file + ": " + obj.status().message());
  nlohmann::json object = *obj;
  if (object.is_object() && object.value("apiVersion", "").rfind("kaito.sh/", 0) == 0) {
    std::vector<std::string> notes;
    auto converted = berth::workspace::ConvertKaitoWorkspace(object, &notes);
    if (!converted.ok()) Fail(f.file + ": " + converted.status().message());
    std::cerr << "note: converted KAITO Workspace to berth.dev/v1alpha1 with default placement\n";
    for (const auto& n : notes) std::cerr << "note: " << n << "\n";
    object = *converted;
  }
  const nlohmann::json config_name = berth::api::JsonPathGet(object, "inference.config");
  if (!f.config.empty()) {
    auto cm = berth::api::YamlToJson(ReadFileOrStdin(f.config));
    if (!cm.ok()) Fail(f.config + ": " + cm.status().message());
    // As the hub does: the ConfigMap's vllm: section becomes inference.parameters.
    auto applied = berth::workspace::ApplyInferenceConfig(object, &*cm);
    if (!applied.ok()) Fail(f.config + ": " + applied.status().message());
    object = *applied;
  } else if (config_name.is_string()) {
    std::cerr << "note: inference.config " << config_name.get<std::string>()
              << " is not applied: pass --config FILE with the ConfigMap to render its vLLM settings\n";
  }
  auto ws = berth::workspace::ParseWorkspace(object);
  if (!ws.ok()) {
    std::string msg = f.file + ": Workspace is invalid:";
    for (const auto& c : ws.status().causes()) msg += "\n  " + c.field + ": " + c.message;
    if (ws.status().causes().empty()) msg += " " + ws.status().message();
    Fail(msg);
  }
  for (const auto& w : ws->warnings) std::cerr << "warning: " << w << "\n";

  ClusterAssignment a;
  if (!f.instance_type.empty()) {
    auto t = Catalog::BuiltIn().FindInstanceType(f.instance_type);
    if (!t.ok()) Fail(t.status().message());
    a.shape = GpuShape{t->gpu, 0, t->gpus, f.mig};
  } else {
    if (f.gpu.empty()) Fail("--gpu (or --instance-type) is required");
    a.shape = GpuShape{f.gpu, 0, f.gpus_per_node > 0 ? f.gpus_per_node : 1, f.mig};
  }
  a.replicas = f.replicas >= 0 ? f.replicas : ws->placement.replicas;
  a.revision = f.revision;
  a.namespace_ = f.ns;
  auto rendered = berth::workspace::RenderWorkspace(*ws, a);
  if (!rendered.ok()) Fail(rendered.status().message());
  for (const auto& w : rendered->estimate.warnings) std::cerr << "warning: " << w << "\n";
  std::cout << berth::api::JsonToYamlDocuments(rendered->objects);
}

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Left-aligns to `width` display columns (the table has multi-byte "×").
std::string Pad(const std::string& s, size_t width) {
  size_t columns = 0;
  for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
  return columns >= width ? s + " " : s + std::string(width - columns, ' ');
}

void RunEstimate(const std::string& model_name, const EstimateOptions& options) {
  const Catalog& catalog = Catalog::BuiltIn();
  auto model = catalog.FindModel(model_name);
  if (!model.ok()) Fail(model.status().message());
  std::cout << model->preset << " (" << model->hf_id << "): " << Fmt("%.2f", model->weights_gib)
            << " GiB weights, quantization " << model->quantization << ", context limit "
            << model->context_limit << ", maxModelLen " << options.max_model_len << "\n\n";
  auto row = [](const std::string& shape, const std::string& gpus, const std::string& nodes,
                const std::string& layout, const std::string& per_node, const std::string& headroom,
                const std::string& note) {
    std::cout << Pad(shape, 44) << Pad(gpus, 9) << Pad(nodes, 6) << Pad(layout, 18)
              << Pad(per_node, 10) << Pad(headroom, 10) << note << "\n";
  };
  row("SHAPE", "GPUS/REP", "NODES", "LAYOUT", "REPS/NODE", "HEADROOM", "NOTE");
  for (const auto& s : CatalogShapes(catalog)) {
    auto est = EstimateReplica(*model, s.shape, options);
    std::string label =
        s.instance_type.empty()
            ? s.label
            : s.label + " (" + std::to_string(s.shape.gpus_per_node) + "×" + s.shape.product + ")";
    if (!est.ok()) {
      row(label, "-", "-", "does not fit", "-", "-", est.status().message());
      continue;
    }
    std::string note = est->warnings.empty() ? "" : est->warnings.front();
    row(label, std::to_string(est->total_gpus()), std::to_string(est->nodes),
        berth::workspace::ParallelLayoutName(est->layout), std::to_string(est->replicas_per_node),
        Fmt("%.1f GiB", est->headroom_gib), note);
  }
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto flags = std::make_shared<RenderFlags>();
  auto* render = root.add_subcommand("render",
                                     "Render a Workspace (Berth or KAITO YAML) into the Kubernetes "
                                     "manifests one member cluster applies");
  render->add_option("-f,--filename", flags->file, "Workspace YAML file ('-' for stdin)")
      ->required();
  render->add_option("--gpu", flags->gpu,
                     "GPU of the node pool: catalog name (A100-80GB) or GFD product label");
  render
      ->add_option("--gpus-per-node", flags->gpus_per_node,
                   "GPUs per node (or MIG slices per node with --mig)")
      ->check(CLI::PositiveNumber);
  render->add_option("--instance-type", flags->instance_type,
                     "Cloud instance type from the catalog, instead of --gpu");
  render
      ->add_option("--replicas", flags->replicas,
                   "Replicas in this cluster (default: placement.replicas)")
      ->check(CLI::NonNegativeNumber);
  render->add_option("--mig", flags->mig, "MIG profile of the slices, e.g. 3g.40gb");
  render->add_option("--revision", flags->revision, "Workspace revision to stamp (default 1)");
  render->add_option("--config", flags->config,
                     "ConfigMap YAML named by inference.config (KAITO's inference_config.yaml): its vllm: "
                     "section becomes the parameters, as the hub applies it");
  render->add_option("-n,--namespace", flags->ns,
                     "Namespace (default: the Workspace's, else default)");
  render->callback([flags] { RunRender(*flags); });

  auto options = std::make_shared<EstimateOptions>();
  auto model = std::make_shared<std::string>();
  auto* estimate = root.add_subcommand(
      "estimate",
      "Show how many GPUs and nodes one replica of a catalog model needs on each GPU shape");
  estimate->add_option("model", *model, "Preset name or Hugging Face id")->required();
  estimate
      ->add_option("--max-model-len", options->max_model_len, "Tokens per sequence (default 2048)")
      ->check(CLI::PositiveNumber);
  estimate->add_option("--gpus-per-replica", options->gpu_count_override,
                       "Explicit GPU count override");
  estimate->add_option("--headroom", options->headroom_fraction,
                       "Extra memory fraction kept free (default 0.05)");
  estimate->add_option("--dtype", options->dtype, "auto, bfloat16, float16 or float32");
  estimate->add_option("--quantization", options->quantization,
                       "Quantization (fp8 applies to unquantized models)");
  estimate->callback([model, options] { RunEstimate(*model, *options); });
});

}  // namespace
