#include "member-agent/sim/settings.h"

#include <set>
#include <vector>

namespace berth::agent {

using nlohmann::json;

StatusOr<SimSettings> ParseSimSettings(const json& sim, const std::string& path, SimSettings s) {
  if (sim.is_null()) return s;
  if (!sim.is_object())
    return Status::Invalid(path + ": must be an object", {{path, "must be an object"}});
  std::vector<FieldCause> causes;
  auto positive = [&](const char* key, double* out) {
    auto it = sim.find(key);
    if (it == sim.end()) return;
    if (!it->is_number() || it->get<double>() <= 0) {
      causes.push_back({path + "." + key, "must be a number > 0"});
      return;
    }
    *out = it->get<double>();
  };
  positive("imagePullMiBps", &s.image_pull_mib_per_s);
  positive("defaultImageGiB", &s.default_image_gib);
  positive("weightLoadGiBps", &s.weight_load_gib_per_s);
  positive("cachedWeightLoadGiBps", &s.cached_weight_load_gib_per_s);
  if (auto it = sim.find("imageSizesGiB"); it != sim.end()) {
    if (!it->is_object()) {
      causes.push_back({path + ".imageSizesGiB", "must map image names to GiB"});
    } else {
      for (const auto& [image, size] : it->items()) {
        if (!size.is_number() || size.get<double>() < 0) {
          causes.push_back({path + ".imageSizesGiB." + image, "must be a number ≥ 0"});
        } else {
          s.image_sizes_gib[image] = size.get<double>();
        }
      }
    }
  }
  for (const auto& [key, v] : sim.items()) {
    static const std::set<std::string> known = {"imagePullMiBps", "defaultImageGiB",
                                                "imageSizesGiB", "weightLoadGiBps",
                                                "cachedWeightLoadGiBps"};
    if (!known.count(key)) causes.push_back({path + "." + key, "unknown field"});
  }
  if (!causes.empty()) {
    std::string msg = causes[0].field + ": " + causes[0].message;
    return Status::Invalid(msg, causes);
  }
  return s;
}

}  // namespace berth::agent
