#include "hub/controllers/fleet_controller.h"

#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/controllers/conditions.h"
#include "hub/controllers/desired_work.h"
#include "hub/controllers/failover_decisions.h"
#include "hub/controllers/gpu_ledger.h"
#include "hub/controllers/endpoint_drain.h"
#include "hub/controllers/endpoint_map.h"
#include "hub/controllers/make_before_break.h"
#include "hub/controllers/placement_requests.h"
#include "hub/controllers/snapshot.h"
#include "hub/controllers/work_diff.h"
#include "hub/controllers/work_reports.h"
#include "hub/event_object.h"
#include "hub/controllers/workspace_status.h"
#include "placement/planner.h"

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
    return WatchResource(objects_.store(), kind.resource(), std::move(on), watches_);
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
  for (const char* kind : {"Secret", "ConfigMap"}) {
    BERTH_RETURN_IF_ERROR(watch(KindOf(registry_, "v1", kind), [this, kind](const WatchEvent& e) {
      const std::string key = std::string(kind) + "/" + api::NamespaceOf(e.object) + "/" + api::NameOf(e.object);
      std::lock_guard<std::mutex> lock(referenced_mu_);
      if (referenced_keys_.count(key)) loop_.Enqueue("placement/fleet");
    }));
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
  const json ev = EventObject(object, type, reason, message, clock_.Now());
  const std::string ns = ev["metadata"]["namespace"];
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
  if (auto taints = StampNoExecuteTaints(*member, now)) {
    json obj = *member;
    obj["spec"]["taints"] = std::move(*taints);
    auto r = Write([&](ObjectCallback cb) { objects_.Update(members, "", name, obj, {}, cb); });
    if (!r.ok()) return {r.status(), std::nullopt};
    member = std::make_shared<const json>(std::move(*r));
  }
  HealthInput in;
  in.member = member.get();
  in.lease = lease.ok() ? &*lease : nullptr;
  in.settings = {options_.default_heartbeat_seconds, options_.default_missed_heartbeats, options_.toleration_seconds};
  in.started_at = started_at_;
  in.now = now;
  in.healthy_since = HealthySince(healthy_transitions_, name, FindCondition(*member, "Healthy"), now);
  const HealthDecision d = DecideMemberHealth(in);
  if (d.changed) {
    // A merge patch of the conditions only: the agent patches the inventory in the same
    // status concurrently, and an update with our resourceVersion would conflict with it.
    WriteOptions wo;
    wo.status = true;
    const std::string patch = json{{"status", {{"conditions", d.conditions}}}}.dump();
    auto r = Write([&](ObjectCallback cb) { objects_.Patch(members, "", name, PatchType::kMerge, patch, wo, cb); });
    if (!r.ok()) return {r.status(), std::nullopt};
    if (d.transitioned) {
      const json& written = FindCondition(*r, "Healthy");
      if (written.is_object()) healthy_transitions_[name] = {written.value("lastTransitionTime", ""), now};
    }
    if (d.announce) {
      RecordEvent(*r, d.healthy ? "Normal" : "Warning", d.healthy ? "MemberHealthy" : "MemberUnhealthy", d.message);
    }
    loop_.Enqueue("placement/fleet");
  }
  return {Status::Ok(), d.recheck_after};
}

// What one placement pass reads: members and Work from the informer caches, the rest listed.
struct FleetController::FleetState {
  std::vector<std::shared_ptr<const json>> members;            // by name
  std::map<std::string, std::shared_ptr<const json>> works;    // by member
  std::vector<json> workspaces, policies, strategies;
  std::map<std::string, json> referenced;  // "Kind/ns/name" → the Secret / ConfigMap (existing ones)
};

