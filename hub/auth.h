// Who is calling: bearer-token authentication (what a caller may do on the API is
// hub/api_authorization.h). Tokens are kept only as SHA-256 hashes. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "api/clock.h"
#include "api/status.h"
#include "hub/rbac/user_info.h"

namespace berth::hub {

struct Identity {
  std::string user;            // "admin", "system:member:<cluster>", a token user's name
  bool admin = false;          // the admin token: in system:masters
  std::string member_cluster;  // set for member agents: the only cluster they may act for
  // Groups of an identity token (a user's record, or a service account's derived groups);
  // UserOf adds the groups the fields above imply.
  std::vector<std::string> groups;
};

// The user and groups RBAC sees: the admin in system:masters, a member in berth:members, a
// token user in its groups; everyone also in system:authenticated (each group once).
rbac::UserInfo UserOf(const Identity& id);

class TokenAuthenticator {
 public:
  // `clock` decides when tokens with an expiry stop working; it must outlive this.
  explicit TokenAuthenticator(Clock& clock = RealClock::Instance()) : clock_(clock) {}

  // Registers a token by its SHA-256 hex hash; from `expires_at` on it is refused.
  void AddTokenHash(const std::string& sha256_hex, Identity identity,
                    std::optional<Clock::TimePoint> expires_at = std::nullopt);
  void RemoveTokenHash(const std::string& sha256_hex);
  // Unauthenticated if the header is missing, malformed, the token unknown or expired.
  StatusOr<Identity> Authenticate(const std::string& authorization_header) const;

 private:
  struct Entry {
    Identity identity;
    std::optional<Clock::TimePoint> expires_at;
  };
  Clock& clock_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Entry> by_hash_;  // guarded by mu_
};

}  // namespace berth::hub
