// Kubernetes label selectors ("region=eu,tier!=dev,gpu in (a100,h100),!legacy") and
// field selectors ("metadata.name=x,spec.cluster!=y").
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  // Parses the string form. BadRequest naming the offending term on error.
  static StatusOr<LabelSelector> Parse(const std::string& text);
  // Builds from the structured form {matchLabels: {...}, matchExpressions: [...]}.
  static StatusOr<LabelSelector> FromJson(const nlohmann::json& selector, const std::string& path);

  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Term {
    std::string path;  // e.g. "metadata.name"
    bool equals = true;
    std::string value;
  };
  // Only dotted paths into the object are supported; values compare as strings.
  static StatusOr<FieldSelector> Parse(const std::string& text);
  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return terms_.empty(); }
  // The value this selector pins metadata.name to, if any (lets the store skip scans).
  std::string ExactName() const;
  // BadRequest naming the first term whose field is not in `supported` (and listing the
  // supported ones), as the Kubernetes API answers; Ok otherwise. `resource` names the kind
  // in the message ("workspaces").
  Status CheckSupported(const std::vector<std::string>& supported, const std::string& resource) const;

 private:
  std::vector<Term> terms_;
};

}  // namespace berth::api
