#include "api/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(YamlJsonTest, PlainScalarsFollowTheCoreSchemaQuotedStayStrings) {
  auto v =
      YamlToJson("a: 1\nb: 2.5\nc: true\nd: null\ne: hello\nf: \"80\"\ng: 'true'\nh: [1, x]\n");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["a"], 1);
  EXPECT_TRUE((*v)["a"].is_number_integer());
  EXPECT_DOUBLE_EQ((*v)["b"].get<double>(), 2.5);
  EXPECT_EQ((*v)["c"], true);
  EXPECT_TRUE((*v)["d"].is_null());
  EXPECT_EQ((*v)["e"], "hello");
  EXPECT_EQ((*v)["f"], "80");
  EXPECT_EQ((*v)["g"], "true");
  EXPECT_EQ((*v)["h"], json::array({1, "x"}));
}

TEST(YamlJsonTest, BadYamlAndDuplicateKeysAreBadRequests) {
  auto bad = YamlToJson("a: [1, 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  auto dup = YamlToJson("a: 1\na: 2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate key \"a\""));
}

TEST(YamlJsonTest, RoundTripKeepsTypesAndQuotesAmbiguousStrings) {
  json v = {
      {"port", 80},
      {"name", "80"},
      {"flag", "true"},
      {"empty", ""},
      {"ratio", 0.84},
      {"whole", 2.0},
      {"cmd", {"--model=x", "- dash", "a: b"}},
      {"nested", {{"list", {{{"k", "v"}, {"n", 1}}, json::array()}}, {"obj", json::object()}}}};
  std::string yaml = JsonToYaml(v);
  EXPECT_THAT(yaml, HasSubstr("name: \"80\"\n"));
  EXPECT_THAT(yaml, HasSubstr("flag: \"true\"\n"));
  EXPECT_THAT(yaml, HasSubstr("port: 80\n"));
  auto back = YamlToJson(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, v) << yaml;
}

TEST(YamlJsonTest, MultiLineStringsBecomeLiteralBlocksAndReadBack) {
  json v = {{"script", "set -e\nif x; then\n  run\nfi\n"},
            {"no_final_newline", "a\nb"},
            {"blank_lines", "a\n\nb\n\n"},
            {"trailing_space", "a \nb"},
            {"list", {"one\ntwo\n"}}};
  std::string yaml = JsonToYaml(v);
  EXPECT_NE(yaml.find("script: |\n  set -e\n  if x; then\n    run\n  fi\n"), std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("no_final_newline: |-\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("trailing_space: \"a \\nb\"\n"), std::string::npos) << yaml;
  auto back = YamlToJson(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, v) << yaml;
}

TEST(YamlJsonTest, MultiDocumentStreams) {
  auto docs = YamlDocumentsToJson("---\na: 1\n---\n---\nb: 2\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["b"], 2);
  std::string out = JsonToYamlDocuments(*docs);
  EXPECT_EQ(out, "---\na: 1\n---\nb: 2\n");
}

}  // namespace
}  // namespace berth::api
