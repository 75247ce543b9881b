#include "bench/placement/fleet_gen.h"

#include <algorithm>
#include <random>
#include <string>

#include "placement/sizing.h"
#include "workspace/catalog.h"

namespace berth::placement::bench {

namespace {

struct PoolKind {
  const char* product;
  int gpus_per_node;
  double price_lo, price_hi;
  const char* mig_profile;  // nullptr for whole GPUs
  int slices_per_gpu;
};

const PoolKind kKinds[] = {
    {"H100-80GB", 8, 6.0, 8.5, nullptr, 1}, {"A100-80GB", 8, 3.0, 4.5, nullptr, 1},
    {"A100-80GB", 4, 3.2, 4.6, nullptr, 1}, {"A100-40GB", 8, 2.4, 3.3, nullptr, 1},
    {"L4", 4, 0.6, 1.0, nullptr, 1},        {"L4", 8, 0.6, 1.0, nullptr, 1},
    {"T4", 4, 0.25, 0.55, nullptr, 1},      {"A100-80GB", 8, 3.0, 4.5, "3g.40gb", 2},
};

const char* kRegions[] = {"eastus",      "westus2",       "westeurope",
                          "northeurope", "southeastasia", "japaneast"};
const double kLatency[6][6] = {{2, 62, 82, 88, 220, 160},   {62, 2, 142, 148, 170, 110},
                               {82, 142, 2, 18, 160, 230},  {88, 148, 18, 2, 170, 240},
                               {220, 170, 160, 170, 2, 70}, {160, 110, 230, 240, 70, 2}};
const char* kProviders[] = {"azure", "aws", "gcp", "onprem"};

// The estimator's sizing with multi-node shapes counted as unfit (the ILP is per node).
ReplicaSizer SingleNodeSizer(const workspace::ModelInfo& model) {
  ReplicaSizer estimate = EstimatorSizer(model);
  return [estimate](const workspace::GpuShape& shape) -> StatusOr<workspace::ReplicaEstimate> {
    auto est = estimate(shape);
    if (est.ok() && est->nodes > 1)
      return Status::Invalid("multi-node replicas are left out of the ILP");
    return est;
  };
}

}  // namespace

FleetSnapshot GenerateFleet(const FleetParams& params) {
  std::mt19937 rng(params.seed);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  FleetSnapshot fleet;
  for (int a = 0; a < 6; ++a) {
    for (int b = a + 1; b < 6; ++b)
      fleet.latencies.push_back({kRegions[a], kRegions[b], kLatency[a][b]});
  }
  const auto& models = workspace::Catalog::BuiltIn().models();
  for (int c = 0; c < params.clusters; ++c) {
    ClusterInventory cluster;
    char name[32];
    std::snprintf(name, sizeof name, "cluster-%04d", c);
    cluster.name = name;
    cluster.labels["region"] = kRegions[c % 6];
    cluster.labels["zone"] = std::string(kRegions[c % 6]) + "-" + std::to_string(1 + pick(3));
    std::string provider = kProviders[pick(4)];
    cluster.labels["provider"] = provider;
    cluster.labels["env"] = pick(5) == 0 ? "dev" : "prod";
    if (pick(50) == 0) cluster.health = ClusterHealth::kUnhealthy;
    if (pick(40) == 0)
      cluster.taints.push_back({"dedicated", "research", policies::TaintEffect::kNoSchedule});
    int pools = 1 + pick(2);
    int nodes_left = params.gpu_nodes_per_cluster;
    auto driver = *policies::DottedVersion::Parse(
        provider == "onprem" && pick(2) == 0 ? "470.82.01" : "550.54.15");
    auto cuda = *policies::DottedVersion::Parse(driver.parts[0] < 500 ? "11.4" : "12.4");
    for (int p = 0; p < pools && nodes_left > 0; ++p) {
      const PoolKind& kind = kKinds[pick(static_cast<int>(std::size(kKinds)))];
      int count = p + 1 == pools ? nodes_left : std::max(1, nodes_left / 2);
      nodes_left -= count;
      std::string product = kind.product;
      if (!cluster.price_per_gpu_hour.count(product)) {
        cluster.price_per_gpu_hour[product] =
            std::round(uniform(kind.price_lo, kind.price_hi) * 100) / 100;
      }
      double memory = workspace::Catalog::BuiltIn().FindGpu(product)->memory_gib;
      for (int n = 0; n < count; ++n) {
        GpuNode node;
        node.pool = "pool" + std::to_string(p);
        node.name = node.pool + "-" + std::to_string(n);
        node.gpu_product = product;
        node.units_per_gpu = kind.slices_per_gpu;
        node.units = kind.gpus_per_node * kind.slices_per_gpu;
        if (kind.mig_profile) {
          node.mig_profile = kind.mig_profile;
          node.memory_gib = memory / 2;
        } else {
          node.memory_gib = memory;
        }
        int used = 0;
        for (int u = 0; u < node.units; ++u) used += uniform(0, 1) < params.used_fraction ? 1 : 0;
        node.free_units = node.units - used;
        node.driver_version = driver;
        node.cuda_version = cuda;
        cluster.nodes.push_back(std::move(node));
      }
    }
    for (int m = 0; m < 3; ++m)
      cluster.cached_models.insert(models[pick(static_cast<int>(models.size()))].preset);
    fleet.clusters.push_back(std::move(cluster));
  }
  return fleet;
}

std::vector<PlacementRequest> GenerateWorkload(const WorkloadParams& params) {
  std::mt19937 rng(params.seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  std::vector<workspace::ModelInfo> models;
  for (const auto& m : workspace::Catalog::BuiltIn().models()) {
    if (m.weights_gib <= 140) models.push_back(m);
  }
  // A few shared policies, as in a real hub where most workspaces reference a handful.
  using Spec = policies::PlacementPolicySpec;
  std::vector<std::shared_ptr<const Spec>> policies;
  {
    auto cost = std::make_shared<Spec>();
    cost->scoring.weights = {0, 1, 0, 0, 0};
    policies.push_back(cost);
    if (!params.cost_only) {
      policies.push_back(std::make_shared<Spec>());  // defaults
      auto eu = std::make_shared<Spec>();
      eu->required.allowed_regions = {"westeurope", "northeurope"};
      eu->required.min_cuda_version = *policies::DottedVersion::Parse("12.2");
      policies.push_back(eu);
      auto ha = std::make_shared<Spec>();
      ha->spread.push_back({"region", 1, 2, policies::WhenUnsatisfiable::kScheduleAnyway});
      ha->scoring.demand_regions = {{"eastus", 0.5}, {"westeurope", 0.3}, {"japaneast", 0.2}};
      policies.push_back(ha);
      auto prod = std::make_shared<Spec>();
      policies::ClusterTerm term;
      term.label_selector.match_labels["env"] = "prod";
      prod->required.cluster_selector_terms.push_back(term);
      prod->required.min_driver_version = *policies::DottedVersion::Parse("535");
      prod->tolerations.push_back(
          {"dedicated", policies::TolerationOperator::kExists, "", std::nullopt, std::nullopt});
      policies.push_back(prod);
    }
  }
  std::vector<PlacementRequest> out;
  out.reserve(params.workspaces);
  for (int i = 0; i < params.workspaces; ++i) {
    PlacementRequest r;
    char name[48];
    std::snprintf(name, sizeof name, "ns%02d/ws-%05d", i % 20, i);
    r.workspace = name;
    r.replicas = 1 + pick(params.max_replicas);
    const auto& model = models[pick(static_cast<int>(models.size()))];
    r.model = model.preset;
    r.policy = policies[pick(static_cast<int>(policies.size()))];
    r.sizer = params.single_node_only ? SingleNodeSizer(model) : EstimatorSizer(model);
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// Node kinds and models of the tight family; prices are list-like per GPU-hour.
const PoolKind kTightKinds[] = {
    {"A10", 2, 0.9, 1.3, nullptr, 1},        {"L4", 4, 0.6, 1.0, nullptr, 1},
    {"L40S", 4, 1.6, 2.2, nullptr, 1},       {"A100-80GB", 8, 3.0, 4.5, nullptr, 1},
    {"H100-80GB", 8, 6.0, 8.5, nullptr, 1},
};
const char* kTightModels[] = {"phi-3-mini-4k-instruct", "llama-3.1-8b-instruct",
                              "deepseek-r1-distill-qwen-14b", "gemma-3-27b-instruct",
                              "qwen2.5-coder-32b-instruct"};

FleetSnapshot GenerateTightFleet(int clusters, std::mt19937& rng) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  FleetSnapshot fleet;
  const auto driver = *policies::DottedVersion::Parse("550.54.15");
  const auto cuda = *policies::DottedVersion::Parse("12.4");
  for (int c = 0; c < clusters; ++c) {
    ClusterInventory cluster;
    char name[32];
    std::snprintf(name, sizeof name, "cluster-%04d", c);
    cluster.name = name;
    cluster.labels["region"] = kRegions[c % 6];
    const int pools = 1 + pick(3);
    for (int p = 0; p < pools; ++p) {
      const PoolKind& kind = kTightKinds[pick(static_cast<int>(std::size(kTightKinds)))];
      const std::string product = kind.product;
      if (cluster.price_per_gpu_hour.count(product)) continue;  // one pool per product
      cluster.price_per_gpu_hour[product] =
          std::round(std::uniform_real_distribution<double>(kind.price_lo, kind.price_hi)(rng) *
                     100) / 100;
      const double memory = workspace::Catalog::BuiltIn().FindGpu(product)->memory_gib;
      const int count = 1 + pick(3);
      for (int n = 0; n < count; ++n) {
        GpuNode node;
        node.pool = "pool" + std::to_string(p);
        node.name = node.pool + "-" + std::to_string(n);
        node.gpu_product = product;
        node.units_per_gpu = 1;
        node.units = node.free_units = kind.gpus_per_node;
        node.memory_gib = memory;
        node.driver_version = driver;
        node.cuda_version = cuda;
        cluster.nodes.push_back(std::move(node));
      }
    }
    fleet.clusters.push_back(std::move(cluster));
  }
  return fleet;
}

// The share of the fleet's GPUs a reference packing of every replica uses — each replica
// on a random node with room among those where it needs the fewest GPUs, so it is close to
// the fewest GPUs any placement needs — or -1 when a replica does not fit.
double ReferenceFill(const FleetSnapshot& fleet, const std::vector<PlacementRequest>& requests,
                     std::mt19937& rng) {
  std::vector<int> free;
  int total = 0;
  for (const auto& cl : fleet.clusters) {
    for (const auto& node : cl.nodes) {
      free.push_back(node.free_units);
      total += node.free_units;
    }
  }
  int used = 0;
  for (const auto& r : requests) {
    std::vector<std::pair<int, int>> nodes;  // (flat node, units per replica)
    int flat = 0;
    for (const auto& cl : fleet.clusters) {
      for (const auto& node : cl.nodes) {
        auto est = r.sizer({node.gpu_product, node.memory_gib, node.units, node.mig_profile});
        if (est.ok() && est->nodes == 1) nodes.emplace_back(flat, est->gpus_per_node);
        ++flat;
      }
    }
    for (int k = 0; k < r.replicas; ++k) {
      std::shuffle(nodes.begin(), nodes.end(), rng);
      std::stable_sort(nodes.begin(), nodes.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
      auto it = std::find_if(nodes.begin(), nodes.end(),
                             [&](const auto& n) { return free[n.first] >= n.second; });
      if (it == nodes.end()) return -1;
      free[it->first] -= it->second;
      used += it->second;
    }
  }
  return total > 0 ? static_cast<double>(used) / total : -1;
}

}  // namespace

Instance GenerateTightInstance(const TightParams& params) {
  std::mt19937 rng(params.seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Instance inst;
  auto cost = std::make_shared<policies::PlacementPolicySpec>();
  cost->scoring.weights = {0, 1, 0, 0, 0};
  for (int i = 0; i < params.workspaces; ++i) {
    auto model = workspace::Catalog::BuiltIn().FindModel(
        kTightModels[pick(static_cast<int>(std::size(kTightModels)))]);
    PlacementRequest r;
    char name[48];
    std::snprintf(name, sizeof name, "ns%02d/ws-%05d", i % 20, i);
    r.workspace = name;
    r.replicas = 1 + pick(4);
    r.model = model->preset;
    r.policy = cost;
    r.sizer = SingleNodeSizer(*model);
    inst.requests.push_back(std::move(r));
  }
  // Fleets are drawn until one holds the workload at the wanted fill.
  for (int attempt = 0; attempt < 100000; ++attempt) {
    inst.fleet = GenerateTightFleet(params.clusters, rng);
    if (ReferenceFill(inst.fleet, inst.requests, rng) >= params.min_fill) break;
  }
  return inst;
}

}  // namespace berth::placement::bench
