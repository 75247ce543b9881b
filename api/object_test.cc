#include "api/object.h"

#include <gtest/gtest.h>

#include "api/yaml_json.h"

namespace berth::api {
namespace {

using nlohmann::json;

KindInfo TestKind() {
  KindInfo k = MemberClusterKind();
  return k;
}

TEST(CodecTest, YamlAndJsonDecodeToTheSameObject) {
  const char* yaml = R"(
apiVersion: berth.dev/v1alpha1
kind: MemberCluster
metadata:
  name: gpu-eu-1
  labels: {region: eu-west}
spec:
  region: eu-west
  heartbeatPeriodSeconds: 5
)";
  auto a = DecodeBody(yaml, "application/yaml");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = DecodeBody(a->dump(), "application/json");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(ValidateObject(TestKind(), *a).ok());
  // Round trip back through YAML text is lossless.
  auto c = DecodeBody(JsonToYaml(*a), "application/yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*a, *c);
}

TEST(CodecTest, RejectsUnknownFieldWithPath) {
  json o = json::parse(R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster",
    "metadata":{"name":"a"},"spec":{"regoin":"eu"}})");
  Status s = ValidateObject(TestKind(), o);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.causes()[0].field, "spec.regoin");
  EXPECT_EQ(s.causes()[0].message, "unknown field");
  EXPECT_NE(s.message().find("spec.regoin: unknown field"), std::string::npos);
}

TEST(CodecTest, RejectsBadNameAndLabels) {
  json o = json::parse(R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster",
    "metadata":{"name":"GPU_EU","labels":{"bad key":"v","ok":"-bad"}}})");
  Status s = ValidateObject(TestKind(), o);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  std::vector<std::string> fields;
  for (const auto& c : s.causes()) fields.push_back(c.field);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "metadata.name"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "metadata.labels.bad key"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "metadata.labels.ok"), fields.end());
}

TEST(CodecTest, RejectsWrongKindAndMissingName) {
  json wrong = json::parse(R"({"apiVersion":"berth.dev/v1alpha1","kind":"Work","metadata":{"name":"a"}})");
  EXPECT_EQ(ValidateObject(TestKind(), wrong).code(), StatusCode::kBadRequest);
  json noversion = json::parse(R"({"kind":"MemberCluster","metadata":{"name":"a"}})");
  EXPECT_EQ(ValidateObject(TestKind(), noversion).code(), StatusCode::kBadRequest);
  json noname = json::parse(R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster","metadata":{}})");
  Status s = ValidateObject(TestKind(), noname);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_EQ(s.causes()[0].field, "metadata.name");
  json namespaced = json::parse(
      R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster","metadata":{"name":"a","namespace":"x"}})");
  EXPECT_EQ(ValidateObject(TestKind(), namespaced).code(), StatusCode::kInvalid);
}

TEST(CodecTest, RejectsOversizeBodies) {
  std::string big = R"({"a":")" + std::string(kMaxObjectBytes, 'x') + R"("})";
  auto r = DecodeBody(big, "application/json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  json o = json::parse(R"({"apiVersion":"berth.dev/v1alpha1","kind":"MemberCluster","metadata":{"name":"a"}})");
  o["metadata"]["annotations"]["big"] = std::string(kMaxAnnotationBytes + 1, 'x');
  Status s = ValidateObject(TestKind(), o);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_EQ(s.causes()[0].field, "metadata.annotations");
}

TEST(CodecTest, RejectsNonObjectsAndBadJson) {
  EXPECT_EQ(DecodeBody("[1,2]", "application/json").status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(DecodeBody("{", "application/json").status().code(), StatusCode::kBadRequest);
}

TEST(ObjectTest, DesiredStateExcludesMetadataAndStatus) {
  json o = json::parse(R"({"apiVersion":"v","kind":"k","metadata":{"name":"a"},
    "resource":{"x":1},"inference":{"y":2},"status":{"z":3}})");
  EXPECT_EQ(DesiredStateOf(o), json::parse(R"({"resource":{"x":1},"inference":{"y":2}})"));
  o["metadata"]["resourceVersion"] = "42";
  EXPECT_EQ(ResourceVersionOf(o), 42);
  o["metadata"]["resourceVersion"] = "4x";
  EXPECT_EQ(ResourceVersionOf(o), 0);
}

}  // namespace
}  // namespace berth::api
