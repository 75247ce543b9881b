// Who is calling: bearer-token authentication (what a caller may do on the API is
// hub/api_authorization.h). Tokens are kept only as SHA-256 hashes. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

#include "api/status.h"

namespace berth::hub {

struct Identity {
  std::string user;            // "admin", "member:<cluster>"
  bool admin = false;          // full access
  std::string member_cluster;  // set for member agents: the only cluster they may act for
};

class TokenAuthenticator {
 public:
  // Registers a token by its SHA-256 hex hash.
  void AddTokenHash(const std::string& sha256_hex, Identity identity);
  void RemoveTokenHash(const std::string& sha256_hex);
  // Unauthenticated if the header is missing, malformed or the token unknown.
  StatusOr<Identity> Authenticate(const std::string& authorization_header) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, Identity> by_hash_;  // guarded by mu_
};

}  // namespace berth::hub
