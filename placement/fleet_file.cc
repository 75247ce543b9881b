#include "placement/fleet_file.h"

#include <nlohmann/json.hpp>
#include <set>

#include "api/schema.h"
#include "api/yaml_json.h"
#include "workspace/catalog.h"

namespace berth::placement {

using nlohmann::json;

std::string_view ClusterHealthName(ClusterHealth health) {
  switch (health) {
    case ClusterHealth::kHealthy:
      return "Healthy";
    case ClusterHealth::kUnhealthy:
      return "Unhealthy";
    case ClusterHealth::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

namespace {

// Field-path aware reader for the fleet document; collects every problem.
struct FleetReader {
  std::vector<FieldCause> causes;
  void Fail(std::string field, std::string msg) {
    causes.push_back({std::move(field), std::move(msg)});
  }

  std::string Str(const json& o, const char* key, const std::string& path, bool required = false) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      if (required) Fail(path + "." + key, "is required");
      return {};
    }
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();  // e.g. cudaVersion: 12.4 written unquoted
    Fail(path + "." + key, "must be a string");
    return {};
  }
  int Int(const json& o, const char* key, const std::string& path, int def, int min) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return def;
    if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > 1000000) {
      Fail(path + "." + key, "must be an integer ≥ " + std::to_string(min));
      return def;
    }
    return it->get<int>();
  }
  double Num(const json& o, const char* key, const std::string& path, double def) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return def;
    if (!it->is_number() || it->get<double>() < 0) {
      Fail(path + "." + key, "must be a number ≥ 0");
      return def;
    }
    return it->get<double>();
  }
  DottedVersion Version(const json& o, const char* key, const std::string& path) {
    std::string text = Str(o, key, path);
    if (text.empty()) return {};
    auto v = DottedVersion::Parse(text);
    if (!v) {
      Fail(path + "." + key, "\"" + text + "\" is not a dotted version such as \"535.104.05\"");
      return {};
    }
    return *v;
  }
  std::vector<std::string> Strings(const json& o, const char* key, const std::string& path) {
    std::vector<std::string> out;
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return out;
    if (!it->is_array()) {
      Fail(path + "." + key, "must be a list of strings");
      return out;
    }
    for (const auto& v : *it) {
      if (v.is_string())
        out.push_back(v.get<std::string>());
      else
        Fail(path + "." + key, "must be a list of strings");
    }
    return out;
  }
};

// A `labels` map of strings (numbers and booleans as their text) into `out`.
void ReadLabels(FleetReader& r, const json& o, const std::string& path, std::map<std::string, std::string>& out) {
  auto labels = o.find("labels");
  if (labels == o.end() || labels->is_null()) return;
  if (!labels->is_object()) {
    r.Fail(path + ".labels", "must be a map of strings");
    return;
  }
  for (const auto& [k, v] : labels->items()) {
    if (v.is_string()) {
      out[k] = v.get<std::string>();
    } else if (v.is_number() || v.is_boolean()) {
      out[k] = v.dump();
    } else {
      r.Fail(path + ".labels." + k, "must be a string");
    }
  }
}

// A `taints` list of {key, value, effect} into `out`. Cluster taints (placement's) default
// their effect to NoSchedule; node taints are Kubernetes' own, which require an effect and
// a valid label key.
void ReadTaints(FleetReader& r, const json& o, const std::string& path, bool node_taints,
                std::vector<Taint>& out) {
  auto taints = o.find("taints");
  if (taints == o.end() || taints->is_null()) return;
  if (!taints->is_array()) {
    r.Fail(path + ".taints", "must be a list of {key, value, effect}");
    return;
  }
  for (size_t i = 0; i < taints->size(); ++i) {
    std::string tp = path + ".taints[" + std::to_string(i) + "]";
    const json& t = (*taints)[i];
    if (!t.is_object()) {
      r.Fail(tp, "must be an object {key, value, effect}");
      continue;
    }
    Taint taint;
    taint.key = r.Str(t, "key", tp, true);
    taint.value = r.Str(t, "value", tp);
    if (node_taints && !taint.key.empty()) {
      if (std::string why = api::CheckLabelKey(taint.key); !why.empty()) r.Fail(tp + ".key", why);
    }
    std::string effect = r.Str(t, "effect", tp, node_taints);
    if (effect.empty() && node_taints) continue;  // reported as required
    auto e = policies::ParseTaintEffect(effect.empty() ? "NoSchedule" : effect);
    if (!e)
      r.Fail(tp + ".effect", "must be NoSchedule, PreferNoSchedule or NoExecute");
    else
      taint.effect = *e;
    out.push_back(std::move(taint));
  }
  if (node_taints && out.size() > kMaxNodeTaints) {
    r.Fail(path + ".taints", "must list at most " + std::to_string(kMaxNodeTaints) + " taints");
  }
}

