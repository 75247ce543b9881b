#include "hub/controllers/fleet_controller.h"

#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/controllers/snapshot.h"
#include "hub/controllers/workspace_rollout.h"
#include "placement/planner.h"
#include "placement/workspace_request.h"
#include "policies/rollout_strategy.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

using nlohmann::json;

namespace {

const api::KindInfo& KindOf(const api::KindRegistry& r, const char* api_version, const char* kind) {
  const api::KindInfo* k = r.ByKind(api_version, kind);
  if (!k) {
    spdlog::critical("kind {} is not registered", kind);
    std::abort();
  }
  return *k;
}

// The condition of `type` in status.conditions (null if absent), without copying.
const json& FindCondition(const json& object, const std::string& type) {
  static const json kNone;
  auto status = object.find("status");
  if (status == object.end() || !status->is_object()) return kNone;
  auto conds = status->find("conditions");
  if (conds == status->end() || !conds->is_array()) return kNone;
  for (const auto& c : *conds) {
    auto t = c.find("type");
    if (t != c.end() && t->is_string() && t->get_ref<const std::string&>() == type) return c;
  }
  return kNone;
}

// Sets a condition in `conditions`, keeping lastTransitionTime when the status is unchanged.
void SetCondition(json& conditions, const std::string& type, bool status, const std::string& reason,
                  const std::string& message, Clock::TimePoint now, int64_t generation = 0) {
  if (!conditions.is_array()) conditions = json::array();
  json c = {{"type", type}, {"status", status ? "True" : "False"}, {"reason", reason},
            {"message", message}, {"lastTransitionTime", FormatRfc3339(now)}};
  if (generation > 0) c["observedGeneration"] = generation;
  for (auto& old : conditions) {
    if (old.value("type", "") != type) continue;
    if (old.value("status", "") == c["status"]) c["lastTransitionTime"] = old.value("lastTransitionTime", FormatRfc3339(now));
    old = c;
    return;
  }
  conditions.push_back(c);
}

Clock::TimePoint TimeOf(const json& v, Clock::TimePoint fallback) {
  Clock::TimePoint t;
  if (v.is_string() && ParseRfc3339(v.get<std::string>(), &t)) return t;
  return fallback;
}

std::string WsKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

enum class MemberPhase { kHealthy, kRecovering, kSuspect, kFailed, kNew };

struct MemberView {
  const json* object = nullptr;  // into the pass's member list
  MemberPhase phase = MemberPhase::kNew;
  Clock::TimePoint since;  // of the current Healthy condition
  bool frozen() const { return phase == MemberPhase::kSuspect || phase == MemberPhase::kFailed; }
  // Recovering members take new replicas; replicas failed over from them come back only
  // after the hysteresis (see failedOverFrom below), so a flapping member does not pull
  // workloads back and forth.
  bool takes_new() const { return phase != MemberPhase::kFailed && phase != MemberPhase::kNew; }
};

using Reported = MemberReport;

// The agent says the workspace's replicas on this member wait for GPUs the member does not
// have free (as opposed to starting, pulling or failing).
bool IsCapacityPending(const MemberReport& r) {
  return r.phase == "Pending" && (r.reason == "InsufficientGPU" || r.reason == "Unschedulable" ||
                                  r.reason == "GPUsLost" || r.reason == "NodeLost");
}

// status.placements[cluster].capacityPendingSince of a Workspace status, if set.
std::optional<Clock::TimePoint> CapacityPendingSince(const json& status, const std::string& cluster) {
  if (!status.is_object()) return std::nullopt;
  auto placements = status.find("placements");
  if (placements == status.end() || !placements->is_array()) return std::nullopt;
  for (const auto& p : *placements) {
    if (p.value("cluster", "") != cluster) continue;
    auto since = p.find("capacityPendingSince");
    Clock::TimePoint t;
    if (since != p.end() && since->is_string() && ParseRfc3339(since->get<std::string>(), &t)) return t;
  }
  return std::nullopt;
}

// A member's reported nodes, without copying them.
const json& MemberNodes(const json& member) {
  static const json kNone = json::array();
  auto status = member.find("status");
  if (status == member.end() || !status->is_object()) return kNone;
  auto nodes = status->find("nodes");
  return nodes != status->end() && nodes->is_array() ? *nodes : kNone;
}

// The NoExecute taint an unreachable member carries in the placement snapshot (like
// Kubernetes' node.kubernetes.io/unreachable). Workspaces tolerate it for their policy's
// failover toleration unless they say otherwise.
constexpr char kUnreachableTaint[] = "berth.dev/unreachable";

// NoExecute taints of a member with the time each was added: those in spec.taints
// (timeAdded, written by ReconcileHealth) and the unreachable one while it is unhealthy.
std::vector<std::pair<placement::Taint, Clock::TimePoint>> NoExecuteTaints(const MemberView& m,
                                                                          Clock::TimePoint now) {
  std::vector<std::pair<placement::Taint, Clock::TimePoint>> out;
  json taints = api::JsonPathGet(*m.object, "spec.taints");
  for (const auto& t : taints.is_array() ? taints : json::array()) {
    if (t.value("effect", "") != "NoExecute") continue;
    out.push_back({{t.value("key", ""), t.value("value", ""), policies::TaintEffect::kNoExecute},
                   TimeOf(t.value("timeAdded", json()), now)});
  }
  if (m.frozen()) out.push_back({{kUnreachableTaint, "", policies::TaintEffect::kNoExecute}, m.since});
  return out;
}

// Only a report about the Work entry as it stands now counts: one the agent wrote for an
// older version of the entry may describe replicas that are no longer asked for. Each entry
// carries entryGeneration (the placementGeneration at which it last changed) and the agent
// echoes it per workspace as observedEntryGeneration, so a change to another workspace on the
// same member does not make this one look unready. A report without the echo counts only
// when the agent has seen the whole Work (observedPlacementGeneration).
std::map<std::string, Reported> ReportedByWorkspace(const json& work) {
  std::map<std::string, Reported> out;
  json observed = api::JsonPathGet(work, "status.observedPlacementGeneration");
  json wanted = api::JsonPathGet(work, "spec.placementGeneration");
  const bool whole_work_seen = observed.is_number_integer() && wanted.is_number_integer() &&
                               observed.get<int64_t>() >= wanted.get<int64_t>();
  std::map<std::string, int64_t> entry_generation;  // ws key → entryGeneration
  json entries = api::JsonPathGet(work, "spec.workspaces");
  for (const auto& e : entries.is_array() ? entries : json::array()) {
    const json& md = e["workspace"]["metadata"];
    entry_generation[WsKey(md.value("namespace", "default"), md.value("name", ""))] =
        e.value("entryGeneration", int64_t{-1});
  }
  json list = api::JsonPathGet(work, "status.workspaces");
  if (!list.is_array()) return out;
  for (const auto& w : list) {
    const std::string key = WsKey(w.value("namespace", "default"), w.value("name", ""));
    if (auto echo = w.find("observedEntryGeneration"); echo != w.end() && echo->is_number_integer()) {
      auto g = entry_generation.find(key);
      if (g == entry_generation.end() || g->second != echo->get<int64_t>()) continue;
    } else if (!whole_work_seen) {
      continue;
    }
    Reported r;
    r.replicas = w.value("replicas", 0);
    r.ready = w.value("readyReplicas", 0);
    r.updated = w.value("updatedReplicas", r.ready);
    r.available = w.value("availableReplicas", r.ready);
    r.surge = w.value("surgeReplicas", 0);
    r.failures = w.value("failures", 0);
    r.revision = w.value("revision", int64_t{0});
    r.applied = w.value("applied", false);
    r.phase = w.value("phase", "");
    r.reason = w.value("reason", "");
    r.message = w.value("message", "");
    r.endpoint = w.value("endpoint", "");
    if (auto pp = w.find("prePull"); pp != w.end() && pp->is_object()) {
      r.pre_pull_revision = pp->value("revision", int64_t{0});
      r.pre_pull_phase = pp->value("phase", "");
      r.pre_pull_reason = pp->value("reason", "");
    }
    out[key] = r;
  }
  return out;
}

// The part of a Work entry that decides what runs on the member: a change to anything else
// (pre-pull request, update mode, the Workspace's generation or placement policy) leaves the
// running replicas as they are, so it keeps the entry's fencing token.
json WhatRuns(const json& entry) {
  const json& ws = entry.value("workspace", json::object());
  return {{"inference", ws.value("inference", json())}, {"resource", ws.value("resource", json())},
          {"replicas", entry.value("replicas", 0)}, {"revision", entry.value("revision", int64_t{0})},
          {"gpu", entry.value("gpu", json())}};
}

// True when the Workspace `key` lists `cluster` in status.placements or status.superseded
// (or the workspace is unknown: then keep the reservation, to be safe).
bool StatusKnowsCluster(const std::map<std::string, const json*>& ws_by_key, const std::string& key,
                        const std::string& cluster) {
  auto it = ws_by_key.find(key);
  if (it == ws_by_key.end()) return true;
  for (const char* list : {"status.placements", "status.superseded"}) {
    json l = api::JsonPathGet(*it->second, list);
    for (const auto& p : l.is_array() ? l : json::array()) {
      if (p.value("cluster", "") == cluster) return true;
    }
  }
  return false;
}

std::string EntryKey(const json& entry) {
  const json& md = entry["workspace"]["metadata"];
  return WsKey(md.value("namespace", "default"), md.value("name", ""));
}

// Placed members that run another revision than `target` get a revisionReason (why, from
// the rollout: the cluster's reason, else its progress). Returns "" when every member runs
// the target, else a sentence naming which members run what and why.
std::string DescribeMixedRevisions(json& placements, const json& rollout_state, int64_t target,
                                   bool* any_skipped) {
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
    others += (others.empty() ? "" : "; ") + std::string("revision ") + std::to_string(rev) + " on " +
              cluster + " (" + why + ")";
  }
  if (others.empty()) return "";
  return "revision " + std::to_string(target) + " on " + std::to_string(on_target) + " of " +
         std::to_string(placements.size()) + " clusters; " + others;
}

}  // namespace

