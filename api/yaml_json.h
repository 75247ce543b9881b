// YAML ⇄ JSON conversion for Kubernetes-style documents.
// YAML scalars are typed per the YAML 1.2 core schema (null, bool, int, float), quoted
// scalars stay strings, so `replicas: 2` is a number and `revision: "2"` is a string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

// Parses one YAML (or JSON, a YAML subset) document. BadRequest with line/column on error.
StatusOr<nlohmann::json> YamlToJson(std::string_view text);

// Parses a multi-document stream ("---" separated); empty documents are skipped.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view text);

// Emits block-style YAML with keys in the JSON's (sorted) order. Strings that would read
// back as another type ("true", "1", "") are quoted, so YamlToJson(JsonToYaml(j)) == j.
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace berth::api
