#include "workspace/pod_tolerations.h"

#include <nlohmann/json.hpp>

namespace berth::workspace {

const nlohmann::json& RenderedPodTolerations() {
  // nvidia.com/gpu: the taint GPU node pools commonly carry (GKE adds
  // nvidia.com/gpu=present:NoSchedule); KAITO's pods tolerate it the same way.
  // sku=gpu: the taint KAITO's provisioner puts on the GPU nodes it creates and AKS GPU
  // pools are often created with; KAITO's inference pods tolerate it (Equal, NoSchedule).
  static const nlohmann::json kTolerations = {
      {{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}},
      {{"key", "sku"}, {"operator", "Equal"}, {"value", "gpu"}, {"effect", "NoSchedule"}}};
  return kTolerations;
}

}  // namespace berth::workspace
