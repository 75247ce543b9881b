// Encryption at rest for the objects the store must never hold in plain text (Secrets).
// AES-256-GCM (OpenSSL EVP) with a fresh random 12-byte nonce per write; the resource name
// ("secrets") is authenticated with it, so a sealed row cannot be moved to another kind.
// A sealed value is text:
//     berth:v1:<key id>:<base64(nonce | ciphertext | 16-byte tag)>
// The key id (first 8 hex digits of the key's SHA-256) says which key opens it, so keys
// can rotate: a key file lists several keys, the first seals, every one opens.
//
// Key file: one key per line, each 32 random bytes in standard base64 (`head -c 32
// /dev/urandom | base64`); blank lines and lines starting with '#' are ignored.
// Errors never contain plaintext, only key ids, sizes and the file's path.
// Thread-safe after construction (const methods only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::hub {

inline constexpr std::string_view kSealedPrefix = "berth:v1:";

class SecretCipher {
 public:
  // Parses a key file's text; `source` (the path) names it in errors. Invalid when it holds
  // no key, a line that is not base64 or a key that is not 32 bytes (naming the line).
  static StatusOr<SecretCipher> FromKeyFile(std::string_view text, const std::string& source);
  // A new key file's text: one fresh random key.
  static StatusOr<std::string> NewKeyFileText();

  // Seals `plaintext`; `context` is authenticated (the resource).
  StatusOr<std::string> Seal(std::string_view plaintext, std::string_view context) const;
  // Opens a sealed value. Unavailable naming the key id when no key has that id, or when
  // the value does not authenticate with it (wrong key, tampered or truncated bytes).
  StatusOr<std::string> Open(std::string_view sealed, std::string_view context) const;

  static bool IsSealed(std::string_view stored) { return stored.substr(0, kSealedPrefix.size()) == kSealedPrefix; }
  // The key id a sealed value names ("" if it is not sealed).
  static std::string KeyIdOf(std::string_view sealed);
  const std::string& primary_key_id() const { return keys_.front().id; }
  const std::string& source() const { return source_; }

 private:
  struct Key {
    std::string id;     // 8 hex digits
    std::string bytes;  // 32
  };
  std::vector<Key> keys_;  // never empty; keys_[0] seals
  std::string source_;
};

}  // namespace berth::hub