void ParsePool(FleetReader& r, const json& p, const std::string& path, ClusterInventory& cluster) {
  if (!p.is_object()) {
    r.Fail(path, "must be an object");
    return;
  }
  std::string pool_name = r.Str(p, "name", path, true);
  std::string gpu = r.Str(p, "gpu", path, true);
  double memory = r.Num(p, "memoryGiB", path, 0);
  std::string product = gpu;
  if (!gpu.empty()) {
    auto info = workspace::Catalog::BuiltIn().FindGpu(gpu);
    if (info.ok()) {
      product = info->name;
      if (memory == 0) memory = info->memory_gib;
    } else if (memory == 0) {
      r.Fail(path + ".memoryGiB",
             "is required for GPU \"" + gpu + "\", which the catalog does not know");
    }
  }
  int gpus_per_node = r.Int(p, "gpusPerNode", path, 1, 1);
  int count = r.Int(p, "count", path, 1, 0);
  DottedVersion driver = r.Version(p, "driverVersion", path);
  DottedVersion cuda = r.Version(p, "cudaVersion", path);
  std::map<std::string, std::string> labels;
  ReadLabels(r, p, path, labels);
  std::vector<Taint> taints;
  ReadTaints(r, p, path, /*node_taints=*/true, taints);

  std::string mig_profile;
  int slices_per_gpu = 1;
  if (auto mig = p.find("mig"); mig != p.end() && !mig->is_null()) {
    std::string mp = path + ".mig";
    if (!mig->is_object()) {
      r.Fail(mp, "must be an object {profile, slicesPerGpu, memoryGiB}");
    } else {
      mig_profile = r.Str(*mig, "profile", mp, true);
      slices_per_gpu = r.Int(*mig, "slicesPerGpu", mp, 1, 1);
      double slice_mem = r.Num(*mig, "memoryGiB", mp, 0);
      if (slice_mem == 0 && !mig_profile.empty()) {
        // "3g.40gb" → 40 GiB: the profile name states the slice memory.
        auto dot = mig_profile.find('.');
        auto gb = mig_profile.find("gb");
        if (dot != std::string::npos && gb != std::string::npos && gb > dot + 1) {
          slice_mem = std::strtod(mig_profile.substr(dot + 1, gb - dot - 1).c_str(), nullptr);
        }
      }
      if (slice_mem <= 0)
        r.Fail(mp + ".memoryGiB", "is required when the profile name does not state it");
      memory = slice_mem;
    }
  }
  int units = gpus_per_node * slices_per_gpu;

  std::vector<int> used(count, 0);
  if (auto u = p.find("usedPerNode"); u != p.end() && !u->is_null()) {
    if (u->is_number_integer()) {
      for (auto& x : used) x = u->get<int>();
    } else if (u->is_array()) {
      if (static_cast<int>(u->size()) > count) {
        r.Fail(path + ".usedPerNode",
               "lists more nodes than count (" + std::to_string(count) + ")");
      }
      for (size_t i = 0; i < u->size() && static_cast<int>(i) < count; ++i) {
        if (!(*u)[i].is_number_integer())
          r.Fail(path + ".usedPerNode[" + std::to_string(i) + "]", "must be an integer");
        else
          used[i] = (*u)[i].get<int>();
      }
    } else {
      r.Fail(path + ".usedPerNode", "must be an integer or a list of integers (one per node)");
    }
    for (int x : used) {
      if (x < 0 || x > units) {
        r.Fail(path + ".usedPerNode",
               "must be between 0 and " + std::to_string(units) + " (GPUs or MIG slices per node)");
        break;
      }
    }
  }
  for (int i = 0; i < count; ++i) {
    GpuNode n;
    n.name = pool_name + "-" + std::to_string(i);
    n.pool = pool_name;
    n.gpu_product = product;
    n.mig_profile = mig_profile;
    n.memory_gib = memory;
    n.units = units;
    n.free_units = std::max(0, units - used[i]);
    n.units_per_gpu = slices_per_gpu;
    n.driver_version = driver;
    n.cuda_version = cuda;
    n.labels = labels;
    n.taints = taints;
    cluster.nodes.push_back(std::move(n));
  }
}

