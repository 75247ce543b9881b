// Standard base64 (RFC 4648, alphabet "+/", with padding), as kubeconfig *-data fields and
// Secret data use. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth {

std::string Base64Encode(std::string_view bytes);
// nullopt if `text` is not valid base64 (whitespace is skipped, as Go's decoder skips
// line breaks).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace berth
