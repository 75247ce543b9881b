// Model and GPU catalogs: public facts (weights size, context limit, KV bytes per token;
// GPU memory, compute capability, MIG) compiled into the binary from workspace/data/*.tsv.
// Pure: no I/O at run time. Thread-safe after construction (read-only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::workspace {

struct ModelInfo {
  std::string preset;         // short name, e.g. "llama-3.3-70b-instruct"
  std::string hf_id;          // e.g. "meta-llama/Llama-3.3-70B-Instruct"
  std::string architecture;   // e.g. "LlamaForCausalLM"
  std::string quantization;   // "none", "fp8", "awq", ...
  double weights_gib = 0;     // weights on disk
  int64_t context_limit = 0;  // max context tokens
  int64_t kv_bytes_per_token = 0;
};

struct GpuInfo {
  std::string name;         // catalog name, e.g. "A100-80GB"
  std::string gfd_product;  // nvidia.com/gpu.product label value
  double memory_gib = 0;    // per GPU
  double compute_capability = 0;
  bool mig_capable = false;
};

struct InstanceType {
  std::string name;  // e.g. "Standard_NC96ads_A100_v4"
  std::string cloud;
  int gpus = 0;     // GPUs per node
  std::string gpu;  // GpuInfo::name
};

class Catalog {
 public:
  // The built-in catalog (embedded data files). Never fails: the data is checked by tests.
  static const Catalog& BuiltIn();

  // Parses TSV text in the format of workspace/data/models.tsv and gpus.tsv.
  static StatusOr<Catalog> Parse(std::string_view models_tsv, std::string_view gpus_tsv);

  // Looks a model up by preset name or HF id (case-insensitive). NotFound names the
  // closest presets as suggestions.
  StatusOr<ModelInfo> FindModel(std::string_view name_or_hf_id) const;
  // Looks a GPU up by catalog name or GFD product label (case-insensitive).
  StatusOr<GpuInfo> FindGpu(std::string_view name_or_product) const;
  StatusOr<InstanceType> FindInstanceType(std::string_view name) const;

  const std::vector<ModelInfo>& models() const { return models_; }
  const std::vector<GpuInfo>& gpus() const { return gpus_; }
  const std::vector<InstanceType>& instance_types() const { return instance_types_; }

 private:
  std::vector<ModelInfo> models_;
  std::vector<GpuInfo> gpus_;
  std::vector<InstanceType> instance_types_;
};

// Memory of one MIG slice from its profile name, e.g. "1g.10gb" -> 10, "3g.40gb" -> 40.
// Invalid when the name is not of the form <N>g.<M>gb.
StatusOr<double> MigProfileMemoryGib(std::string_view profile);

}  // namespace berth::workspace