FleetController::FleetController(ObjectApi& objects, const api::KindRegistry& registry, Clock& clock,
                                 FleetControllerOptions options)
    : objects_(objects), registry_(registry), clock_(clock), options_(options), loop_(clock) {
  loop_.Register("health", [this](const std::string& key) { return ReconcileHealth(key.substr(7)); });
  loop_.Register("placement", [this](const std::string&) { return ReconcilePlacement(); });
}

FleetController::~FleetController() { Stop(); }

Status FleetController::Start(bool run_worker) {
  started_at_ = clock_.Now();
  auto watch = [this](const api::KindInfo& kind, std::function<void(const WatchEvent&)> on) -> Status {
    WatchOptions wo;
    wo.resource = kind.resource();
    auto id = objects_.store().Watch(wo, [on](const WatchEvent& e) {
      on(e);
      return true;
    });
    if (!id.ok()) return id.status();
    watches_.push_back(*id);
    return Status::Ok();
  };
  const auto& members = KindOf(registry_, api::kApiVersion, "MemberCluster");
  BERTH_RETURN_IF_ERROR(watch(KindOf(registry_, api::kApiVersion, "Lease"), [this](const WatchEvent& e) {
    // A renewal of a member already Healthy changes nothing now: its health check is queued
    // for when the lease would expire and reads the latest renewal then. Only a lease of a
    // member not (yet, or no longer) Healthy is looked at at once, so recovery is prompt and
    // 1,000 members renewing every 5 s do not mean 200 health checks a second.
    const std::string name = api::NameOf(e.object);
    if (e.type == EventType::kModified) {
      std::lock_guard<std::mutex> lock(members_mu_);
      auto it = members_.find(name);
      if (it != members_.end() && it->second.healthy) return;
    }
    loop_.Enqueue("health/" + name);
  }));
  BERTH_RETURN_IF_ERROR(watch(members, [this](const WatchEvent& e) { OnMemberEvent(e); }));
  BERTH_RETURN_IF_ERROR(watch(KindOf(registry_, api::kApiVersion, "Work"), [this](const WatchEvent& e) {
    {
      std::lock_guard<std::mutex> lock(works_mu_);
      if (e.type == EventType::kDeleted) {
        works_.erase(api::NameOf(e.object));
      } else {
        works_[api::NameOf(e.object)] = std::make_shared<const json>(e.object);
      }
    }
    loop_.Enqueue("placement/fleet");
  }));
  for (const char* kind : {"Workspace", "PlacementPolicy", "RolloutStrategy"}) {
    BERTH_RETURN_IF_ERROR(watch(KindOf(registry_, api::kApiVersion, kind),
                                [this](const WatchEvent&) { loop_.Enqueue("placement/fleet"); }));
  }
  loop_.Enqueue("placement/fleet");
  if (run_worker) loop_.Start();
  return Status::Ok();
}

