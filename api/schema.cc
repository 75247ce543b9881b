#include "api/schema.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include <cmath>
#include <cstdint>

namespace berth::api {
namespace {

// Hand-written matchers: no std::regex ever sees user input (libstdc++'s recurses per
// character and overflows the stack on long strings).
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool IsDns1123LabelText(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool IsQualifiedNameText(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z]([-a-z0-9]*[a-z0-9])?
bool IsDns1035LabelText(std::string_view s) {
  return !s.empty() && s.front() >= 'a' && s.front() <= 'z' && IsDns1123LabelText(s);
}

// [^/]+/[^/]+ ("owner/name")
bool IsOwnerSlashName(std::string_view s) {
  const size_t slash = s.find('/');
  return slash != std::string_view::npos && slash > 0 && slash + 1 < s.size() &&
         s.find('/', slash + 1) == std::string_view::npos;
}

bool IsLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

const std::map<std::string, bool (*)(std::string_view)>& PatternMatchers() {
  static const std::map<std::string, bool (*)(std::string_view)> matchers = {
      {"^[0-9a-f]{64}$", &IsLowerHex64},
      {"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", &IsDns1123LabelText},
      {"^[a-z]([-a-z0-9]*[a-z0-9])?$", &IsDns1035LabelText},
      {"^[^/]+/[^/]+$", &IsOwnerSlashName},
  };
  return matchers;
}

namespace {

using nlohmann::json;

constexpr size_t kMaxCauses = 50;

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer: return "integer";
    case json::value_t::number_unsigned:
      return v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? "an integer beyond the 64-bit range"
                                                                    : "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "unknown";
  }
}

bool MatchesType(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "integer") {
    // Integers are 64-bit signed: 2^63 parses as unsigned and must not wrap to a negative.
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    // 2.0 is an integer in JSON Schema terms; the range check comes before any cast.
    const double d = v.get<double>();
    return std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18 && d == std::trunc(d);
  }
  if (type == "number") return v.is_number();
  return true;
}

void Add(std::vector<FieldCause>* causes, const std::string& path, std::string msg,
         const char* reason = "FieldValueInvalid") {
  causes->push_back({path.empty() ? "<root>" : path, std::move(msg), reason});
}

// Sets hold each value once and map-lists each key once (server-side apply merges them by
// value and by key, so a duplicate would be ambiguous).
void CheckListUnique(const json& schema, const json& v, const std::string& path, std::vector<FieldCause>* causes) {
  auto type = schema.find("x-kubernetes-list-type");
  if (type == schema.end() || !type->is_string() || (*type != "set" && *type != "map")) return;
  auto keys = schema.find("x-kubernetes-list-map-keys");
  std::set<std::string> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    json id = v[i];
    if (*type == "map") {
      if (keys == schema.end() || !keys->is_array() || !v[i].is_object()) continue;
      id = json::object();
      for (const auto& k : *keys) {
        if (k.is_string()) id[k.get<std::string>()] = v[i].value(k.get<std::string>(), json(nullptr));
      }
    }
    std::string text = id.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!seen.insert(text).second) {
      Add(causes, path + "[" + std::to_string(i) + "]", "Duplicate value: " + text, "FieldValueDuplicate");
    }
  }
}

