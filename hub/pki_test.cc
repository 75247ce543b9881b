#include "hub/pki.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "api/kubeconfig.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using Clock = std::chrono::system_clock;

// A fixed "now" so validity windows are reproducible (2030-01-01T00:00:00Z).
const Clock::time_point kNow = Clock::from_time_t(1893456000);

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

// Verifies `leaf` against `ca` as a TLS server certificate at time `at`; returns the
// X509_V_* result (X509_V_OK on success).
int VerifyServerCert(const std::string& ca_pem, const std::string& leaf_pem, Clock::time_point at) {
  X509Ptr ca = ParseCert(ca_pem);
  X509Ptr leaf = ParseCert(leaf_pem);
  if (!ca || !leaf) return -1;
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(param, Clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  const int ok = X509_verify_cert(ctx);
  const int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok == 1 ? X509_V_OK : err;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-pki-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    data_dir_ = dir_ + "/data";  // Not yet existing: the first start creates it.
  }
  void TearDown() override { fs::remove_all(dir_); }

  HubPkiOptions Options() const {
    HubPkiOptions o;
    o.data_dir = data_dir_;
    o.extra_sans = {"hub.example.com", "10.1.2.3", "[fd00::1]"};
    o.admin_server_url = "https://127.0.0.1:6443";
    o.now = kNow;
    return o;
  }

  std::string dir_;
  std::string data_dir_;
};

TEST_F(PkiTest, FirstStartCreatesCaServerCertTokenAndKubeconfig) {
  auto pki = EnsureHubPki(Options());
  ASSERT_TRUE(pki.ok()) << pki.status().ToString();
  EXPECT_TRUE(pki->created_ca);
  EXPECT_TRUE(pki->issued_server_cert);
  EXPECT_TRUE(pki->issued_admin_token);

  EXPECT_EQ(ModeOf(pki->pki_dir), 0700u);
  EXPECT_EQ(ModeOf(pki->ca_key_path), 0600u);
  EXPECT_EQ(ModeOf(pki->server_key_path), 0600u);
  EXPECT_EQ(ModeOf(pki->admin_token_hash_path), 0600u);
  EXPECT_EQ(ModeOf(pki->admin_kubeconfig_path), 0600u);
  EXPECT_EQ(ModeOf(pki->ca_cert_path), 0644u);
  EXPECT_EQ(ReadAll(pki->ca_cert_path), pki->ca_pem);
  EXPECT_EQ(ReadAll(pki->server_cert_path), pki->server_cert_pem);
  EXPECT_EQ(ReadAll(pki->server_key_path), pki->server_key_pem);
  // No temp files left behind by the atomic writes.
  for (const auto& entry : fs::directory_iterator(pki->pki_dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }

  EXPECT_EQ(VerifyServerCert(pki->ca_pem, pki->server_cert_pem, kNow), X509_V_OK);
  // Valid about a year, the CA about ten.
  EXPECT_EQ(VerifyServerCert(pki->ca_pem, pki->server_cert_pem, kNow + hours(24 * 364)), X509_V_OK);
  EXPECT_EQ(VerifyServerCert(pki->ca_pem, pki->server_cert_pem, kNow + hours(24 * 366)),
            X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_GT(pki->ca_not_after, kNow + hours(24 * 3649));

  X509Ptr leaf = ParseCert(pki->server_cert_pem);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "hub.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "other.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "fd00::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.1.2.4", 0), 0);
  // "10.1.2.3" must be an IP SAN, not a DNS SAN.
  EXPECT_EQ(X509_check_host(leaf.get(), "10.1.2.3", 0, 0, nullptr), 0);
  EXPECT_EQ(pki->server_sans,
            (std::vector<std::string>{"DNS:hub.example.com", "DNS:localhost", "IP:10.1.2.3",
                                      "IP:127.0.0.1", "IP:::1", "IP:fd00::1"}));

  // The kubeconfig carries the CA and a token whose hash, and only hash, the hub stores.
  auto kubeconfig = LoadKubeconfigFile(pki->admin_kubeconfig_path);
  ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status().ToString();
  EXPECT_EQ(kubeconfig->server, "https://127.0.0.1:6443");
  EXPECT_EQ(kubeconfig->ca_pem, pki->ca_pem);
  EXPECT_GE(kubeconfig->bearer_token.size(), 43u);  // >= 32 random bytes, base64url.
  EXPECT_TRUE(TokenMatchesHash(kubeconfig->bearer_token, pki->admin_token_sha256));
  EXPECT_FALSE(TokenMatchesHash(kubeconfig->bearer_token + "x", pki->admin_token_sha256));
  const std::string stored = ReadAll(pki->admin_token_hash_path);
  EXPECT_EQ(stored, pki->admin_token_sha256 + "\n");
  EXPECT_EQ(stored.find(kubeconfig->bearer_token), std::string::npos);
}

