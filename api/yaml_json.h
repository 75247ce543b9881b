// YAML <-> JSON conversion for Kubernetes-style documents: request bodies, Workspace
// files and rendered manifests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::api {

// Parses one YAML document into JSON. Plain scalars become numbers/booleans/null
// following YAML 1.2's core schema; quoted scalars stay strings. Invalid on bad YAML
// (message has line and column). Duplicate keys are rejected.
StatusOr<nlohmann::json> YamlToJson(std::string_view yaml);

// Parses a multi-document YAML stream ("---" separated); empty documents are skipped.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view yaml);

// Emits JSON as block-style YAML with keys in the JSON's (sorted) order. Strings that
// would read back as another type ("true", "80", "") are quoted. Deterministic.
std::string JsonToYaml(const nlohmann::json& value);

// Emits a multi-document stream, each document preceded by "---".
std::string JsonToYamlDocuments(const std::vector<nlohmann::json>& docs);

}  // namespace berth::api
