#include "cli/bootstrap_token.h"

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/rest_client.h"
#include "hub/pki.h"

namespace berth::cli {
namespace {

// The id is the object's name, so it must be a DNS label: lower-case letters and digits.
std::string RandomLowerAlnum(size_t n) {
  // The id and secret come from the OS CSPRNG via RandomToken; map to [a-z0-9].
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string raw = RandomToken(n * 2);
  std::string out;
  for (size_t i = 0; out.size() < n && i < raw.size(); ++i) {
    out += kAlphabet[static_cast<unsigned char>(raw[i]) % 36];
  }
  return out;
}

}  // namespace

StatusOr<BootstrapToken> CreateBootstrapToken(RestClient& hub, const BootstrapTokenSpec& spec) {
  const std::string id = RandomLowerAlnum(6);
  const std::string secret = RandomLowerAlnum(16);
  const auto expires = RealClock::Instance().Now() + std::chrono::seconds(spec.ttl_seconds);
  nlohmann::json token = {
      {"apiVersion", "berth.dev/v1alpha1"},
      {"kind", "BootstrapToken"},
      {"metadata", {{"name", id}}},
      {"spec", {{"secretHash", Sha256Hex(secret)}, {"expiration", FormatRfc3339(expires)}}}};
  if (!spec.description.empty()) token["spec"]["description"] = spec.description;
  if (!spec.cluster_name.empty()) token["spec"]["clusterName"] = spec.cluster_name;
  if (!spec.cluster_name_pattern.empty())
    token["spec"]["clusterNamePattern"] = spec.cluster_name_pattern;
  if (spec.allow_rejoin) token["spec"]["allowRejoin"] = true;
  auto r = hub.Post("/apis/berth.dev/v1alpha1/bootstraptokens", token);
  if (!r.ok()) return r.status();
  return BootstrapToken{id + "." + secret, FormatRfc3339(expires)};
}

}  // namespace berth::cli
