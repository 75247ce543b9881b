// yaml-cpp throws on malformed input; every call is wrapped so callers only see Status.
// The emitter is hand-written rather than yaml-cpp's: its output must be stable
// byte-for-byte for golden tests, and quoting rules must match what we parse back.
#include "api/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <set>
#include <sstream>

namespace berth::api {
namespace {

using nlohmann::json;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [-+]?[0-9]+ (no std::regex on input: its recursion overflows the stack on long scalars).
bool IsIntegerText(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloatText(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

Status InvalidUtf8(const YAML::Node& node) {
  return Status::BadRequest("YAML: the text at line " + std::to_string(node.Mark().line + 1) +
                            " is not valid UTF-8");
}

StatusOr<json> ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  // yaml-cpp passes any bytes through; JSON text (and every reply) must be UTF-8.
  if (!IsValidUtf8(s)) return InvalidUtf8(node);
  // Quoted scalars (tag "!") are strings; plain ones follow the YAML 1.2 core schema.
  if (node.Tag() == "!") return json(s);
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return json(true);
  if (s == "false" || s == "False" || s == "FALSE") return json(false);
  if (IsIntegerText(s)) {
    try {
      return json(std::stoll(s));
    } catch (const std::exception&) {
      return json(s);  // out of range: keep the text (the schema then says it is no integer)
    }
  }
  if (IsFloatText(s)) {
    double d = 0;
    try {
      d = std::stod(s);
    } catch (const std::exception&) {
      d = HUGE_VAL;
    }
    if (!std::isfinite(d)) {
      return Status::BadRequest("YAML: number " + s.substr(0, 40) + (s.size() > 40 ? "…" : "") +
                                " at line " + std::to_string(node.Mark().line + 1) +
                                " is out of range");
    }
    return json(d);
  }
  return json(s);
}

// Walks a loaded document; `budget` counts the nodes still allowed (aliases are expanded, so
// a small document can name millions of nodes).
StatusOr<json> NodeToJson(const YAML::Node& node, int depth, size_t& budget) {
  if (depth > kMaxNestingDepth) {
    return Status::BadRequest("YAML: nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  }
  if (budget == 0) {
    return Status::BadRequest("YAML: more than " + std::to_string(kMaxYamlNodes) +
                              " nodes once aliases are expanded");
  }
  --budget;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) {
        auto v = NodeToJson(item, depth + 1, budget);
        if (!v.ok()) return v.status();
        arr.push_back(std::move(v).value());
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) {
        std::string key = kv.first.Scalar();
        if (!IsValidUtf8(key)) return InvalidUtf8(kv.first);
        if (obj.contains(key)) {
          return Status::BadRequest("duplicate key \"" + key + "\" at line " +
                                 std::to_string(kv.first.Mark().line + 1));
        }
        auto v = NodeToJson(kv.second, depth + 1, budget);
        if (!v.ok()) return v.status();
        obj[key] = std::move(v).value();
      }
      return obj;
    }
  }
  return json(nullptr);
}

StatusOr<json> DocumentToJson(const YAML::Node& node) {
  size_t budget = kMaxYamlNodes;
  return NodeToJson(node, 0, budget);
}

// 0x…, 0o…, [-+].inf, .nan: what a YAML 1.1/1.2 reader may take for a number.
bool LooksLikeOtherNumber(std::string_view s) {
  auto all = [&](size_t from, auto pred) {
    if (from >= s.size()) return false;
    for (size_t i = from; i < s.size(); ++i) {
      if (!pred(s[i])) return false;
    }
    return true;
  };
  if (s.rfind("0x", 0) == 0) return all(2, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  if (s.rfind("0o", 0) == 0) return all(2, [](char c) { return c >= '0' && c <= '7'; });
  return s == ".inf" || s == "-.inf" || s == "+.inf" || s == ".nan";
}

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::set<std::string> kReserved = {
      "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
      "yes", "no",   "on",   "off",  "Yes",  "No",   "On",   "Off",   "y",     "n"};
  if (kReserved.count(s)) return true;
  if (IsFloatText(s) || LooksLikeOtherNumber(s)) return true;
  if (s.front() == ' ' || s.back() == ' ') return true;
  static const std::string kSpecialFirst = "-?:,[]{}#&*!|>'\"%@`";
  if (kSpecialFirst.find(s.front()) != std::string::npos) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':')
    return true;
  for (char c : s) {
    if (c == '\n' || c == '\t' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

std::string Scalar(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return NeedsQuotes(s) ? json(s).dump() : s;  // JSON strings are valid YAML double-quoted
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      std::ostringstream out;
      out << static_cast<long long>(d) << ".0";
      return out.str();
    }
  }
  return v.dump();
}

// Multi-line strings (scripts, embedded config files) read better as literal blocks.
// Only used when the text survives a literal block unchanged.
bool UseLiteralBlock(const json& v) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.find('\n') == std::string::npos || s.front() == ' ' || s.front() == '\n') return false;
  for (char c : s) {
    if (c == '\r' || c == '\t' || (static_cast<unsigned char>(c) < 0x20 && c != '\n')) return false;
  }
  for (size_t pos = s.find('\n'); pos != std::string::npos; pos = s.find('\n', pos + 1)) {
    if (pos > 0 && s[pos - 1] == ' ') return false;  // trailing spaces are easy to lose
  }
  return true;
}

// "|" keeps one final newline, "|-" none, "|+" several.
void EmitLiteralBlock(const std::string& s, int indent, std::string* out) {
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  *out += trailing == 0 ? "|-\n" : trailing == 1 ? "|\n" : "|+\n";
  std::string body = s.substr(0, s.size() - trailing);
  size_t start = 0;
  while (true) {
    size_t nl = body.find('\n', start);
    std::string line = body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) out->append(indent, ' ');
    *out += line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  for (size_t i = 1; i < trailing; ++i) *out += "\n";
}

