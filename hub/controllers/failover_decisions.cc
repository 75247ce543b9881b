#include "hub/controllers/failover_decisions.h"

#include <algorithm>
#include <optional>

#include "api/object.h"
#include "hub/controllers/conditions.h"

namespace berth::hub {

using nlohmann::json;

placement::Taint UnreachableTaint() { return {kUnreachableTaint, "", policies::TaintEffect::kNoExecute}; }

std::shared_ptr<const policies::PlacementPolicySpec> WithUnreachableToleration(
    const policies::PlacementPolicySpec& policy, int64_t default_toleration_seconds) {
  auto copy = std::make_shared<policies::PlacementPolicySpec>(policy);
  const placement::Taint unreachable = UnreachableTaint();
  bool own = false;
  for (const auto& t : copy->tolerations) own = own || placement::Tolerates(t, unreachable);
  if (!own) {
    policies::Toleration t;
    t.key = kUnreachableTaint;
    t.op = policies::TolerationOperator::kExists;
    t.effect = policies::TaintEffect::kNoExecute;
    t.toleration_seconds = copy->failover.toleration_seconds.value_or(default_toleration_seconds);
    copy->tolerations.push_back(t);
  }
  return copy;
}

Clock::Duration CapacityPendingLimit(const policies::PlacementPolicySpec& policy, const FailoverDefaults& d) {
  return std::chrono::seconds(policy.failover.capacity_pending_seconds.value_or(d.capacity_pending_seconds));
}

Clock::Duration DrainGrace(const policies::PlacementPolicySpec& policy, const FailoverDefaults& d) {
  return std::chrono::seconds(policy.failover.drain_seconds.value_or(d.drain_seconds));
}

std::vector<std::pair<placement::Taint, Clock::TimePoint>> NoExecuteTaints(const MemberView& m,
                                                                          Clock::TimePoint now) {
  std::vector<std::pair<placement::Taint, Clock::TimePoint>> out;
  json taints = api::JsonPathGet(*m.object, "spec.taints");
  for (const auto& t : taints.is_array() ? taints : json::array()) {
    if (t.value("effect", "") != "NoExecute") continue;
    out.push_back({{t.value("key", ""), t.value("value", ""), policies::TaintEffect::kNoExecute},
                   TimeOf(t.value("timeAdded", json()), now)});
  }
  if (m.frozen()) out.push_back({UnreachableTaint(), m.since});
  return out;
}

namespace {

// Why replicas must leave `member` now ("" to stay), from its NoExecute taints and the
// workspace's tolerations; `wake` learns when a tolerated taint's time runs out.
std::string EvictionReason(const MemberView& member, const policies::PlacementPolicySpec& policy,
                           Clock::TimePoint now, WakeUp& wake) {
  for (const auto& [taint, since] : NoExecuteTaints(member, now)) {
    std::optional<int64_t> tolerated;  // seconds; nullopt = forever
    bool matched = false;
    for (const auto& t : policy.tolerations) {
      if (!placement::Tolerates(t, taint)) continue;
      if (!t.toleration_seconds) {
        tolerated.reset();
        matched = true;
        break;
      }
      tolerated = matched && tolerated ? std::max(*tolerated, *t.toleration_seconds) : *t.toleration_seconds;
      matched = true;
    }
    if (matched && !tolerated) continue;
    const auto deadline = since + std::chrono::seconds(matched ? *tolerated : 0);
    if (now >= deadline) return taint.key == kUnreachableTaint ? "Unreachable" : "NoExecuteTaint";
    wake.At(deadline);
  }
  return "";
}

}  // namespace

void EvictNoExecute(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out, WakeUp& wake) {
  for (auto it = req.current.begin(); it != req.current.end();) {
    auto m = c.members->find(it->first);
    const std::string why = m == c.members->end() ? "MemberDeleted" : EvictionReason(m->second, *c.policy, c.now, wake);
    if (why.empty()) {
      ++it;
      continue;
    }
    if (why == "Unreachable") out.evicted_unreachable[*c.key].insert(it->first);
    it = req.current.erase(it);
  }
}

void DecideFailback(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out, WakeUp& wake) {
  const auto hysteresis = std::chrono::seconds(
      c.policy->failover.failback_hysteresis_seconds.value_or(c.defaults.failback_hysteresis_seconds));
  const json from = c.status->is_object() ? c.status->value("failedOverFrom", json::array()) : json::array();
  for (const auto& name : from) {
    if (!name.is_string()) continue;
    auto m = c.members->find(name.get<std::string>());
    if (!c.policy->failover.failback || m == c.members->end() || m->second.frozen() ||
        m->second.phase == MemberPhase::kNew) {
      continue;
    }
    if (c.now - m->second.since >= hysteresis) {
      req.current.clear();
      out.failing_back.insert(*c.key);
    } else {
      wake.At(m->second.since + hysteresis);
    }
  }
}

void ReplaceCapacityPending(const FailoverContext& c, placement::PlacementRequest& req, FailoverOutcome& out,
                            WakeUp& wake) {
  if (out.failing_back.count(*c.key)) return;
  const auto limit = CapacityPendingLimit(*c.policy, c.defaults);
  for (auto it = req.current.begin(); it != req.current.end();) {
    const std::string& cluster = it->first;
    auto since = CapacityPendingSince(*c.status, cluster);
    auto m = c.members->find(cluster);
    auto reports = c.reported->find(cluster);
    const MemberReport* rep = nullptr;
    if (reports != c.reported->end()) {
      auto r = reports->second.find(*c.key);
      if (r != reports->second.end()) rep = &r->second;
    }
    if (!since || m == c.members->end() || m->second.frozen() || !rep || !IsCapacityPending(*rep)) {
      ++it;
      continue;
    }
    if (c.now - *since < limit) {
      wake.At(*since + limit);
      ++it;
      continue;
    }
    const int serving = std::min(rep->available, it->second);
    out.capacity_moved[*c.key][cluster] = it->second - serving;
    req.avoid.insert(cluster);
    if (serving > 0) {
      it->second = serving;
      ++it;
    } else {
      it = req.current.erase(it);
    }
  }
}

}  // namespace berth::hub
