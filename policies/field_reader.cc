#include "policies/field_reader.h"

namespace berth::policies {

using nlohmann::json;

void FieldReader::Fail(const std::string& path, std::string message, std::string reason) {
  causes.push_back({path, std::move(message), std::move(reason)});
}

bool FieldReader::ExpectObject(const json& j, const std::string& path) {
  if (j.is_object()) return true;
  Fail(path, "must be an object", "FieldValueTypeInvalid");
  return false;
}

const json* FieldReader::Find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> FieldReader::String(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return std::nullopt;
  if (!it->is_string()) {
    Fail(path + "." + key, "must be a string", "FieldValueTypeInvalid");
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<int64_t> FieldReader::Int(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return std::nullopt;
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    Fail(path + "." + key, "must be an integer", "FieldValueTypeInvalid");
    return std::nullopt;
  }
  return it->get<int64_t>();
}

std::optional<double> FieldReader::Number(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return std::nullopt;
  if (!it->is_number()) {
    Fail(path + "." + key, "must be a number", "FieldValueTypeInvalid");
    return std::nullopt;
  }
  return it->get<double>();
}

std::optional<bool> FieldReader::Bool(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return std::nullopt;
  if (!it->is_boolean()) {
    Fail(path + "." + key, "must be true or false", "FieldValueTypeInvalid");
    return std::nullopt;
  }
  return it->get<bool>();
}

const json* FieldReader::Array(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return nullptr;
  if (!it->is_array()) {
    Fail(path + "." + key, "must be a list", "FieldValueTypeInvalid");
    return nullptr;
  }
  return it;
}

const json* FieldReader::Object(const json& obj, const char* key, const std::string& path) {
  const json* it = Find(obj, key);
  if (!it) return nullptr;
  if (!it->is_object()) {
    Fail(path + "." + key, "must be an object", "FieldValueTypeInvalid");
    return nullptr;
  }
  return it;
}

std::vector<std::string> FieldReader::StringList(const json& obj, const char* key, const std::string& path) {
  std::vector<std::string> out;
  const json* arr = Array(obj, key, path);
  if (!arr) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& v = (*arr)[i];
    if (!v.is_string()) {
      Fail(path + "." + key + "[" + std::to_string(i) + "]", "must be a string",
           "FieldValueTypeInvalid");
      continue;
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

LabelSelector FieldReader::ParseLabelSelector(const json& j, const std::string& path) {
  LabelSelector sel;
  if (!ExpectObject(j, path)) return sel;
  if (const json* labels = Object(j, "matchLabels", path)) {
    for (const auto& [k, v] : labels->items()) {
      if (!v.is_string()) {
        Fail(path + ".matchLabels." + k, "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      sel.match_labels[k] = v.get<std::string>();
    }
  }
  if (const json* exprs = Array(j, "matchExpressions", path)) {
    for (size_t i = 0; i < exprs->size(); ++i) {
      std::string p = path + ".matchExpressions[" + std::to_string(i) + "]";
      const json& e = (*exprs)[i];
      if (!ExpectObject(e, p)) continue;
      LabelSelectorRequirement req;
      req.key = String(e, "key", p).value_or("");
      if (req.key.empty()) Fail(p + ".key", "is required", "FieldValueRequired");
      std::string op = String(e, "operator", p).value_or("");
      if (op == "In")
        req.op = SelectorOperator::kIn;
      else if (op == "NotIn")
        req.op = SelectorOperator::kNotIn;
      else if (op == "Exists")
        req.op = SelectorOperator::kExists;
      else if (op == "DoesNotExist")
        req.op = SelectorOperator::kDoesNotExist;
      else
        Fail(p + ".operator",
             "must be one of In, NotIn, Exists, DoesNotExist (got \"" + op + "\")",
             "FieldValueNotSupported");
      req.values = StringList(e, "values", p);
      bool needs_values = req.op == SelectorOperator::kIn || req.op == SelectorOperator::kNotIn;
      if (needs_values && req.values.empty()) {
        Fail(p + ".values", "must list at least one value for In and NotIn",
             "FieldValueRequired");
      }
      if (!needs_values && !req.values.empty()) {
        Fail(p + ".values", "must be empty for Exists and DoesNotExist");
      }
      sel.match_expressions.push_back(std::move(req));
    }
  }
  return sel;
}

}  // namespace berth::policies
