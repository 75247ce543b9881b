// Fuzz target: request body decoding as the hub does it for create/update: JSON or YAML
// (by the first input byte), metadata types, strict validation against every kind, and
// multi-document YAML. Any crash, sanitizer report or uncaught exception is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/object.h"
#include "api/yaml_json.h"
#include "kinds/berth_kinds.h"

namespace {

const berth::api::KindRegistry& Registry() {
  static berth::api::KindRegistry* registry = [] {
    auto* r = new berth::api::KindRegistry();
    if (!berth::kinds::RegisterBerthKinds(*r).ok()) __builtin_trap();
    return r;
  }();
  return *registry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view content_type = data[0] & 1 ? "application/yaml" : "application/json";
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto decoded = berth::api::DecodeBody(body, content_type);
  if (decoded.ok()) {
    (void)berth::kinds::ValidateForCreate(Registry(), *decoded);
  }
  if (data[0] & 2) (void)berth::api::YamlDocumentsToJson(body);
  return 0;
}
