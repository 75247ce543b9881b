// Single-use bootstrap tokens that member agents join the hub with (`berthctl token create`
// and `berthctl fleet up` both mint them here).
#pragma once

#include <cstdint>
#include <string>

#include "api/status.h"

namespace berth {
class RestClient;
}

namespace berth::cli {

struct BootstrapToken {
  std::string token;       // "<id>.<secret>": what berth-agent --join-token(-file) takes
  std::string expiration;  // RFC 3339
};

// What the token may join as (hub/join_policy.h has the rules). Set at most one of
// cluster_name and cluster_name_pattern; neither: an unbound token, which may join only as a
// new member. allow_rejoin needs one of them.
struct BootstrapTokenSpec {
  int64_t ttl_seconds = 3600;
  std::string description;
  std::string cluster_name;          // spec.clusterName
  std::string cluster_name_pattern;  // spec.clusterNamePattern, e.g. "gpu-east-*"
  bool allow_rejoin = false;         // spec.allowRejoin: may take over a healthy member
};

// Creates a BootstrapToken object on the hub (the hub stores only the secret's SHA-256).
// Errors are the hub's (e.g. Unauthenticated with a wrong kubeconfig, Invalid naming the
// spec field of a bad binding) or Unavailable when it cannot be reached.
StatusOr<BootstrapToken> CreateBootstrapToken(RestClient& hub, const BootstrapTokenSpec& spec);

}  // namespace berth::cli