void ParseLatencies(FleetReader& r, const json& doc, std::vector<RegionLatency>& out) {
  if (auto lat = doc.find("regionLatencies"); lat != doc.end() && !lat->is_null()) {
    if (!lat->is_array())
      r.Fail("regionLatencies", "must be a list of {from, to, ms}");
    else
      for (size_t i = 0; i < lat->size(); ++i) {
        std::string lp = "regionLatencies[" + std::to_string(i) + "]";
        const json& l = (*lat)[i];
        if (!l.is_object()) {
          r.Fail(lp, "must be an object {from, to, ms}");
          continue;
        }
        RegionLatency rl{r.Str(l, "from", lp, true), r.Str(l, "to", lp, true),
                         r.Num(l, "ms", lp, 0)};
        out.push_back(std::move(rl));
      }
  }
}

// Reports the first problem (and how many more) with every cause attached.
Status InvalidFleet(FleetReader& r) {
  std::string msg = "invalid fleet: " + r.causes.front().field + ": " + r.causes.front().message;
  if (r.causes.size() > 1) msg += " (and " + std::to_string(r.causes.size() - 1) + " more)";
  return Status::Invalid(std::move(msg), std::move(r.causes));
}

}  // namespace

StatusOr<std::vector<RegionLatency>> ParseRegionLatencies(const json& doc) {
  FleetReader r;
  std::vector<RegionLatency> out;
  if (!doc.is_object()) return Status::Invalid("invalid fleet: the document must be a mapping");
  ParseLatencies(r, doc, out);
  if (!r.causes.empty()) return InvalidFleet(r);
  return out;
}