StatusOr<FleetController::FleetState> FleetController::ReadFleetState() {
  FleetState state;
  {
    std::lock_guard<std::mutex> lock(members_mu_);
    state.members.reserve(members_.size());
    for (const auto& [name, entry] : members_) state.members.push_back(entry.object);
  }
  {
    std::lock_guard<std::mutex> lock(works_mu_);
    state.works = works_;
  }
  Store& store = objects_.store();
  auto ws_list = store.List(KindOf(registry_, api::kApiVersion, "Workspace").resource(), {});
  auto policy_list = store.List(KindOf(registry_, api::kApiVersion, "PlacementPolicy").resource(), {});
  auto strategy_list = store.List(KindOf(registry_, api::kApiVersion, "RolloutStrategy").resource(), {});
  if (!ws_list.ok() || !policy_list.ok() || !strategy_list.ok()) {
    return Status::Unavailable("listing fleet state failed");
  }
  state.workspaces = std::move(ws_list->items);
  state.policies = std::move(policy_list->items);
  state.strategies = std::move(strategy_list->items);
  std::set<std::string> keys;
  for (const json& ws : state.workspaces) {
    for (auto& key : ReferenceKeys(ws)) keys.insert(std::move(key));
  }
  for (const std::string& key : keys) {
    const size_t a = key.find('/'), b = key.find('/', a + 1);
    const api::KindInfo& kind = KindOf(registry_, "v1", key.substr(0, a) == "Secret" ? "Secret" : "ConfigMap");
    auto obj = store.Get({kind.resource(), key.substr(a + 1, b - a - 1), key.substr(b + 1)});
    if (obj.ok()) {
      state.referenced[key] = std::move(*obj);
    } else if (obj.status().code() != StatusCode::kNotFound) {
      return Status::Unavailable("reading " + key + " failed: " + obj.status().message());
    }
  }
  {
    std::lock_guard<std::mutex> lock(referenced_mu_);
    referenced_keys_ = std::move(keys);
  }
  return state;
}

// Each member's phase, and the placement engine's view of the fleet. An unreachable member is
// modelled like Kubernetes models an unreachable node: a NoExecute taint, which each
// workspace tolerates for its policy's failover toleration (failover_decisions.h).
placement::FleetSnapshot FleetController::BuildSnapshot(const FleetState& state, Clock::TimePoint now,
                                                        std::map<std::string, MemberView>& members, WakeUp& wake) {
  const auto toleration = std::chrono::seconds(options_.toleration_seconds);
  const auto hysteresis = std::chrono::seconds(options_.failback_hysteresis_seconds);
  placement::FleetSnapshot snapshot;
  snapshot.latencies = options_.region_latencies;
  for (const auto& member : state.members) {
    MemberView v = MemberPhaseOf(*member, healthy_transitions_, toleration, hysteresis, now, wake);
    const bool known = v.phase != MemberPhase::kNew;
    CachedInventory& cached = inventories_[api::NameOf(*member)];
    if (cached.object != member || cached.healthy != known) cached = {member, known, InventoryFromMember(*member, known)};
    placement::ClusterInventory inv = cached.inventory;
    if (v.frozen()) inv.taints.push_back(UnreachableTaint());
    snapshot.clusters.push_back(std::move(inv));
    members[api::NameOf(*member)] = v;
  }
  std::erase_if(inventories_, [&](const auto& kv) { return !members.count(kv.first); });
  return snapshot;
}

// Everything the writes of one pass need, computed by the stages.
struct FleetController::PassResult {
  const FleetState* state = nullptr;
  const std::map<std::string, MemberView>* members = nullptr;
  const MemberReports* reported = nullptr;
  const PlacementRequests* requests = nullptr;
  const std::vector<placement::PlacementDecision>* decisions = nullptr;
  const placement::Planner* planner = nullptr;
  const DesiredWork* desired = nullptr;
  const Superseded* superseded = nullptr;
  const std::map<std::string, std::vector<EndpointSource>>* endpoints = nullptr;  // by workspace key
};

// Entries leaving healthy members drain first (endpoint_drain.h); they show as superseded.
Draining FleetController::DrainEndpoints(const FleetState& state, const std::map<std::string, MemberView>& members,
                                         const PlacementRequests& requests, const MemberReports& reported,
                                         Clock::TimePoint now, DesiredWork& desired, Superseded& superseded,
                                         WakeUp& wake) {
  const FailoverDefaults defaults = failover_defaults();
  std::map<std::string, const policies::PlacementPolicySpec*> policy_of;
  for (const auto& r : requests.requests) policy_of[r.workspace] = r.policy.get();
  DrainInput in;
  in.members = &members;
  in.works = &state.works;
  in.workspaces = &requests.by_key;
  in.reported = &reported;
  in.grace = [&](const std::string& key) {
    auto p = policy_of.find(key);
    return p == policy_of.end() || !p->second ? std::chrono::seconds(defaults.drain_seconds)
                                              : DrainGrace(*p->second, defaults);
  };
  in.now = now;
  Draining draining = DrainBeforeRemoval(in, desired, wake);
  for (const auto& [key, list] : draining) {
    for (const auto& d : list) {
      superseded[key].push_back({{"cluster", d.cluster}, {"replicas", d.replicas}, {"readyReplicas", d.available},
                                 {"reason", "Draining"}, {"drainingUntil", FormatRfc3339(d.until)}});
    }
  }
  return draining;
}

