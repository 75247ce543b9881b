// SecretCipher alone, then the SQLite store sealing Secrets: the file's bytes never hold
// their plaintext, a wrong key fails loudly naming the key id, and rotation re-seals.
#include "hub/secret_encryption.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/base64.h"
#include "hub/sqlite_store.h"

namespace berth::hub {
namespace {

using nlohmann::json;

const std::string kKeyA = Base64Encode(std::string(32, 'a'));
const std::string kKeyB = Base64Encode(std::string(32, 'b'));

SecretCipher Cipher(const std::string& text) {
  auto c = SecretCipher::FromKeyFile(text, "/keys");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

TEST(SecretCipherTest, SealsWithAFreshNonceAndOpens) {
  SecretCipher c = Cipher(kKeyA + "\n");
  auto one = c.Seal("hunter2", "secrets"), two = c.Seal("hunter2", "secrets");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(*one, *two);  // random nonce per write
  EXPECT_EQ(one->rfind("berth:v1:" + c.primary_key_id() + ":", 0), 0u);
  EXPECT_EQ(one->find("hunter2"), std::string::npos);
  EXPECT_EQ(c.Open(*one, "secrets").value(), "hunter2");
  // The resource is authenticated: a sealed Secret cannot pass as another kind's row.
  EXPECT_FALSE(c.Open(*one, "configmaps").ok());
}

TEST(SecretCipherTest, AWrongKeyFailsNamingTheKeyIdsAndTamperingIsDetected) {
  SecretCipher a = Cipher(kKeyA), b = Cipher(kKeyB);
  auto sealed = a.Seal("hunter2", "secrets").value();
  auto wrong = b.Open(sealed, "secrets");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("key id " + a.primary_key_id()), std::string::npos) << wrong.status().ToString();
  EXPECT_NE(wrong.status().message().find("holds " + b.primary_key_id()), std::string::npos);
  EXPECT_NE(wrong.status().message().find("/keys"), std::string::npos);
  std::string tampered = sealed;
  tampered[tampered.size() - 6] = tampered[tampered.size() - 6] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(a.Open(tampered, "secrets").ok());
  EXPECT_FALSE(a.Open(sealed.substr(0, 30), "secrets").ok());
}

TEST(SecretCipherTest, RotationTheFirstKeySealsEveryKeyOpens) {
  SecretCipher old_only = Cipher(kKeyA);
  SecretCipher rotated = Cipher("# new key first\n" + kKeyB + "\n\n" + kKeyA + "\n");
  auto before = old_only.Seal("x", "secrets").value();
  EXPECT_EQ(rotated.Open(before, "secrets").value(), "x");
  EXPECT_NE(rotated.primary_key_id(), old_only.primary_key_id());
  EXPECT_EQ(SecretCipher::KeyIdOf(rotated.Seal("x", "secrets").value()), rotated.primary_key_id());
}

TEST(SecretCipherTest, KeyFilesAreCheckedLineByLine) {
  EXPECT_FALSE(SecretCipher::FromKeyFile("", "/k").ok());
  EXPECT_FALSE(SecretCipher::FromKeyFile("# only a comment\n", "/k").ok());
  auto short_key = SecretCipher::FromKeyFile(kKeyA + "\n" + Base64Encode("too short") + "\n", "/k");
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.status().message().find("/k line 2"), std::string::npos) << short_key.status().ToString();
  auto fresh = SecretCipher::NewKeyFileText();
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(SecretCipher::FromKeyFile(*fresh, "/k").ok());
}

class EncryptedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-seal-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Status Open(const std::string& key_file) {
    store_.reset();
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    o.encrypted_resources = {"secrets"};
    o.cipher = std::make_shared<SecretCipher>(Cipher(key_file));
    auto s = OpenSqliteStore(o);
    if (!s.ok()) return s.status();
    store_ = std::move(*s);
    return Status::Ok();
  }
  void Put(const std::string& resource, const std::string& name, const json& obj) {
    ASSERT_TRUE(store_->Apply({{resource, "ml", name}, [obj](const json*) -> StatusOr<std::optional<json>> {
                                 return std::optional<json>(obj);
                               }}).ok());
  }
  // Every byte SQLite wrote: the database, its WAL and shared memory.
  std::string FileBytes() {
    std::string all;
    for (const char* f : {"berth.db", "berth.db-wal", "berth.db-shm"}) {
      std::ifstream in(dir_ / f, std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      all += s.str();
    }
    return all;
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(EncryptedStoreTest, SecretsNeverReachTheFileInPlainTextButReadBackPlain) {
  ASSERT_TRUE(Open(kKeyA).ok());
  const std::string plain = "s3cr3t-Value-1234", b64 = Base64Encode(plain);
  json secret = {{"metadata", {{"name", "db"}, {"namespace", "ml"}}},
                 {"data", {{"password", b64}}},
                 {"note", plain}};
  Put("secrets", "db", secret);
  Put("configmaps", "visible", {{"metadata", {{"name", "visible"}}}, {"data", {{"k", "plain-configmap-value"}}}});
  EXPECT_EQ(store_->Get({"secrets", "ml", "db"}).value()["data"]["password"], b64);
  std::string bytes = FileBytes();
  EXPECT_NE(bytes.find("plain-configmap-value"), std::string::npos);  // the check can see plaintext
  EXPECT_EQ(bytes.find(plain), std::string::npos);
  EXPECT_EQ(bytes.find(b64), std::string::npos);
  EXPECT_NE(bytes.find("berth:v1:"), std::string::npos);
  // Reopened: decrypted from disk, and still absent from the file.
  ASSERT_TRUE(Open(kKeyA).ok());
  EXPECT_EQ(store_->Get({"secrets", "ml", "db"}).value()["data"]["password"], b64);
  EXPECT_EQ(FileBytes().find(b64), std::string::npos);
}

TEST_F(EncryptedStoreTest, AWrongKeyRefusesToOpenTheStoreNamingTheKeyId) {
  ASSERT_TRUE(Open(kKeyA).ok());
  Put("secrets", "db", {{"metadata", {{"name", "db"}}}, {"data", {{"k", "YQ=="}}}});
  const std::string id_a = Cipher(kKeyA).primary_key_id();
  Status s = Open(kKeyB);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("secrets ml/db"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("key id " + id_a), std::string::npos) << s.ToString();
}

TEST_F(EncryptedStoreTest, RotationReSealsWithTheNewKeySoTheOldOneCanGo) {
  ASSERT_TRUE(Open(kKeyA).ok());
  Put("secrets", "db", {{"metadata", {{"name", "db"}}}, {"data", {{"k", "YQ=="}}}});
  ASSERT_TRUE(Open(kKeyB + "\n" + kKeyA).ok());  // new key first, old one still listed
  store_.reset();
  ASSERT_TRUE(Open(kKeyB).ok()) << "rows were not re-sealed with the new key";
  EXPECT_EQ(store_->Get({"secrets", "ml", "db"}).value()["data"]["k"], "YQ==");
}

}  // namespace
}  // namespace berth::hub
