// Query parameters of an API request, read the way the Kubernetes API server reads them.
// Pure: parses text, no HTTP types, so it is tested with plain strings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "api/status.h"

namespace berth::hub {

class QueryParams {
 public:
  // Parses "a=1&b=x%20y" (percent-decoding, '+' as space). A repeated key keeps its last value.
  static QueryParams Parse(const std::string& raw);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The value, or "" when absent.
  std::string Get(const std::string& name) const;
  // Every name and value is valid UTF-8 (after percent-decoding).
  bool AllUtf8() const;

  // A boolean as Go's strconv.ParseBool reads it: 1 t T TRUE true True / 0 f F FALSE false
  // False. Absent or empty: `fallback`. Anything else: BadRequest naming the parameter.
  StatusOr<bool> Bool(const std::string& name, bool fallback = false) const;
  // A base-10 integer, the whole value; absent or empty: nullopt. Anything else, or out of
  // the 64-bit range: BadRequest naming the parameter.
  StatusOr<std::optional<int64_t>> Int(const std::string& name) const;
  // dryRun: absent or empty → false; "All" → true; anything else → BadRequest (Kubernetes
  // supports only All).
  StatusOr<bool> DryRun() const;

 private:
  std::map<std::string, std::string> values_;
};

// A whole base-10 integer in the 64-bit range; BadRequest naming `name` otherwise (also for "").
StatusOr<int64_t> ParseInt64(std::string_view value, const std::string& name);

// Percent-decoding ('+' as a space only in query strings); a malformed escape is kept as
// it was written.
std::string PercentDecode(std::string_view in, bool plus_is_space);

// The dryRun member of a DeleteOptions body (["All"] or absent); BadRequest otherwise.
StatusOr<bool> DryRunFromDeleteOptions(const nlohmann::json& options);

}  // namespace berth::hub
