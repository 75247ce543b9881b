// How fast the simulated cluster's modelled work goes: registry and weight-load bandwidths,
// image sizes and the --time-scale every modelled duration is multiplied by.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "placement/startup_rates.h"

namespace berth::agent {

struct SimSettings {
  double time_scale = 1.0;            // modelled durations × this (0.01 = 100× faster)
  // Registry and weight-load bandwidths, image sizes; reported to the hub as the cluster's
  // startup rates, so placement expects the start times this cluster simulates.
  placement::StartupRates rates;
  // Serving (serving_server.h): each workspace gets a loopback OpenAI-compatible listener.
  bool serve = true;
  int serving_base_port = 0;  // 0: ephemeral ports; else the n-th workspace gets base + n
};

// Reads the optional `sim:` block of a fleet cluster entry over `defaults`:
//   sim: {imagePullMiBps: 250, defaultImageGiB: 10, imageSizesGiB: {IMAGE: GiB},
//         weightLoadGiBps: 1, cachedWeightLoadGiBps: 4}
// Invalid names the field (e.g. "clusters[gpu-eu-1].sim.imagePullMiBps: must be > 0").
StatusOr<SimSettings> ParseSimSettings(const nlohmann::json& sim_block, const std::string& path,
                                       SimSettings defaults);

}  // namespace berth::agent
