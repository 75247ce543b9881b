#include "hub/rbac/identity_tokens.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "hub/pki.h"
#include "hub/rbac/client_cert_identity.h"

namespace berth::rbac {
namespace {

using nlohmann::json;

const Clock::TimePoint kT0 = FakeClock().Now();

IdentityToken Alice() {
  IdentityToken t;
  t.kind = IdentityKind::kUser;
  t.name = "alice";
  t.groups = {"search-team"};
  t.created_at = kT0 + std::chrono::milliseconds(123);
  return MintIdentityToken(t).record;
}

std::vector<std::string> Fields(const Status& s) {
  std::vector<std::string> out;
  for (const FieldCause& c : s.causes()) out.push_back(c.field);
  return out;
}

TEST(IdentityTokensTest, MintHashesAFreshTokenAndNamesIt) {
  IdentityToken who;
  who.name = "alice";
  who.created_at = kT0;
  MintedToken a = MintIdentityToken(who), b = MintIdentityToken(who);
  EXPECT_NE(a.token, b.token);
  EXPECT_GE(a.token.size(), 43u);  // 32 random bytes, base64url
  EXPECT_TRUE(TokenMatchesHash(a.token, a.record.sha256));
  EXPECT_FALSE(TokenMatchesHash(b.token, a.record.sha256));
  EXPECT_EQ(a.record.id, a.record.sha256.substr(0, 12));
  EXPECT_EQ(IdentityTokenToJson(a.record).dump().find(a.token), std::string::npos);  // never stored
}

TEST(IdentityTokensTest, JsonRoundTrip) {
  IdentityToken t = Alice();
  t.expires_at = kT0 + std::chrono::hours(24);
  const json j = IdentityTokenToJson(t);
  EXPECT_EQ(j["kind"], "User");
  EXPECT_EQ(j["createdAt"], "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(j["expiresAt"], "2026-01-02T00:00:00.000Z");
  auto back = IdentityTokenFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, t);

  IdentityToken sa;
  sa.kind = IdentityKind::kServiceAccount;
  sa.name = "ci";
  sa.ns = "team-a";
  sa.created_at = kT0;
  sa = MintIdentityToken(sa).record;
  sa.revoked = true;
  auto sa_back = IdentityTokenFromJson(IdentityTokenToJson(sa));
  ASSERT_TRUE(sa_back.ok()) << sa_back.status().ToString();
  EXPECT_EQ(*sa_back, sa);
}

TEST(IdentityTokensTest, InvalidRecordsNameTheirFields) {
  json j = IdentityTokenToJson(Alice());
  j["groups"] = {"ok", "system:masters"};
  j["sha256"] = "ABC";
  j["createdAt"] = "yesterday";
  EXPECT_EQ(Fields(IdentityTokenFromJson(j).status()),
            (std::vector<std::string>{"groups[1]", "sha256", "createdAt"}));

  json sa = IdentityTokenToJson(Alice());
  sa["kind"] = "ServiceAccount";
  sa["name"] = "Not_A_Label";
  EXPECT_EQ(Fields(IdentityTokenFromJson(sa).status()),
            (std::vector<std::string>{"name", "namespace", "groups"}));

  json reserved = IdentityTokenToJson(Alice());
  reserved["name"] = "system:serviceaccount:team-a:ci";
  reserved["namespace"] = "team-a";
  reserved["id"] = "000000000000";
  EXPECT_EQ(Fields(IdentityTokenFromJson(reserved).status()),
            (std::vector<std::string>{"name", "namespace", "id"}));
}

TEST(IdentityTokensTest, ValidUntilExpiryOrRevocation) {
  IdentityToken t = Alice();
  EXPECT_TRUE(TokenValid(t, kT0 + std::chrono::hours(10000)).ok());  // no expiry
  t.expires_at = kT0 + std::chrono::hours(1);
  EXPECT_TRUE(TokenValid(t, kT0 + std::chrono::minutes(59)).ok());
  Status expired = TokenValid(t, *t.expires_at);
  EXPECT_EQ(expired.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.message(), "Unauthorized: token " + t.id + " of user \"alice\" expired at 2026-01-01T01:00:00Z");
  t.expires_at.reset();
  t.revoked = true;
  EXPECT_EQ(TokenValid(t, kT0).message(), "Unauthorized: token " + t.id + " of user \"alice\" was revoked");
}

TEST(IdentityTokensTest, UserInfoAsKubernetesNamesIt) {
  EXPECT_EQ(UserInfoOf(Alice()), (UserInfo{"alice", {"search-team", "system:authenticated"}}));
  IdentityToken sa;
  sa.kind = IdentityKind::kServiceAccount;
  sa.name = "ci";
  sa.ns = "team-a";
  EXPECT_EQ(UserInfoOf(sa), (UserInfo{"system:serviceaccount:team-a:ci",
                                      {"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"}}));
}

// A self-signed certificate with the given subject entries, as PEM.
std::string CertificatePem(const std::vector<std::pair<std::string, std::string>>& subject) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [field, value] : subject) {
    X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  X509_sign(cert.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

TEST(ClientCertIdentityTest, CommonNameIsUserAndOrganizationsAreGroups) {
  auto subject = SubjectOfCertificatePem(CertificatePem({{"O", "search"}, {"O", "oncall"}, {"CN", "alice"}}));
  ASSERT_TRUE(subject.ok()) << subject.status().ToString();
  EXPECT_EQ(subject->common_name, "alice");
  EXPECT_EQ(subject->organizations, (std::vector<std::string>{"search", "oncall"}));
  auto user = UserFromCertificateSubject(*subject);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, (UserInfo{"alice", {"search", "oncall", "system:authenticated"}}));
}

TEST(ClientCertIdentityTest, NoCommonNameAuthenticatesNobody) {
  auto subject = SubjectOfCertificatePem(CertificatePem({{"O", "search"}}));
  ASSERT_TRUE(subject.ok());
  EXPECT_EQ(UserFromCertificateSubject(*subject).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(SubjectOfCertificatePem("not a certificate").status().code(), StatusCode::kBadRequest);
}

}  // namespace
}  // namespace berth::rbac
