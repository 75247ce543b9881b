// GPU estimator. Numbers follow KAITO's estimator so sizes agree with what KAITO users
// expect; the differences (fewest GPUs, headroom, override, MIG rules) are documented in
// docs/WORKSPACE.md.
#include "workspace/estimator.h"

#include <cmath>
#include <cstdio>

#include "workspace/text_match.h"

namespace berth::workspace {
namespace {

constexpr double kBytesPerGib = 1024.0 * 1024.0 * 1024.0;
constexpr double kWeightOverhead = 1.02;  // runtime copies beyond the files on disk
constexpr double kBaseReserveGib = 2.3;   // CUDA context, activations, sampler
constexpr double kFragmentation = 1.05;

std::string Gib(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", v);
  return buf;
}

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string ShapeName(const GpuShape& shape) {
  std::string product = shape.product.empty() ? Gib(shape.memory_gib) + " GPU" : shape.product;
  if (!shape.mig_profile.empty()) return product + " MIG " + shape.mig_profile + " slice";
  return product;
}

constexpr int kMaxGpusNeeded = 1 << 20;

struct Sizing {
  double usable_gib;  // per GPU, memory × utilization
  double kv_gib;      // KV cache for one max-length sequence, whole replica
  double model_gib;   // weights × overhead (KAITO's "model")
  double sized_gib;   // model × (1 + headroom): what the replica must hold

