// Fuzz target: the fleet file (`berthctl plan`, `berthctl fleet up`, berth-hub
// --region-latencies): YAML to a FleetSnapshot and region latencies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/yaml_json.h"
#include "placement/fleet_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)berth::placement::ParseFleetYaml(text);
  auto doc = berth::api::YamlToJson(text);
  if (doc.ok()) (void)berth::placement::ParseRegionLatencies(*doc);
  return 0;
}
