#include "hub/controllers/member_health.h"

#include "api/object.h"
#include "hub/controllers/conditions.h"

namespace berth::hub {

using nlohmann::json;

Clock::TimePoint HealthySince(const HealthTransitions& mine, const std::string& member, const json& healthy,
                              Clock::TimePoint now) {
  const std::string text = healthy.is_object() ? healthy.value("lastTransitionTime", "") : "";
  if (text.empty()) return now;
  auto it = mine.find(member);
  if (it != mine.end() && it->second.first == text) return it->second.second;
  Clock::TimePoint t;
  if (!ParseRfc3339(text, &t)) return now;
  const bool whole_seconds = text.find('.') == std::string::npos;
  return whole_seconds ? t + std::chrono::seconds(1) - std::chrono::milliseconds(1) : t;
}

std::optional<json> StampNoExecuteTaints(const json& member, Clock::TimePoint now) {
  json taints = api::JsonPathGet(member, "spec.taints");
  if (!taints.is_array()) return std::nullopt;
  bool stamped = false;
  for (auto& t : taints) {
    if (t.value("effect", "") == "NoExecute" && !t.contains("timeAdded")) {
      t["timeAdded"] = FormatRfc3339(now);
      stamped = true;
    }
  }
  if (!stamped) return std::nullopt;
  return taints;
}

namespace {

int64_t SpecInt(const json& member, const char* path, int64_t fallback) {
  const json v = api::JsonPathGet(member, path);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

}  // namespace

HealthDecision DecideMemberHealth(const HealthInput& in) {
  const json& member = *in.member;
  const Clock::TimePoint now = in.now;
  const int64_t period = SpecInt(member, "spec.heartbeatPeriodSeconds", in.settings.default_heartbeat_seconds);
  const int64_t missed = SpecInt(member, "spec.unhealthyAfterMissedHeartbeats", in.settings.default_missed_heartbeats);
  const Clock::Duration grace = std::chrono::seconds(period * missed);
  Clock::TimePoint renew;
  const json renew_time = in.lease ? api::JsonPathGet(*in.lease, "spec.renewTime") : json();
  const bool has_renew = renew_time.is_string() && ParseRfc3339(renew_time.get<std::string>(), &renew);
  const json& old_healthy = FindCondition(member, "Healthy");
  const bool was_true = old_healthy.is_object() && old_healthy.value("status", "") == "True";
  // After a hub restart, renewals that agents sent while the hub was down were lost, not
  // missed: a member that was Healthy gets a full grace period from the controller's start
  // (as the Kubernetes node lifecycle controller does), so an outage of the hub does not
  // mark the whole fleet Unhealthy and fail workloads over.
  if (has_renew && was_true && renew < in.started_at) renew = in.started_at;

  HealthDecision d;
  d.healthy = has_renew && now - renew < grace;
  d.conditions = api::JsonPathGet(member, "status.conditions");
  if (!d.conditions.is_array()) d.conditions = json::array();
  const json before = d.conditions;
  const bool joined = in.lease != nullptr;
  SetCondition(d.conditions, "Joined", joined, joined ? "AgentJoined" : "NotJoined",
               joined ? "the member agent joined with a bootstrap token"
                      : "no agent has joined as this member: run berth-agent with a join token",
               now);
  std::string reason;
  if (d.healthy) {
    // Coming back after its replicas were failed over: say so, the failback hysteresis
    // starts from this transition.
    const bool was_failed = old_healthy.is_object() && old_healthy.value("status", "") == "False" &&
                            now - in.healthy_since >= std::chrono::seconds(in.settings.toleration_seconds);
    const bool recovering = was_failed || (was_true && old_healthy.value("reason", "") == "Recovered");
    reason = recovering ? "Recovered" : "HeartbeatsReceived";
    d.message = "the agent renews its lease every " + std::to_string(period) + "s";
    d.recheck_after = std::chrono::duration_cast<Clock::Duration>(renew + grace - now) + std::chrono::milliseconds(10);
  } else {
    reason = has_renew ? "LeaseExpired" : "NoHeartbeat";
    d.message = has_renew ? "no lease renewal for " + std::to_string(period * missed) + "s (" +
                                std::to_string(missed) + " missed heartbeats): replicas move elsewhere after the "
                                "failover toleration"
                          : "the agent has not renewed its lease yet";
  }
  SetCondition(d.conditions, "Healthy", d.healthy, reason, d.message, now);
  d.changed = d.conditions != before;
  d.transitioned = !old_healthy.is_object() || old_healthy.value("status", "") != (d.healthy ? "True" : "False");
  d.announce = d.transitioned && old_healthy.is_object();
  return d;
}

MemberView MemberPhaseOf(const json& member, const HealthTransitions& mine, Clock::Duration toleration,
                         Clock::Duration hysteresis, Clock::TimePoint now, WakeUp& wake) {
  MemberView v;
  v.object = &member;
  const json& h = FindCondition(member, "Healthy");
  if (!h.is_object()) return v;
  v.since = HealthySince(mine, api::NameOf(member), h, now);
  if (h.value("status", "") == "True") {
    const bool recovering = h.value("reason", "") == "Recovered" && now - v.since < hysteresis;
    v.phase = recovering ? MemberPhase::kRecovering : MemberPhase::kHealthy;
    if (recovering) wake.At(v.since + hysteresis);
  } else {
    const bool failed = now - v.since >= toleration;
    v.phase = failed ? MemberPhase::kFailed : MemberPhase::kSuspect;
    if (!failed) wake.At(v.since + toleration);
  }
  return v;
}

}  // namespace berth::hub
