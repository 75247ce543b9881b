#include "hub/auth.h"

#include <algorithm>

#include "hub/pki.h"

namespace berth::hub {

rbac::UserInfo UserOf(const Identity& id) {
  rbac::UserInfo u{id.user, {}};
  auto add = [&u](const std::string& g) {
    if (std::find(u.groups.begin(), u.groups.end(), g) == u.groups.end()) u.groups.push_back(g);
  };
  if (id.admin) add(rbac::kGroupMasters);
  if (!id.member_cluster.empty()) add(rbac::kGroupMembers);
  for (const std::string& g : id.groups) add(g);
  add(rbac::kGroupAuthenticated);
  return u;
}

void TokenAuthenticator::AddTokenHash(const std::string& sha256_hex, Identity identity,
                                      std::optional<Clock::TimePoint> expires_at) {
  std::unique_lock lock(mu_);
  by_hash_[sha256_hex] = Entry{std::move(identity), expires_at};
}

void TokenAuthenticator::RemoveTokenHash(const std::string& sha256_hex) {
  std::unique_lock lock(mu_);
  by_hash_.erase(sha256_hex);
}

StatusOr<Identity> TokenAuthenticator::Authenticate(const std::string& header) const {
  static const std::string kPrefix = "Bearer ";
  if (header.empty()) {
    return Status::Unauthenticated("Unauthorized: no credentials; use the token from admin.kubeconfig");
  }
  if (header.compare(0, kPrefix.size(), kPrefix) != 0 || header.size() == kPrefix.size()) {
    return Status::Unauthenticated("Unauthorized: expected an 'Authorization: Bearer <token>' header");
  }
  // Comparing hashes in a map leaks nothing useful about the token itself.
  const std::string hash = Sha256Hex(header.substr(kPrefix.size()));
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return Status::Unauthenticated("Unauthorized: unknown or revoked token");
  if (it->second.expires_at && clock_.Now() >= *it->second.expires_at) {
    return Status::Unauthenticated("Unauthorized: the token expired at " + FormatRfc3339(*it->second.expires_at));
  }
  return it->second.identity;
}

}  // namespace berth::hub
