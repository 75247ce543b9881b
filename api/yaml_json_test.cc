#include "api/yaml_json.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

using nlohmann::json;

TEST(YamlJsonTest, TypesPlainScalarsAndKeepsQuotedStrings) {
  auto j = YamlToJson(R"(
replicas: 2
ratio: 0.84
enabled: true
revision: "2"
name: llama
empty: ~
quotedTrue: 'true'
)");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["replicas"], 2);
  EXPECT_DOUBLE_EQ((*j)["ratio"].get<double>(), 0.84);
  EXPECT_EQ((*j)["enabled"], true);
  EXPECT_EQ((*j)["revision"], "2");
  EXPECT_EQ((*j)["name"], "llama");
  EXPECT_TRUE((*j)["empty"].is_null());
  EXPECT_EQ((*j)["quotedTrue"], "true");
}

TEST(YamlJsonTest, RoundTripsThroughYaml) {
  json original = json::parse(R"({
    "apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
    "metadata": {"name": "a", "labels": {"x": "1", "y": "true", "z": ""}},
    "list": [1, "two", {"k": [true, null, 2.5]}, [], {}],
    "nested": [[1, 2], ["a: b", "- c", "#d"]],
    "text": "line1\nline2", "colon": "a:b"
  })");
  std::string yaml = JsonToYaml(original);
  auto back = YamlToJson(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, original) << yaml;
}

TEST(YamlJsonTest, RejectsDuplicateKeysAndBadSyntax) {
  auto dup = YamlToJson("a: 1\na: 2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate key \"a\""), std::string::npos);
  auto bad = YamlToJson("a: [1, 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(bad.status().message().find("line"), std::string::npos);
}

TEST(YamlJsonTest, SplitsDocuments) {
  auto docs = YamlDocumentsToJson("a: 1\n---\n---\nb: 2\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["b"], 2);
}

}  // namespace
}  // namespace berth::api