TEST_F(PkiTest, SecondStartReusesCaServerCertAndToken) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string kubeconfig_before = ReadAll(first->admin_kubeconfig_path);
  HubPkiOptions later = Options();
  later.now = kNow + hours(24 * 30);
  later.extra_sans = {"HUB.example.com", "fd00:0::1", "10.1.2.3"};  // Same set, other spelling.
  auto second = EnsureHubPki(later);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->created_ca);
  EXPECT_FALSE(second->issued_server_cert);
  EXPECT_FALSE(second->issued_admin_token);
  EXPECT_EQ(second->ca_pem, first->ca_pem);
  EXPECT_EQ(second->server_cert_pem, first->server_cert_pem);
  EXPECT_EQ(second->server_key_pem, first->server_key_pem);
  EXPECT_EQ(second->admin_token_sha256, first->admin_token_sha256);
  EXPECT_EQ(ReadAll(second->admin_kubeconfig_path), kubeconfig_before);
}

TEST_F(PkiTest, SanChangeReissuesServerCertButKeepsCaAndToken) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  HubPkiOptions changed = Options();
  changed.extra_sans.push_back("berth.internal");
  auto second = EnsureHubPki(changed);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->issued_server_cert);
  EXPECT_FALSE(second->created_ca);
  EXPECT_FALSE(second->issued_admin_token);
  EXPECT_EQ(second->ca_pem, first->ca_pem);
  EXPECT_NE(second->server_cert_pem, first->server_cert_pem);
  EXPECT_NE(second->server_key_pem, first->server_key_pem);
  EXPECT_EQ(ReadAll(second->server_cert_path), second->server_cert_pem);
  X509Ptr leaf = ParseCert(second->server_cert_pem);
  EXPECT_EQ(X509_check_host(leaf.get(), "berth.internal", 0, 0, nullptr), 1);
  EXPECT_EQ(VerifyServerCert(first->ca_pem, second->server_cert_pem, kNow), X509_V_OK);
  EXPECT_EQ(ModeOf(second->server_key_path), 0600u);
}

TEST_F(PkiTest, ServingCertNearExpiryIsReissued) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  HubPkiOptions later = Options();
  later.now = kNow + hours(24 * 300);  // 65 days left < 90-day renewal window.
  auto second = EnsureHubPki(later);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->issued_server_cert);
  EXPECT_EQ(second->ca_pem, first->ca_pem);
  EXPECT_GT(second->server_not_after, first->server_not_after);
  EXPECT_EQ(VerifyServerCert(first->ca_pem, second->server_cert_pem, kNow + hours(24 * 400)),
            X509_V_OK);
}

// berth-hub --advertise-url warns when its host is not in the serving certificate.
TEST(SansCoverHostTest, ExactWildcardAndIpMatches) {
  const std::vector<std::string> sans = {"DNS:localhost", "DNS:hub.example.com",
                                         "DNS:*.lb.example.com", "IP:127.0.0.1", "IP:::1"};
  EXPECT_TRUE(SansCoverHost(sans, "hub.example.com"));
  EXPECT_TRUE(SansCoverHost(sans, "HUB.Example.com")) << "DNS names compare case-insensitively";
  EXPECT_TRUE(SansCoverHost(sans, "eu.lb.example.com"));
  EXPECT_FALSE(SansCoverHost(sans, "a.eu.lb.example.com")) << "a wildcard covers one label";
  EXPECT_FALSE(SansCoverHost(sans, "lb.example.com"));
  EXPECT_TRUE(SansCoverHost(sans, "127.0.0.1"));
  EXPECT_TRUE(SansCoverHost(sans, "[::1]"));
  EXPECT_TRUE(SansCoverHost(sans, "0:0:0:0:0:0:0:1")) << "IPv6 compares in canonical form";
  EXPECT_FALSE(SansCoverHost(sans, "10.0.0.5"));
  EXPECT_FALSE(SansCoverHost(sans, "other.example.com"));
  EXPECT_FALSE(SansCoverHost(sans, "bad host"));
}

TEST_F(PkiTest, ServerUrlChangeRewritesKubeconfigWithSameToken) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  auto before = LoadKubeconfigFile(first->admin_kubeconfig_path);
  ASSERT_TRUE(before.ok());
  HubPkiOptions moved = Options();
  moved.admin_server_url = "https://127.0.0.1:7443";
  auto second = EnsureHubPki(moved);
  ASSERT_TRUE(second.ok());
  auto after = LoadKubeconfigFile(second->admin_kubeconfig_path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->server, "https://127.0.0.1:7443");
  EXPECT_EQ(after->bearer_token, before->bearer_token);
  EXPECT_FALSE(second->issued_admin_token);
}

TEST_F(PkiTest, DeletingKubeconfigRotatesAdminToken) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  auto old_config = LoadKubeconfigFile(first->admin_kubeconfig_path);
  ASSERT_TRUE(old_config.ok());
  fs::remove(first->admin_kubeconfig_path);
  auto second = EnsureHubPki(Options());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->issued_admin_token);
  EXPECT_NE(second->admin_token_sha256, first->admin_token_sha256);
  auto new_config = LoadKubeconfigFile(second->admin_kubeconfig_path);
  ASSERT_TRUE(new_config.ok());
  EXPECT_TRUE(TokenMatchesHash(new_config->bearer_token, second->admin_token_sha256));
  EXPECT_FALSE(TokenMatchesHash(old_config->bearer_token, second->admin_token_sha256));
}

