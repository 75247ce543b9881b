// Fuzz target: a Workspace or a KAITO Workspace in YAML: conversion from KAITO, Berth's
// parser and its round trip. Oracle: a Workspace that parses must survive
// WorkspaceToJson -> ParseWorkspace unchanged (the header promises it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/yaml_json.h"
#include "workspace/workspace_types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = berth::api::YamlToJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc.ok()) return 0;
  nlohmann::json object = std::move(*doc);
  const auto api_version = object.is_object() ? object.find("apiVersion") : object.end();
  if (api_version != object.end() && api_version->is_string() &&
      api_version->get<std::string>().rfind("kaito.sh/", 0) == 0) {
    auto converted = berth::workspace::ConvertKaitoWorkspace(object);
    if (!converted.ok()) return 0;
    object = std::move(*converted);
  }
  auto ws = berth::workspace::ParseWorkspace(object);
  if (!ws.ok()) return 0;
  const nlohmann::json once = berth::workspace::WorkspaceToJson(*ws);
  auto again = berth::workspace::ParseWorkspace(once);
  if (!again.ok() || berth::workspace::WorkspaceToJson(*again) != once) __builtin_trap();
  return 0;
}
