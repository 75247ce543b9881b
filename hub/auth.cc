#include "hub/auth.h"

#include "hub/pki.h"

namespace berth::hub {

void TokenAuthenticator::AddTokenHash(const std::string& sha256_hex, Identity identity) {
  std::unique_lock lock(mu_);
  by_hash_[sha256_hex] = std::move(identity);
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
  return it->second;
}

}  // namespace berth::hub
