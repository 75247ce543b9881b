#include "kinds/config_data.h"

#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "api/base64.h"

namespace berth::kinds {

using nlohmann::json;

namespace {

constexpr const char* kImmutableMessage = "field is immutable when `immutable` is set";

// Strict standard base64: the alphabet, padding to a multiple of four (Go's decoder skips
// line breaks, so they are allowed).
std::optional<std::string> DecodeStrict(const std::string& text) {
  size_t significant = 0;
  for (char c : text) {
    if (c != '\n' && c != '\r') ++significant;
  }
  if (significant % 4 != 0) return std::nullopt;
  return Base64Decode(text);
}

std::string Field(const char* map, const std::string& key) { return std::string(map) + "[" + key + "]"; }

std::string NameOf(const json& object) {
  const json* m = object.contains("metadata") ? &object["metadata"] : nullptr;
  return m && m->is_object() && m->contains("name") && (*m)["name"].is_string()
             ? (*m)["name"].get<std::string>()
             : std::string();
}

Status Invalid(const std::string& kind, const json& object, std::vector<FieldCause> causes) {
  if (causes.empty()) return Status::Ok();
  std::string msg = kind + " \"" + NameOf(object) + "\" is invalid: " + causes.front().field + ": " +
                    causes.front().message;
  if (causes.size() > 1) msg += " (and " + std::to_string(causes.size() - 1) + " more)";
  return Status::Invalid(std::move(msg), std::move(causes));
}

// Checks the keys of `map` (and, when `base64`, that each value decodes); adds the byte
// size of the values (decoded for base64) to `*bytes`.
void CheckMap(const json& object, const char* map, bool base64, size_t* bytes,
              std::vector<FieldCause>* causes) {
  auto it = object.find(map);
  if (it == object.end() || !it->is_object()) return;  // the schema reports wrong types
  for (auto e = it->begin(); e != it->end(); ++e) {
    if (std::string why = CheckConfigKey(e.key()); !why.empty()) {
      causes->push_back({Field(map, e.key()), why, "FieldValueInvalid"});
    }
    if (!e->is_string()) continue;
    const std::string& value = e->get_ref<const std::string&>();
    if (!base64) {
      *bytes += value.size();
      continue;
    }
    auto decoded = DecodeStrict(value);
    if (!decoded) {
      causes->push_back({Field(map, e.key()),
                         "must be base64-encoded (standard alphabet, padded to a multiple of 4); "
                         "to give plain text, put it under stringData instead",
                         "FieldValueInvalid"});
      continue;
    }
    *bytes += decoded->size();
  }
}

void CheckSize(size_t bytes, std::vector<FieldCause>* causes) {
  if (bytes > kMaxConfigDataBytes) {
    causes->push_back({"data", "Too long: must have at most " + std::to_string(kMaxConfigDataBytes) +
                                   " bytes (all values together)",
                       "FieldValueTooLong"});
  }
}

json MapOr(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : json::object();
}

bool IsImmutable(const json& object) {
  auto it = object.find("immutable");
  return it != object.end() && *it == true;
}

// `immutable` on the stored object freezes `fields` and itself.
void CheckImmutable(const json& next, const json& old, const std::vector<std::pair<const char*, json>>& fields,
                    std::vector<FieldCause>* causes) {
  if (!IsImmutable(old)) return;
  if (!IsImmutable(next)) causes->push_back({"immutable", kImmutableMessage, "FieldValueForbidden"});
  for (const auto& [name, value] : fields) {
    if (value != MapOr(old, name)) causes->push_back({name, kImmutableMessage, "FieldValueForbidden"});
  }
}

// The data a Secret write ends with: data, then stringData on top (base64-encoded).
json EffectiveSecretData(const json& object) {
  json data = MapOr(object, "data");
  const json strings = MapOr(object, "stringData");
  for (auto it = strings.begin(); it != strings.end(); ++it) {
    if (it->is_string()) data[it.key()] = Base64Encode(it->get_ref<const std::string&>());
  }
  return data;
}

// Keys each built-in Secret type must carry (any one of a group of alternatives).
const std::map<std::string, std::vector<std::vector<std::string>>>& RequiredKeysByType() {
  static const std::map<std::string, std::vector<std::vector<std::string>>> m = {
      {"kubernetes.io/tls", {{"tls.crt"}, {"tls.key"}}},
      {"kubernetes.io/dockerconfigjson", {{".dockerconfigjson"}}},
      {"kubernetes.io/dockercfg", {{".dockercfg"}}},
      {"kubernetes.io/basic-auth", {{"username", "password"}}},
      {"kubernetes.io/ssh-auth", {{"ssh-privatekey"}}},
  };
  return m;
}

std::string TypeOf(const json& secret) {
  auto it = secret.find("type");
  return it != secret.end() && it->is_string() && !it->get_ref<const std::string&>().empty()
             ? it->get<std::string>()
             : "Opaque";
}

}  // namespace

std::string CheckConfigKey(const std::string& key) {
  static const std::string kRule =
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', "
      "or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
  if (key.empty()) return kRule;
  if (key.size() > 253) return "must be no more than 253 characters";
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return kRule;
  }
  if (key == ".") return "must not be '.'";
  if (key == "..") return "must not be '..'";
  if (key.rfind("..", 0) == 0) return "must not start with '..'";
  return "";
}

