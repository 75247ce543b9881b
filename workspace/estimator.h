// GPU estimator: how many GPUs and nodes one replica of a model needs on a GPU shape.
// Pure function of its inputs (KAITO's formula, restated in docs/WORKSPACE.md, with
// Berth's changes: a replica takes the fewest GPUs it needs rather than the whole node,
// an explicit override, and configurable headroom).
#pragma once

#include <string>
#include <vector>

#include "api/status.h"
#include "workspace/catalog.h"

namespace berth::workspace {

// The GPUs of one node pool as a replica would see them.
struct GpuShape {
  std::string product;      // catalog name or GFD product, informational
  double memory_gib = 0;    // per GPU (or per MIG slice when mig_profile is set)
  int gpus_per_node = 1;    // whole GPUs per node (or MIG slices of mig_profile per node)
  std::string mig_profile;  // e.g. "3g.40gb"; empty for whole GPUs
};

struct EstimateOptions {
  int64_t max_model_len = 2048;       // tokens of KV cache reserved per sequence
  double gpu_memory_utilization = 0;  // 0 = default (0.84; 0.82 on A10)
  double headroom_fraction = 0.05;    // extra memory kept free beyond KAITO's estimate
  int gpu_count_override = 0;         // >0: use exactly this many GPUs per replica
  // vLLM --dtype: "" or "auto" (the checkpoint's dtype), "bfloat16", "float16", "float32".
  // float32 doubles the weights of an unquantized model and the KV cache.
  std::string dtype;
  // vLLM --quantization: "" (as published) or the model's own method; "fp8" may also be
  // applied at load time to an unquantized model (about halves the weights).
  std::string quantization;
  // Refuse replicas spanning more nodes than this (pipeline parallel over Ray gets slow
  // and fragile beyond a few nodes). 0 = no limit.
  int max_nodes_per_replica = 8;
};

enum class ParallelLayout { kSingleGpu, kTensorParallel, kPipelineParallel };

struct ReplicaEstimate {
  int gpus_per_node = 1;      // GPUs (or slices) one replica takes on each of its nodes
  int nodes = 1;              // nodes per replica (>1 means pipeline parallel over Ray)
  int tensor_parallel = 1;    // --tensor-parallel-size
  int pipeline_parallel = 1;  // --pipeline-parallel-size
  ParallelLayout layout = ParallelLayout::kSingleGpu;
  double model_gib = 0;                  // weights × overhead
  double available_gib = 0;              // usable for weights across the replica's GPUs
  double headroom_gib = 0;               // available − model (≥ 0 unless overridden)
  std::vector<std::string> warnings;     // e.g. override below the estimate
  double gpu_memory_utilization = 0.84;  // the value used (pass to vLLM)
  int replicas_per_node = 1;             // replicas of this size that fit one node of the shape

  int total_gpus() const { return gpus_per_node * nodes; }
};

const char* ParallelLayoutName(ParallelLayout layout);  // "single-gpu", "tensor-parallel", ...

// Default vLLM --gpu-memory-utilization for a GPU (0.82 on A10, else 0.84), as KAITO does.
double DefaultGpuMemoryUtilization(std::string_view product);

// Returns the smallest replica of `model` on `shape`, or Invalid with a message saying
// why it cannot fit (e.g. "GPU memory too small", "a MIG slice cannot span nodes") and by
// how much. Invalid also for bad options (max_model_len above the model's context limit,
// unknown dtype, a quantization that needs a different checkpoint).
//
// Sizing: KAITO's per-GPU formula (docs/WORKSPACE.md), with the KV reserve divided by the
// tensor-parallel size actually used and the model grown by headroom_fraction. The
// replica takes the smallest divisor of the node's GPU count whose GPUs hold it; if a
// whole node is not enough it takes whole nodes (pipeline parallel across them).
StatusOr<ReplicaEstimate> EstimateReplica(const ModelInfo& model, const GpuShape& shape,
                                          const EstimateOptions& options = {});

}  // namespace berth::workspace
