// How soon a new replica serves on a cluster: the cluster's image-pull and weight-load rates,
// and the expected start time computed from them (the warmCache score term, docs/PLACEMENT.md).
// An agent reports its cluster's rates in MemberCluster status.startup (the sim backend: its
// simulated rates; the kube backend: what its --image-pull-mibps, --default-image-gib,
// --weight-load-gibps and --cached-weight-load-gibps flags say, else nothing, and the
// defaults stand); a fleet file's `sim:` block
// gives them for `berthctl plan`. Missing values keep the defaults below, which are the sim
// backend's own. Pure.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace berth::placement {

struct StartupRates {
  double image_pull_mib_per_s = 250;              // registry → node
  double image_gib = 10;                          // an image whose size is not listed below
  std::map<std::string, double> image_sizes_gib;  // sizes the cluster knows, by image
  double weight_load_gib_per_s = 1.0;             // weights download + load into GPU memory
  double cached_weight_load_gib_per_s = 4.0;      // when the cluster caches the model
  bool operator==(const StartupRates&) const = default;
};

// Seconds to pull `image` onto a node that lacks it (its listed size, else image_gib).
double ImagePullSeconds(const StartupRates& rates, const std::string& image);
// Seconds to load `weights_gib` of weights (negative counts as 0), cached or not.
double WeightLoadSeconds(const StartupRates& rates, double weights_gib, bool model_cached);

// Expected seconds until a new replica serves: the image pull unless cached, then the
// weights at the cached or uncached rate (the sim backend's startup model,
// member-agent/sim/startup.h). Negative weights count as 0; at most kMaxStartSeconds.
double ExpectedStartSeconds(const StartupRates& rates, const std::string& image, bool image_cached,
                            double weights_gib, bool model_cached);

// {"imagePullMiBps", "defaultImageGiB", "imageSizesGiB": {image: GiB}, "weightLoadGiBps",
//  "cachedWeightLoadGiBps"}.
nlohmann::json StartupRatesToJson(const StartupRates& rates);

// Reads those keys of `block` over `defaults`; other keys are ignored (a fleet file's `sim:`
// block holds more). Each bad value (a rate not a number > 0, a size not ≥ 0) is
// appended to `errors` as (path + "." + key, message) and keeps its default; at most 64
// image sizes are read.
StartupRates ParseStartupRates(const nlohmann::json& block, const std::string& path,
                               StartupRates defaults,
                               std::vector<std::pair<std::string, std::string>>* errors);

inline constexpr size_t kMaxReportedImageSizes = 64;
inline constexpr double kMaxStartSeconds = 1e9;

}  // namespace berth::placement
