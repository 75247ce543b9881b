#include "placement/workspace_request.h"

#include "placement/sizing.h"

namespace berth::placement {

StatusOr<PlacementRequest> RequestFromWorkspace(const workspace::Workspace& ws,
                                                const PolicyCatalog& policies) {
  PlacementRequest req;
  const std::string ns = ws.namespace_.empty() ? "default" : ws.namespace_;
  req.workspace = ns + "/" + ws.name;
  req.replicas = ws.placement.replicas;
  req.model = ws.inference.preset_name.empty() ? ws.model.hf_id : ws.inference.preset_name;
  req.image = ws.inference.image;
  req.weights_gib = ws.model.weights_gib;
  if (auto ann = ws.metadata.find("annotations"); ann != ws.metadata.end() && ann->is_object()) {
    if (auto p = ann->find("berth.dev/priority"); p != ann->end() && p->is_string()) {
      req.priority = std::atoi(p->get<std::string>().c_str());
    }
  }
  if (!ws.placement.inline_policy.is_null()) {
    auto spec = policies::ParsePlacementPolicySpec(ws.placement.inline_policy, "placement.policy");
    if (!spec.ok()) return spec.status().WithContext("workspace " + req.workspace);
    req.policy = std::make_shared<policies::PlacementPolicySpec>(std::move(spec).value());
  } else if (!ws.placement.policy_ref.empty()) {
    auto it = policies.find(ns + "/" + ws.placement.policy_ref);
    if (it == policies.end()) {
      return Status::NotFound("workspace " + req.workspace + ": placement.policyRef \"" +
                              ws.placement.policy_ref +
                              "\" names no PlacementPolicy in namespace " + ns);
    }
    req.policy = it->second;
  }
  for (const auto& p : ws.status.placements) {
    if (p.replicas <= 0) continue;
    req.current[p.cluster] += p.replicas;
    if (!p.gpu.empty()) req.current_gpus[p.cluster][p.gpu] += p.replicas;
  }

  std::vector<std::string> allowed = ws.resource.gpu_products;
  if (allowed.empty() && !ws.resource.instance_type.empty()) {
    auto it = workspace::Catalog::BuiltIn().FindInstanceType(ws.resource.instance_type);
    if (it.ok()) allowed.push_back(it->gpu);
  }
  // Resolve to catalog names so "NVIDIA-A100-SXM4-80GB" matches pools named "A100-80GB".
  for (const auto& g : allowed) {
    auto info = workspace::Catalog::BuiltIn().FindGpu(g);
    req.gpu_products.push_back(info.ok() ? info->name : g);
  }
  req.node_selector = ws.resource.label_selector;
  req.sizer = ws.custom_template() ? TemplateSizer(ws.template_gpus) : EstimatorSizer(ws.model, ws.EstimateOptionsFor());
  if (!ws.resource.instance_type.empty()) {
    // An instance type is a VM of whole GPUs (Azure NC/ND, AWS g5/p4d…): MIG slices of the
    // same product are not what it asked for (docs/WORKSPACE.md).
    req.sizer = [inner = std::move(req.sizer), type = ws.resource.instance_type](
                    const workspace::GpuShape& shape) -> StatusOr<workspace::ReplicaEstimate> {
      if (!shape.mig_profile.empty()) {
        return Status::Invalid("resource.instanceType " + type + " has whole GPUs, not MIG " + shape.mig_profile + " slices");
      }
      return inner(shape);
    };
  }
  return req;
}

}  // namespace berth::placement
