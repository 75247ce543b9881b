#include "workspace/text_match.h"

#include <algorithm>
#include <cctype>

namespace berth::workspace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string QuoteShort(std::string_view name) {
  if (name.size() <= kMaxSuggestedLength) return "\"" + std::string(name) + "\"";
  return "\"" + std::string(name.substr(0, kMaxSuggestedLength)) + "\"… (" + std::to_string(name.size()) +
         " characters)";
}

size_t EditDistance(std::string_view a_in, std::string_view b_in) {
  std::string a = ToLower(a_in), b = ToLower(b_in);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> ClosestNames(std::string_view wanted,
                                      const std::vector<std::string>& candidates, size_t limit) {
  // Suggestions are for typos of short names: a long string (a pasted file, an attack) gets
  // none rather than an O(n·m) edit distance against every candidate.
  if (wanted.size() > kMaxSuggestedLength) return {};
  std::string w = ToLower(wanted);
  size_t threshold = std::max<size_t>(3, w.size() / 2);
  std::vector<std::pair<size_t, size_t>> scored;  // (distance, index)
  for (size_t i = 0; i < candidates.size(); ++i) {
    size_t d = EditDistance(w, candidates[i]);
    // A prefix/substring typed by the user ("llama-3.3") is a strong hint even when far
    // away by edits; rank it just after exact-ish matches.
    if (!w.empty() && ToLower(candidates[i]).find(w) != std::string::npos)
      d = std::min(d, threshold);
    if (d <= threshold) scored.emplace_back(d, i);
  }
  std::stable_sort(scored.begin(), scored.end());
  // Only names about as close as the best one: a clear winner is not diluted by noise.
  std::vector<std::string> out;
  for (size_t k = 0; k < scored.size() && out.size() < limit; ++k) {
    if (scored[k].first > scored.front().first + 2) break;
    out.push_back(candidates[scored[k].second]);
  }
  return out;
}

}  // namespace berth::workspace
