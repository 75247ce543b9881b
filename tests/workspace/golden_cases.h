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
};

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
  };
}

}  // namespace berth::workspace::testing
