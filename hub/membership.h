// Membership: member agents join with a single-use bootstrap token and receive their own
// credential; the authenticator always knows every member's credential hash (kept as the
// MemberCluster annotation berth.dev/credential-sha256, so it survives restarts).
// A token's binding decides which member it may join as (hub/join_policy.h); every join, and
// every refused join of an existing member with a valid token, is an Event on the MemberCluster.
// Thread-safe; Join never blocks (it completes in store callbacks).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/auth.h"
#include "hub/join_policy.h"
#include "hub/object_api.h"

namespace berth::hub {

inline constexpr const char* kCredentialAnnotation = "berth.dev/credential-sha256";

class Membership {
 public:
  // `heartbeat`: the hub's defaults for members that set no heartbeat period / missed count
  // (whether a member is healthy decides if joining as it needs a --rejoin token).
  Membership(ObjectApi& objects, const api::KindRegistry& registry, TokenAuthenticator& auth,
             Clock& clock, HeartbeatDefaults heartbeat = {});
  ~Membership();

  // Loads member credentials from the store and follows MemberCluster changes.
  Status Start();

  // Handles POST /apis/berth.dev/v1alpha1/join. `authorization` is the request's header
  // ("Bearer <id>.<secret>"). Replies {"clusterName","token"}, or: Unauthenticated for an
  // unknown, expired or used token; Forbidden when the token's binding does not allow joining
  // as that cluster (join_policy.h); Invalid for a malformed body. A refused join changes
  // nothing but may record a JoinRefused Event (only for a valid token and an existing member).
  void Join(const std::string& authorization, const nlohmann::json& body,
            std::function<void(StatusOr<nlohmann::json>)> done);

 private:
  struct JoinAttempt;  // one join in flight, shared by its store callbacks
  using JoinDone = std::function<void(StatusOr<nlohmann::json>)>;

  void Track(const nlohmann::json& member, bool deleted);
  // The join's steps, each run from the previous one's store callback.
  // The join's checks on the token as stored (or why it is not) and on the member.
  void DecideJoin(std::shared_ptr<JoinAttempt> join, const nlohmann::json& body, StatusOr<nlohmann::json> stored_token,
                  JoinDone done);
  void ConsumeToken(std::shared_ptr<JoinAttempt> join, JoinDone done);
  void UpsertMember(std::shared_ptr<JoinAttempt> join, JoinDone done);
  void EnsureLease(std::shared_ptr<JoinAttempt> join, const nlohmann::json& member, JoinDone done);
  // Undoes ConsumeToken when the member write fails, so a refused join leaves the token
  // usable; `then` runs once that is written (or failed).
  void ReleaseToken(std::shared_ptr<JoinAttempt> join, std::function<void()> then);
  // The member's health now, from the store.
  MemberHealth AssessStored(const nlohmann::json* member, const std::string& cluster);
  // Records (or, when it exists, counts again) the Event `<member>.<reason>.<token id>` about
  // `member`: one object per member, reason and token, so repeated attempts cannot grow the
  // event log. Best effort: `then` runs once the write is done, whether it succeeded or not,
  // so the join's reply follows its Event (a client that reads the events next sees it).
  void RecordJoinEvent(const nlohmann::json& member, const std::string& type,
                       const std::string& reason, const std::string& token_id,
                       const std::string& message, std::function<void()> then);

  ObjectApi& objects_;
  const api::KindInfo& members_;
  const api::KindInfo& leases_;
  const api::KindInfo& tokens_;
  const api::KindInfo& events_;
  TokenAuthenticator& auth_;
  Clock& clock_;
  const HeartbeatDefaults heartbeat_;
  uint64_t watch_id_ = 0;

  std::mutex mu_;
  std::map<std::string, std::string> hash_by_cluster_;  // guarded by mu_
};

}  // namespace berth::hub
