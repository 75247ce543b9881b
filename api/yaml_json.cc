#include "api/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <regex>
#include <sstream>

namespace berth::api {
namespace {

using nlohmann::json;

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json ResolvePlainScalar(const std::string& s) {
  static const std::regex kNull("^(~|null|Null|NULL|)$");
  static const std::regex kTrue("^(true|True|TRUE)$");
  static const std::regex kFalse("^(false|False|FALSE)$");
  static const std::regex kInt("^[-+]?[0-9]+$");
  static const std::regex kOct("^0o[0-7]+$");
  static const std::regex kHex("^0x[0-9a-fA-F]+$");
  static const std::regex kFloat("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
  static const std::regex kInf("^[-+]?\\.(inf|Inf|INF)$");
  static const std::regex kNan("^\\.(nan|NaN|NAN)$");
  if (std::regex_match(s, kNull)) return nullptr;
  if (std::regex_match(s, kTrue)) return true;
  if (std::regex_match(s, kFalse)) return false;
  try {
    if (std::regex_match(s, kInt)) {
      if (s[0] == '-') return std::stoll(s);
      unsigned long long v = std::stoull(s[0] == '+' ? s.substr(1) : s);
      if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<int64_t>(v);
      return v;
    }
    if (std::regex_match(s, kOct)) return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 8));
    if (std::regex_match(s, kHex)) return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 16));
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::exception&) {
    return s;  // out of range: keep the text rather than lose it
  }
  // JSON has no infinities or NaN; keep them as text so nothing is silently changed.
  if (std::regex_match(s, kInf) || std::regex_match(s, kNan)) return s;
  return s;
}

StatusOr<json> NodeToJson(const YAML::Node& node, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      // Tag "!" marks a quoted (non-plain) scalar: always a string.
      if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return json(node.Scalar());
      return ResolvePlainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      size_t i = 0;
      for (const auto& item : node) {
        auto v = NodeToJson(item, path + "[" + std::to_string(i++) + "]");
        if (!v.ok()) return v.status();
        arr.push_back(std::move(*v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Status::BadRequest("YAML: map keys must be scalars at " +
                                    (path.empty() ? std::string("<root>") : path));
        }
        const std::string key = kv.first.Scalar();
        const std::string child = path.empty() ? key : path + "." + key;
        if (obj.contains(key)) return Status::BadRequest("YAML: duplicate key " + child);
        auto v = NodeToJson(kv.second, child);
        if (!v.ok()) return v.status();
        obj[key] = std::move(*v);
      }
      return obj;
    }
  }
  return json(nullptr);
}

Status ParseError(const YAML::Exception& e) {
  std::ostringstream os;
  os << "YAML parse error at line " << (e.mark.line + 1) << ", column " << (e.mark.column + 1)
     << ": " << e.msg;
  return Status::BadRequest(os.str());
}

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  json resolved = ResolvePlainScalar(s);
  if (!resolved.is_string()) return true;
  // Indicators and whitespace that change meaning in plain scalars.
  static const std::string kLeading = "-?:,[]{}#&*!|>'\"%@`~ ";
  if (kLeading.find(s.front()) != std::string::npos) return true;
  if (s.back() == ' ' || s.back() == ':') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  for (char c : s) {
    if (c == '\n' || c == '\t' || c == '\r' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

std::string Quote(const std::string& s) { return json(s).dump(); }  // JSON strings are YAML

void Emit(const json& v, int indent, std::ostringstream& os);

std::string ScalarText(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return NeedsQuotes(s) ? Quote(s) : s;
  }
  return v.dump();
}

bool IsInline(const json& v) {
  return !v.is_structured() || v.empty();
}

std::string InlineText(const json& v) {
  if (v.is_object() && v.empty()) return "{}";
  if (v.is_array() && v.empty()) return "[]";
  return ScalarText(v);
}

void Emit(const json& v, int indent, std::ostringstream& os) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string key = NeedsQuotes(it.key()) ? Quote(it.key()) : it.key();
      if (IsInline(*it)) {
        os << pad << key << ": " << InlineText(*it) << "\n";
      } else if (it->is_array()) {
        os << pad << key << ":\n";
        Emit(*it, indent, os);  // sequences under a key stay at the key's indent
      } else {
        os << pad << key << ":\n";
        Emit(*it, indent + 2, os);
      }
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (IsInline(item)) {
        os << pad << "- " << InlineText(item) << "\n";
      } else {
        std::ostringstream inner;
        Emit(item, indent + 2, inner);
        std::string text = inner.str();
        // Replace the first line's indent with "- ".
        os << pad << "- " << text.substr(indent + 2);
      }
    }
  } else {
    os << pad << ScalarText(v) << "\n";
  }
}

}  // namespace

StatusOr<nlohmann::json> YamlToJson(std::string_view text) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return NodeToJson(root, "");
  } catch (const YAML::Exception& e) {
    return ParseError(e);
  }
}

StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view text) {
  try {
    std::vector<nlohmann::json> out;
    for (const auto& doc : YAML::LoadAll(std::string(text))) {
      if (doc.IsNull() || !doc.IsDefined()) continue;
      auto v = NodeToJson(doc, "");
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return ParseError(e);
  }
}

std::string JsonToYaml(const nlohmann::json& value) {
  if (IsInline(value)) return InlineText(value) + "\n";
  std::ostringstream os;
  Emit(value, 0, os);
  return os.str();
}

}  // namespace berth::api