StatusOr<FleetSnapshot> ParseFleet(const json& doc) {
  FleetReader r;
  FleetSnapshot fleet;
  if (!doc.is_object())
    return Status::Invalid("fleet must be a YAML/JSON object", {{"", "must be an object"}});
  if (auto kind = doc.find("kind"); kind != doc.end() && *kind != "Fleet") {
    r.Fail("kind", "must be Fleet");
  }
  auto clusters = doc.find("clusters");
  if (clusters == doc.end() || !clusters->is_array() || clusters->empty()) {
    r.Fail("clusters", "must list at least one cluster");
  } else {
    std::set<std::string> names;
    for (size_t ci = 0; ci < clusters->size(); ++ci) {
      const json& c = (*clusters)[ci];
      std::string path = "clusters[" + std::to_string(ci) + "]";
      if (!c.is_object()) {
        r.Fail(path, "must be an object");
        continue;
      }
      ClusterInventory cluster;
      cluster.name = r.Str(c, "name", path, true);
      if (!cluster.name.empty() && !names.insert(cluster.name).second) {
        r.Fail(path + ".name", "duplicate cluster name \"" + cluster.name + "\"");
      }
      ReadLabels(r, c, path, cluster.labels);
      for (const char* key : {"region", "zone", "provider"}) {
        std::string v = r.Str(c, key, path, std::string_view(key) == "region");
        if (!v.empty()) cluster.labels[key] = v;
      }
      std::string health = r.Str(c, "health", path);
      if (health.empty() || health == "Healthy")
        cluster.health = ClusterHealth::kHealthy;
      else if (health == "Unhealthy")
        cluster.health = ClusterHealth::kUnhealthy;
      else if (health == "Unknown")
        cluster.health = ClusterHealth::kUnknown;
      else
        r.Fail(path + ".health", "must be Healthy, Unhealthy or Unknown");
      ReadTaints(r, c, path, /*node_taints=*/false, cluster.taints);
      if (auto prices = c.find("prices"); prices != c.end() && !prices->is_null()) {
        if (!prices->is_object())
          r.Fail(path + ".prices", "must map GPU product to price per GPU-hour");
        else
          for (const auto& [k, v] : prices->items()) {
            if (!v.is_number() || v.get<double>() < 0) {
              r.Fail(path + ".prices." + k, "must be a number ≥ 0 (price per GPU-hour)");
              continue;
            }
            auto info = workspace::Catalog::BuiltIn().FindGpu(k);
            cluster.price_per_gpu_hour[info.ok() ? info->name : k] = v.get<double>();
          }
      }
      if (auto cached = c.find("cached"); cached != c.end() && !cached->is_null()) {
        if (!cached->is_object())
          r.Fail(path + ".cached", "must be an object {images, models}");
        else {
          for (auto& s : r.Strings(*cached, "images", path + ".cached"))
            cluster.cached_images.insert(s);
          for (auto& s : r.Strings(*cached, "models", path + ".cached"))
            cluster.cached_models.insert(s);
        }
      }
      // The sim backend simulates these start times; placement expects the same.
      if (auto sim = c.find("sim"); sim != c.end() && sim->is_object()) {
        std::vector<std::pair<std::string, std::string>> errors;
        cluster.startup = ParseStartupRates(*sim, path + ".sim", {}, &errors);
        for (auto& [field, message] : errors) r.Fail(field, message);
      }
      if (auto pools = c.find("nodePools"); pools != c.end() && !pools->is_null()) {
        if (!pools->is_array())
          r.Fail(path + ".nodePools", "must be a list");
        else {
          std::set<std::string> pool_names;
          for (size_t pi = 0; pi < pools->size(); ++pi) {
            std::string pp = path + ".nodePools[" + std::to_string(pi) + "]";
            if ((*pools)[pi].is_object()) {
              // Read as ParsePool reads it (FleetReader::Str: a number is its text).
              auto name = (*pools)[pi].find("name");
              std::string pn = name == (*pools)[pi].end() ? ""
                               : name->is_string()        ? name->get<std::string>()
                               : name->is_number()        ? name->dump()
                                                          : "";
              if (!pn.empty() && !pool_names.insert(pn).second)
                r.Fail(pp + ".name", "duplicate pool name");
            }
            ParsePool(r, (*pools)[pi], pp, cluster);
          }
        }
      }
      for (const auto& n : cluster.nodes) {
        if (!cluster.price_per_gpu_hour.count(n.gpu_product)) {
          r.Fail(path + ".prices", "has no price for " + n.gpu_product +
                                       " (use 0 for GPUs that cost nothing extra, e.g. on-prem)");
          break;
        }
      }
      fleet.clusters.push_back(std::move(cluster));
    }
  }
  ParseLatencies(r, doc, fleet.latencies);
  if (auto res = doc.find("reservations"); res != doc.end() && !res->is_null()) {
    if (!res->is_array())
      r.Fail("reservations", "must be a list");
    else
      for (size_t i = 0; i < res->size(); ++i) {
        std::string rp = "reservations[" + std::to_string(i) + "]";
        const json& e = (*res)[i];
        if (!e.is_object()) {
          r.Fail(rp, "must be an object {workspace, cluster, node, gpus}");
          continue;
        }
        Reservation rv{r.Str(e, "workspace", rp, true), r.Str(e, "cluster", rp, true),
                       r.Str(e, "node", rp, true), r.Int(e, "gpus", rp, 0, 1)};
        fleet.reservations.push_back(std::move(rv));
      }
  }
  if (!r.causes.empty()) return InvalidFleet(r);
  return fleet;
}

StatusOr<FleetSnapshot> ParseFleetYaml(std::string_view yaml_text) {
  auto doc = api::YamlToJson(yaml_text);
  if (!doc.ok()) return doc.status();
  return ParseFleet(*doc);
}

}  // namespace berth::placement