ReconcileResult FleetController::ReconcilePlacement() {
  const auto now = clock_.Now();
  auto state = ReadFleetState();
  if (!state.ok()) return {state.status(), std::nullopt};
  WakeUp wake;
  std::map<std::string, MemberView> members;
  placement::FleetSnapshot snapshot = BuildSnapshot(*state, now, members, wake);
  MemberReports reported;
  for (const auto& [name, w] : state->works) reported[name] = ReportedByWorkspace(*w);
  const placement::PolicyCatalog policies = PoliciesFrom(state->policies);

  PlacementRequestsInput request_input;
  request_input.workspaces = &state->workspaces;
  request_input.policies = &policies;
  request_input.members = &members;
  request_input.reported = &reported;
  request_input.referenced = &state->referenced;
  request_input.defaults = failover_defaults();
  request_input.now = now;
  PlacementRequests requests = BuildPlacementRequests(request_input);
  wake.Merge(requests.wake);

  GpuLedger ledger = ReserveGpus(snapshot, state->works, requests.failover.failing_back,
                                 [&](const std::string& key, const std::string& member) {
                                   auto ws = requests.by_key.find(key);
                                   return StatusKnowsMember(ws == requests.by_key.end() ? nullptr : ws->second, member);
                                 });
  auto planner = placement::Planner::Create(std::move(snapshot));
  if (!planner.ok()) return {planner.status().WithContext("placement snapshot"), std::nullopt};
  placement::DecideOptions decide;
  decide.explain = true;
  const auto decisions = planner->PlanBatch(requests.requests, decide);
  ledger.TakeAllocations(decisions);

  const auto strategies = StrategiesFrom(state->strategies);
  DesiredWorkInput desired_input;
  desired_input.decisions = &decisions;
  desired_input.requests = &requests.requests;
  desired_input.objects = &requests.effective;
  desired_input.resolved = &requests.resolved;
  desired_input.strategies = &strategies;
  desired_input.snapshot = &planner->snapshot();
  desired_input.members = &members;
  desired_input.reported = &reported;
  desired_input.now = now;
  DesiredWork desired = BuildDesiredWork(desired_input, ledger);
  requests.invalid.insert(desired.invalid.begin(), desired.invalid.end());
  Superseded superseded = KeepUntilReplaced(members, state->works, requests.by_key, reported, desired);
  const Draining draining = DrainEndpoints(*state, members, requests, reported, now, desired, superseded, wake);
  const auto endpoints = EndpointSources(members, state->works, desired.entries, reported, draining);

  PassResult pass{&*state, &members, &reported, &requests, &decisions, &*planner, &desired, &superseded, &endpoints};
  if (Status s = WriteWork(pass); !s.ok()) return {s, std::nullopt};
  if (Status s = WriteStatuses(pass, now, wake); !s.ok()) return {s, std::nullopt};
  std::optional<Clock::Duration> requeue = options_.resync;
  if (wake.at) {
    const auto d = std::chrono::duration_cast<Clock::Duration>(*wake.at - now) + std::chrono::milliseconds(10);
    if (!requeue || d < *requeue) requeue = d;
  }
  return {Status::Ok(), requeue};
}

// Writes the Work objects that changed; frozen members keep theirs untouched. A failed
// create or update fails the pass (it is retried and recomputed); deletes are best effort.
Status FleetController::WriteWork(const PassResult& pass) {
  const auto& works_kind = KindOf(registry_, api::kApiVersion, "Work");
  for (const WorkWrite& w : DiffWork(*pass.members, pass.state->works, pass.desired->entries)) {
    auto r = Write([&](ObjectCallback cb) {
      switch (w.op) {
        case WorkWrite::Op::kCreate:
          objects_.Create(works_kind, "", w.object, {}, cb);
          break;
        case WorkWrite::Op::kUpdate: {
          // Unconditional: the hub is the only writer of a Work's spec and a main-resource
          // update never touches status, so an agent's status report in between (every few
          // seconds with serving signals) must not fail the pass with a 409.
          json unconditional = w.object;
          if (unconditional.contains("metadata")) unconditional["metadata"].erase("resourceVersion");
          objects_.Update(works_kind, "", w.member, std::move(unconditional), {}, cb);
          break;
        }
        case WorkWrite::Op::kDelete:
          objects_.Delete(works_kind, "", w.member, {}, cb);
          break;
      }
    });
    if (!r.ok() && w.op != WorkWrite::Op::kDelete) return r.status().WithContext("writing Work " + w.member);
  }
  return Status::Ok();
}

