// Manifest renderer: a Workspace plus one member cluster's assignment -> the Kubernetes
// objects that serve it there (ConfigMap, Service, headless Service, StatefulSet(s)).
// Pure and deterministic: the same inputs give byte-identical `dump()` output.
// Layout and every flag are described in docs/WORKSPACE.md ("What the renderer emits").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/status.h"
#include "workspace/estimator.h"
#include "workspace/workspace_types.h"

namespace berth::workspace {

// Berth's default serving image (vLLM's OpenAI server), pinned so clusters agree.
inline constexpr char kDefaultVllmImage[] = "vllm/vllm-openai:v0.10.1.1";
inline constexpr int kServingPort = 5000;
inline constexpr char kAdapterDir[] = "/mnt/adapter";  // adapter files, one directory each (as KAITO)

// What the placement decided for one member cluster.
struct ClusterAssignment {
  int replicas = 1;
  // GPUs of the node pool: product is a catalog name or GFD product; memory_gib may be 0
  // to take it from the catalog (or from mig_profile for MIG slices).
  GpuShape shape;
  std::string gfd_product;  // nvidia.com/gpu.product value; "" = the catalog's
  int64_t revision = 1;     // Workspace revision being rendered
  std::string namespace_;   // "" = the Workspace's namespace, else "default"
  // False when the hub found no node in this cluster that matches resource.labelSelector:
  // the selector is left out and any node with the GPUs serves (docs/WORKSPACE.md).
  bool label_selector_honoured = true;
  // The Secrets and ConfigMaps the hub delivered for this Workspace (ReferencedObjects), as
  // {kind, name, type, data, binaryData}: rendered as the Workspace's own copies
  // (MemberCopyName) that the pods read. A referenced object not delivered (it does not
  // exist at the hub) is still referenced: its pods wait, as Kubernetes' do.
  std::vector<nlohmann::json> references;
};

struct RenderedWorkspace {
  // Delivered Secrets/ConfigMaps, ConfigMap, Service, headless Service, StatefulSet(s)
  std::vector<nlohmann::json> objects;
  ReplicaEstimate estimate;             // the replica size used
};

// Renders `ws` for `assignment`. Invalid when the model does not fit the shape (the
// estimator's reason, prefixed with the cluster shape) or the shape is unknown.
StatusOr<RenderedWorkspace> RenderWorkspace(const Workspace& ws,
                                            const ClusterAssignment& assignment,
                                            const Catalog& catalog = Catalog::BuiltIn());

// Startup probe budget: 15 min + 18 s per GiB of weights, clamped to [30, 180] min.
int64_t StartupBudgetSeconds(double weights_gib);

}  // namespace berth::workspace
