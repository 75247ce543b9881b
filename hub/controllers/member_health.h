// Member health, decided from leases: whether a member is Healthy (its agent renewed its
// Lease within heartbeat period × missed heartbeats), the Joined/Healthy conditions the hub
// writes, and the phase the placement pass sees a member in (healthy, recovering after a
// failover, suspect within the failover toleration, failed, or new). docs/FAILOVER.md.
//
// Pure: the member, its lease and the time are arguments. The FleetController writes what
// these functions decide (ReconcileHealth) and reads the phases (ReconcilePlacement).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "hub/controllers/stage_types.h"

namespace berth::hub {

// When this hub moved each member's Healthy condition, to the millisecond: member →
// {the lastTransitionTime it wrote (whole seconds, the Kubernetes convention), the exact time}.
using HealthTransitions = std::map<std::string, std::pair<std::string, Clock::TimePoint>>;

// When the member's Healthy condition `healthy` took its current status: the exact time if
// this hub made that transition (listed in `mine`), else the end of the second its
// lastTransitionTime names, so a toleration or hysteresis never ends early, at most a
// second late. `now` when the condition has no time.
Clock::TimePoint HealthySince(const HealthTransitions& mine, const std::string& member,
                              const nlohmann::json& healthy, Clock::TimePoint now);

// A NoExecute taint's toleration counts from when it was added: the member's spec.taints with
// `timeAdded` stamped on the NoExecute ones that lack it (as the Kubernetes API server does
// for nodes), or nullopt when none lacked it.
std::optional<nlohmann::json> StampNoExecuteTaints(const nlohmann::json& member, Clock::TimePoint now);

struct HealthSettings {
  int64_t default_heartbeat_seconds = 5;  // when spec.heartbeatPeriodSeconds is unset
  int64_t default_missed_heartbeats = 3;  // when spec.unhealthyAfterMissedHeartbeats is unset
  int64_t toleration_seconds = 30;        // an unhealthy spell this long means "failed over"
};

struct HealthInput {
  const nlohmann::json* member = nullptr;
  const nlohmann::json* lease = nullptr;  // null: no agent has joined as this member
  HealthSettings settings;
  Clock::TimePoint started_at{};     // the controller's start: lease grace after a hub restart
  Clock::TimePoint now{};
  Clock::TimePoint healthy_since{};  // HealthySince of the member's current Healthy condition
};

struct HealthDecision {
  bool healthy = false;
  nlohmann::json conditions;  // status.conditions with Joined and Healthy set
  bool changed = false;       // conditions differ from the member's: write them
  bool transitioned = false;  // Healthy changed status (or was absent)
  bool announce = false;      // transitioned from a known status: record MemberHealthy/Unhealthy
  std::string message;        // the Healthy condition's message
  std::optional<Clock::Duration> recheck_after;  // healthy: look again when the lease would expire
};

HealthDecision DecideMemberHealth(const HealthInput& in);

// How the placement pass treats a member.
enum class MemberPhase { kHealthy, kRecovering, kSuspect, kFailed, kNew };

struct MemberView {
  const nlohmann::json* object = nullptr;  // the MemberCluster (owned by the caller)
  MemberPhase phase = MemberPhase::kNew;
  Clock::TimePoint since;  // of the current Healthy condition
  // Suspect or failed: its Work is frozen (make-before-break: it may be alive behind a
  // partition) and it takes no new replicas.
  bool frozen() const { return phase == MemberPhase::kSuspect || phase == MemberPhase::kFailed; }
  // Recovering members take new replicas; replicas failed over from them come back only
  // after the failback hysteresis, so a flapping member does not pull workloads back and forth.
  bool takes_new() const { return phase != MemberPhase::kFailed && phase != MemberPhase::kNew; }
};

// The member's phase from its Healthy condition: Recovered and younger than `hysteresis` is
// recovering; False for less than `toleration` is suspect, longer is failed; no condition is
// new. `wake` learns when the phase will change by itself.
MemberView MemberPhaseOf(const nlohmann::json& member, const HealthTransitions& mine, Clock::Duration toleration,
                         Clock::Duration hysteresis, Clock::TimePoint now, WakeUp& wake);

}  // namespace berth::hub