Status ValidateConfigMap(const json& object, const json* old) {
  std::vector<FieldCause> causes;
  size_t bytes = 0;
  CheckMap(object, "data", /*base64=*/false, &bytes, &causes);
  CheckMap(object, "binaryData", /*base64=*/true, &bytes, &causes);
  const json data = MapOr(object, "data"), binary = MapOr(object, "binaryData");
  for (auto it = binary.begin(); it != binary.end(); ++it) {
    if (data.contains(it.key())) {
      causes.push_back({Field("binaryData", it.key()), "duplicate of key present in data", "FieldValueInvalid"});
    }
  }
  CheckSize(bytes, &causes);
  if (old) CheckImmutable(object, *old, {{"data", data}, {"binaryData", binary}}, &causes);
  return Invalid("ConfigMap", object, std::move(causes));
}

Status ValidateSecret(const json& object, const json* old) {
  std::vector<FieldCause> causes;
  size_t bytes = 0;
  CheckMap(object, "data", /*base64=*/true, &bytes, &causes);
  CheckMap(object, "stringData", /*base64=*/false, &bytes, &causes);
  CheckSize(bytes, &causes);
  const json effective = EffectiveSecretData(object);
  if (auto req = RequiredKeysByType().find(TypeOf(object)); req != RequiredKeysByType().end()) {
    for (const auto& alternatives : req->second) {
      bool found = false;
      for (const auto& key : alternatives) found = found || effective.contains(key);
      if (!found) {
        std::string names;
        for (const auto& key : alternatives) names += (names.empty() ? "" : " or ") + key;
        causes.push_back({Field("data", alternatives.front()),
                          "required for a Secret of type " + req->first + ": add " + names,
                          "FieldValueRequired"});
      }
    }
  }
  if (old) {
    if (TypeOf(object) != TypeOf(*old)) {
      causes.push_back({"type", "field is immutable: delete and recreate the Secret to change its type",
                        "FieldValueInvalid"});
    }
    CheckImmutable(object, *old, {{"data", effective}}, &causes);
  }
  return Invalid("Secret", object, std::move(causes));
}

void FoldSecretStringData(json& object) {
  if (!object.is_object()) return;
  if (object.contains("stringData")) {
    json data = EffectiveSecretData(object);
    object.erase("stringData");
    if (!data.empty() || object.contains("data")) object["data"] = std::move(data);
  }
  if (!object.contains("type") || !object["type"].is_string() || object["type"].get<std::string>().empty()) {
    object["type"] = "Opaque";
  }
}

}  // namespace berth::kinds
