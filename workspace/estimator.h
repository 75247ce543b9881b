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
  int64_t max_model_len = 2048;        // tokens of KV cache reserved per sequence
  double gpu_memory_utilization = 0;   // 0 = default (0.84; 0.82 on A10)
  double headroom_fraction = 0.05;     // extra memory kept free beyond KAITO's estimate
  int gpu_count_override = 0;          // >0: use exactly this many GPUs per replica
};

enum class ParallelLayout { kSingleGpu, kTensorParallel, kPipelineParallel };

struct ReplicaEstimate {
  int gpus_per_node = 1;     // GPUs (or slices) one replica takes on each of its nodes
  int nodes = 1;             // nodes per replica (>1 means pipeline parallel over Ray)
  int tensor_parallel = 1;   // --tensor-parallel-size
  int pipeline_parallel = 1; // --pipeline-parallel-size
  ParallelLayout layout = ParallelLayout::kSingleGpu;
  double model_gib = 0;          // weights × overhead
  double available_gib = 0;      // usable for weights across the replica's GPUs
  double headroom_gib = 0;       // available − model (≥ 0 unless overridden)
  std::vector<std::string> warnings;  // e.g. override below the estimate

  int total_gpus() const { return gpus_per_node * nodes; }
};

// Returns the smallest replica of `model` on `shape`, or Invalid with a message saying
// why it cannot fit (e.g. "GPU memory too small", "a MIG slice cannot span nodes").
StatusOr<ReplicaEstimate> EstimateReplica(const ModelInfo& model, const GpuShape& shape,
                                          const EstimateOptions& options = {});

}  // namespace berth::workspace
