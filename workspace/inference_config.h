// KAITO's inference config (inference.config names a ConfigMap whose `inference_config.yaml`
// holds a `vllm:` section of vLLM engine arguments) turned into the Workspace's own
// `inference.parameters`, so it is validated, sized with and rolled out like them:
//
//   max-model-len → maxModelLen, gpu-memory-utilization → gpuMemoryUtilization, dtype,
//   quantization → the same; every other key → extraArgs (`--key=value`; `true` → `--key`;
//   `false` → left out, vLLM's default; a list → `--key v1 v2`; an object → `--key=<JSON>`).
//   Keys Berth sets itself (model, served-model-name, host, port, tensor/pipeline parallel
//   sizes, revision, download-dir) are refused. What the Workspace sets in
//   inference.parameters wins over the ConfigMap; its extraArgs come after the ConfigMap's.
//   Keys outside `vllm:` (KAITO's max_probe_steps, …) are KAITO launcher settings: ignored.
//
// Pure: the caller reads the ConfigMap.
#pragma once

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "workspace/catalog.h"

namespace berth::workspace {

inline constexpr char kInferenceConfigKey[] = "inference_config.yaml";

// `workspace_object` with inference.parameters completed from `configmap` (the object
// inference.config names; null when it does not exist) and then checked with
// ParseWorkspace. Returns the object unchanged when inference.config is not set.
// NotFound when the ConfigMap is missing; Invalid naming the ConfigMap, the key and the
// vLLM argument when the config cannot be used (not YAML, no vllm section, a wrong type, a
// key Berth sets, a value ParseWorkspace refuses — e.g. max-model-len above the model's
// context). Messages never quote more than the argument's value.
StatusOr<nlohmann::json> ApplyInferenceConfig(const nlohmann::json& workspace_object, const nlohmann::json* configmap,
                                              const Catalog& catalog = Catalog::BuiltIn());

}  // namespace berth::workspace
