// Who may join as which member: the rules a bootstrap token's binding sets. Pure functions of
// the token, the member and its Lease as stored, and the time (docs/API.md, "Join").
//
// - A bound token (spec.clusterName, or spec.clusterNamePattern) joins only as a name it binds.
// - An unbound token (older scripts, `berthctl token create` without --cluster) joins only as a
//   NEW member: never as an existing MemberCluster, healthy or not.
// - A bound token joins as an existing member that is not healthy (its agent stopped renewing
//   its Lease, or never did: a lost credential, a MemberCluster an admin created ahead).
// - Joining as an existing, healthy member replaces and revokes its running agent's credential:
//   only a bound token with spec.allowRejoin (`--rejoin`) may do that.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api/clock.h"
#include "api/status.h"

namespace berth::hub {

// What a BootstrapToken's spec permits.
struct TokenBinding {
  std::string cluster_name;          // spec.clusterName: the one name it may join as
  std::string cluster_name_pattern;  // spec.clusterNamePattern: a glob (api/cluster_name_pattern.h)
  bool allow_rejoin = false;         // spec.allowRejoin: may take over a healthy member

  bool bound() const { return !cluster_name.empty() || !cluster_name_pattern.empty(); }
  // For messages: `cluster "gpu-a"`, `cluster names matching "gpu-east-*"`, `no cluster name`.
  std::string Describe() const;
};

// The binding of a stored BootstrapToken (fields of the wrong type read as absent; the kind's
// validation refuses them at create and update).
TokenBinding BindingOf(const nlohmann::json& token);

// The hub's heartbeat defaults (berth-hub --heartbeat-period, --missed-heartbeats), used when a
// MemberCluster does not set spec.heartbeatPeriodSeconds / spec.unhealthyAfterMissedHeartbeats.
struct HeartbeatDefaults {
  int64_t period_seconds = 5;
  int64_t missed_heartbeats = 3;
};

enum class MemberStanding { kNew, kNotHealthy, kHealthy };

struct MemberHealth {
  MemberStanding standing = MemberStanding::kNew;
  std::string evidence;  // why, for messages: "its lease was renewed 2s ago"; empty for kNew
};

// How a join sees the member it names. `member` and `lease` are the stored objects or nullptr.
// Conservative: healthy when the Lease was renewed within the grace (heartbeat period × missed
// heartbeats, as the health controller counts) OR the health controller's Healthy condition is
// True (e.g. in the grace it gives every member after a hub restart). A renewal time in the
// future counts as current.
MemberHealth AssessMember(const nlohmann::json* member, const nlohmann::json* lease,
                          Clock::TimePoint now, const HeartbeatDefaults& defaults);

// OK when the token `token_id` with `binding` may join as `cluster` given the member's health;
// otherwise Forbidden with a message that names the binding, the member's state and what to do.
Status CheckJoinAllowed(const std::string& token_id, const TokenBinding& binding,
                        const std::string& cluster, const MemberHealth& member);

}  // namespace berth::hub
