#include "hub/controllers/snapshot.h"

#include "api/object.h"
#include "placement/taints.h"

namespace berth::hub {

using nlohmann::json;

placement::ClusterInventory InventoryFromMember(const json& member, bool healthy) {
  placement::ClusterInventory c;
  c.name = api::NameOf(member);
  c.labels = api::LabelsOf(member);
  for (const char* f : {"region", "zone", "provider"}) {
    json v = api::JsonPathGet(member, std::string("spec.") + f);
    if (v.is_string() && !v.get<std::string>().empty()) c.labels[f] = v.get<std::string>();
  }
  c.health = healthy ? placement::ClusterHealth::kHealthy : placement::ClusterHealth::kUnhealthy;
  if (api::JsonPathGet(member, "spec.cordoned") == json(true)) {
    // A cordoned member keeps what it runs but takes nothing new: modelled as a taint.
    c.taints.push_back({"berth.dev/cordoned", "", policies::TaintEffect::kNoSchedule});
  }
  json taints = api::JsonPathGet(member, "spec.taints");
  if (taints.is_array()) {
    for (const auto& t : taints) {
      auto effect = policies::ParseTaintEffect(t.value("effect", "NoSchedule"));
      c.taints.push_back({t.value("key", ""), t.value("value", ""),
                          effect.value_or(policies::TaintEffect::kNoSchedule)});
    }
  }
  static const json kNoStatus = json::object();
  auto found = member.find("status");
  const json& status = found != member.end() && found->is_object() ? *found : kNoStatus;
  auto field = [&status](const char* name) -> const json& {
    static const json kNone;
    auto it = status.find(name);
    return it == status.end() ? kNone : *it;
  };
  const json& nodes = field("nodes");
  for (const auto& n : nodes.is_array() ? nodes : json::array()) {
    if (!n.is_object() || !n.value("ready", true)) continue;
    placement::GpuNode node;
    node.name = n.value("name", "");
    node.pool = n.value("pool", "");
    node.gpu_product = n.value("gpuProduct", "");
    node.mig_profile = n.value("migProfile", "");
    node.memory_gib = n.value("memoryGiB", 0.0);
    node.units = n.value("gpus", 0);
    // GPUs held by Berth's own pods count as free here: the controller reserves every
    // replica it has asked for (docs/FAILOVER.md), so they are not counted twice.
    node.free_units = n.value("freeGpus", 0) + n.value("berthGpus", 0);
    node.units_per_gpu = std::max(1, n.value("slicesPerGpu", 1));
    if (auto v = policies::DottedVersion::Parse(n.value("driverVersion", ""))) node.driver_version = *v;
    if (auto v = policies::DottedVersion::Parse(n.value("cudaVersion", ""))) node.cuda_version = *v;
    if (auto labels = n.find("labels"); labels != n.end() && labels->is_object()) {
      for (const auto& [key, value] : labels->items()) {
        if (value.is_string()) node.labels[key] = value.get<std::string>();
      }
    }
    if (auto taints = n.find("taints"); taints != n.end()) node.taints = placement::ParseNodeTaints(*taints);
    if (node.units > 0) c.nodes.push_back(std::move(node));
  }
  const json& prices = field("pricesPerGpuHour");
  if (prices.is_object()) {
    for (auto it = prices.begin(); it != prices.end(); ++it) {
      if (it->is_number()) c.price_per_gpu_hour[it.key()] = it->get<double>();
    }
  }
  // An agent's bad value keeps its default (the agent's own status is not refused for it).
  c.startup = placement::ParseStartupRates(field("startup"), "status.startup", {}, nullptr);
  for (const char* list : {"cachedImages", "cachedModels"}) {
    const json& items = field(list);
    auto& into = std::string(list) == "cachedImages" ? c.cached_images : c.cached_models;
    for (const auto& i : items.is_array() ? items : json::array()) {
      if (i.is_string()) into.insert(i.get<std::string>());
    }
  }
  return c;
}

}  // namespace berth::hub