void FleetController::OnMemberEvent(const WatchEvent& e) {
  const std::string name = api::NameOf(e.object);
  loop_.Enqueue("health/" + name);
  if (e.type == EventType::kDeleted) {
    {
      std::lock_guard<std::mutex> lock(members_mu_);
      members_.erase(name);
    }
    loop_.Enqueue("placement/fleet");
    return;
  }
  // Spec, labels, deletion and conditions (health) decide eligibility: a change there is
  // acted on at once. The rest of the status is the agent's inventory; its timestamp alone
  // changes with every periodic full report and means nothing to placement.
  CachedMemberEntry entry;
  entry.object = std::make_shared<const json>(e.object);
  {
    const json& h = FindCondition(e.object, "Healthy");
    entry.healthy = h.is_object() && h.value("status", "") == "True";
  }
  {
    static const json kEmpty = json::object();
    static const json kNull;
    auto field = [](const json& o, const char* k, const json& fallback) -> const json& {
      auto it = o.find(k);
      return it == o.end() ? fallback : *it;
    };
    const json& meta = field(e.object, "metadata", kEmpty);
    json status = field(e.object, "status", kEmpty);
    json conditions = status.is_object() ? status.value("conditions", json::array()) : json::array();
    if (status.is_object()) {
      status.erase("conditions");
      status.erase("inventoryTime");
    }
    const json spec_part = json::array({field(e.object, "spec", kEmpty), field(meta, "labels", kEmpty),
                                        field(meta, "deletionTimestamp", kNull), conditions});
    entry.spec_print = std::hash<std::string>{}(spec_part.dump());
    entry.inventory_print = std::hash<std::string>{}(status.dump());
  }
  std::optional<std::pair<size_t, size_t>> before;
  {
    std::lock_guard<std::mutex> lock(members_mu_);
    auto& slot = members_[name];
    if (slot.object) before = std::make_pair(slot.spec_print, slot.inventory_print);
    slot = std::move(entry);
    if (before && before->first == slot.spec_print && before->second == slot.inventory_print) return;
    if (before && before->first == slot.spec_print) {
      loop_.EnqueueCoalesced("placement/fleet", options_.inventory_coalesce);
      return;
    }
  }
  loop_.Enqueue("placement/fleet");
}

std::shared_ptr<const json> FleetController::CachedMember(const std::string& name) {
  std::lock_guard<std::mutex> lock(members_mu_);
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : it->second.object;
}

void FleetController::Stop() {
  for (uint64_t id : watches_) objects_.store().Unwatch(id);
  watches_.clear();
  loop_.Stop();
}

std::future<StatusOr<json>> FleetController::WriteAsync(const std::function<void(ObjectCallback)>& call) {
  auto p = std::make_shared<std::promise<StatusOr<json>>>();
  auto f = p->get_future();
  call([p](StatusOr<json> r) { p->set_value(std::move(r)); });
  return f;
}

StatusOr<json> FleetController::Write(const std::function<void(ObjectCallback)>& call) {
  return WriteAsync(call).get();
}

void FleetController::RecordEvent(const json& object, const std::string& type, const std::string& reason,
                                  const std::string& message) {
  const auto& events = KindOf(registry_, "v1", "Event");
  const std::string ns = api::NamespaceOf(object).empty() ? "default" : api::NamespaceOf(object);
  const std::string now = FormatRfc3339(clock_.Now());
  json ev = {{"apiVersion", "v1"}, {"kind", "Event"},
             {"metadata", {{"generateName", api::NameOf(object) + "."}, {"namespace", ns}}},
             {"involvedObject", {{"apiVersion", object.value("apiVersion", "")}, {"kind", object.value("kind", "")},
                                 {"name", api::NameOf(object)}, {"uid", api::UidOf(object)}}},
             {"reason", reason}, {"message", message}, {"type", type},
             {"source", {{"component", "berth-hub"}}}, {"firstTimestamp", now}, {"lastTimestamp", now},
             {"count", 1}, {"reportingComponent", "berth-hub"}};
  if (!api::NamespaceOf(object).empty()) ev["involvedObject"]["namespace"] = ns;
  // Events are best effort: a failure to record one never blocks a reconcile.
  objects_.Create(events, ns, ev, {}, [reason](StatusOr<json> r) {
    if (!r.ok()) spdlog::warn("recording event {} failed: {}", reason, r.status().ToString());
  });
  spdlog::info("event {} {}/{}: {}", reason, object.value("kind", ""), api::NameOf(object), message);
}

ReconcileResult FleetController::ReconcileHealth(const std::string& name) {
  const auto& members = KindOf(registry_, api::kApiVersion, "MemberCluster");
  const auto& leases = KindOf(registry_, api::kApiVersion, "Lease");
  std::shared_ptr<const json> member = CachedMember(name);
  if (!member) return {};
  auto lease = objects_.store().Get({leases.resource(), "", name});
  const auto now = clock_.Now();
  // A NoExecute taint's toleration counts from when it was added: stamp the ones without a
  // time (as the Kubernetes API server does for nodes) so eviction deadlines survive restarts.
  json taints = api::JsonPathGet(*member, "spec.taints");
  if (taints.is_array()) {
    bool stamped = false;
    for (auto& t : taints) {
      if (t.value("effect", "") == "NoExecute" && !t.contains("timeAdded")) {
        t["timeAdded"] = FormatRfc3339(now);
        stamped = true;
      }
    }
    if (stamped) {
      json obj = *member;
      obj["spec"]["taints"] = taints;
      auto r = Write([&](ObjectCallback cb) { objects_.Update(members, "", name, obj, {}, cb); });
      if (!r.ok()) return {r.status(), std::nullopt};
      member = std::make_shared<const json>(std::move(*r));
    }
  }
  const int64_t period = api::JsonPathGet(*member, "spec.heartbeatPeriodSeconds").is_number_integer()
                             ? (*member)["spec"]["heartbeatPeriodSeconds"].get<int64_t>()
                             : options_.default_heartbeat_seconds;
  const int64_t missed = api::JsonPathGet(*member, "spec.unhealthyAfterMissedHeartbeats").is_number_integer()
                             ? (*member)["spec"]["unhealthyAfterMissedHeartbeats"].get<int64_t>()
                             : options_.default_missed_heartbeats;
  const Clock::Duration grace = std::chrono::seconds(period * missed);
  Clock::TimePoint renew;
  const bool has_renew = lease.ok() && ParseRfc3339(api::JsonPathGet(*lease, "spec.renewTime").is_string()
                                                        ? (*lease)["spec"]["renewTime"].get<std::string>()
                                                        : "",
                                                    &renew);
  json old_healthy = FindCondition(*member, "Healthy");
  // After a hub restart, renewals that agents sent while the hub was down were lost, not
  // missed: a member that was Healthy gets a full grace period from the controller's start
  // (as the Kubernetes node lifecycle controller does), so an outage of the hub does not
  // mark the whole fleet Unhealthy and fail workloads over.
  if (has_renew && old_healthy.is_object() && old_healthy.value("status", "") == "True" && renew < started_at_) {
    renew = started_at_;
  }
  const bool healthy = has_renew && now - renew < grace;

  json conditions = api::JsonPathGet(*member, "status.conditions");
  if (!conditions.is_array()) conditions = json::array();
  const json before = conditions;
  SetCondition(conditions, "Joined", lease.ok(), lease.ok() ? "AgentJoined" : "NotJoined",
               lease.ok() ? "the member agent joined with a bootstrap token"
                          : "no agent has joined as this member: run berth-agent with a join token",
               now);
  std::string reason, message;
  if (healthy) {
    // Coming back after its replicas were failed over: say so, the failback hysteresis
    // starts from this transition.
    const bool was_failed = old_healthy.is_object() && old_healthy.value("status", "") == "False" &&
                            now - HealthySince(name, old_healthy, now) >=
                                std::chrono::seconds(options_.toleration_seconds);
    const bool recovering = was_failed || (old_healthy.is_object() && old_healthy.value("reason", "") == "Recovered" &&
                                           old_healthy.value("status", "") == "True");
    reason = recovering ? "Recovered" : "HeartbeatsReceived";
    message = "the agent renews its lease every " + std::to_string(period) + "s";
  } else {
    reason = has_renew ? "LeaseExpired" : "NoHeartbeat";
    message = has_renew ? "no lease renewal for " + std::to_string(period * missed) + "s (" +
                              std::to_string(missed) + " missed heartbeats): replicas move elsewhere after the "
                              "failover toleration"
                        : "the agent has not renewed its lease yet";
  }
  SetCondition(conditions, "Healthy", healthy, reason, message, now);
  if (conditions != before) {
    // A merge patch of the conditions only: the agent patches the inventory in the same
    // status concurrently, and an update with our resourceVersion would conflict with it.
    WriteOptions wo;
    wo.status = true;
    const std::string patch = json{{"status", {{"conditions", conditions}}}}.dump();
    auto r = Write([&](ObjectCallback cb) {
      objects_.Patch(members, "", name, PatchType::kMerge, patch, wo, cb);
    });
    if (!r.ok()) return {r.status(), std::nullopt};
    const bool transitioned = !old_healthy.is_object() || old_healthy.value("status", "") != (healthy ? "True" : "False");
    if (transitioned) {
      const json& written = FindCondition(*r, "Healthy");
      if (written.is_object()) {
        healthy_transitions_[name] = {written.value("lastTransitionTime", ""), now};
      }
    }
    if (transitioned && old_healthy.is_object()) {
      RecordEvent(*r, healthy ? "Normal" : "Warning", healthy ? "MemberHealthy" : "MemberUnhealthy", message);
    }
    loop_.Enqueue("placement/fleet");
  }
  if (healthy) {
    return {Status::Ok(), std::chrono::duration_cast<Clock::Duration>(renew + grace - now) + std::chrono::milliseconds(10)};
  }
  return {};
}

