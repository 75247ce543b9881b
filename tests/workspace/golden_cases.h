// The model × GPU-shape combinations rendered by the golden-file test (and checked
// against the Kubernetes schemas through their golden files).
#pragma once

#include <string>
#include <vector>

#include "workspace/renderer.h"

namespace berth::workspace::testing {

struct GoldenCase {
  std::string name;       // golden file: tests/workspace/golden/<name>.yaml
  std::string workspace;  // examples/workspaces/<file>
  ClusterAssignment assignment;
  std::string configmap;  // examples/workspaces/<file> for inference.config ("" = none)
};

// A delivered Secret as the hub puts it in a Work entry.
inline nlohmann::json DeliveredSecret(const std::string& name, const std::string& key) {
  return {{"kind", "Secret"}, {"name", name}, {"type", "Opaque"}, {"data", {{key, "ZXhhbXBsZQ=="}}}};
}

inline std::vector<GoldenCase> GoldenCases() {
  return {
      {"phi-4-mini_1xA10", "phi-4-mini.yaml", {3, GpuShape{"A10", 0, 1, ""}, "", 1, ""}},
      {"phi-4-mini_A100-80GB_mig-3g.40gb",
       "phi-4-mini.yaml",
       {2, GpuShape{"A100-80GB", 0, 2, "3g.40gb"}, "", 2, "serving"}},
      {"llama-3.3-70b_4xA100-80GB",
       "llama-3.3-70b.yaml",
       {2, GpuShape{"A100-80GB", 0, 4, ""}, "", 4, ""}},
      {"llama-3.3-70b_1xA100-80GB_multinode",
       "llama-3.3-70b.yaml",
       {1, GpuShape{"A100-80GB", 0, 1, ""}, "", 4, ""}},
      {"deepseek-r1_8xH100-80GB_multinode",
       "deepseek-r1.yaml",
       {2, GpuShape{"H100-80GB", 0, 8, ""}, "", 1, ""}},
      {"deepseek-r1_8xH200", "deepseek-r1.yaml", {1, GpuShape{"H200", 0, 8, ""}, "", 1, ""}},
      {"granite-custom_4xT4", "custom-model.yaml", {1, GpuShape{"Tesla-T4", 0, 4, ""}, "", 7, ""}},
      {"kaito-phi-4-mini_1xA100-80GB",
       "kaito-phi-4-mini.yaml",
       {1, GpuShape{"A100-80GB", 0, 1, ""}, "", 1, ""}},
      {"kaito-phi-3-adapters-gated_1xA100-80GB",
       "kaito-phi-3-adapters.yaml",
       {1, GpuShape{"A100-80GB", 0, 1, ""}, "", 1, "", false,
        {DeliveredSecret("hf-token", "HF_TOKEN"), DeliveredSecret("adapter-registry", ".dockerconfigjson")}}},
      {"kaito-custom-template_2xV100-16GB",
       "kaito-custom-template.yaml",
       {2, GpuShape{"V100-16GB", 0, 2, ""}, "", 1, "", false, {DeliveredSecret("hf-token", "HF_TOKEN")}}},
      {"kaito-llama-3.1-8b-config_1xA100-80GB",
       "kaito-llama-3.1-8b-config.yaml",
       {1, GpuShape{"A100-80GB", 0, 1, ""}, "", 1, "", true, {DeliveredSecret("hf-token", "HF_TOKEN")}},
       "llama-inference-config.yaml"},
  };
}

}  // namespace berth::workspace::testing