// Workspace status and events. The writes are submitted together and awaited at the end: the
// store commits what is queued in one transaction, so evacuating 1,000 workspaces costs a few
// commits instead of 1,000 (each a disk sync). Every write is awaited (none outlives the
// pass); the first failure fails the pass, which is retried with backoff and recomputes from
// the store, so a lost race costs nothing.
Status FleetController::WriteStatuses(const PassResult& pass, Clock::TimePoint now, WakeUp& wake) {
  const auto& ws_kind = KindOf(registry_, api::kApiVersion, "Workspace");
  std::vector<std::pair<std::string, std::future<StatusOr<json>>>> writes;
  auto write = [&](const json& obj, json status, const std::string& key) {
    if (status == obj.value("status", json::object())) return;
    json next = obj;
    next["status"] = std::move(status);
    WriteOptions wo;
    wo.status = true;
    writes.emplace_back(key, WriteAsync([&](ObjectCallback cb) {
      objects_.Update(ws_kind, api::NamespaceOf(obj), api::NameOf(obj), std::move(next), wo, cb);
    }));
  };
  const PlacementRequests& requests = *pass.requests;
  for (const auto& [key, why] : requests.invalid) {
    const json& obj = *requests.by_key.at(key);
    write(obj, InvalidWorkspaceStatus(obj, why, now), key);
  }
  const FailoverDefaults defaults = failover_defaults();
  for (size_t i = 0; i < pass.decisions->size(); ++i) {
    const placement::PlacementDecision& d = (*pass.decisions)[i];
    auto rollout = pass.desired->rollouts.find(d.workspace);
    if (rollout == pass.desired->rollouts.end()) continue;  // invalid: written above
    WorkspaceStatusInput in;
    in.workspace = requests.objects[i];
    in.decision = &d;
    in.rollout = &rollout->second;
    if (auto a = pass.desired->allocations.find(d.workspace); a != pass.desired->allocations.end()) in.allocations = a->second;
    in.reported = pass.reported;
    if (auto s = pass.superseded->find(d.workspace); s != pass.superseded->end()) in.superseded = s->second;
    in.policy = requests.requests[i].policy.get();
    in.failing_back = requests.failover.failing_back.count(d.workspace) > 0;
    if (auto e = requests.failover.evicted_unreachable.find(d.workspace); e != requests.failover.evicted_unreachable.end()) {
      in.evicted_unreachable = e->second;
    }
    if (auto c = requests.failover.capacity_moved.find(d.workspace); c != requests.failover.capacity_moved.end()) {
      in.capacity_moved = c->second;
    }
    if (auto s = pass.desired->split_dropped.find(d.workspace); s != pass.desired->split_dropped.end()) in.split_dropped = s->second;
    in.capacity_limit = CapacityPendingLimit(*in.policy, defaults);
    in.placement_decision = pass.planner->ExplainJson(d);
    if (auto r = requests.resolved.find(d.workspace); r != requests.resolved.end()) in.references = &r->second;
    if (auto e = pass.endpoints->find(d.workspace); e != pass.endpoints->end()) in.endpoints = &e->second;
    if (auto a = requests.autoscaled.find(d.workspace); a != requests.autoscaled.end()) in.autoscale = &a->second;
    in.now = now;
    WorkspaceStatusResult result = AggregateWorkspaceStatus(in);
    for (const FleetEvent& ev : result.events) RecordEvent(*ev.object, ev.type, ev.reason, ev.message);
    wake.Merge(result.wake);
    write(*in.workspace, std::move(result.status), d.workspace);
  }
  Status first_failure;
  for (auto& [key, f] : writes) {
    auto r = f.get();
    if (!r.ok() && first_failure.ok()) first_failure = r.status().WithContext("status of " + key);
  }
  return first_failure;
}

}  // namespace berth::hub