void Walk(const json& schema, const json& v, const std::string& path,
          std::vector<FieldCause>* causes) {
  if (causes->size() > kMaxCauses || !schema.is_object()) return;
  if (v.is_null()) {
    if (schema.value("nullable", false) || !schema.contains("type")) return;
    // A null for an optional field is treated as absent, as the API server does.
    return;
  }
  if (schema.value("x-kubernetes-int-or-string", false)) {
    if (!v.is_number_integer() && !v.is_string()) {
      Add(causes, path, "must be an integer or a string, got " + TypeName(v), "FieldValueTypeInvalid");
    }
    return;
  }
  if (auto t = schema.find("type"); t != schema.end() && t->is_string()) {
    if (!MatchesType(*t, v)) {
      Add(causes, path, "must be " + t->get<std::string>() + ", got " + TypeName(v),
          "FieldValueTypeInvalid");
      return;
    }
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const auto& option : *e) found = found || option == v;
    if (!found) {
      std::string options;
      for (const auto& option : *e) options += (options.empty() ? "" : ", ") + option.dump();
      Add(causes, path, "unsupported value " + v.dump() + ": must be one of " + options,
          "FieldValueNotSupported");
    }
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (auto m = schema.find("minimum"); m != schema.end() && d < m->get<double>()) {
      Add(causes, path, "must be at least " + m->dump() + ", got " + v.dump());
    }
    if (auto m = schema.find("maximum"); m != schema.end() && d > m->get<double>()) {
      Add(causes, path, "must be at most " + m->dump() + ", got " + v.dump());
    }
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (auto m = schema.find("minLength"); m != schema.end() && s.size() < m->get<size_t>()) {
      Add(causes, path, "must be at least " + m->dump() + " characters");
    }
    if (auto m = schema.find("maxLength"); m != schema.end() && s.size() > m->get<size_t>()) {
      Add(causes, path, "must be at most " + m->dump() + " characters", "FieldValueTooLong");
    }
    if (auto p = schema.find("pattern"); p != schema.end() && p->is_string()) {
      const auto matcher = PatternMatchers().find(p->get<std::string>());
      if (matcher == PatternMatchers().end()) {
        Add(causes, path, "schema pattern " + p->get<std::string>() + " has no matcher", "InternalError");
      } else if (!matcher->second(s)) {
        Add(causes, path, (s.size() <= 256 ? "\"" + s + "\" " : std::string("value ")) +
                              "does not match the pattern " + p->get<std::string>());
      }
    }
    if (auto f = schema.find("x-berth-name-format"); f != schema.end()) {
      std::string why = *f == "dns1123-label"  ? CheckDns1123Label(s)
                        : *f == "path-segment" ? CheckPathSegmentName(s)
                                               : CheckDns1123Subdomain(s);
      if (!why.empty()) Add(causes, path, why);
    }
  }
  if (v.is_array()) {
    if (auto m = schema.find("minItems"); m != schema.end() && v.size() < m->get<size_t>()) {
      Add(causes, path, "must have at least " + m->dump() + " items");
    }
    if (auto m = schema.find("maxItems"); m != schema.end() && v.size() > m->get<size_t>()) {
      Add(causes, path, "must have at most " + m->dump() + " items", "FieldValueTooMany");
    }
    if (auto items = schema.find("items"); items != schema.end()) {
      for (size_t i = 0; i < v.size(); ++i) {
        Walk(*items, v[i], path + "[" + std::to_string(i) + "]", causes);
      }
    }
    CheckListUnique(schema, v, path, causes);
  }
  if (v.is_object()) {
    if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
      for (const auto& name : *req) {
        if (!v.contains(name.get<std::string>()) || v[name.get<std::string>()].is_null()) {
          Add(causes, Join(path, name), "required value", "FieldValueRequired");
        }
      }
    }
    const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
    auto props = schema.find("properties");
    auto additional = schema.find("additionalProperties");
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = Join(path, it.key());
      if (props != schema.end() && props->contains(it.key())) {
        Walk((*props)[it.key()], *it, child, causes);
      } else if (additional != schema.end() && additional->is_object()) {
        Walk(*additional, *it, child, causes);
      } else if (additional != schema.end() && additional->is_boolean() && additional->get<bool>()) {
        continue;
      } else if (!preserve) {
        Add(causes, child, "unknown field", "FieldValueNotSupported");
      }
    }
  }
}