TEST_F(PkiTest, BadSanIsRejectedNamingIt) {
  HubPkiOptions bad = Options();
  bad.extra_sans = {"not a host!"};
  auto pki = EnsureHubPki(bad);
  ASSERT_FALSE(pki.ok());
  EXPECT_EQ(pki.status().code(), StatusCode::kInvalid);
  EXPECT_NE(pki.status().message().find("not a host!"), std::string::npos);
}

TEST_F(PkiTest, ForeignCaKeyIsRefusedNotOverwritten) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  auto other = CreateCa("other", kNow, hours(24));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteFileAtomic(first->ca_key_path, other->key_pem, 0600).ok());
  auto second = EnsureHubPki(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("ca.key"), std::string::npos);
  EXPECT_EQ(ReadAll(first->ca_cert_path), first->ca_pem);  // Untouched.
}

TEST_F(PkiTest, MissingCaKeyWithExistingCertIsRefused) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  fs::remove(first->ca_key_path);
  auto second = EnsureHubPki(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(first->ca_key_path), std::string::npos);
}

TEST_F(PkiTest, LooseKeyModesAreTightenedOnReuse) {
  auto first = EnsureHubPki(Options());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(::chmod(first->ca_key_path.c_str(), 0644), 0);
  ASSERT_TRUE(EnsureHubPki(Options()).ok());
  EXPECT_EQ(ModeOf(first->ca_key_path), 0600u);
}

TEST_F(PkiTest, KubectlReadsTheAdminKubeconfig) {
  if (!fs::exists("/usr/bin/kubectl")) GTEST_SKIP() << "kubectl not installed";
  auto pki = EnsureHubPki(Options());
  ASSERT_TRUE(pki.ok());
  auto run = [&](const std::string& jsonpath) {
    const std::string cmd = "/usr/bin/kubectl --kubeconfig " + pki->admin_kubeconfig_path +
                            " config view --raw -o jsonpath='" + jsonpath + "' 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (p) ::pclose(p);
    return out;
  };
  EXPECT_EQ(run("{.clusters[0].cluster.server}"), "https://127.0.0.1:6443");
  EXPECT_EQ(run("{.current-context}"), "berth");
  EXPECT_EQ(Base64Decode(run("{.clusters[0].cluster.certificate-authority-data}")).value_or(""),
            pki->ca_pem);
  EXPECT_TRUE(TokenMatchesHash(run("{.users[0].user.token}"), pki->admin_token_sha256));
}

TEST(PkiHelpers, RandomTokenIsUrlSafeAndUnique) {
  const std::string a = RandomToken(32);
  const std::string b = RandomToken(32);
  EXPECT_EQ(a.size(), 43u);  // ceil(32 * 4 / 3) without padding.
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(PkiHelpers, Sha256HexMatchesKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PkiHelpers, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(TokenMatchesHash("", Sha256Hex("")));  // An empty token never authenticates.
}

TEST(PkiHelpers, IssueCertForClientAuthChainsToCa) {
  auto ca = CreateCa("test-ca", kNow, hours(24 * 10));
  ASSERT_TRUE(ca.ok());
  auto member =
      IssueCert(ca->cert_pem, ca->key_pem, "member-east", {}, false, true, kNow, hours(24));
  ASSERT_TRUE(member.ok()) << member.status().ToString();
  X509Ptr leaf = ParseCert(member->cert_pem);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
  EXPECT_NE(VerifyServerCert(ca->cert_pem, member->cert_pem, kNow), X509_V_OK);
}

TEST(PkiHelpers, ClientCertCarriesUserAndGroupsAsKubernetesReadsThem) {
  auto ca = CreateCa("test-ca", kNow, hours(24 * 10));
  ASSERT_TRUE(ca.ok());
  auto dana = IssueClientCert(ca->cert_pem, ca->key_pem, "dana", {"team-a", "qa"}, kNow, hours(2));
  ASSERT_TRUE(dana.ok()) << dana.status().ToString();
  X509Ptr leaf = ParseCert(dana->cert_pem);
  ASSERT_TRUE(leaf);
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), subject, sizeof subject);
  EXPECT_STREQ(subject, "/O=team-a/O=qa/CN=dana");
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf.get()),
                                 std::chrono::system_clock::to_time_t(kNow + hours(2))),
            0);
  EXPECT_EQ(IssueClientCert(ca->cert_pem, ca->key_pem, "", {}, kNow, hours(2)).status().code(),
            StatusCode::kInvalid);
  EXPECT_EQ(IssueClientCert(ca->cert_pem, ca->key_pem, "dana", {""}, kNow, hours(2)).status().code(),
            StatusCode::kInvalid);
}

}  // namespace
}  // namespace berth
