#include "placement/sizing.h"

namespace berth::placement {

ReplicaSizer EstimatorSizer(workspace::ModelInfo model, workspace::EstimateOptions options) {
  return [model = std::move(model),
          options](const workspace::GpuShape& shape) -> StatusOr<workspace::ReplicaEstimate> {
    return workspace::EstimateReplica(model, shape, options);
  };
}

ReplicaSizer TemplateSizer(int gpus) {
  return [fixed = FixedSizer({}, FixedSize{gpus, 1})](const workspace::GpuShape& shape) -> StatusOr<workspace::ReplicaEstimate> {
    if (!shape.mig_profile.empty()) {
      return Status::Invalid("the template requests whole GPUs (nvidia.com/gpu), not MIG " + shape.mig_profile + " slices");
    }
    return fixed(shape);
  };
}

ReplicaSizer FixedSizer(std::map<std::string, FixedSize> by_shape,
                        std::optional<FixedSize> fallback) {
  return [by_shape = std::move(by_shape),
          fallback](const workspace::GpuShape& shape) -> StatusOr<workspace::ReplicaEstimate> {
    std::string label =
        shape.mig_profile.empty() ? shape.product : shape.product + "/" + shape.mig_profile;
    auto it = by_shape.find(label);
    if (it == by_shape.end()) it = by_shape.find(shape.product);
    std::optional<FixedSize> size;
    if (it != by_shape.end())
      size = it->second;
    else
      size = fallback;
    if (!size) return Status::Invalid("the model does not fit on " + label);
    if (size->gpus_per_node > shape.gpus_per_node) {
      return Status::Invalid("a replica needs " + std::to_string(size->gpus_per_node) + " " +
                             label + " per node but nodes have " +
                             std::to_string(shape.gpus_per_node));
    }
    workspace::ReplicaEstimate est;
    est.gpus_per_node = size->gpus_per_node;
    est.nodes = size->nodes;
    est.tensor_parallel = size->gpus_per_node;
    est.pipeline_parallel = size->nodes;
    return est;
  };
}

}  // namespace berth::placement
