#include "hub/warning_headers.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

TEST(WarningHeaders, QuotesEscapesAndDeduplicates) {
  auto h = WarningHeaders({"unknown field \"spec.x\"", "a\\b", "line\r\nbreak", "unknown field \"spec.x\"", ""});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].first, "Warning");
  EXPECT_EQ(h[0].second, R"(299 - "unknown field \"spec.x\"")");
  EXPECT_EQ(h[1].second, R"(299 - "a\\b")");
  EXPECT_EQ(h[2].second, R"(299 - "line  break")") << "no header injection";
}

TEST(WarningHeaders, LongSetsAreCutLikeTheKubernetesApiServer) {
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back(std::to_string(i) + std::string(300, 'x'));
  auto h = WarningHeaders(many);
  size_t total = 0;
  for (const auto& [name, value] : h) {
    EXPECT_LE(value.size(), 256u + 8u);
    total += value.size() - 8;
  }
  EXPECT_LE(total, 4096u);
  EXPECT_EQ(h.size(), 16u);  // 16 × 256 = 4096
  // Short sets pass whole; a multi-byte character is never split.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "é";
  many.assign(20, "");
  for (int i = 0; i < 20; ++i) many[i] = std::to_string(i) + accents;
  for (const auto& [name, value] : WarningHeaders(many)) {
    const std::string text = value.substr(7, value.size() - 8);
    EXPECT_NE(static_cast<unsigned char>(text.back()) & 0xC0, 0xC0u) << "cut inside a character";
  }
}

}  // namespace
}  // namespace berth::hub
