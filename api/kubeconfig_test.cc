#include "api/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace berth {
namespace {

namespace fs = std::filesystem;

const char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-kubeconfig-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel) << content;
  }
  std::string dir_;
};

TEST(Base64, RoundTripsAllLengthsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value_or("<fail>"), s);
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(Base64Decode("aGVs\nbG8=").value_or(""), "hello");
  EXPECT_FALSE(Base64Decode("aGVsbG8=x").has_value());
  EXPECT_FALSE(Base64Decode("a$b=").has_value());
}

TEST(Kubeconfig, RenderedConfigParsesBack) {
  const std::string yaml =
      RenderKubeconfig("berth", "https://127.0.0.1:6443", kCaPem, "admin", "tok-123");
  auto config = ParseKubeconfig(yaml, "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->bearer_token, "tok-123");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(KubeconfigTest, SelectsContextAndResolvesRelativeFiles) {
  Write("certs/ca.crt", kCaPem);
  Write("certs/client.crt", "CERT");
  Write("certs/client.key", "KEY");
  Write("token", "file-token\n");
  const std::string yaml = R"(
apiVersion: v1
kind: Config
current-context: a
contexts:
- name: a
  context: {cluster: one, user: u1}
- name: b
  context: {cluster: two, user: u2, namespace: team-b}
clusters:
- name: one
  cluster: {server: "https://one:6443", insecure-skip-tls-verify: true}
- name: two
  cluster: {server: "https://two:6443", certificate-authority: certs/ca.crt}
users:
- name: u1
  user: {tokenFile: token}
- name: u2
  user: {client-certificate: certs/client.crt, client-key: certs/client.key}
)";
  Write("config", yaml);
  auto a = LoadKubeconfigFile(dir_ + "/config");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->server, "https://one:6443");
  EXPECT_TRUE(a->insecure_skip_tls_verify);
  EXPECT_EQ(a->bearer_token, "file-token");
  EXPECT_EQ(a->bearer_token_file, dir_ + "/token");

  auto b = LoadKubeconfigFile(dir_ + "/config", "b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->server, "https://two:6443");
  EXPECT_EQ(b->ca_pem, kCaPem);
  EXPECT_EQ(b->client_cert_pem, "CERT");
  EXPECT_EQ(b->client_key_pem, "KEY");
  EXPECT_EQ(b->default_namespace, "team-b");
  EXPECT_TRUE(b->bearer_token.empty());
}

TEST(Kubeconfig, ErrorsNameTheField) {
  struct Case {
    std::string yaml;
    std::string field;
  };
  const std::string head =
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n";
  const std::vector<Case> cases = {
      {"contexts: []\n", "current-context"},
      {"current-context: missing\ncontexts: []\n", "contexts"},
      {head + "clusters: [{name: k, cluster: {}}]\n", "clusters[k].cluster.server"},
      {head + "clusters: [{name: k, cluster: {server: 'ftp://x'}}]\n",
       "clusters[k].cluster.server"},
      {head + "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority-data: "
              "'!!'}}]\n",
       "clusters[k].cluster.certificate-authority-data"},
      {head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: "
              "{exec: {}}}]\n",
       "users[u].user.exec"},
      {head + "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: "
              "{client-certificate-data: 'QQ=='}}]\n",
       "users[u].user.client-key"},
      {head + "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority: "
              "/nonexistent/ca}}]\n",
       "clusters[k].cluster.certificate-authority"},
      {"{{{", "not valid YAML"},
  };
  for (const auto& c : cases) {
    auto config = ParseKubeconfig(c.yaml, "");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.field), std::string::npos)
        << c.yaml << " -> " << config.status().ToString();
  }
}

TEST_F(KubeconfigTest, InClusterConfigReadsServiceAccountMount) {
  const std::string sa = "/var/run/secrets/kubernetes.io/serviceaccount/";
  Write(sa + "token", "sa-token\n");
  Write(sa + "ca.crt", kCaPem);
  Write(sa + "namespace", "berth-system\n");
  InClusterOptions opts;
  opts.root_dir = dir_;
  opts.env = std::map<std::string, std::string>{{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                                {"KUBERNETES_SERVICE_PORT", "443"}};
  auto config = LoadInClusterConfig(opts);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
  EXPECT_EQ(config->bearer_token, "sa-token");
  EXPECT_EQ(config->bearer_token_file, dir_ + sa + "token");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->default_namespace, "berth-system");

  opts.env = std::map<std::string, std::string>{};
  auto outside = LoadInClusterConfig(opts);
  EXPECT_EQ(outside.status().code(), StatusCode::kFailedPrecondition);

  fs::remove(dir_ + sa + "token");
  opts.env = std::map<std::string, std::string>{{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                {"KUBERNETES_SERVICE_PORT", "443"}};
  auto no_token = LoadInClusterConfig(opts);
  EXPECT_EQ(no_token.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_token.status().message().find("token"), std::string::npos);
}

}  // namespace
}  // namespace berth
