#include "member-agent/inventory.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "member-agent/backend.h"
#include "placement/taints.h"
#include "workspace/catalog.h"

namespace berth::agent {

using nlohmann::json;

int GpuInventory::total_gpus() const {
  int total = 0;
  for (const auto& n : nodes) total += n.gpus / std::max(1, n.slices_per_gpu);
  return total;
}

int GpuInventory::free_gpus() const {
  int free = 0;
  for (const auto& n : nodes) free += n.free_gpus / std::max(1, n.slices_per_gpu);
  return free;
}

json InventoryStatusJson(const GpuInventory& inv, const std::string& agent_version,
                         const std::string& backend, bool simulated) {
  json nodes = json::array();
  for (const auto& n : inv.nodes) {
    nodes.push_back({{"name", n.name},
                     {"pool", n.pool},
                     {"ready", n.ready},
                     {"gpuProduct", n.gpu_product},
                     {"gfdProduct", n.gfd_product},
                     {"memoryGiB", n.memory_gib},
                     {"gpus", n.gpus},
                     {"freeGpus", n.free_gpus},
                     {"berthGpus", n.berth_gpus},
                     {"migProfile", n.mig_profile},
                     {"slicesPerGpu", n.slices_per_gpu},
                     {"driverVersion", n.driver_version},
                     {"cudaVersion", n.cuda_version}});
    if (!n.labels.empty()) nodes.back()["labels"] = n.labels;
    if (!n.taints.empty()) nodes.back()["taints"] = placement::NodeTaintsJson(n.taints);
  }
  json prices = json::object();
  for (const auto& [product, price] : inv.prices_per_gpu_hour) prices[product] = price;
  json status = {{"agentVersion", agent_version},
                 {"backend", backend},
                 {"simulated", simulated},
                 {"gpus", {{"total", inv.total_gpus()}, {"free", inv.free_gpus()}}},
                 {"nodes", nodes},
                 {"pricesPerGpuHour", prices},
                 {"cachedImages", inv.cached_images},
                 {"cachedModels", inv.cached_models}};
  if (inv.startup) status["startup"] = placement::StartupRatesToJson(*inv.startup);
  return status;
}

std::vector<placement::Taint> ReportedNodeTaints(const json& node) {
  return placement::ParseNodeTaints(node.value("/spec/taints"_json_pointer, json::array()));
}

std::map<std::string, std::string> ReportedNodeLabels(const json& node) {
  std::map<std::string, std::string> out;
  const json* labels = nullptr;
  if (auto m = node.find("metadata"); m != node.end() && m->is_object()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  if (!labels) return out;
  auto infrastructure = [](const std::string& key) {
    const size_t slash = key.find('/');
    if (slash == std::string::npos) return false;
    const std::string_view prefix(key.data(), slash);
    for (std::string_view domain : {"kubernetes.io", "k8s.io", "nvidia.com"}) {
      if (prefix == domain || (prefix.size() > domain.size() && prefix.ends_with(domain) &&
                               prefix[prefix.size() - domain.size() - 1] == '.')) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [key, value] : labels->items()) {
    if (out.size() == 64) break;
    if (value.is_string() && !infrastructure(key)) out[key] = value.get<std::string>();
  }
  return out;
}

namespace {

constexpr std::string_view kGpuResource = "nvidia.com/gpu";
constexpr std::string_view kMigPrefix = "nvidia.com/mig-";

// Kubernetes quantities for extended resources are integers ("4"); tolerate numbers too.
int QuantityToInt(const json& q) {
  if (q.is_number_integer()) return q.get<int>();
  if (q.is_number()) return static_cast<int>(q.get<double>());
  if (q.is_string()) return std::atoi(q.get<std::string>().c_str());
  return 0;
}

bool IsGpuResource(std::string_view name) {
  return name == kGpuResource || name.starts_with(kMigPrefix);
}

std::map<std::string, int> ContainerGpuRequests(const json& container) {
  std::map<std::string, int> out;
  const json& resources = container.value("resources", json::object());
  const json requests = resources.value("requests", json::object());
  const json limits = resources.value("limits", json::object());
  for (const json* source : {&limits, &requests}) {  // requests override limits
    if (!source->is_object()) continue;
    for (const auto& [name, q] : source->items()) {
      if (IsGpuResource(name)) out[name] = QuantityToInt(q);
    }
  }
  return out;
}

std::string NodePool(const json& node) {
  for (const char* key :
       {"berth.dev/pool", "agentpool", "kubernetes.azure.com/agentpool",
        "cloud.google.com/gke-nodepool", "eks.amazonaws.com/nodegroup", "karpenter.sh/nodepool"}) {
    std::string v = LabelOf(node, key);
    if (!v.empty()) return v;
  }
  return "";
}

bool NodeReady(const json& node) {
  if (node.value("/spec/unschedulable"_json_pointer, false)) return false;
  const json conditions = node.value("/status/conditions"_json_pointer, json::array());
  for (const auto& c : conditions) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

// "3g.40gb" → 40; 0 when the profile does not say.
double MigSliceMemoryGib(const std::string& profile) {
  auto dot = profile.find('.');
  auto gb = profile.find("gb");
  if (dot == std::string::npos || gb == std::string::npos || gb <= dot + 1) return 0;
  return std::atof(profile.substr(dot + 1, gb - dot - 1).c_str());
}

}  // namespace

bool PodHoldsResources(const json& pod) {
  std::string phase = pod.value("/status/phase"_json_pointer, std::string());
  return phase != "Succeeded" && phase != "Failed";
}

std::map<std::string, int> PodGpuRequests(const json& pod) {
  std::map<std::string, int> sum;
  const json spec = pod.value("spec", json::object());
  for (const auto& c : spec.value("containers", json::array())) {
    for (const auto& [name, n] : ContainerGpuRequests(c)) sum[name] += n;
  }
  for (const auto& c : spec.value("initContainers", json::array())) {
    for (const auto& [name, n] : ContainerGpuRequests(c)) sum[name] = std::max(sum[name], n);
  }
  return sum;
}

GpuInventory ComputeInventory(const json& nodes, const json& pods) {
  // Requests per node and resource from pods bound to a node and still holding resources.
  std::map<std::string, std::map<std::string, int>> used;
  std::map<std::string, std::map<std::string, int>> used_by_berth;
  if (pods.is_array()) {
    for (const auto& pod : pods) {
      std::string node = pod.value("/spec/nodeName"_json_pointer, std::string());
      if (node.empty() || !PodHoldsResources(pod)) continue;
      const bool berth = LabelOf(pod, "app.kubernetes.io/managed-by") == "berth";
      for (const auto& [name, n] : PodGpuRequests(pod)) {
        used[node][name] += n;
        if (berth) used_by_berth[node][name] += n;
      }
    }
  }

  const auto& catalog = workspace::Catalog::BuiltIn();
  GpuInventory inv;
  if (!nodes.is_array()) return inv;
  for (const auto& node : nodes) {
    const std::string name = node.value("/metadata/name"_json_pointer, std::string());
    const json allocatable = node.value("/status/allocatable"_json_pointer, json::object());
    std::string product = LabelOf(node, "nvidia.com/gpu.product");
    // GFD's single MIG strategy appends "-MIG-<profile>" to the product.
    if (auto mig = product.find("-MIG-"); mig != std::string::npos) product.resize(mig);
    const bool ready = NodeReady(node);
    const double memory_mib = std::atof(LabelOf(node, "nvidia.com/gpu.memory").c_str());
    const int physical_gpus = std::atoi(LabelOf(node, "nvidia.com/gpu.count").c_str());
    std::string driver;
    if (std::string major = LabelOf(node, "nvidia.com/cuda.driver.major"); !major.empty()) {
      driver = major + "." + LabelOf(node, "nvidia.com/cuda.driver.minor");
      if (std::string rev = LabelOf(node, "nvidia.com/cuda.driver.rev"); !rev.empty())
        driver += "." + rev;
    }
    std::string cuda;
    if (std::string major = LabelOf(node, "nvidia.com/cuda.runtime.major"); !major.empty()) {
      cuda = major + "." + LabelOf(node, "nvidia.com/cuda.runtime.minor");
    }
    std::string catalog_name = product;
    if (auto gpu = catalog.FindGpu(product); gpu.ok()) catalog_name = gpu->name;

    for (const auto& [resource, quantity] : allocatable.items()) {
      if (!IsGpuResource(resource)) continue;
      NodeInventory n;
      n.name = name;
      n.pool = NodePool(node);
      n.ready = ready;
      n.gpu_product = catalog_name;
      n.gfd_product = product;
      n.driver_version = driver;
      n.cuda_version = cuda;
      n.labels = ReportedNodeLabels(node);
      n.taints = ReportedNodeTaints(node);
      n.gpus = QuantityToInt(quantity);
      if (n.gpus <= 0) continue;
      if (resource == kGpuResource) {
        n.memory_gib = memory_mib / 1024.0;
      } else {
        n.mig_profile = resource.substr(kMigPrefix.size());
        n.memory_gib = MigSliceMemoryGib(n.mig_profile);
        if (physical_gpus > 0 && n.gpus % physical_gpus == 0)
          n.slices_per_gpu = n.gpus / physical_gpus;
      }
      int requested = 0;
      if (auto u = used.find(name); u != used.end()) {
        if (auto r = u->second.find(resource); r != u->second.end()) requested = r->second;
      }
      n.free_gpus = ready ? std::max(0, n.gpus - requested) : 0;
      if (auto u = used_by_berth.find(name); u != used_by_berth.end()) {
        if (auto r = u->second.find(resource); r != u->second.end()) n.berth_gpus = r->second;
      }
      inv.nodes.push_back(std::move(n));
    }
  }
  return inv;
}

}  // namespace berth::agent
