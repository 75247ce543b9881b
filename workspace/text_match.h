// Case-insensitive comparison and "did you mean" suggestions by edit distance, used by
// catalog lookups and Workspace validation messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth::workspace {

std::string ToLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Levenshtein distance between the lower-cased strings.
size_t EditDistance(std::string_view a, std::string_view b);

// "\"name\"" for an error message; a name longer than kMaxSuggestedLength is cut there
// and marked, so an error never echoes a huge input back.
std::string QuoteShort(std::string_view name);

// Longer names than this get no suggestions (preset names are under 64 characters).
inline constexpr size_t kMaxSuggestedLength = 128;

// Up to `limit` candidates closest to `wanted` (ties in candidate order), keeping only
// those plausibly meant: distance at most max(3, |wanted|/2), or containing `wanted`,
// and at most 2 edits further than the closest. None when wanted is longer than
// kMaxSuggestedLength.
std::vector<std::string> ClosestNames(std::string_view wanted,
                                      const std::vector<std::string>& candidates, size_t limit);

}  // namespace berth::workspace
