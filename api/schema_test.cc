#include "api/schema.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "spec": {"type": "object", "required": ["model"], "properties": {
      "model": {"type": "string", "minLength": 1},
      "replicas": {"type": "integer", "minimum": 0},
      "mode": {"type": "string", "enum": ["PickN", "PickAll"]},
      "resource": {"type": "object", "properties": {"gpu": {"type": "string"}}},
      "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
      "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
      "map": {"type": "object", "additionalProperties": {"type": "integer"}}
    }}
  }
})");

std::vector<FieldCause> Violations(const json& v) {
  std::vector<FieldCause> causes;
  CollectSchemaViolations(kSchema, v, "", &causes);
  return causes;
}

TEST(SchemaTest, AcceptsValid) {
  auto c = Violations(json::parse(
      R"({"spec": {"model": "m", "replicas": 2, "mode": "PickN", "free": {"x": 1}, "map": {"a": 1}}})"));
  EXPECT_TRUE(c.empty()) << c[0].field << ": " << c[0].message;
}

TEST(SchemaTest, UnknownFieldNamesItsPath) {
  auto c = Violations(json::parse(R"({"spec": {"model": "m", "resource": {"gpuu": "A100"}}})"));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "spec.resource.gpuu");
  EXPECT_EQ(c[0].message, "unknown field");
}

TEST(SchemaTest, ReportsEveryViolation) {
  auto c = Violations(json::parse(
      R"({"spec": {"replicas": -1, "mode": "Pick", "tags": ["a", 2, "c"], "map": {"a": "x"}}})"));
  std::vector<std::string> fields;
  for (const auto& f : c) fields.push_back(f.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"spec.model", "spec.map.a", "spec.mode",
                                              "spec.replicas", "spec.tags", "spec.tags[1]"}));
}

TEST(SchemaTest, TypeMismatch) {
  auto c = Violations(json::parse(R"({"spec": {"model": 5}})"));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message, "must be string, got integer");
}

TEST(SchemaTest, Dns1123) {
  EXPECT_EQ(CheckDns1123Subdomain("llama-70b.prod"), "");
  EXPECT_NE(CheckDns1123Subdomain("Llama"), "");
  EXPECT_NE(CheckDns1123Subdomain("-a"), "");
  EXPECT_NE(CheckDns1123Label("a.b"), "");
  EXPECT_NE(CheckDns1123Label(std::string(64, 'a')), "");
  EXPECT_EQ(CheckLabelKey("berth.dev/workspace"), "");
  EXPECT_NE(CheckLabelKey("bad key"), "");
  EXPECT_NE(CheckLabelValue("-x"), "");
  EXPECT_EQ(CheckLabelValue("A_b.c-9"), "");
  EXPECT_NE(CheckLabelValue("a b"), "");
  EXPECT_EQ(CheckDns1123Subdomain("a"), "");
  EXPECT_NE(CheckDns1123Subdomain("a..b"), "");
  EXPECT_NE(CheckDns1123Subdomain("a."), "");
  EXPECT_NE(CheckLabelKey("/x"), "");
}

// Was: std::regex, which recursed per character: a long name overflowed the stack.
TEST(SchemaTest, NameChecksAreLinearOnHugeInput) {
  const std::string huge(2 << 20, 'a');
  EXPECT_NE(CheckDns1123Subdomain(huge), "");
  EXPECT_NE(CheckLabelValue(huge), "");
  json schema = {{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}};
  std::vector<FieldCause> causes;
  CollectSchemaViolations(schema, huge, "spec.secretHash", &causes);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message, "value does not match the pattern ^[0-9a-f]{64}$");
  causes.clear();
  CollectSchemaViolations(schema, std::string(64, 'b'), "spec.secretHash", &causes);
  EXPECT_TRUE(causes.empty());
}

TEST(SchemaTest, PatternWithoutAMatcherIsOurBugNotTheUsers) {
  json schema = {{"type", "string"}, {"pattern", "^x+$"}};
  std::vector<FieldCause> causes;
  CollectSchemaViolations(schema, "xx", "f", &causes);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "InternalError");
}

}  // namespace
}  // namespace berth::api

namespace berth::api {
namespace {

// Was: replicas 2^63 was accepted (and read as 0), and a float beyond int64 was cast (UB).
TEST(SchemaIntegerRangeTest, IntegersAreSigned64Bit) {
  const nlohmann::json schema = nlohmann::json::parse(
      R"({"type":"object","properties":{"replicas":{"type":"integer"}}})");
  auto check = [&](const char* body) {
    return ValidateAgainstSchema(schema, nlohmann::json::parse(body), "Workspace");
  };
  EXPECT_TRUE(check(R"({"replicas": 9223372036854775807})").ok());
  EXPECT_TRUE(check(R"({"replicas": 2.0})").ok());
  Status big = check(R"({"replicas": 9223372036854775808})");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.ToString().find("beyond the 64-bit range"), std::string::npos) << big.ToString();
  EXPECT_FALSE(check(R"({"replicas": 1e300})").ok());
  EXPECT_FALSE(check(R"({"replicas": 2.5})").ok());
}

TEST(SchemaTest, SetsAndMapListsHoldEachValueAndKeyOnce) {
  const json schema = json::parse(R"({"type": "object", "properties": {
    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
    "stages": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
               "items": {"type": "object", "properties": {"name": {"type": "string"}, "soak": {"type": "integer"}}}}}})");
  std::vector<FieldCause> causes;
  CollectSchemaViolations(schema, json::parse(R"({"tags": ["a", "b", "a"],
      "stages": [{"name": "x", "soak": 1}, {"name": "y"}, {"name": "x", "soak": 2}]})"), "", &causes);
  ASSERT_EQ(causes.size(), 2u);  // properties are walked in name order
  EXPECT_EQ(causes[0].field, "stages[2]");
  EXPECT_NE(causes[0].message.find("\"name\":\"x\""), std::string::npos) << causes[0].message;
  EXPECT_EQ(causes[1].field, "tags[2]");
  EXPECT_EQ(causes[1].reason, "FieldValueDuplicate");
  causes.clear();
  CollectSchemaViolations(schema, json::parse(R"({"tags": ["a", "b"], "stages": [{"name": "x"}, {"name": "y"}]})"),
                          "", &causes);
  EXPECT_TRUE(causes.empty());
}

}  // namespace
}  // namespace berth::api
