#include "hub/secret_encryption.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <sstream>

#include "api/base64.h"

namespace berth::hub {

namespace {

constexpr size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string KeyId(const std::string& key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    id += kHex[digest[i] >> 4];
    id += kHex[digest[i] & 15];
  }
  return id;
}

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

StatusOr<SecretCipher> SecretCipher::FromKeyFile(std::string_view text, const std::string& source) {
  SecretCipher c;
  c.source_ = source;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    auto key = Base64Decode(std::string_view(line).substr(start));
    if (!key || key->size() != kKeyBytes) {
      return Status::Invalid("encryption key file " + source + " line " + std::to_string(n) +
                             ": not a base64-encoded 32-byte key; create one with: head -c 32 "
                             "/dev/urandom | base64");
    }
    c.keys_.push_back({KeyId(*key), std::move(*key)});
  }
  if (c.keys_.empty()) {
    return Status::Invalid("encryption key file " + source +
                           " holds no key; add one with: head -c 32 /dev/urandom | base64 >> " + source);
  }
  return c;
}

StatusOr<std::string> SecretCipher::NewKeyFileText() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) {
    return Status::Internal("the system's random generator failed; cannot create an encryption key");
  }
  return "# berth-hub Secret encryption keys: the first encrypts, all decrypt (docs/OPERATIONS.md)\n" +
         Base64Encode(key) + "\n";
}

std::string SecretCipher::KeyIdOf(std::string_view sealed) {
  if (!IsSealed(sealed)) return "";
  std::string_view rest = sealed.substr(kSealedPrefix.size());
  return std::string(rest.substr(0, rest.find(':')));
}

StatusOr<std::string> SecretCipher::Seal(std::string_view plaintext, std::string_view context) const {
  const Key& key = keys_.front();
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(nonce, kNonceBytes) != 1) return Status::Internal("seal: the random generator failed");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  auto* ct = nonce + kNonceBytes;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key.bytes), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, U(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ct + plaintext.size()) != 1) {
    return Status::Internal("seal with key " + key.id + ": OpenSSL AES-256-GCM failed");
  }
  return std::string(kSealedPrefix) + key.id + ":" + Base64Encode(out);
}

StatusOr<std::string> SecretCipher::Open(std::string_view sealed, std::string_view context) const {
  const std::string id = KeyIdOf(sealed);
  if (id.empty()) return Status::Unavailable("the value is not sealed (no " + std::string(kSealedPrefix) + " prefix)");
  const Key* key = nullptr;
  std::string known;
  for (const auto& k : keys_) {
    if (k.id == id) key = &k;
    known += (known.empty() ? "" : ", ") + k.id;
  }
  if (!key) {
    return Status::Unavailable("encrypted with key id " + id + ", which the key file " + source_ +
                               " does not hold (it holds " + known + "): restore the key file that has key " + id +
                               ", or add that key to it after the current one");
  }
  auto raw = Base64Decode(sealed.substr(kSealedPrefix.size() + id.size() + 1));
  if (!raw || raw->size() < kNonceBytes + kTagBytes) {
    return Status::Unavailable("sealed with key id " + id + " but truncated or not base64");
  }
  const size_t n = raw->size() - kNonceBytes - kTagBytes;
  std::string plain(n, '\0');
  auto* p = reinterpret_cast<unsigned char*>(plain.data());
  const auto* nonce = U(*raw);
  auto* tag = const_cast<unsigned char*>(nonce + kNonceBytes + n);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key->bytes), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), p, &len, nonce + kNonceBytes, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), p + len, &len) != 1) {
    return Status::Unavailable("does not decrypt with key id " + id + " from " + source_ +
                               ": the stored bytes were altered or truncated");
  }
  return plain;
}

}  // namespace berth::hub