bool IsEmptyContainer(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }

void Emit(const json& v, int indent, std::string* out);

// Emits the entries of a mapping, each line starting at `indent`.
void EmitMap(const json& obj, int indent, std::string* out, bool first_inline) {
  bool first = true;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!(first && first_inline)) out->append(indent, ' ');
    first = false;
    std::string key = NeedsQuotes(it.key()) ? json(it.key()).dump() : it.key();
    const json& val = it.value();
    if (val.is_object() && !val.empty()) {
      *out += key + ":\n";
      EmitMap(val, indent + 2, out, false);
    } else if (val.is_array() && !val.empty()) {
      *out += key + ":\n";
      Emit(val, indent, out);  // sequences under a key stay at the key's indent
    } else if (IsEmptyContainer(val)) {
      *out += key + (val.is_object() ? ": {}\n" : ": []\n");
    } else if (UseLiteralBlock(val)) {
      *out += key + ": ";
      EmitLiteralBlock(val.get<std::string>(), indent + 2, out);
    } else {
      *out += key + ": " + Scalar(val) + "\n";
    }
  }
}

void Emit(const json& v, int indent, std::string* out) {
  if (v.is_object()) {
    if (v.empty()) {
      out->append(indent, ' ');
      *out += "{}\n";
      return;
    }
    EmitMap(v, indent, out, false);
  } else if (v.is_array()) {
    for (const auto& item : v) {
      out->append(indent, ' ');
      *out += "- ";
      if (item.is_object() && !item.empty()) {
        EmitMap(item, indent + 2, out, true);
      } else if (item.is_array() && !item.empty()) {
        *out += "\n";
        Emit(item, indent + 2, out);
      } else if (IsEmptyContainer(item)) {
        *out += item.is_object() ? "{}\n" : "[]\n";
      } else if (UseLiteralBlock(item)) {
        EmitLiteralBlock(item.get<std::string>(), indent + 2, out);
      } else {
        *out += Scalar(item) + "\n";
      }
    }
  } else {
    out->append(indent, ' ');
    *out += Scalar(v) + "\n";
  }
}

}  // namespace

StatusOr<json> YamlToJson(std::string_view yaml) {
  try {
    YAML::Node node = YAML::Load(std::string(yaml));
    auto v = DocumentToJson(node);
    if (!v.ok()) return v.status();
    return v;
  } catch (const YAML::Exception& e) {
    return Status::BadRequest("YAML: " + std::string(e.what()));
  }
}

std::vector<std::string_view> SplitYamlDocuments(std::string_view yaml) {
  std::vector<std::string_view> docs;
  size_t doc_start = 0, line_start = 0;
  while (line_start < yaml.size()) {
    size_t line_end = yaml.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = yaml.size();
    const std::string_view line = yaml.substr(line_start, line_end - line_start);
    const bool marker = line.substr(0, 3) == "---" &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker) {
      if (line_start > doc_start) docs.push_back(yaml.substr(doc_start, line_start - doc_start));
      // "--- {a: 1}" starts its document on the marker line; "---" or "--- # x" ends at it.
      const size_t rest = line.find_first_not_of(" \t\r", 3);
      const bool content = rest != std::string_view::npos && line[rest] != '#';
      doc_start = content ? line_start : std::min(line_end + 1, yaml.size());
    }
    line_start = line_end + 1;
  }
  if (doc_start < yaml.size()) docs.push_back(yaml.substr(doc_start));
  return docs;
}

StatusOr<std::vector<json>> YamlDocumentsToJson(std::string_view yaml) {
  // Split first, then load each document alone: yaml-cpp 0.7's LoadAll loops forever on
  // some malformed input (found by fuzz/fuzz_decode_body).
  std::vector<json> out;
  for (std::string_view text : SplitYamlDocuments(yaml)) {
    try {
      YAML::Node node = YAML::Load(std::string(text));
      if (node.IsNull()) continue;
      auto v = DocumentToJson(node);
      if (!v.ok()) return v.status();
      out.push_back(std::move(v).value());
    } catch (const YAML::Exception& e) {
      return Status::BadRequest("YAML document " + std::to_string(out.size() + 1) + ": " + e.what());
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += n + 1;
  }
  return true;
}

int JsonNestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

StatusOr<json> ParseJson(std::string_view text, std::string_view what) {
  if (JsonNestingDepth(text) > kMaxNestingDepth) {
    return Status::BadRequest(std::string(what) + ": nested deeper than " +
                              std::to_string(kMaxNestingDepth) + " levels");
  }
  // Strict means strict: a key written twice in one object is refused (nlohmann would keep
  // the last silently), as Kubernetes' strict decoding does.
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string duplicate;
  auto on_event = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: keys.emplace_back(); break;
      case json::parse_event_t::object_end: keys.pop_back(); break;
      case json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default: break;
    }
    return true;
  };
  try {
    json out = json::parse(text, on_event);
    if (!duplicate.empty()) {
      return Status::BadRequest(std::string(what) + ": duplicate key \"" + duplicate.substr(0, 100) + "\"");
    }
    return out;
  } catch (const json::exception& e) {  // parse errors and out-of-range numbers (1e999)
    return Status::BadRequest(std::string(what) + ": " + e.what());
  }
}

std::string JsonToYaml(const json& value) {
  std::string out;
  Emit(value, 0, &out);
  return out;
}

std::string JsonToYamlDocuments(const std::vector<json>& docs) {
  std::string out;
  for (const auto& d : docs) {
    out += "---\n";
    out += JsonToYaml(d);
  }
  return out;
}

}  // namespace berth::api
