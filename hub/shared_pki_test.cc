// The PKI hub replicas share through etcd (hub/shared_pki.h), against a real etcd.
#include "hub/shared_pki.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/kubeconfig.h"
#include "hub/etcd_test_fixture.h"

namespace berth::hub {
namespace {

namespace fs = std::filesystem;

class SharedPkiTest : public EtcdFixture {
 protected:
  void SetUp() override {
    EtcdFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir_ = fs::temp_directory_path() / ("berth-shared-pki-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    cipher_ = std::make_unique<SecretCipher>(SecretCipher::FromKeyFile(SecretCipher::NewKeyFileText().value(), "k").value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  HubPkiOptions Options(const std::string& replica, const std::string& san) const {
    HubPkiOptions o;
    o.data_dir = (dir_ / replica).string();
    o.extra_sans = {san};
    o.admin_server_url = "https://" + san + ":6443";
    return o;
  }

  std::unique_ptr<SecretCipher> cipher_;
  fs::path dir_;
};

TEST_F(SharedPkiTest, ReplicasShareTheCaAndAdminTokenButNotTheServingCert) {
  auto first = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-0", "hub-0.example"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(first->ca_pem, second->ca_pem);
  EXPECT_EQ(first->admin_token_sha256, second->admin_token_sha256);
  EXPECT_NE(first->server_cert_pem, second->server_cert_pem);
  EXPECT_TRUE(SansCoverHost(second->server_sans, "hub-1.example"));
  EXPECT_FALSE(SansCoverHost(second->server_sans, "hub-0.example"));
  auto k0 = LoadKubeconfigFile(first->admin_kubeconfig_path).value();
  auto k1 = LoadKubeconfigFile(second->admin_kubeconfig_path).value();
  EXPECT_EQ(k0.bearer_token, k1.bearer_token) << "one admin credential works on every replica";
  EXPECT_EQ(k1.server, "https://hub-1.example:6443") << "each kubeconfig names its own replica";

  // The record in etcd is sealed: neither the CA key nor the token appear in it.
  auto raw = client_->Range("/t.hub/pki", "").value();
  ASSERT_EQ(raw.kvs.size(), 1u);
  EXPECT_TRUE(SecretCipher::IsSealed(raw.kvs[0].value));
  EXPECT_EQ(raw.kvs[0].value.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(raw.kvs[0].value.find(k0.bearer_token), std::string::npos);

  // A restart of a replica keeps it all.
  auto again = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->server_cert_pem, second->server_cert_pem);
  EXPECT_FALSE(again->issued_admin_token);
}

// Rotating the admin token on etcd: delete admin.kubeconfig on a replica that has run and
// restart it. It keeps the shared CA, mints a token and publishes it; a new replica and the
// others' next start take the new one. (Before, the record handed the old token back.)
TEST_F(SharedPkiTest, DeletingAdminKubeconfigOnAReplicaRotatesTheSharedToken) {
  auto first = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-0", "hub-0.example"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(second.ok());
  const std::string old_token = LoadKubeconfigFile(first->admin_kubeconfig_path).value().bearer_token;

  fs::remove(second->admin_kubeconfig_path);
  auto rotated = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_TRUE(rotated->issued_admin_token);
  EXPECT_EQ(rotated->ca_pem, first->ca_pem) << "the CA stays";
  const std::string new_token = LoadKubeconfigFile(rotated->admin_kubeconfig_path).value().bearer_token;
  EXPECT_NE(new_token, old_token);
  EXPECT_EQ(rotated->admin_token_sha256, Sha256Hex(new_token));

  auto fresh = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-2", "hub-2.example"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->issued_admin_token) << "a new replica adopts the shared token, it does not rotate";
  EXPECT_EQ(LoadKubeconfigFile(fresh->admin_kubeconfig_path).value().bearer_token, new_token);

  auto restarted = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-0", "hub-0.example"));
  ASSERT_TRUE(restarted.ok());
  EXPECT_EQ(restarted->admin_token_sha256, Sha256Hex(new_token)) << "the others take it at their next start";
  EXPECT_EQ(LoadKubeconfigFile(restarted->admin_kubeconfig_path).value().bearer_token, new_token);
}

TEST_F(SharedPkiTest, AReplicaWithADifferentLocalCaAdoptsTheSharedOne) {
  auto lone = EnsureHubPki(Options("hub-1", "hub-1.example"));  // started alone before
  ASSERT_TRUE(lone.ok());
  auto first = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-0", "hub-0.example"));
  ASSERT_TRUE(first.ok());
  auto joined = EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_NE(lone->ca_pem, joined->ca_pem);
  EXPECT_EQ(first->ca_pem, joined->ca_pem);
  EXPECT_TRUE(joined->issued_server_cert) << "re-issued from the shared CA";
}

TEST_F(SharedPkiTest, AnotherEncryptionKeyIsRefusedNamingIt) {
  ASSERT_TRUE(EnsureSharedHubPki(*client_, "/t.hub/pki", *cipher_, Options("hub-0", "hub-0.example")).ok());
  auto other = SecretCipher::FromKeyFile(SecretCipher::NewKeyFileText().value(), "/etc/berth/other.key").value();
  auto refused = EnsureSharedHubPki(*client_, "/t.hub/pki", other, Options("hub-1", "hub-1.example"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("/etc/berth/other.key"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("same encryption key file"), std::string::npos);
}

// After a key rotation (new key first, old key still listed) a start re-seals the record with
// the new key; the old key can then leave the key file.
TEST_F(SharedPkiTest, ARotatedKeyReSealsTheRecord) {
  const std::string old_text = SecretCipher::NewKeyFileText().value();
  auto old_key = SecretCipher::FromKeyFile(old_text, "k").value();
  auto first = EnsureSharedHubPki(*client_, "/t.hub/pki", old_key, Options("hub-0", "hub-0.example"));
  ASSERT_TRUE(first.ok());
  const std::string new_text = SecretCipher::NewKeyFileText().value();
  auto rotated = SecretCipher::FromKeyFile(new_text + old_text, "k").value();
  ASSERT_TRUE(EnsureSharedHubPki(*client_, "/t.hub/pki", rotated, Options("hub-0", "hub-0.example")).ok());
  auto raw = client_->Range("/t.hub/pki", "").value();
  EXPECT_EQ(SecretCipher::KeyIdOf(raw.kvs.at(0).value), rotated.primary_key_id());
  auto new_only = SecretCipher::FromKeyFile(new_text, "k").value();
  auto later = EnsureSharedHubPki(*client_, "/t.hub/pki", new_only, Options("hub-1", "hub-1.example"));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(later->ca_pem, first->ca_pem);
}

}  // namespace
}  // namespace berth::hub
