#include "hub/join_policy.h"

#include "api/cluster_name_pattern.h"
#include "api/kinds.h"

namespace berth::hub {

using nlohmann::json;

namespace {

std::string StringAt(const json& object, const char* path) {
  json v = api::JsonPathGet(object, path);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t PositiveIntAt(const json& object, const char* path, int64_t fallback) {
  json v = api::JsonPathGet(object, path);
  return v.is_number_integer() && v.get<int64_t>() > 0 ? v.get<int64_t>() : fallback;
}

std::string Seconds(Clock::Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

}  // namespace

std::string TokenBinding::Describe() const {
  if (!cluster_name.empty()) return "cluster \"" + cluster_name + "\"";
  if (!cluster_name_pattern.empty())
    return "cluster names matching \"" + cluster_name_pattern + "\"";
  return "no cluster name";
}

TokenBinding BindingOf(const json& token) {
  TokenBinding b;
  b.cluster_name = StringAt(token, "spec.clusterName");
  b.cluster_name_pattern = StringAt(token, "spec.clusterNamePattern");
  b.allow_rejoin = api::JsonPathGet(token, "spec.allowRejoin") == true;
  return b;
}

MemberHealth AssessMember(const json* member, const json* lease, Clock::TimePoint now,
                          const HeartbeatDefaults& defaults) {
  if (!member) return {};
  const int64_t period =
      PositiveIntAt(*member, "spec.heartbeatPeriodSeconds", defaults.period_seconds);
  const int64_t missed =
      PositiveIntAt(*member, "spec.unhealthyAfterMissedHeartbeats", defaults.missed_heartbeats);
  const Clock::Duration grace = std::chrono::seconds(period * missed);
  Clock::TimePoint renewed;
  const bool has_renewal = lease && ParseRfc3339(StringAt(*lease, "spec.renewTime"), &renewed);
  if (has_renewal && now - renewed < grace) {
    const Clock::Duration ago = now > renewed ? now - renewed : Clock::Duration(0);
    return {MemberStanding::kHealthy, "its lease was renewed " + Seconds(ago) +
                                          " ago, within its " + Seconds(grace) + " grace"};
  }
  if (api::ConditionStatus(*member, "Healthy") == "True") {
    return {MemberStanding::kHealthy, "its Healthy condition is True"};
  }
  return {MemberStanding::kNotHealthy,
          has_renewal ? "its lease was last renewed " + Seconds(now - renewed) +
                            " ago, beyond its " + Seconds(grace) + " grace"
                      : "no agent has renewed its lease"};
}

Status CheckJoinAllowed(const std::string& token_id, const TokenBinding& binding,
                        const std::string& cluster, const MemberHealth& member) {
  const std::string token = "bootstrap token \"" + token_id + "\"";
  if (!binding.cluster_name.empty() && binding.cluster_name != cluster) {
    return Status::Forbidden(
        token + " is bound to " + binding.Describe() + " (spec.clusterName) and cannot join as \"" +
        cluster + "\": run the agent with --cluster-name " + binding.cluster_name +
        ", or create a token for " + cluster + " with berthctl token create --cluster " + cluster);
  }
  if (!binding.cluster_name_pattern.empty() &&
      !api::ClusterNameMatchesPattern(binding.cluster_name_pattern, cluster)) {
    return Status::Forbidden(token + " is bound to " + binding.Describe() +
                             " (spec.clusterNamePattern) and cannot join as \"" + cluster +
                             "\": create a token for it with berthctl token create --cluster " +
                             cluster);
  }
  if (member.standing == MemberStanding::kNew) return Status::Ok();
  if (!binding.bound()) {
    return Status::Forbidden(
        token + " is not bound to a cluster name, so it may only join as a new member, and \"" +
        cluster +
        "\" is already a member: create a token bound to it with "
        "berthctl token create --cluster " +
        cluster + " (add --rejoin if its agent is still healthy)");
  }
  if (member.standing == MemberStanding::kHealthy && !binding.allow_rejoin) {
    return Status::Forbidden(
        "member \"" + cluster + "\" is healthy (" + member.evidence + ") and " + token +
        " does not allow a rejoin, which would revoke the running agent's "
        "credential: to replace that agent, create a token with berthctl token "
        "create --cluster " +
        cluster + " --rejoin");
  }
  return Status::Ok();
}

}  // namespace berth::hub
