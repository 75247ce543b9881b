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
  std::vector<std::pair<std::string, std::string>> errors;
  s.rates = placement::ParseStartupRates(sim, path, s.rates, &errors);
  for (auto& [field, message] : errors) causes.push_back({std::move(field), std::move(message)});
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
