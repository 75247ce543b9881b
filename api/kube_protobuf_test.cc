#include "api/kube_protobuf.h"

#include <gtest/gtest.h>

#include "api/base64.h"
#include "api/object.h"

namespace berth::api {
namespace {

using nlohmann::json;

// A protobuf writer for the test's bodies (what client-go's generated marshalers emit).
std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out += static_cast<char>(v ? b | 0x80 : b);
  } while (v);
  return out;
}
std::string Bytes(uint32_t field, const std::string& value) {
  return Varint(field << 3 | 2) + Varint(value.size()) + value;
}
std::string Bool(uint32_t field, bool v) { return Varint(field << 3) + Varint(v ? 1 : 0); }
std::string Entry(uint32_t field, const std::string& k, const std::string& v) {
  return Bytes(field, Bytes(1, k) + Bytes(2, v));
}
std::string Envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) + Bytes(2, raw) +
         Bytes(3, "") + Bytes(4, "");
}

TEST(KubeProtobufTest, DecodesTheSecretKubectlCreateSends) {
  const std::string meta = Bytes(1, "db") + Bytes(2, "") + Bytes(3, "ml") + Entry(11, "app", "x") + Bytes(14, "f1");
  const std::string secret = Bytes(1, meta) + Entry(2, "password", std::string("\x00\xff", 2)) +
                             Bytes(3, "Opaque") + Entry(4, "token", "plain") + Bool(5, true);
  auto r = DecodeKubeProtobuf(Envelope("v1", "Secret", secret));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["metadata"], json({{"name", "db"}, {"namespace", "ml"}, {"labels", {{"app", "x"}}},
                                    {"finalizers", {"f1"}}}));
  EXPECT_EQ((*r)["data"]["password"], Base64Encode(std::string("\x00\xff", 2)));
  EXPECT_EQ((*r)["stringData"]["token"], "plain");
  EXPECT_EQ((*r)["type"], "Opaque");
  EXPECT_EQ((*r)["immutable"], true);
}

TEST(KubeProtobufTest, DecodesNamespaceAndConfigMapThroughDecodeBody) {
  auto ns = DecodeBody(Envelope("v1", "Namespace", Bytes(1, Bytes(1, "ml") + Bytes(3, "")) + Bytes(2, Bytes(1, "kubernetes"))),
                       "application/vnd.kubernetes.protobuf");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  EXPECT_EQ((*ns)["metadata"]["name"], "ml");
  EXPECT_EQ((*ns)["spec"]["finalizers"], json({"kubernetes"}));
  auto cm = DecodeBody(Envelope("v1", "ConfigMap", Bytes(1, Bytes(1, "c")) + Entry(2, "k", "v") + Entry(3, "b", "\x01")),
                       "application/vnd.kubernetes.protobuf");
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["data"], json({{"k", "v"}}));
  EXPECT_EQ((*cm)["binaryData"], json({{"b", "AQ=="}}));
}

TEST(KubeProtobufTest, OtherKindsAndMalformedBodiesAreRefused) {
  auto pod = DecodeKubeProtobuf(Envelope("v1", "Pod", Bytes(1, Bytes(1, "p"))));
  ASSERT_FALSE(pod.ok());
  EXPECT_EQ(pod.status().code(), StatusCode::kUnsupportedMedia);
  EXPECT_NE(pod.status().message().find("application/json"), std::string::npos);
  EXPECT_EQ(DecodeKubeProtobuf("{\"kind\": \"Workspace\"}").status().code(), StatusCode::kUnsupportedMedia);
  std::string truncated = Envelope("v1", "Secret", Bytes(1, Bytes(1, "db")));
  truncated.resize(truncated.size() - 3);
  EXPECT_FALSE(DecodeKubeProtobuf(truncated).ok());
  EXPECT_FALSE(DecodeKubeProtobuf(std::string("k8s\0", 4) + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").ok());
}

TEST(KubeProtobufTest, DecodesTheAccessReviewKubectlAuthCanISends) {
  const std::string attrs = Bytes(1, "team") + Bytes(2, "patch") + Bytes(3, "berth.dev") + Bytes(4, "") +
                            Bytes(5, "workspaces") + Bytes(6, "scale") + Bytes(7, "chat");
  auto r = DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                                       Bytes(1, "") + Bytes(2, Bytes(1, attrs)) + Bytes(3, "")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["spec"]["resourceAttributes"],
            json::parse(R"({"namespace":"team","verb":"patch","group":"berth.dev","version":"","resource":"workspaces",
                            "subresource":"scale","name":"chat"})"));
  auto non = DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                                         Bytes(2, Bytes(2, Bytes(1, "/metrics") + Bytes(2, "get")))));
  ASSERT_TRUE(non.ok());
  EXPECT_EQ((*non)["spec"]["nonResourceAttributes"], json::parse(R"({"path":"/metrics","verb":"get"})"));
  EXPECT_FALSE(DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview",
                                           Bytes(2, std::string("\x0a\xff", 2)))).ok());
}

TEST(KubeProtobufTest, DecodesTheRbacObjectsKubectlCreateSends) {
  auto role = DecodeKubeProtobuf(Envelope("rbac.authorization.k8s.io/v1", "Role",
                                          Bytes(1, Bytes(1, "reader") + Bytes(3, "team-a")) +
                                              Bytes(2, Bytes(1, "get") + Bytes(1, "list") + Bytes(2, "") +
                                                           Bytes(3, "configmaps"))));
  ASSERT_TRUE(role.ok()) << role.status().ToString();
  EXPECT_EQ((*role)["metadata"]["namespace"], "team-a");
  EXPECT_EQ((*role)["rules"], json::parse(R"([{"verbs":["get","list"],"apiGroups":[""],"resources":["configmaps"]}])"));
  auto binding = DecodeKubeProtobuf(Envelope(
      "rbac.authorization.k8s.io/v1", "RoleBinding",
      Bytes(1, Bytes(1, "bob-view")) +
          Bytes(2, Bytes(1, "User") + Bytes(2, "rbac.authorization.k8s.io") + Bytes(3, "bob") + Bytes(4, "")) +
          Bytes(3, Bytes(1, "rbac.authorization.k8s.io") + Bytes(2, "ClusterRole") + Bytes(3, "view"))));
  ASSERT_TRUE(binding.ok()) << binding.status().ToString();
  EXPECT_EQ((*binding)["subjects"],
            json::parse(R"([{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bob"}])"));
  EXPECT_EQ((*binding)["roleRef"]["name"], "view");
  auto aggregated = DecodeKubeProtobuf(Envelope("rbac.authorization.k8s.io/v1", "ClusterRole",
                                                Bytes(1, Bytes(1, "agg")) + Bytes(3, Bytes(1, ""))));
  EXPECT_EQ(aggregated.status().code(), StatusCode::kUnsupportedMedia);
}

TEST(KubeProtobufTest, DecodesTheRulesReviewKubectlAuthCanIListSends) {
  auto r = DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview",
                                       Bytes(1, "") + Bytes(2, Bytes(1, "team-a")) + Bytes(3, "")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["kind"], "SelfSubjectRulesReview");
  EXPECT_EQ((*r)["spec"], json({{"namespace", "team-a"}}));
  EXPECT_FALSE(DecodeKubeProtobuf(Envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview",
                                           Bytes(2, std::string("\x0a\xff", 2)))).ok());
}

}  // namespace
}  // namespace berth::api
