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

// Creates a BootstrapToken object on the hub (the hub stores only the secret's SHA-256) valid
// for `ttl_seconds`. Errors are the hub's (e.g. Unauthenticated with a wrong kubeconfig) or
// Unavailable when it cannot be reached.
StatusOr<BootstrapToken> CreateBootstrapToken(RestClient& hub, int64_t ttl_seconds,
                                              const std::string& description);

}  // namespace berth::cli
