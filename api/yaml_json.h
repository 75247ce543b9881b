// YAML <-> JSON conversion for Kubernetes-style documents: request bodies, Workspace
// files and rendered manifests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::api {

// Deepest nesting of arrays and objects a request may carry (JSON and YAML alike). The hub's
// patching, copying and comparing of JSON recurse per level; 1,000 keeps that far inside a
// thread's stack while no Kubernetes object comes near it (Kubernetes allows 10,000).
inline constexpr int kMaxNestingDepth = 1000;
// Nodes a YAML document may expand to once aliases are resolved (the alias-bomb budget).
inline constexpr size_t kMaxYamlNodes = 1'000'000;

// Parses JSON text; BadRequest ("<what>: …") for malformed text, numbers out of range
// (1e999) and nesting deeper than kMaxNestingDepth (checked by a linear scan first, so a
// deep document costs no recursion anywhere).
StatusOr<nlohmann::json> ParseJson(std::string_view text, std::string_view what = "invalid JSON");
// The deepest [ / { nesting of JSON text (strings skipped); linear, no recursion.
int JsonNestingDepth(std::string_view text);

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. nlohmann's
// parser checks JSON text; YAML scalars, paths and query values are checked with this
// (json::dump throws on a string that is not UTF-8).
bool IsValidUtf8(std::string_view s);

// Parses one YAML document into JSON. Plain scalars become numbers/booleans/null
// following YAML 1.2's core schema; quoted scalars stay strings. Invalid on bad YAML
// (message has line and column). Duplicate keys are rejected, as are nesting deeper than
// kMaxNestingDepth, more than kMaxYamlNodes nodes after alias expansion and numbers out of
// the double range.
StatusOr<nlohmann::json> YamlToJson(std::string_view yaml);

// Parses a multi-document YAML stream ("---" separated); empty documents are skipped.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view yaml);

// The documents of a YAML stream, split as kubectl splits them: at lines that start with
// "---" followed by the end of the line, a blank or a comment. "--- {a: 1}" starts a
// document that includes its marker line. Empty pieces are dropped.
std::vector<std::string_view> SplitYamlDocuments(std::string_view yaml);

// Emits JSON as block-style YAML with keys in the JSON's (sorted) order. Strings that
// would read back as another type ("true", "80", "") are quoted. Deterministic.
std::string JsonToYaml(const nlohmann::json& value);

// Emits a multi-document stream, each document preceded by "---".
std::string JsonToYamlDocuments(const std::vector<nlohmann::json>& docs);

}  // namespace berth::api
