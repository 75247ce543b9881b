#include "kinds/config_data.h"

#include <gtest/gtest.h>

#include "api/base64.h"

namespace berth::kinds {
namespace {

using nlohmann::json;

json Secret(json data, json extra = json::object()) {
  json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "db"}, {"namespace", "ml"}}}};
  if (!data.is_null()) s["data"] = std::move(data);
  for (auto it = extra.begin(); it != extra.end(); ++it) s[it.key()] = *it;
  return s;
}

bool HasCause(const Status& s, const std::string& field) {
  for (const auto& c : s.causes()) {
    if (c.field == field) return true;
  }
  return false;
}

TEST(ConfigKeyTest, KubernetesKeyRules) {
  for (const char* ok : {"a", "tls.crt", ".dockerconfigjson", "KEY_NAME", "key-name", "a..b"}) {
    EXPECT_EQ(CheckConfigKey(ok), "") << ok;
  }
  for (const char* bad : {"", "a b", "a/b", "ü", ".", "..", "..a"}) {
    EXPECT_NE(CheckConfigKey(bad), "") << bad;
  }
  EXPECT_EQ(CheckConfigKey(std::string(253, 'k')), "");
  EXPECT_NE(CheckConfigKey(std::string(254, 'k')), "");
  EXPECT_NE(CheckConfigKey("a b").find("[-._a-zA-Z0-9]+"), std::string::npos);
}

TEST(SecretRulesTest, DataMustBeBase64AndTheErrorNamesTheKeyNotTheValue) {
  Status s = ValidateSecret(Secret({{"password", "hunter2!"}, {"ok", Base64Encode("fine")}}), nullptr);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_TRUE(HasCause(s, "data[password]")) << s.ToString();
  EXPECT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.ToString().find("hunter2"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("Secret \"db\" is invalid: data[password]: must be base64"), std::string::npos);
  // Unpadded base64 is not what Kubernetes accepts either.
  EXPECT_FALSE(ValidateSecret(Secret({{"k", "YQ"}}), nullptr).ok());
  EXPECT_TRUE(ValidateSecret(Secret({{"k", "YQ=="}}), nullptr).ok());
}

TEST(SecretRulesTest, KeyNamesAreCheckedInDataAndStringData) {
  Status s = ValidateSecret(Secret({{"bad key", "YQ=="}}, {{"stringData", {{"also/bad", "x"}}}}), nullptr);
  EXPECT_TRUE(HasCause(s, "data[bad key]")) << s.ToString();
  EXPECT_TRUE(HasCause(s, "stringData[also/bad]")) << s.ToString();
}

TEST(SecretRulesTest, TypedSecretsNeedTheirKeysStringDataCounts) {
  Status s = ValidateSecret(Secret({{"tls.crt", "YQ=="}}, {{"type", "kubernetes.io/tls"}}), nullptr);
  EXPECT_TRUE(HasCause(s, "data[tls.key]")) << s.ToString();
  EXPECT_TRUE(ValidateSecret(Secret({{"tls.crt", "YQ=="}}, {{"type", "kubernetes.io/tls"},
                                                          {"stringData", {{"tls.key", "k"}}}}),
                             nullptr).ok());
  EXPECT_TRUE(ValidateSecret(Secret(nullptr, {{"type", "kubernetes.io/basic-auth"},
                                              {"stringData", {{"password", "p"}}}}), nullptr).ok());
}

TEST(SecretRulesTest, TotalSizeIsCapped) {
  const std::string big(kMaxConfigDataBytes / 2 + 1, 'x');
  Status s = ValidateSecret(Secret(nullptr, {{"stringData", {{"a", big}, {"b", big}}}}), nullptr);
  EXPECT_TRUE(HasCause(s, "data")) << s.ToString();
}

TEST(SecretRulesTest, StringDataFoldsIntoDataAndTypeDefaults) {
  json s = Secret({{"a", Base64Encode("old")}, {"b", Base64Encode("kept")}},
                  {{"stringData", {{"a", "new"}, {"c", "plain"}}}});
  FoldSecretStringData(s);
  EXPECT_FALSE(s.contains("stringData"));
  EXPECT_EQ(s["type"], "Opaque");
  EXPECT_EQ(s["data"], json({{"a", Base64Encode("new")}, {"b", Base64Encode("kept")}, {"c", Base64Encode("plain")}}));
}

TEST(SecretRulesTest, ImmutableFreezesDataStringDataAndItself) {
  json old = Secret({{"a", Base64Encode("1")}}, {{"immutable", true}, {"type", "Opaque"}});
  EXPECT_TRUE(ValidateSecret(old, &old).ok());  // an unchanged write is fine
  // The same data written as stringData is no change either.
  EXPECT_TRUE(ValidateSecret(Secret(nullptr, {{"immutable", true}, {"stringData", {{"a", "1"}}}}), &old).ok());
  Status s = ValidateSecret(Secret(nullptr, {{"immutable", true}, {"stringData", {{"a", "2"}}}}), &old);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(HasCause(s, "data")) << s.ToString();
  EXPECT_NE(s.message().find("field is immutable when `immutable` is set"), std::string::npos);
  s = ValidateSecret(Secret({{"a", Base64Encode("1")}}, {{"immutable", false}}), &old);
  EXPECT_TRUE(HasCause(s, "immutable")) << s.ToString();
  // Not immutable: anything may change, but never the type.
  json mutable_old = Secret({{"a", Base64Encode("1")}}, {{"type", "Opaque"}});
  EXPECT_TRUE(ValidateSecret(Secret({{"a", Base64Encode("2")}}), &mutable_old).ok());
  s = ValidateSecret(Secret({{"a", Base64Encode("1")}}, {{"type", "example.com/other"}}), &mutable_old);
  EXPECT_TRUE(HasCause(s, "type")) << s.ToString();
}

TEST(ConfigMapRulesTest, BinaryDataIsBase64KeysAreDistinctAndImmutableHolds) {
  json cm = {{"metadata", {{"name", "c"}}}, {"data", {{"k", "v"}}}, {"binaryData", {{"k", "AA=="}, {"z", "!!"}}}};
  Status s = ValidateConfigMap(cm, nullptr);
  EXPECT_TRUE(HasCause(s, "binaryData[k]")) << s.ToString();
  EXPECT_TRUE(HasCause(s, "binaryData[z]")) << s.ToString();
  json old = {{"metadata", {{"name", "c"}}}, {"data", {{"k", "v"}}}, {"immutable", true}};
  json next = old;
  next["data"]["k"] = "w";
  s = ValidateConfigMap(next, &old);
  EXPECT_TRUE(HasCause(s, "data")) << s.ToString();
  EXPECT_TRUE(ValidateConfigMap(old, &old).ok());
}

}  // namespace
}  // namespace berth::kinds
