#include "placement/startup_rates.h"

#include <algorithm>
#include <cmath>

namespace berth::placement {

using nlohmann::json;

double ImagePullSeconds(const StartupRates& rates, const std::string& image) {
  auto it = rates.image_sizes_gib.find(image);
  const double gib = it != rates.image_sizes_gib.end() ? it->second : rates.image_gib;
  return gib * 1024.0 / rates.image_pull_mib_per_s;
}

double WeightLoadSeconds(const StartupRates& rates, double weights_gib, bool model_cached) {
  const double rate =
      model_cached ? rates.cached_weight_load_gib_per_s : rates.weight_load_gib_per_s;
  return std::max(0.0, weights_gib) / rate;
}

double ExpectedStartSeconds(const StartupRates& rates, const std::string& image, bool image_cached,
                            double weights_gib, bool model_cached) {
  const double seconds = (image_cached ? 0 : ImagePullSeconds(rates, image)) +
                         WeightLoadSeconds(rates, weights_gib, model_cached);
  // A member reports its rates: a tiny one must not make an infinite (or NaN) score term.
  return std::isfinite(seconds) ? std::min(seconds, kMaxStartSeconds) : kMaxStartSeconds;
}

json StartupRatesToJson(const StartupRates& rates) {
  json out = {{"imagePullMiBps", rates.image_pull_mib_per_s},
              {"defaultImageGiB", rates.image_gib},
              {"weightLoadGiBps", rates.weight_load_gib_per_s},
              {"cachedWeightLoadGiBps", rates.cached_weight_load_gib_per_s}};
  if (!rates.image_sizes_gib.empty()) out["imageSizesGiB"] = rates.image_sizes_gib;
  return out;
}

namespace {

bool PositiveNumber(const json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0;
}

}  // namespace

StartupRates ParseStartupRates(const json& block, const std::string& path, StartupRates rates,
                               std::vector<std::pair<std::string, std::string>>* errors) {
  if (!block.is_object()) return rates;
  auto fail = [&](const std::string& field, const std::string& message) {
    if (errors) errors->emplace_back(path + "." + field, message);
  };
  const std::pair<const char*, double*> numbers[] = {
      {"imagePullMiBps", &rates.image_pull_mib_per_s},
      {"defaultImageGiB", &rates.image_gib},
      {"weightLoadGiBps", &rates.weight_load_gib_per_s},
      {"cachedWeightLoadGiBps", &rates.cached_weight_load_gib_per_s}};
  for (const auto& [key, into] : numbers) {
    auto it = block.find(key);
    if (it == block.end() || it->is_null()) continue;
    if (PositiveNumber(*it))
      *into = it->get<double>();
    else
      fail(key, "must be a number > 0");
  }
  auto sizes = block.find("imageSizesGiB");
  if (sizes == block.end() || sizes->is_null()) return rates;
  if (!sizes->is_object()) {
    fail("imageSizesGiB", "must map image to its size in GiB");
    return rates;
  }
  for (const auto& [image, gib] : sizes->items()) {
    if (rates.image_sizes_gib.size() >= kMaxReportedImageSizes) break;
    if (gib.is_number() && std::isfinite(gib.get<double>()) && gib.get<double>() >= 0)
      rates.image_sizes_gib[image] = gib.get<double>();
    else
      fail("imageSizesGiB." + image, "must be a number ≥ 0 (GiB)");
  }
  return rates;
}

}  // namespace berth::placement