void Prune(const json& schema, json& v, const std::string& path, std::vector<std::string>* pruned) {
  if (!schema.is_object()) return;
  if (v.is_array()) {
    if (auto items = schema.find("items"); items != schema.end()) {
      for (size_t i = 0; i < v.size(); ++i) Prune(*items, v[i], path + "[" + std::to_string(i) + "]", pruned);
    }
    return;
  }
  if (!v.is_object()) return;
  const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
  auto props = schema.find("properties");
  auto additional = schema.find("additionalProperties");
  std::vector<std::string> unknown;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string child = Join(path, it.key());
    if (props != schema.end() && props->is_object() && props->contains(it.key())) {
      Prune((*props)[it.key()], *it, child, pruned);
    } else if (additional != schema.end() && additional->is_object()) {
      Prune(*additional, *it, child, pruned);
    } else if (!(additional != schema.end() && additional->is_boolean() && additional->get<bool>()) && !preserve) {
      unknown.push_back(it.key());
      pruned->push_back(child);
    }
  }
  for (const auto& key : unknown) v.erase(key);
}

}  // namespace

void PruneUnknownFields(const nlohmann::json& schema, nlohmann::json& value, const std::string& path,
                        std::vector<std::string>* pruned) {
  try {
    Prune(schema, value, path, pruned);
  } catch (const std::exception&) {
    // A malformed schema prunes nothing; validation reports it.
  }
}

void CollectSchemaViolations(const nlohmann::json& schema, const nlohmann::json& value,
                             const std::string& path, std::vector<FieldCause>* causes) {
  try {
    Walk(schema, value, path, causes);
  } catch (const std::exception& e) {
    // A malformed schema is our bug, not the user's; report it rather than crash the hub.
    causes->push_back({path, std::string("schema error: ") + e.what(), "InternalError"});
  }
}

Status ValidateAgainstSchema(const nlohmann::json& schema, const nlohmann::json& value,
                             const std::string& what) {
  std::vector<FieldCause> causes;
  CollectSchemaViolations(schema, value, "", &causes);
  if (causes.empty()) return Status::Ok();
  if (causes.size() > kMaxCauses) {
    causes.resize(kMaxCauses);
    causes.push_back({"<root>", "too many errors; fix the ones above first", "FieldValueInvalid"});
  }
  std::string msg = what + " is invalid: ";
  for (size_t i = 0; i < causes.size() && i < 3; ++i) {
    msg += (i ? ", " : "") + causes[i].field + ": " + causes[i].message;
  }
  if (causes.size() > 3) msg += " (and " + std::to_string(causes.size() - 3) + " more)";
  return Status::Invalid(msg, std::move(causes));
}

std::string CheckPathSegmentName(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s == "." || s == "..") return "may not be '" + s + "'";
  if (s.find('/') != std::string::npos) return "may not contain '/'";
  if (s.find('%') != std::string::npos) return "may not contain '%'";
  if (s.size() > 253) return "must be no more than 253 characters";
  return "";
}

std::string CheckDns1123Label(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 63) return "must be no more than 63 characters";
  if (!IsDns1123LabelText(s)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
           "'-', and must start and end with an alphanumeric character (e.g. 'my-name')";
  }
  return "";
}

std::string CheckDns1123Subdomain(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 253) return "must be no more than 253 characters";
  bool ok = true;
  for (size_t i = 0; ok && i <= s.size();) {  // dot-separated labels
    size_t dot = std::min(s.find('.', i), s.size());
    ok = IsDns1123LabelText(std::string_view(s).substr(i, dot - i));
    i = dot + 1;
  }
  if (!ok) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'llama-70b' or 'example.com')";
  }
  return "";
}

std::string CheckLabelKey(const std::string& key) {
  std::string name = key;
  if (auto slash = key.find('/'); slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (std::string why = CheckDns1123Subdomain(prefix); !why.empty()) return "prefix " + why;
  }
  if (name.size() > 63 || !IsQualifiedNameText(name)) {
    return "name part must be 63 characters or less, alphanumeric, '-', '_' or '.', starting "
           "and ending with an alphanumeric character";
  }
  return "";
}

std::string CheckLabelValue(const std::string& value) {
  if (value.empty()) return "";
  if (value.size() > 63 || !IsQualifiedNameText(value)) {
    return "must be 63 characters or less, empty or alphanumeric with '-', '_' or '.' inside";
  }
  return "";
}

}  // namespace berth::api
