#include "hub/controllers/workspace_status.h"

#include <algorithm>

#include "api/object.h"
#include "hub/controllers/conditions.h"
#include "hub/controllers/placement_events.h"

namespace berth::hub {

using nlohmann::json;

json InvalidWorkspaceStatus(const json& obj, const std::string& why, Clock::TimePoint now) {
  json status = obj.value("status", json::object());
  json conds = status.value("conditions", json::array());
  SetCondition(conds, "Scheduled", false, "InvalidSpec", why, now, api::GenerationOf(obj));
  status["conditions"] = conds;
  return status;
}

std::string DescribeMixedRevisions(json& placements, const json& rollout_state, int64_t target, bool* any_skipped) {
  static const json kNoClusters = json::object();
  const json* clusters = &kNoClusters;
  if (auto it = rollout_state.find("clusters"); it != rollout_state.end() && it->is_object()) clusters = &*it;
  std::string others;
  int on_target = 0;
  for (auto& p : placements) {
    const int64_t rev = p.value("revision", int64_t{0});
    if (rev == target) {
      ++on_target;
      continue;
    }
    const std::string cluster = p.value("cluster", "");
    std::string why = "Pending";
    if (auto c = clusters->find(cluster); c != clusters->end() && c->is_object()) {
      why = c->value("reason", "").empty() ? c->value("progress", "Pending") : c->value("reason", "");
      *any_skipped = *any_skipped || c->value("progress", "") == "Skipped";
    }
    p["revisionReason"] = why;
    others += (others.empty() ? "" : "; ") + std::string("revision ") + std::to_string(rev) + " on " + cluster +
              " (" + why + ")";
  }
  if (others.empty()) return "";
  return "revision " + std::to_string(target) + " on " + std::to_string(on_target) + " of " +
         std::to_string(placements.size()) + " clusters; " + others;
}

namespace {

struct Totals {
  int desired = 0;
  int ready = 0;      // Ready on the revision each member runs
  int available = 0;  // serving now, any revision (an update under way included)
  bool applied = true;
};

// status.placements: one per allocation, from what its member reports.
json Placements(const WorkspaceStatusInput& in, const json& old_status, Totals& t, WakeUp& wake) {
  static const std::map<std::string, MemberReport> kNoReports;
  const std::string& key = in.decision->workspace;
  const json old_placements = old_status.value("placements", json::array());
  json placements = json::array();
  for (const auto& a : in.allocations) {
    auto member = in.reported->find(a.cluster);
    const auto& reports = member == in.reported->end() ? kNoReports : member->second;
    auto found = reports.find(key);
    const bool has_report = found != reports.end();
    const MemberReport r = has_report ? found->second : MemberReport{};
    // Until the agent has answered a changed entry, what it last served still serves (its
    // pods are untouched until it acts); a member new to this workspace serves nothing yet.
    int available = std::min(r.available, a.replicas);
    if (!has_report) {
      for (const auto& p : old_placements) {
        if (p.value("cluster", "") == a.cluster) available = std::min(p.value("availableReplicas", 0), a.replicas);
      }
    }
    const int64_t revision = in.rollout->directives.at(a.cluster).revision;
    const bool current_rev = r.revision == revision;
    json p = {{"cluster", a.cluster}, {"replicas", a.replicas}, {"readyReplicas", current_rev ? r.ready : 0},
              {"revision", revision}, {"gpu", a.gpu}, {"gpusPerReplica", a.gpus_per_replica},
              {"costPerHour", a.cost_per_hour}, {"availableReplicas", available}};
    if (!r.endpoint.empty()) p["endpoint"] = r.endpoint;
    if (!r.phase.empty()) p["phase"] = r.phase;
    if (!r.reason.empty()) p["reason"] = r.reason;
    // When replicas here started waiting for GPUs: kept while they still wait, so the
    // re-placement deadline survives hub restarts.
    if (has_report && IsCapacityPending(r)) {
      auto since = CapacityPendingSince(old_status, a.cluster);
      p["capacityPendingSince"] = FormatRfc3339(since ? *since : in.now);
      if (!since) wake.At(in.now + in.capacity_limit);
    }
    placements.push_back(p);
    t.desired += a.replicas;
    t.ready += current_rev ? std::min(r.ready, a.replicas) : 0;
    t.available += available;
    t.applied = t.applied && r.applied && current_rev;
  }
  return placements;
}

// Where replicas failed over from, remembered until failback has decided again.
json FailedOverFrom(const WorkspaceStatusInput& in, const json& old_status) {
  json failed_from = in.failing_back ? json::array() : old_status.value("failedOverFrom", json::array());
  for (const auto& p : old_status.value("placements", json::array())) {
    const std::string c = p.value("cluster", "");
    bool still = false;
    for (const auto& a : in.allocations) still = still || a.cluster == c;
    if (!still && in.evicted_unreachable.count(c) && in.policy->failover.failback &&
        std::find(failed_from.begin(), failed_from.end(), c) == failed_from.end()) {
      failed_from.push_back(c);
    }
  }
  return failed_from;
}

struct Scheduling {
  bool scheduled = false;
  std::string message;
};

// The conditions, from the totals, what the rollout says and the references.
Scheduling SetConditions(const WorkspaceStatusInput& in, const Totals& t, int superseded_ready, json& status) {
  const placement::PlacementDecision& d = *in.decision;
  const WorkspaceRolloutResult& rollout = *in.rollout;
  const int64_t gen = api::GenerationOf(*in.workspace);
  const Clock::TimePoint now = in.now;
  json conds = status.value("conditions", json::array());
  Scheduling s;
  s.scheduled = d.unplaced() == 0 && in.split_dropped == 0;
  const std::string sched_reason = s.scheduled ? "Placed" : d.unplaced() > 0 ? d.unplaced_reason : "GpuShapesSplit";
  s.message = s.scheduled ? std::to_string(d.placed) + " of " + std::to_string(d.requested) + " replicas placed"
              : d.unplaced() > 0
                  ? d.unplaced_message
                  : std::to_string(in.split_dropped) +
                        " replicas fit only on a second GPU shape of a member that already runs this workspace on "
                        "another; one shape per member is supported today: narrow resource.gpuProducts or add "
                        "capacity";
  SetCondition(conds, "Scheduled", s.scheduled, sched_reason, s.message, now, gen);
  const bool applied = t.applied && t.desired > 0;
  SetCondition(conds, "Applied", applied, applied ? "Applied" : "Applying",
               applied ? "every member applied its Work" : "waiting for member agents to apply their Work", now, gen);
  const int min_available = in.policy ? in.policy->min_available : 1;
  const int want_available = std::max(1, std::min(d.requested, std::max(min_available, d.requested)));
  const int serving = t.available + superseded_ready;
  SetCondition(conds, "Available", serving >= want_available && serving > 0,
               serving >= want_available ? "ReplicasReady" : "ReplicasNotReady",
               std::to_string(serving) + " of " + std::to_string(d.requested) + " replicas ready", now, gen);
  const bool degraded = t.available < d.requested;
  SetCondition(conds, "Degraded", degraded,
               degraded ? (!in.superseded.empty() ? "FailingOver" : "ReplicasNotReady") : "AllReplicasReady",
               std::to_string(t.available) + " of " + std::to_string(d.requested) +
                   " replicas serving on their placed clusters (" + std::to_string(t.ready) +
                   " Ready on the revision each member runs)",
               now, gen);
  SetCondition(conds, "RolloutProgressing", rollout.progressing, rollout.reason, rollout.message, now, gen);
  bool skipped = false;
  const std::string mixed =
      DescribeMixedRevisions(status["placements"], rollout.rollout, rollout.target_revision, &skipped);
  SetCondition(conds, "MixedRevisions", !mixed.empty(),
               mixed.empty() ? "SingleRevision" : skipped ? "ClustersSkipped" : "RolloutInProgress",
               mixed.empty() ? "every placed cluster runs revision " + std::to_string(rollout.target_revision) : mixed,
               now, gen);
  if (in.references) {
    const ReferencesCondition rc = DescribeReferences(*in.references);
    SetCondition(conds, "ReferencesResolved", rc.resolved, rc.reason, rc.message, now, gen);
  } else if (conds.is_array()) {
    // It no longer references anything: the condition would only be stale.
    for (auto it = conds.begin(); it != conds.end(); ++it) {
      if (it->is_object() && it->value("type", "") == "ReferencesResolved") {
        conds.erase(it);
        break;
      }
    }
  }
  status["conditions"] = conds;
  return s;
}

// One entry per inference.adapters item: the replicas that serve it (Ready on the target
// revision, which loads every adapter the Workspace lists; vLLM does not start without them).
json AdapterStatuses(const json& obj, const json& placements, int64_t target) {
  const json inference = obj.value("inference", json::object());
  const json adapters = inference.is_object() ? inference.value("adapters", json::array()) : json::array();
  if (!adapters.is_array() || adapters.empty()) return json();
  int ready = 0;
  std::vector<std::string> clusters;
  for (const auto& p : placements) {
    if (p.value("revision", int64_t{0}) != target || p.value("readyReplicas", 0) <= 0) continue;
    ready += p.value("readyReplicas", 0);
    clusters.push_back(p.value("cluster", ""));
  }
  json out = json::array();
  for (const auto& a : adapters) {
    const json source = a.is_object() ? a.value("source", json::object()) : json::object();
    out.push_back({{"name", source.value("name", "")}, {"image", source.value("image", "")},
                   {"state", ready > 0 ? "Ready" : "Pending"}, {"readyReplicas", ready}, {"clusters", clusters}});
  }
  return out;
}

// status.endpoints and status.servedModels, and an Event for each endpoint that starts
// draining or goes Down.
void SetEndpoints(const WorkspaceStatusInput& in, const json& old_status, json& status, std::vector<FleetEvent>& events) {
  static const std::vector<EndpointSource> kNone;
  const json old = old_status.value("endpoints", json::array());
  std::optional<TrafficSplit> split;
  if (in.rollout && in.rollout->traffic_percent) split = TrafficSplit{in.rollout->target_revision, *in.rollout->traffic_percent};
  json endpoints = EndpointMap(in.endpoints ? *in.endpoints : kNone, old, in.now, split);
  for (const auto& e : endpoints) {
    const std::string state = e.value("state", ""), cluster = e.value("cluster", "");
    std::string was;
    for (const auto& o : old.is_array() ? old : json::array()) {
      if (o.is_object() && o.value("cluster", "") == cluster) was = o.value("state", "");
    }
    if (state == was || was.empty()) continue;
    if (state == "Draining") {
      events.push_back({in.workspace, "Normal", "EndpointDraining",
                        "endpoint on " + cluster + " takes no new requests until " + e.value("drainingUntil", "") +
                            "; then its replicas there are removed"});
    } else if (state == "Down" && e.value("reason", "") == "MemberUnhealthy") {
      events.push_back({in.workspace, "Warning", "EndpointDown",
                        "endpoint on " + cluster + " is Down: the member is Unhealthy; traffic goes to the others"});
    }
  }
  status["endpoints"] = std::move(endpoints);
  status["servedModels"] = ServedModels(*in.workspace);
}

}  // namespace

namespace {

constexpr const char* kAutoscalingConditions[] = {"AbleToScale", "ScalingActive", "ScalingLimited"};

// status.autoscaler and the autoscaling conditions (autoscale_stage.h); both go when the
// Workspace no longer autoscales.
void SetAutoscaling(const WorkspaceStatusInput& in, json& status, std::vector<FleetEvent>& events) {
  if (!in.autoscale) {
    if (!status.contains("autoscaler")) return;
    status.erase("autoscaler");
    json& conds = status["conditions"];
    if (!conds.is_array()) return;
    json kept = json::array();
    for (auto& c : conds) {
      const std::string type = c.value("type", "");
      if (std::find(std::begin(kAutoscalingConditions), std::end(kAutoscalingConditions), type) ==
          std::end(kAutoscalingConditions))
        kept.push_back(std::move(c));
    }
    conds = std::move(kept);
    return;
  }
  status["autoscaler"] = in.autoscale->status;
  if (!in.autoscale->evaluated) return;
  json conds = status.value("conditions", json::array());
  for (const auto& c : in.autoscale->conditions)
    SetCondition(conds, c.type, c.status, c.reason, c.message, in.now, api::GenerationOf(*in.workspace));
  status["conditions"] = std::move(conds);
  if (in.autoscale->event_reason)
    events.push_back({in.workspace, "Normal", *in.autoscale->event_reason, in.autoscale->event_message});
}

}  // namespace

WorkspaceStatusResult AggregateWorkspaceStatus(const WorkspaceStatusInput& in) {
  WorkspaceStatusResult out;
  const json& obj = *in.workspace;
  const WorkspaceRolloutResult& rollout = *in.rollout;
  const json old_status = obj.value("status", json::object());
  json& status = out.status = old_status;
  Totals totals;
  const json placements = Placements(in, old_status, totals, out.wake);
  int superseded_ready = 0;
  for (const auto& s : in.superseded) superseded_ready += s.value("readyReplicas", 0);
  status["placements"] = placements;
  if (!in.superseded.empty()) {
    status["superseded"] = in.superseded;
  } else {
    status.erase("superseded");
  }
  const json failed_from = FailedOverFrom(in, old_status);
  if (failed_from.empty()) {
    status.erase("failedOverFrom");
  } else {
    status["failedOverFrom"] = failed_from;
  }
  status["revision"] = rollout.target_revision;
  status["revisions"] = rollout.revisions;
  status["rollout"] = rollout.rollout;
  status["observedGeneration"] = api::GenerationOf(obj);
  status["placementDecision"] = in.placement_decision;
  if (json adapters = AdapterStatuses(obj, placements, rollout.target_revision); adapters.is_null()) {
    status.erase("adapters");
  } else {
    status["adapters"] = std::move(adapters);
  }
  SetEndpoints(in, old_status, status, out.events);
  const Scheduling sched = SetConditions(in, totals, superseded_ready, status);
  SetAutoscaling(in, status, out.events);
  for (const auto& ev : rollout.events) out.events.push_back({&obj, ev.type, ev.reason, ev.message});
  if (rollout.requeue_at) out.wake.At(*rollout.requeue_at);
  const json old_placements = old_status.value("placements", json::array());
  PlacementChange change{&obj, &old_placements, &placements, in.failing_back, &in.evicted_unreachable,
                         &in.capacity_moved, in.capacity_limit};
  if (auto ev = PlacementChangeEvent(change)) out.events.push_back(*ev);
  if (auto ev = UnschedulableEvent(obj, sched.scheduled, sched.message)) out.events.push_back(*ev);
  return out;
}

}  // namespace berth::hub