  double ReserveGib(int tp) const { return kBaseReserveGib + kv_gib / tp; }
  double AvailablePerGpu(int tp) const { return (usable_gib - ReserveGib(tp)) / kFragmentation; }
  // KAITO's minGPUs = floor(model / avail) + 1, for the reserve of a tp-wide replica.
  // Capped at kMaxGpusNeeded (more than any fleet has), so the count stays an int.
  int GpusNeeded(int tp) const {
    double avail = AvailablePerGpu(tp);
    if (avail <= 0) return -1;
    const double need = std::floor(sized_gib / avail) + 1;
    return need < kMaxGpusNeeded ? static_cast<int>(need) : kMaxGpusNeeded;  // NaN: capped too
  }
};

Status CheckOptions(const ModelInfo& model, const GpuShape& shape, const EstimateOptions& o) {
  if (model.weights_gib <= 0)
    return Status::Invalid("model " + model.preset + " has no weights size");
  if (shape.memory_gib <= 0)
    return Status::Invalid("GPU shape " + ShapeName(shape) + " has no memory size");
  if (shape.gpus_per_node < 1)
    return Status::Invalid("GPU shape must have at least 1 GPU per node");
  if (o.max_model_len < 1) return Status::Invalid("maxModelLen must be at least 1");
  if (model.context_limit > 0 && o.max_model_len > model.context_limit) {
    return Status::Invalid("maxModelLen " + std::to_string(o.max_model_len) + " is above " +
                           model.preset + "'s context limit of " +
                           std::to_string(model.context_limit) + " tokens");
  }
  if (o.gpu_memory_utilization < 0 || o.gpu_memory_utilization > 1) {
    return Status::Invalid("gpuMemoryUtilization must be in (0, 1]");
  }
  if (o.headroom_fraction < 0 || o.headroom_fraction >= 1) {
    return Status::Invalid("headroom fraction must be in [0, 1)");
  }
  if (o.gpu_count_override < 0) return Status::Invalid("GPU count override must not be negative");
  return Status::Ok();
}

// Weight and KV multipliers for the requested dtype/quantization, or Invalid.
Status Multipliers(const ModelInfo& model, const EstimateOptions& o, double* weights, double* kv) {
  *weights = 1.0;
  *kv = 1.0;
  const bool unquantized =
      model.quantization.empty() || EqualsIgnoreCase(model.quantization, "none");
  std::string dtype = ToLower(o.dtype);
  if (dtype == "float32" || dtype == "float") {
    if (unquantized) *weights = 2.0;  // catalog sizes are 16-bit checkpoints
    *kv = 2.0;
  } else if (!(dtype.empty() || dtype == "auto" || dtype == "bfloat16" || dtype == "float16" ||
               dtype == "half")) {
    return Status::Invalid("dtype \"" + o.dtype +
                           "\" is not one of auto, bfloat16, float16, float32");
  }
  std::string q = ToLower(o.quantization);
  if (q.empty() || EqualsIgnoreCase(q, model.quantization)) return Status::Ok();
  if (unquantized && q == "fp8") {
    *weights *= 0.5;  // vLLM quantizes weights to 8 bits while loading
    return Status::Ok();
  }
  return Status::Invalid("quantization \"" + o.quantization +
                         "\" needs a checkpoint quantized that way; " + model.preset +
                         " is published as " + model.quantization +
                         (unquantized ? " (only fp8 can be applied at load time)" : ""));
}

}  // namespace

const char* ParallelLayoutName(ParallelLayout layout) {
  switch (layout) {
    case ParallelLayout::kSingleGpu:
      return "single-gpu";
    case ParallelLayout::kTensorParallel:
      return "tensor-parallel";
    case ParallelLayout::kPipelineParallel:
      return "pipeline-parallel";
  }
  return "unknown";
}

double DefaultGpuMemoryUtilization(std::string_view product) {
  // KAITO lowers the fraction on A10 (not A10G): its driver reserves more memory.
  return EqualsIgnoreCase(product, "A10") || EqualsIgnoreCase(product, "NVIDIA-A10") ? 0.82 : 0.84;
}

namespace {

// How a replica is laid out on the shape's GPUs.
struct Layout {
  int tp = 0;  // tensor parallel (0: nothing fits)
  int nodes = 1;
  int per_node = 0;
  std::string fit_error;  // why nothing fits, when tp is 0
};

// The estimate without an override: fewest GPUs (a divisor of the node's count), else whole
// nodes; a MIG slice is one GPU or nothing.
Layout FitLayout(const Sizing& s, const GpuShape& shape, const EstimateOptions& options,
                 const std::string& what) {
  const bool mig = !shape.mig_profile.empty();
  const int node_gpus = shape.gpus_per_node;
  Layout l;
  if (mig) {
    if (s.GpusNeeded(1) > 1) {
      l.fit_error =
          what + " needs " + Gib(s.sized_gib) + " for weights but one " + ShapeName(shape) +
          " holds " + Gib(s.AvailablePerGpu(1)) + " after the runtime reserve (" +
          std::to_string(s.GpusNeeded(1)) +
          " slices' worth); a MIG slice cannot span nodes or be tensor-parallel across slices: "
          "use a larger MIG profile or whole GPUs";
    } else {
      l.tp = 1;
      l.per_node = 1;
    }
  } else {
    for (int d = 1; d <= node_gpus; ++d) {
      if (node_gpus % d != 0) continue;
      int need = s.GpusNeeded(d);
      if (need > 0 && need <= d) {
        l.tp = d;
        l.per_node = d;
        break;
      }
    }
    if (l.tp == 0) {
      int need = s.GpusNeeded(node_gpus);
      int n = (need + node_gpus - 1) / node_gpus;
      if (options.max_nodes_per_replica > 0 && n > options.max_nodes_per_replica) {
        l.fit_error = what + " needs " + Gib(s.sized_gib) + " across GPUs (" +
                      std::to_string(need) + " GPUs); one " + ShapeName(shape) + " node has " +
                      std::to_string(node_gpus) + "×" + Gib(shape.memory_gib) + " (" +
                      Gib(s.AvailablePerGpu(node_gpus) * node_gpus) +
                      " for weights), so a replica would span " + std::to_string(n) +
                      " nodes, above the limit of " + std::to_string(options.max_nodes_per_replica);
      } else {
        l.tp = node_gpus;
        l.per_node = node_gpus;
        l.nodes = n;
      }
    }
  }

  return l;
}

// spec.resource.count: the user's GPU count replaces the estimate's layout, with a warning
// when it leaves GPUs idle or less memory than the estimate wants.
Status ApplyGpuCountOverride(const Sizing& s, const GpuShape& shape, const EstimateOptions& options,
                             const std::string& what, Layout& l, ReplicaEstimate& est) {
  const bool mig = !shape.mig_profile.empty();
  const int node_gpus = shape.gpus_per_node;
  const int want = options.gpu_count_override;
  if (mig && want > 1) {
    return Status::Invalid("GPU count override " + std::to_string(want) +
                           " is not possible on MIG: a replica uses exactly one " +
                           ShapeName(shape) + " (slices cannot be tensor-parallel or span nodes)");
  }
  int o_tp, o_nodes;
  if (want <= node_gpus) {
    o_tp = want;
    o_nodes = 1;
    if (node_gpus % want != 0) {
      est.warnings.push_back("GPU count override " + std::to_string(want) +
                             " does not divide the node's " + std::to_string(node_gpus) +
                             " GPUs; some GPUs will stay idle");
    }
  } else {
    if (want % node_gpus != 0) {
      return Status::Invalid("GPU count override " + std::to_string(want) +
                             " spans nodes but is not a multiple of the " +
                             std::to_string(node_gpus) + " GPUs per node of " + ShapeName(shape));
    }
    o_tp = node_gpus;
    o_nodes = want / node_gpus;
  }
  if (l.tp == 0) {
    est.warnings.push_back("GPU count override " + std::to_string(want) +
                           " is used although the estimate says: " + l.fit_error);
  } else if (want < l.tp * l.nodes) {
    est.warnings.push_back("GPU count override " + std::to_string(want) +
                           " is below the estimated " + std::to_string(l.tp * l.nodes) +
                           " GPUs: " + what + " needs " + Gib(s.sized_gib) +
                           ", the override leaves " + Gib(s.AvailablePerGpu(o_tp) * want) +
                           " for weights; expect out-of-memory at load");
  }
  l.tp = o_tp;
  l.nodes = o_nodes;
  l.per_node = o_tp;
  return Status::Ok();
}

}  // namespace

StatusOr<ReplicaEstimate> EstimateReplica(const ModelInfo& model, const GpuShape& shape,
                                          const EstimateOptions& options) {
  BERTH_RETURN_IF_ERROR(CheckOptions(model, shape, options));
  double weight_mult = 1, kv_mult = 1;
  BERTH_RETURN_IF_ERROR(Multipliers(model, options, &weight_mult, &kv_mult));

  const bool mig = !shape.mig_profile.empty();
  const int node_gpus = shape.gpus_per_node;
  ReplicaEstimate est;
  est.gpu_memory_utilization = options.gpu_memory_utilization > 0
                                   ? options.gpu_memory_utilization
                                   : DefaultGpuMemoryUtilization(shape.product);
  Sizing s;
  s.usable_gib = shape.memory_gib * est.gpu_memory_utilization;
  s.kv_gib = static_cast<double>(options.max_model_len) *
             static_cast<double>(model.kv_bytes_per_token) * kv_mult / kBytesPerGib;
  s.model_gib = model.weights_gib * weight_mult * kWeightOverhead;
  s.sized_gib = s.model_gib * (1 + options.headroom_fraction);
  est.model_gib = s.model_gib;

  const std::string what = model.preset.empty() ? model.hf_id : model.preset;
  // The smallest reserve (widest tensor parallel) still leaves nothing: no split helps.
  const int widest = mig ? 1 : node_gpus;
  if (s.AvailablePerGpu(widest) <= 0) {
    return Status::Invalid(
        "GPU memory too small: one " + ShapeName(shape) + " has " + Gib(s.usable_gib) +
        " usable (" + Gib(shape.memory_gib) + " × " + Fixed(est.gpu_memory_utilization) +
        ") but the runtime reserve for maxModelLen " + std::to_string(options.max_model_len) +
        " is " + Gib(s.ReserveGib(widest)) + "; lower maxModelLen or use a larger GPU");
  }

  Layout l = FitLayout(s, shape, options, what);
  if (options.gpu_count_override > 0) {
    BERTH_RETURN_IF_ERROR(ApplyGpuCountOverride(s, shape, options, what, l, est));
  } else if (l.tp == 0) {
    return Status::Invalid(l.fit_error);
  }
  const int tp = l.tp, nodes = l.nodes, per_node = l.per_node;

  est.gpus_per_node = per_node;
  est.nodes = nodes;
  est.tensor_parallel = tp;
  est.pipeline_parallel = nodes;
  est.layout = nodes > 1      ? ParallelLayout::kPipelineParallel
               : per_node > 1 ? ParallelLayout::kTensorParallel
                              : ParallelLayout::kSingleGpu;
  est.available_gib = s.AvailablePerGpu(tp) * tp * nodes;
  est.headroom_gib = est.available_gib - est.model_gib;
  est.replicas_per_node = nodes == 1 ? node_gpus / per_node : 1;
  return est;
}

}  // namespace berth::workspace