// When the member's Healthy condition took its current status. The exact time when this
// hub made that transition; otherwise (it happened before a restart) the end of the second
// lastTransitionTime names, so a toleration or hysteresis never ends early, at most a second
// late.
Clock::TimePoint FleetController::HealthySince(const std::string& member, const json& healthy,
                                               Clock::TimePoint now) const {
  const std::string text = healthy.is_object() ? healthy.value("lastTransitionTime", "") : "";
  if (text.empty()) return now;
  auto mine = healthy_transitions_.find(member);
  if (mine != healthy_transitions_.end() && mine->second.first == text) return mine->second.second;
  Clock::TimePoint t;
  if (!ParseRfc3339(text, &t)) return now;
  const bool whole_seconds = text.find('.') == std::string::npos;
  return whole_seconds ? t + std::chrono::seconds(1) - std::chrono::milliseconds(1) : t;
}

ReconcileResult FleetController::ReconcilePlacement() {
  const auto& ws_kind = KindOf(registry_, api::kApiVersion, "Workspace");
  const auto& works_kind = KindOf(registry_, api::kApiVersion, "Work");
  const auto& policy_kind = KindOf(registry_, api::kApiVersion, "PlacementPolicy");
  const auto& strategy_kind = KindOf(registry_, api::kApiVersion, "RolloutStrategy");
  Store& store = objects_.store();
  const auto now = clock_.Now();
  std::optional<Clock::Duration> requeue = options_.resync;
  auto requeue_at = [&](Clock::TimePoint t) {
    auto d = std::chrono::duration_cast<Clock::Duration>(t - now) + std::chrono::milliseconds(10);
    if (!requeue || d < *requeue) requeue = d;
  };

  std::vector<std::shared_ptr<const json>> members_list;  // by name, as the watch delivered them
  {
    std::lock_guard<std::mutex> lock(members_mu_);
    members_list.reserve(members_.size());
    for (const auto& [name, entry] : members_) members_list.push_back(entry.object);
  }
  auto ws_list = store.List(ws_kind.resource(), {});
  std::map<std::string, std::shared_ptr<const json>> works;  // by member, as the watch delivered them
  {
    std::lock_guard<std::mutex> lock(works_mu_);
    works = works_;
  }
  auto policy_list = store.List(policy_kind.resource(), {});
  auto strategy_list = store.List(strategy_kind.resource(), {});
  if (!ws_list.ok() || !policy_list.ok() || !strategy_list.ok()) {
    return {Status::Unavailable("listing fleet state failed"), std::nullopt};
  }

  // Members and their health phase.
  const auto toleration = std::chrono::seconds(options_.toleration_seconds);
  const auto hysteresis = std::chrono::seconds(options_.failback_hysteresis_seconds);
  std::map<std::string, MemberView> members;
  placement::FleetSnapshot snapshot;
  snapshot.latencies = options_.region_latencies;
  for (const auto& member : members_list) {
    const json& m = *member;
    MemberView v;
    v.object = &m;
    const json& h = FindCondition(m, "Healthy");
    if (h.is_object()) {
      v.since = HealthySince(api::NameOf(m), h, now);
      if (h.value("status", "") == "True") {
        const bool recovering = h.value("reason", "") == "Recovered" && now - v.since < hysteresis;
        v.phase = recovering ? MemberPhase::kRecovering : MemberPhase::kHealthy;
        if (recovering) requeue_at(v.since + hysteresis);
      } else {
        const bool failed = now - v.since >= toleration;
        v.phase = failed ? MemberPhase::kFailed : MemberPhase::kSuspect;
        if (!failed) requeue_at(v.since + toleration);
      }
    }
    // An unreachable member is modelled like Kubernetes models an unreachable node: a
    // NoExecute taint. Each workspace tolerates it for its policy's failover toleration
    // (implicitly, see EffectivePolicy), so its replicas stay that long and no new ones
    // land there; afterwards the eviction below moves them.
    const bool known = v.phase != MemberPhase::kNew;
    CachedInventory& cached = inventories_[api::NameOf(m)];
    if (cached.object != member || cached.healthy != known) {
      cached = {member, known, InventoryFromMember(m, known)};
    }
    placement::ClusterInventory inv = cached.inventory;
    if (v.frozen()) inv.taints.push_back({kUnreachableTaint, "", policies::TaintEffect::kNoExecute});
    snapshot.clusters.push_back(std::move(inv));
    members[api::NameOf(m)] = std::move(v);
  }
  std::erase_if(inventories_, [&](const auto& kv) { return !members.count(kv.first); });

  std::map<std::string, std::map<std::string, Reported>> reported;  // member → ws → report
  for (const auto& [name, w] : works) reported[name] = ReportedByWorkspace(*w);

  placement::PolicyCatalog policies;
  for (const auto& p : policy_list->items) {
    auto parsed = policies::ParsePlacementPolicy(p);
    if (parsed.ok()) {
      policies[WsKey(api::NamespaceOf(p), api::NameOf(p))] =
          std::make_shared<policies::PlacementPolicySpec>(parsed->spec);
    }
  }

  std::map<std::string, policies::RolloutStrategySpec> strategies;
  for (const auto& st : strategy_list->items) {
    auto parsed = policies::ParseRolloutStrategy(st);
    if (parsed.ok()) strategies[WsKey(api::NamespaceOf(st), api::NameOf(st))] = parsed->spec;
  }

  // One placement request per valid Workspace; replicas on failed members are not "current".
  std::vector<placement::PlacementRequest> requests;
  std::vector<const json*> request_objects;
  std::map<std::string, std::string> invalid;  // ws key → why
  std::map<std::string, const json*> ws_by_key;
  std::set<std::string> failing_back;  // workspaces decided without stickiness this pass
  std::map<std::string, std::set<std::string>> evicted_unreachable;  // ws key → members
  std::map<std::string, std::map<std::string, int>> capacity_moved;  // ws key → member → replicas
  auto capacity_limit = [&](const policies::PlacementPolicySpec& p) {
    return std::chrono::seconds(p.failover.capacity_pending_seconds.value_or(options_.capacity_pending_seconds));
  };
  // Each policy once with the implicit toleration of the unreachable taint for its failover
  // toleration (unless it tolerates that taint itself).
  // Keyed by address; the original is held too, so an address is never reused while cached.
  std::map<const policies::PlacementPolicySpec*,
           std::pair<std::shared_ptr<const policies::PlacementPolicySpec>,
                     std::shared_ptr<const policies::PlacementPolicySpec>>>
      effective;
  const auto default_policy = std::make_shared<const policies::PlacementPolicySpec>();
  auto effective_policy = [&](std::shared_ptr<const policies::PlacementPolicySpec> p) {
    if (!p) p = default_policy;
    auto& [original, e] = effective[p.get()];
    if (!e) {
      original = p;
      auto copy = std::make_shared<policies::PlacementPolicySpec>(*p);
      const placement::Taint unreachable{kUnreachableTaint, "", policies::TaintEffect::kNoExecute};
      bool own = false;
      for (const auto& t : copy->tolerations) own = own || placement::Tolerates(t, unreachable);
      if (!own) {
        policies::Toleration t;
        t.key = kUnreachableTaint;
        t.op = policies::TolerationOperator::kExists;
        t.effect = policies::TaintEffect::kNoExecute;
        t.toleration_seconds = copy->failover.toleration_seconds.value_or(options_.toleration_seconds);
        copy->tolerations.push_back(t);
      }
      e = copy;
    }
    return e;
  };
  for (const auto& obj : ws_list->items) {
    const std::string key = WsKey(api::NamespaceOf(obj), api::NameOf(obj));
    ws_by_key[key] = &obj;
    if (api::IsBeingDeleted(obj)) continue;
    auto ws = workspace::ParseWorkspace(obj);
    if (!ws.ok()) {
      invalid[key] = ws.status().message();
      continue;
    }
    if (auto rev = rollout::RevisionOf(obj, now); !rev.ok()) {
      invalid[key] = rev.status().message();
      continue;
    }
    auto req = placement::RequestFromWorkspace(*ws, policies);
    if (!req.ok()) {
      invalid[key] = req.status().message();
      continue;
    }
    req->policy = effective_policy(req->policy);
    const policies::PlacementPolicySpec& policy = *req->policy;
    // NoExecute eviction: replicas leave a member whose NoExecute taint (the unreachable one
    // included) this workspace tolerates for less time than the taint has been there.
    for (auto it = req->current.begin(); it != req->current.end();) {
      auto m = members.find(it->first);
      std::string why;
      if (m == members.end()) {
        why = "MemberDeleted";
      } else {
        for (const auto& [taint, since] : NoExecuteTaints(m->second, now)) {
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
          if (now >= deadline) {
            why = taint.key == kUnreachableTaint ? "Unreachable" : "NoExecuteTaint";
            break;
          }
          requeue_at(deadline);
        }
      }
      if (why.empty()) {
        ++it;
        continue;
      }
      if (why == "Unreachable") evicted_unreachable[key].insert(it->first);
      it = req->current.erase(it);
    }
    // Failback: once a member this workspace failed over from has been healthy for the
    // policy's hysteresis, decide afresh (no stickiness) so replicas can return to the
    // preferred clusters; make-before-break below keeps the old ones until the new are Ready.
    const auto hysteresis_ws = std::chrono::seconds(
        policy.failover.failback_hysteresis_seconds.value_or(options_.failback_hysteresis_seconds));
    json from = ws->status.raw.is_object() ? ws->status.raw.value("failedOverFrom", json::array()) : json::array();
    for (const auto& c : from) {
      auto m = members.find(c.get<std::string>());
      if (!policy.failover.failback || m == members.end() || m->second.frozen() ||
          m->second.phase == MemberPhase::kNew) {
        continue;
      }
      if (now - m->second.since >= hysteresis_ws) {
        req->current.clear();
        failing_back.insert(key);
      } else {
        requeue_at(m->second.since + hysteresis_ws);
      }
    }
    // Replicas stuck Pending for lack of GPUs on a healthy member (the agent's report says
    // InsufficientGPU, Unschedulable, GPUsLost or NodeLost) for capacityPendingSeconds are
    // re-placed: the member keeps the replicas it serves, and the rest go to other clusters
    // first (it stays a last resort, so replicas are never dropped for having nowhere better).
    const auto stuck_limit = capacity_limit(policy);
    for (auto it = req->current.begin(); !failing_back.count(key) && it != req->current.end();) {
      const std::string& cluster = it->first;
      auto since = CapacityPendingSince(ws->status.raw, cluster);
      auto m = members.find(cluster);
      auto rep = reported[cluster].find(key);
      if (!since || m == members.end() || m->second.frozen() || rep == reported[cluster].end() ||
          !IsCapacityPending(rep->second)) {
        ++it;
        continue;
      }
      if (now - *since < stuck_limit) {
        requeue_at(*since + stuck_limit);
        ++it;
        continue;
      }
      const int serving = std::min(rep->second.available, it->second);
      capacity_moved[key][cluster] = it->second - serving;
      req->avoid.insert(cluster);
      if (serving > 0) {
        it->second = serving;
        ++it;
      } else {
        it = req->current.erase(it);
      }
    }
    requests.push_back(std::move(*req));
    request_objects.push_back(&obj);
  }
  // Every replica Berth has asked a member for holds its GPUs in the ledger: running ones
  // (the agent reports them as berthGpus, added back to free in the snapshot) and ones the
  // agent has not started yet alike, so the planner never hands the same GPUs out twice
  // and nothing depends on the order agent reports arrive in.
  // A surge in progress holds its extra GPUs too (update.maxSurge), so they are not handed
  // to another workspace while the new replicas start beside the old.
  std::map<std::string, std::map<std::string, int>> reserved_by;  // ws key → member → units
  std::map<std::string, std::map<std::string, int>> spare;        // member → gpu → units
  for (auto& cluster : snapshot.clusters) {
    std::map<std::string, int> used;  // node → reserved units
    auto w = works.find(cluster.name);
    json entries = w == works.end() ? json() : api::JsonPathGet(*w->second, "spec.workspaces");
    for (const auto& e : entries.is_array() ? entries : json::array()) {
      // A workspace failing back is decided afresh: its own replicas do not block it.
      if (failing_back.count(EntryKey(e))) continue;
      // An entry its workspace's status does not know about (the pass that wrote it failed
      // before the status write) is not running replicas the planner keeps: reserving it
      // would make the workspace compete with itself and move to a worse cluster.
      if (!StatusKnowsCluster(ws_by_key, EntryKey(e), cluster.name)) continue;
      const int surge = e.value("update", json::object()).value("maxSurge", 0);
      int pending_units = (e.value("replicas", 0) + surge) * e["gpu"].value("gpusPerReplica", 0);
      const std::string product = e["gpu"].value("product", "");
      const std::string profile = e["gpu"].value("migProfile", "");
      for (const auto& node : cluster.nodes) {
        if (pending_units <= 0) break;
        if (node.gpu_product != product || node.mig_profile != profile) continue;
        int take = std::min(pending_units, node.free_units - used[node.name]);
        if (take <= 0) continue;
        used[node.name] += take;
        pending_units -= take;
        reserved_by[EntryKey(e)][cluster.name] += take;
        snapshot.reservations.push_back({EntryKey(e), cluster.name, node.name, take});
      }
    }
    for (const auto& node : cluster.nodes) {
      const std::string gpu = node.mig_profile.empty() ? node.gpu_product : node.gpu_product + "/" + node.mig_profile;
      spare[cluster.name][gpu] += std::max(0, node.free_units - used[node.name]);
    }
  }

  auto planner = placement::Planner::Create(snapshot);
  if (!planner.ok()) return {planner.status().WithContext("placement snapshot"), std::nullopt};
  placement::DecideOptions decide;
  decide.explain = true;
  auto decisions = planner->PlanBatch(requests, decide);
  // Spare GPUs after this pass: what new allocations take beyond their reservations is gone.
  for (const auto& d : decisions) {
    for (const auto& a : d.allocations) {
      const int units = a.replicas * a.gpus_per_replica;
      spare[a.cluster][a.gpu] -= std::max(0, units - reserved_by[d.workspace][a.cluster]);
    }
  }
  std::map<std::string, WorkspaceRolloutResult> rollouts;  // ws key → this pass's rollout
  std::map<std::string, const placement::ClusterInventory*> inventory_by_name;
  for (const auto& c : snapshot.clusters) inventory_by_name[c.name] = &c;

  // Desired Work entries per member.
  std::map<std::string, std::map<std::string, json>> desired;
  std::map<std::string, std::vector<placement::Allocation>> allocations;  // ws key → kept allocs
  std::map<std::string, int> requested_by_key;
  std::map<std::string, int> split_dropped;  // ws key → replicas lost to a second GPU shape
  for (size_t i = 0; i < decisions.size(); ++i) {
    const json& obj = *request_objects[i];
    const std::string key = decisions[i].workspace;
    std::map<std::string, placement::Allocation> best;  // one GPU shape per cluster
    requested_by_key[key] = decisions[i].requested;
    for (const auto& a : decisions[i].allocations) {
      auto it = best.find(a.cluster);
      if (it == best.end()) {
        best[a.cluster] = a;
      } else {
        // One Work entry runs one GPU shape per member: keep the larger allocation.
        split_dropped[key] += std::min(a.replicas, it->second.replicas);
        if (a.replicas > it->second.replicas) it->second = a;
      }
    }
    // The rollout decides which revision each placed member runs.
    WorkspaceRolloutInput rin;
    rin.workspace = &obj;
    rin.now = now;
    rin.min_available = requests[i].policy ? requests[i].policy->min_available : 1;
    json inline_strategy = api::JsonPathGet(obj, "rollout.strategy");
    json strategy_ref = api::JsonPathGet(obj, "rollout.strategyRef.name");
    rin.strategy = policies::DefaultRolloutStrategy();
    rin.strategy_source = "default";
    if (inline_strategy.is_object()) {
      if (auto st = policies::ParseRolloutStrategySpec(inline_strategy, "rollout.strategy"); st.ok()) {
        rin.strategy = *st;
        rin.strategy_source = "inline";
      }
    } else if (strategy_ref.is_string()) {
      auto st = strategies.find(WsKey(api::NamespaceOf(obj), strategy_ref.get<std::string>()));
      if (st != strategies.end()) {
        rin.strategy = st->second;
        rin.strategy_source = strategy_ref.get<std::string>();
      } else {
        rin.strategy_source = strategy_ref.get<std::string>() + " (not found: the default strategy applies)";
      }
    }
    for (const auto& [cluster, a] : best) {
      PlacedMember pm;
      if (auto c = inventory_by_name.find(cluster); c != inventory_by_name.end()) pm.cluster = c->second;
      pm.replicas = a.replicas;
      pm.gpu = a.gpu;
      pm.gpus_per_replica = a.gpus_per_replica;
      pm.nodes_per_replica = a.nodes_per_replica;
      pm.spare_units = std::max(0, spare[cluster][a.gpu]);
      auto rep = reported[cluster].find(key);
      if (rep != reported[cluster].end()) pm.report = &rep->second;
      if (pm.cluster) rin.placed[cluster] = pm;
    }
    auto ro = ReconcileWorkspaceRollout(rin);
    if (!ro.ok()) {
      invalid[key] = ro.status().message();
      continue;
    }
    for (const auto& [cluster, dir] : ro->directives) spare[cluster][best[cluster].gpu] -= dir.surge_units;
    const WorkspaceRolloutResult& rollout = rollouts[key] = std::move(*ro);
    json trimmed = {{"apiVersion", obj["apiVersion"]}, {"kind", obj["kind"]},
                    {"metadata", {{"name", api::NameOf(obj)}, {"namespace", api::NamespaceOf(obj)},
                                  {"uid", api::UidOf(obj)}, {"generation", api::GenerationOf(obj)}}}};
    if (obj.contains("placement")) trimmed["placement"] = obj["placement"];
    for (const auto& [cluster, a] : best) {
      allocations[key].push_back(a);
      const std::string product = a.gpu.substr(0, a.gpu.find('/'));
      const std::string profile = a.gpu.find('/') == std::string::npos ? "" : a.gpu.substr(a.gpu.find('/') + 1);
      json gpu = {{"product", product}, {"migProfile", profile}, {"gpusPerReplica", a.gpus_per_replica},
                  {"nodesPerReplica", a.nodes_per_replica}};
      for (const auto& n : MemberNodes(*members[cluster].object)) {
        if (n.value("gpuProduct", "") == product && n.value("migProfile", "") == profile) {
          gpu["gfdProduct"] = n.value("gfdProduct", "");
          gpu["memoryGiB"] = n.value("memoryGiB", 0.0);
          gpu["gpusPerNode"] = n.value("gpus", 0);
          break;
        }
      }
      // The workspace as of the revision this member runs: a member still on the old
      // revision renders the old model/image while the rollout has not reached it.
      const MemberDirective& dir = rollout.directives.at(cluster);
      json ws_at_revision = trimmed;
      for (const char* f : {"resource", "inference"}) {
        if (dir.template_fields.contains(f)) ws_at_revision[f] = dir.template_fields[f];
      }
      json entry = {{"workspace", ws_at_revision}, {"replicas", a.replicas},
                    {"revision", dir.revision}, {"gpu", gpu}, {"update", dir.update}};
      if (!dir.pre_pull.is_null()) entry["prePull"] = dir.pre_pull;
      desired[cluster][key] = std::move(entry);
    }
  }

  // Make-before-break: an entry leaving a member stays until its replacements are Ready.
  std::map<std::string, std::vector<json>> superseded;  // ws key → {cluster, replicas, ready}
  for (auto& [member_name, view] : members) {
    const std::string& name = member_name;  // clang 14 cannot capture a structured binding
    if (view.frozen()) continue;
    auto w = works.find(name);
    if (w == works.end()) continue;
    json prev = api::JsonPathGet(*w->second, "spec.workspaces");
    if (!prev.is_array()) continue;
    for (const auto& e : prev) {
      const std::string key = EntryKey(e);
      if (desired[name].count(key) || !ws_by_key.count(key) || api::IsBeingDeleted(*ws_by_key[key])) continue;
      // Keep it until the new placement serves as many replicas as the workspace asks for
      // (or as it placed, if more): never trade serving replicas for unready ones.
      int want = 0, ready = 0;
      for (const auto& a : allocations[key]) {
        want += a.replicas;
        ready += std::min(a.replicas, reported[a.cluster][key].ready);
      }
      want = std::max(want, requested_by_key[key]);
      if (want > 0 && ready >= want) continue;  // replacements are serving: drop it here
      desired[name][key] = e;
      superseded[key].push_back({{"cluster", name}, {"replicas", e.value("replicas", 0)},
                                 {"readyReplicas", reported[name][key].available},
                                 {"reason", want == 0 ? "NoReplacement" : "ReplacementsNotReady"}});
    }
  }

  // Write Work objects that changed; frozen members keep theirs untouched.
  for (auto& [member_name, view] : members) {
    const std::string& name = member_name;  // clang 14 cannot capture a structured binding
    if (view.frozen()) continue;
    auto w = works.find(name);
    json prev_entries = w == works.end() ? json(nullptr) : api::JsonPathGet(*w->second, "spec.workspaces");
    const int64_t generation = w == works.end() ? 1 : api::JsonPathGet(*w->second, "spec.placementGeneration").get<int64_t>() + 1;
    // An entry keeps its entryGeneration while its content is unchanged; a new or changed
    // entry gets the generation this write will carry.
    std::map<std::string, json> prev_by_key;
    for (const auto& e : prev_entries.is_array() ? prev_entries : json::array()) prev_by_key[EntryKey(e)] = e;
    json entries = json::array();
    for (auto& [key, e] : desired[name]) {
      json entry = e;
      auto prev = prev_by_key.find(key);
      const bool same = prev != prev_by_key.end() && prev->second.contains("entryGeneration") &&
                        WhatRuns(prev->second) == WhatRuns(entry);
      entry["entryGeneration"] = same ? prev->second["entryGeneration"] : json(generation);
      entries.push_back(std::move(entry));
    }
    if (w != works.end() && prev_entries == entries) continue;
    json work = w == works.end() ? json{{"apiVersion", api::kApiVersion}, {"kind", "Work"}, {"metadata", {{"name", name}}}}
                                 : *w->second;
    work["spec"] = {{"cluster", name}, {"placementGeneration", generation}, {"workspaces", entries}};
    auto r = Write([&](ObjectCallback cb) {
      if (w == works.end()) {
        objects_.Create(works_kind, "", work, {}, cb);
      } else {
        objects_.Update(works_kind, "", name, work, {}, cb);
      }
    });
    if (!r.ok()) return {r.status().WithContext("writing Work " + name), std::nullopt};
  }
  for (auto& [work_name, w] : works) {
    const std::string& name = work_name;
    if (members.count(name)) continue;
    Write([&](ObjectCallback cb) { objects_.Delete(works_kind, "", name, {}, cb); });
  }

  // Workspace status. The writes are submitted together and awaited at the end of the pass:
  // the store commits what is queued in one transaction, so evacuating 1,000 workspaces
  // costs a few commits instead of 1,000 (each a disk sync).
  std::vector<std::pair<std::string, std::future<StatusOr<json>>>> status_writes;
  auto write_status = [&](const json& obj, json status, const std::string& key) {
    json current = obj.value("status", json::object());
    if (status == current) return;
    json next = obj;
    next["status"] = std::move(status);
    WriteOptions wo;
    wo.status = true;
    status_writes.emplace_back(key, WriteAsync([&](ObjectCallback cb) {
      objects_.Update(ws_kind, api::NamespaceOf(obj), api::NameOf(obj), std::move(next), wo, cb);
    }));
  };
  for (const auto& [key, why] : invalid) {
    const json& obj = *ws_by_key[key];
    json status = obj.value("status", json::object());
    json conds = status.value("conditions", json::array());
    SetCondition(conds, "Scheduled", false, "InvalidSpec", why, now, api::GenerationOf(obj));
    status["conditions"] = conds;
    write_status(obj, std::move(status), key);
  }
  for (size_t i = 0; i < decisions.size(); ++i) {
    const auto& d = decisions[i];
    const json& obj = *request_objects[i];
    const int64_t gen = api::GenerationOf(obj);
    auto ro = rollouts.find(d.workspace);
    if (ro == rollouts.end()) continue;  // invalid: handled above
    const WorkspaceRolloutResult& rollout = ro->second;
    json status = obj.value("status", json::object());
    json old_placements = status.value("placements", json::array());
    json placements = json::array();
    int ready_total = 0, desired_total = 0;
    int available_total = 0;  // serving now, any revision (an update under way included)
    bool applied = true;
    for (const auto& a : allocations[d.workspace]) {
      const bool has_report = reported[a.cluster].count(d.workspace) > 0;
      const Reported& r = reported[a.cluster][d.workspace];
      // Until the agent has answered a changed entry, what it last served still serves (its
      // pods are untouched until it acts); a member new to this workspace serves nothing yet.
      int available = std::min(r.available, a.replicas);
      if (!has_report) {
        for (const auto& p : old_placements) {
          if (p.value("cluster", "") == a.cluster) available = std::min(p.value("availableReplicas", 0), a.replicas);
        }
      }
      const int64_t revision = rollout.directives.at(a.cluster).revision;
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
        auto since = CapacityPendingSince(status, a.cluster);
        p["capacityPendingSince"] = FormatRfc3339(since ? *since : now);
        if (!since) requeue_at(now + capacity_limit(*requests[i].policy));
      }
      placements.push_back(p);
      desired_total += a.replicas;
      ready_total += current_rev ? std::min(r.ready, a.replicas) : 0;
      available_total += available;
      applied = applied && r.applied && current_rev;
    }
    int superseded_ready = 0;
    auto sup = superseded.find(d.workspace);
    if (sup != superseded.end()) {
      for (const auto& s : sup->second) superseded_ready += s.value("readyReplicas", 0);
    }
    status["placements"] = placements;
    if (sup != superseded.end() && !sup->second.empty()) {
      status["superseded"] = sup->second;
    } else {
      status.erase("superseded");
    }
    // Remember where replicas failed over from, until failback has decided again.
    json failed_from = failing_back.count(d.workspace) ? json::array() : status.value("failedOverFrom", json::array());
    for (const auto& p : old_placements) {
      const std::string c = p.value("cluster", "");
      bool still = false;
      for (const auto& a : allocations[d.workspace]) still = still || a.cluster == c;
      if (!still && evicted_unreachable[d.workspace].count(c) && requests[i].policy->failover.failback &&
          std::find(failed_from.begin(), failed_from.end(), c) == failed_from.end()) {
        failed_from.push_back(c);
      }
    }
    if (failed_from.empty()) {
      status.erase("failedOverFrom");
    } else {
      status["failedOverFrom"] = failed_from;
    }
    status["revision"] = rollout.target_revision;
    status["revisions"] = rollout.revisions;
    status["rollout"] = rollout.rollout;
    status["observedGeneration"] = gen;
    status["placementDecision"] = planner->ExplainJson(d);
    json conds = status.value("conditions", json::array());
    const int split = split_dropped.count(d.workspace) ? split_dropped[d.workspace] : 0;
    const bool scheduled = d.unplaced() == 0 && split == 0;
    std::string sched_reason = scheduled ? "Placed" : d.unplaced() > 0 ? d.unplaced_reason : "GpuShapesSplit";
    std::string sched_message =
        scheduled ? std::to_string(d.placed) + " of " + std::to_string(d.requested) + " replicas placed"
        : d.unplaced() > 0 ? d.unplaced_message
                           : std::to_string(split) + " replicas fit only on a second GPU shape of a member "
                             "that already runs this workspace on another; one shape per member is supported "
                             "today: narrow resource.gpuProducts or add capacity";
    SetCondition(conds, "Scheduled", scheduled, sched_reason, sched_message, now, gen);
    applied = applied && desired_total > 0;
    SetCondition(conds, "Applied", applied, applied ? "Applied" : "Applying",
                 applied ? "every member applied its Work" : "waiting for member agents to apply their Work", now, gen);
    const int min_available = requests[i].policy ? requests[i].policy->min_available : 1;
    const int want_available = std::max(1, std::min(d.requested, std::max(min_available, d.requested)));
    const int serving = available_total + superseded_ready;
    SetCondition(conds, "Available", serving >= want_available && serving > 0,
                 serving >= want_available ? "ReplicasReady" : "ReplicasNotReady",
                 std::to_string(serving) + " of " + std::to_string(d.requested) + " replicas ready", now, gen);
    const bool degraded = available_total < d.requested;
    SetCondition(conds, "Degraded", degraded, degraded ? (sup != superseded.end() ? "FailingOver" : "ReplicasNotReady") : "AllReplicasReady",
                 std::to_string(available_total) + " of " + std::to_string(d.requested) +
                     " replicas serving on their placed clusters (" + std::to_string(ready_total) +
                     " Ready on the revision each member runs)",
                 now, gen);
    SetCondition(conds, "RolloutProgressing", rollout.progressing, rollout.reason, rollout.message, now, gen);
    bool skipped = false;
    const std::string mixed = DescribeMixedRevisions(status["placements"], rollout.rollout, rollout.target_revision, &skipped);
    SetCondition(conds, "MixedRevisions", !mixed.empty(),
                 mixed.empty() ? "SingleRevision" : skipped ? "ClustersSkipped" : "RolloutInProgress",
                 mixed.empty() ? "every placed cluster runs revision " + std::to_string(rollout.target_revision) : mixed,
                 now, gen);
    status["conditions"] = conds;
    for (const auto& ev : rollout.events) {
      RecordEvent(obj, ev.type, ev.reason, ev.message);  // the message names its cluster
    }
    if (rollout.requeue_at) requeue_at(*rollout.requeue_at);

    // Events when the set of clusters changes.
    std::set<std::string> before, after;
    for (const auto& p : old_placements) before.insert(p.value("cluster", ""));
    for (const auto& p : placements) after.insert(p.value("cluster", ""));
    if (before != after && !after.empty()) {
      std::string where;
      for (const auto& p : placements) {
        where += (where.empty() ? "" : ", ") + std::to_string(p.value("replicas", 0)) + " on " + p.value("cluster", "");
      }
      bool failed_over = false;
      for (const auto& c : before) {
        if (!after.count(c) && evicted_unreachable[d.workspace].count(c)) failed_over = true;
      }
      for (const auto& [c, n] : capacity_moved[d.workspace]) {
        if (n > 0) where += "; " + std::to_string(n) + " replica(s) moved off " + c + " after waiting " +
                 std::to_string(capacity_limit(*requests[i].policy).count()) +
                 " s for GPUs there";
      }
      RecordEvent(obj, "Normal",
                  before.empty() ? "Placed" : failed_over ? "FailedOver" : failing_back.count(d.workspace) ? "FailedBack" : "Rescheduled",
                  where);
    }
    json old_sched = FindCondition(obj, "Scheduled");
    if (!scheduled && (!old_sched.is_object() || old_sched.value("status", "") != "False")) {
      RecordEvent(obj, "Warning", "Unschedulable", sched_message);
    }
    write_status(obj, std::move(status), d.workspace);
  }
  // Every write is awaited (none outlives the pass); the first failure fails the pass, which
  // is retried with backoff and recomputes from the store, so a lost race costs nothing.
  Status first_failure;
  for (auto& [key, f] : status_writes) {
    auto r = f.get();
    if (!r.ok() && first_failure.ok()) first_failure = r.status().WithContext("status of " + key);
  }
  if (!first_failure.ok()) return {first_failure, std::nullopt};
  return {Status::Ok(), requeue};
}

}  // namespace berth::hub
