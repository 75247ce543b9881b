// Membership: member agents join with a single-use bootstrap token and receive their own
// credential; the authenticator always knows every member's credential hash (kept as the
// MemberCluster annotation berth.dev/credential-sha256, so it survives restarts).
// Thread-safe; Join never blocks (it completes in store callbacks).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/auth.h"
#include "hub/object_api.h"

namespace berth::hub {

inline constexpr const char* kCredentialAnnotation = "berth.dev/credential-sha256";

class Membership {
 public:
  Membership(ObjectApi& objects, const api::KindRegistry& registry, TokenAuthenticator& auth,
             Clock& clock);
  ~Membership();

  // Loads member credentials from the store and follows MemberCluster changes.
  Status Start();

  // Handles POST /apis/berth.dev/v1alpha1/join. `authorization` is the request's header
  // ("Bearer <id>.<secret>"). Replies {"clusterName","token"} or Unauthenticated/Invalid.
  void Join(const std::string& authorization, const nlohmann::json& body,
            std::function<void(StatusOr<nlohmann::json>)> done);

 private:
  void Track(const nlohmann::json& member, bool deleted);

  ObjectApi& objects_;
  const api::KindInfo& members_;
  const api::KindInfo& leases_;
  const api::KindInfo& tokens_;
  TokenAuthenticator& auth_;
  Clock& clock_;
  uint64_t watch_id_ = 0;

  std::mutex mu_;
  std::map<std::string, std::string> hash_by_cluster_;  // guarded by mu_
};

}  // namespace berth::hub
