// Percent-encoding for URL query values and fragments (RFC 3986: unreserved characters kept,
// every other byte as %XX).
#pragma once

#include <string>

namespace berth {

std::string QueryEscape(const std::string& s);

}  // namespace berth
