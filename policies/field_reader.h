// FieldReader: reads typed fields out of a policy body and collects every problem with its
// field path, instead of stopping at the first, so a user fixes a policy in one round trip.
// Accessors return nullopt/nullptr/defaults after recording a cause. Shared by the
// PlacementPolicy and RolloutStrategy parsers; internal to policies/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "policies/placement_policy.h"

namespace berth::policies {

class FieldReader {
 public:
  std::vector<FieldCause> causes;

  void Fail(const std::string& path, std::string message, std::string reason = "FieldValueInvalid");
  bool ExpectObject(const nlohmann::json& j, const std::string& path);
  // The value at `key`, or nullptr when it is absent or null (never a cause).
  const nlohmann::json* Find(const nlohmann::json& obj, const char* key);
  std::optional<std::string> String(const nlohmann::json& obj, const char* key, const std::string& path);
  std::optional<int64_t> Int(const nlohmann::json& obj, const char* key, const std::string& path);
  std::optional<double> Number(const nlohmann::json& obj, const char* key, const std::string& path);
  std::optional<bool> Bool(const nlohmann::json& obj, const char* key, const std::string& path);
  const nlohmann::json* Array(const nlohmann::json& obj, const char* key, const std::string& path);
  const nlohmann::json* Object(const nlohmann::json& obj, const char* key, const std::string& path);
  std::vector<std::string> StringList(const nlohmann::json& obj, const char* key, const std::string& path);
  // {matchLabels, matchExpressions} with Kubernetes' operator rules.
  LabelSelector ParseLabelSelector(const nlohmann::json& j, const std::string& path);
};

}  // namespace berth::policies
