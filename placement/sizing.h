// Sizers that turn a model into a ReplicaSizer for the planner.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "placement/planner.h"
#include "workspace/catalog.h"
#include "workspace/estimator.h"

namespace berth::placement {

// Sizes with the GPU estimator (workspace::EstimateReplica), caching per shape.
ReplicaSizer EstimatorSizer(workspace::ModelInfo model, workspace::EstimateOptions options = {});

// A custom pod template's replica: exactly `gpus` whole GPUs on one node (no MIG slices: the
// template requests nvidia.com/gpu).
ReplicaSizer TemplateSizer(int gpus);

// Fixed sizes keyed by GPU shape label ("A100-80GB", "A100-80GB/3g.40gb") or product;
// shapes not listed use `fallback` when given, else are unfit. For tests and what-ifs.
struct FixedSize {
  int gpus_per_node = 1;
  int nodes = 1;
};
ReplicaSizer FixedSizer(std::map<std::string, FixedSize> by_shape,
                        std::optional<FixedSize> fallback = {});

}  // namespace berth::placement
