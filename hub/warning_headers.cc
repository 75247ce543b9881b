#include "hub/warning_headers.h"

#include <algorithm>
#include <set>

namespace berth::hub {
namespace {

constexpr size_t kMaxTotal = 4096;
constexpr size_t kMaxEach = 256;

// Cuts at a UTF-8 character boundary at most `max` bytes in.
std::string Truncate(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string Quote(const std::string& text) {
  std::string out = "299 - \"";
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += static_cast<char>(c);
    }
  }
  return out + '"';
}

}  // namespace

HttpHeaders WarningHeaders(const std::vector<std::string>& messages) {
  std::vector<std::string> unique;
  std::set<std::string> seen;
  size_t total = 0;
  for (const auto& m : messages) {
    if (m.empty() || !seen.insert(m).second) continue;
    unique.push_back(m);
    total += m.size();
  }
  const bool cut = total > kMaxTotal;
  HttpHeaders out;
  size_t used = 0;
  for (const auto& m : unique) {
    std::string text = cut ? Truncate(m, kMaxEach) : m;
    if (used + text.size() > kMaxTotal) break;
    used += text.size();
    out.emplace_back("Warning", Quote(text));
  }
  return out;
}

}  // namespace berth::hub
