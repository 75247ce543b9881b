#include "hub/query_params.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "api/yaml_json.h"

namespace berth::hub {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status Unsupported(const std::string& name, const std::string& value, const std::string& supported) {
  return Status::BadRequest(name + ": Unsupported value: \"" + value + "\": supported values: " + supported);
}

}  // namespace

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && HexDigit(in[i + 1]) >= 0 &&
               HexDigit(in[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(in[i + 1]) * 16 + HexDigit(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

QueryParams QueryParams::Parse(const std::string& raw) {
  QueryParams q;
  size_t i = 0;
  while (i < raw.size()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string::npos) amp = raw.size();
    std::string kv = raw.substr(i, amp - i);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      q.values_[PercentDecode(kv.substr(0, eq), true)] = PercentDecode(value, true);
    }
    i = amp + 1;
  }
  return q;
}

bool QueryParams::AllUtf8() const {
  for (const auto& [k, v] : values_) {
    if (!api::IsValidUtf8(k) || !api::IsValidUtf8(v)) return false;
  }
  return true;
}

std::string QueryParams::Get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

StatusOr<bool> QueryParams::Bool(const std::string& name, bool fallback) const {
  const std::string v = Get(name);
  if (v.empty()) return fallback;
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  return Status::BadRequest(name + ": invalid boolean \"" + v +
                            "\": use true or false (also 1 t T TRUE True, 0 f F FALSE False)");
}

StatusOr<int64_t> ParseInt64(std::string_view v, const std::string& name) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range) {
    return Status::BadRequest(name + ": " + std::string(v.substr(0, 64)) + " is out of range for a 64-bit integer");
  }
  if (ec != std::errc() || end != v.data() + v.size()) {
    return Status::BadRequest(name + ": \"" + std::string(v.substr(0, 64)) + "\" is not an integer");
  }
  return n;
}

StatusOr<std::optional<int64_t>> QueryParams::Int(const std::string& name) const {
  const std::string v = Get(name);
  if (v.empty()) return std::optional<int64_t>();
  auto n = ParseInt64(v, name);
  if (!n.ok()) return n.status();
  return std::optional<int64_t>(*n);
}

StatusOr<bool> QueryParams::DryRun() const {
  const std::string v = Get("dryRun");
  if (v.empty()) return false;
  if (v == "All") return true;
  return Unsupported("dryRun", v.substr(0, 64), "\"All\"");
}

StatusOr<bool> DryRunFromDeleteOptions(const nlohmann::json& options) {
  if (!options.is_object()) return false;
  auto it = options.find("dryRun");
  if (it == options.end() || it->is_null()) return false;
  if (!it->is_array()) return Status::BadRequest("dryRun: must be a list, e.g. [\"All\"]");
  bool dry = false;
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>() != "All") {
      return Unsupported("dryRun", v.is_string() ? v.get<std::string>().substr(0, 64) : v.dump().substr(0, 64), "\"All\"");
    }
    dry = true;
  }
  return dry;
}

}  // namespace berth::hub
