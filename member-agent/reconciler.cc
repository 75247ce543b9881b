#include "member-agent/reconciler.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "member-agent/prepull.h"
#include "member-agent/update_plan.h"
#include "workspace/renderer.h"
#include "workspace/workspace_types.h"

namespace berth::agent {

using nlohmann::json;

std::string ObjectHash(const json& object) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : object.dump()) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

double Rounded(double v) { return std::round(v * 1e4) / 1e4; }

// |a - b| >= share × max(|a|, floor), a and b read as numbers (absent: 0).
bool MovedBy(const json& a, const json& b, double share, double floor) {
  const double x = a.is_number() ? a.get<double>() : 0;
  const double y = b.is_number() ? b.get<double>() : 0;
  return std::abs(x - y) >= share * std::max(std::abs(x), floor);
}

}  // namespace

json ServingReport(const ServingSignals& s) {
  json report = {
      {"requestsPerSecond", Rounded(s.requests_per_second)},
      {"running", s.running},
      {"waiting", s.waiting},
      {"kvCacheUsage", Rounded(s.kv_cache_usage)},
      {"ttftSeconds",
       {{"p50", Rounded(s.ttft_p50)}, {"p90", Rounded(s.ttft_p90)}, {"p99", Rounded(s.ttft_p99)}}},
      {"latencySeconds",
       {{"p50", Rounded(s.latency_p50)},
        {"p90", Rounded(s.latency_p90)},
        {"p99", Rounded(s.latency_p99)}}},
      {"capacity", s.capacity}};
  if (s.error_rate) report["errorRate"] = Rounded(*s.error_rate);
  return report;
}

bool ServingMoved(const json& reported, const json& now) {
  if (!reported.is_object()) return true;
  for (const char* k : {"running", "waiting"}) {
    const double a = reported.value(k, 0.0), b = now.value(k, 0.0);
    if (std::abs(a - b) >= 1 && std::abs(a - b) >= 0.1 * a) return true;
  }
  if (reported.value("capacity", json(0)) != now.value("capacity", json(0))) return true;
  if (std::abs(reported.value("kvCacheUsage", 0.0) - now.value("kvCacheUsage", 0.0)) >= 0.05)
    return true;
  // Errors appearing or going, or moving by half a percentage point (a gate reads them).
  if (reported.contains("errorRate") != now.contains("errorRate")) return true;
  if (std::abs(reported.value("errorRate", 0.0) - now.value("errorRate", 0.0)) >= 0.005) return true;
  if (MovedBy(reported.value("requestsPerSecond", json(0)), now.value("requestsPerSecond", json(0)),
              0.1, 0.1))
    return true;
  for (const char* group : {"ttftSeconds", "latencySeconds"}) {
    const json a = reported.value(group, json::object()), b = now.value(group, json::object());
    for (const char* p : {"p50", "p90", "p99"}) {
      if (MovedBy(a.value(p, json(0)), b.value(p, json(0)), 0.1, 0.001)) return true;
    }
  }
  return false;
}

namespace {

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

// Our fields of Work.status (the hub may add others; we compare and write only these).
json OurStatusFields(const json& status) {
  json out = json::object();
  if (!status.is_object()) return out;
  for (const char* k : {"observedPlacementGeneration", "workspaces", "conditions"}) {
    if (auto it = status.find(k); it != status.end()) out[k] = *it;
  }
  return out;
}

// The workspace's objects for this member as the agent applies them: rendered for the entry's
// assignment, labelled managed-by and workspace, StatefulSets annotated with the model and its
// weights (the sim's startup and serving models read them).
StatusOr<std::vector<json>> RenderForMember(const workspace::Workspace& ws, const std::string& ns,
                                            const std::string& name, int replicas, int64_t revision,
                                            const json& gpu, const std::vector<json>& references) {
  workspace::ClusterAssignment assignment;
  assignment.replicas = replicas;
  assignment.revision = revision;
  assignment.namespace_ = ns;
  assignment.shape.product = gpu.value("product", std::string());
  assignment.label_selector_honoured =
      gpu.value("labelSelector", std::string()) != "NoMatchingNodes";
  assignment.shape.memory_gib = gpu.value("memoryGiB", 0.0);
  assignment.shape.gpus_per_node = gpu.value("gpusPerNode", 1);
  assignment.shape.mig_profile = gpu.value("migProfile", std::string());
  assignment.gfd_product = gpu.value("gfdProduct", std::string());
  assignment.references = references;
  auto rendered = workspace::RenderWorkspace(ws, assignment);
  if (!rendered.ok()) return rendered.status();
  std::vector<json> objects;
  for (json obj : rendered->objects) {
    json& meta = obj["metadata"];
    meta["labels"][kManagedByLabel] = kManagedByValue;
    meta["labels"][kWorkspaceLabel] = name;
    if (obj.value("kind", "") == "StatefulSet") {
      meta["annotations"][kWeightsGibAnnotation] = std::to_string(ws.model.weights_gib);
      meta["annotations"][kModelAnnotation] =
          ws.model.preset.empty() ? ws.model.hf_id : ws.model.preset;
    }
    objects.push_back(std::move(obj));
  }
  return objects;
}

}  // namespace

Reconciler::Reconciler(MemberBackend* backend, HubApi* hub, const AgentStateDir* state,
                       const Clock* clock, ReconcilerOptions options)
    : backend_(backend),
      hub_(hub),
      state_(state),
      clock_(clock),
      options_(std::move(options)),
      queue_(clock, options_.backoff_base, options_.backoff_cap) {}

void Reconciler::LoadPersisted() {
  if (!state_) return;
  auto work = state_->LoadAppliedWork();
  if (!work) return;
  std::lock_guard<std::mutex> lock(mu_);
  AcceptWorkLocked(*work, /*from_hub=*/false);
  spdlog::info("loaded the last applied Work (placementGeneration {}, {} workspaces) from {}",
               generation_, desired_.size(), state_->dir());
}

bool Reconciler::ObserveWork(const json& work) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t gen = work.value("/spec/placementGeneration"_json_pointer, int64_t{0});
  if (gen < generation_) {
    ++stats_.fenced_works;
    spdlog::warn("ignoring Work with placementGeneration {}: generation {} was already applied",
                 gen, generation_);
    // The Work exists, and its status is still ours to keep right.
    work_exists_at_hub_ = true;
    hub_status_ = OurStatusFields(work.value("status", json::object()));
    return false;
  }
  return AcceptWorkLocked(work, /*from_hub=*/true);
}

bool Reconciler::AcceptWorkLocked(const json& work, bool from_hub) {
  const json spec = work.value("spec", json::object());
  int64_t gen = spec.value("placementGeneration", int64_t{0});
  std::map<std::string, DesiredWorkspace> next;
  for (const auto& item : spec.value("workspaces", json::array())) {
    DesiredWorkspace d;
    d.workspace = item.value("workspace", json::object());
    d.replicas = item.value("replicas", 1);
    d.revision = item.value("revision", int64_t{1});
    d.gpu = item.value("gpu", json::object());
    d.update = item.value("update", json());
    d.pre_pull = item.value("prePull", json());
    if (auto refs = item.find("references"); refs != item.end() && refs->is_array()) {
      d.references.assign(refs->begin(), refs->end());
    }
    if (auto g = item.find("entryGeneration"); g != item.end() && g->is_number_integer())
      d.entry_generation = g->get<int64_t>();
    std::string name = d.workspace.value("/metadata/name"_json_pointer, std::string());
    std::string ns = d.workspace.value("/metadata/namespace"_json_pointer, std::string());
    if (ns.empty()) ns = "default";
    if (name.empty()) {
      spdlog::warn("Work entry without workspace.metadata.name skipped");
      continue;
    }
    next[Key(ns, name)] = std::move(d);
  }
  // Queue what changed (new, changed, removed); unchanged keys wait for the resync.
  for (const auto& [key, d] : next) {
    auto old = desired_.find(key);
    if (old == desired_.end() || !(old->second == d)) {
      queue_.Add(key, /*urgent=*/true);
    }
  }
  for (const auto& [key, d] : desired_) {
    if (!next.count(key)) queue_.Add(key, /*urgent=*/true);
  }
  desired_ = std::move(next);
  generation_ = gen;
  authoritative_ = true;
  if (from_hub) {
    work_exists_at_hub_ = true;
    hub_status_ = OurStatusFields(work.value("status", json::object()));
    for (const auto& e : hub_status_.value("workspaces", json::array())) {
      std::string key = Key(e.value("namespace", "default"), e.value("name", ""));
      auto& t = transitions_[key];
      if (t.phase.empty()) t = {e.value("phase", ""), e.value("lastTransitionTime", "")};
    }
    for (const auto& c : hub_status_.value("conditions", json::array())) {
      auto& t = transitions_["#" + c.value("type", "")];
      if (t.phase.empty()) t = {c.value("status", ""), c.value("lastTransitionTime", "")};
    }
  }
  if (state_ && spec != applied_spec_) {
    json persisted = {{"metadata", {{"name", options_.cluster}}}, {"spec", spec}};
    if (Status s = state_->StoreAppliedWork(persisted); !s.ok()) {
      spdlog::error("cannot persist the applied Work: {}", s.ToString());
    }
  }
  applied_spec_ = spec;
  return true;
}

void Reconciler::ObserveNoWork() {
  std::lock_guard<std::mutex> lock(mu_);
  json spec = {{"placementGeneration", std::max<int64_t>(generation_, 0)},
               {"workspaces", json::array()}};
  AcceptWorkLocked({{"spec", spec}}, /*from_hub=*/false);
  work_exists_at_hub_ = false;
  hub_status_ = json::object();
}

Status Reconciler::Resync() {
  bool authoritative;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, d] : desired_) queue_.Add(key);
    authoritative = authoritative_;
  }
  if (!authoritative) return Status::Ok();  // nothing may be pruned yet
  auto managed = backend_->ListManaged("", "");
  if (!managed.ok()) return managed.status();
  for (const auto& m : *managed) {
    if (!m.workspace.empty()) queue_.Add(Key(m.key.namespace_, m.workspace));
  }
  return Status::Ok();
}

void Reconciler::RequeueAllNow() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, d] : desired_) queue_.Add(key, /*urgent=*/true);
}

int Reconciler::ProcessReady() {
  int processed = 0;
  while (auto key = queue_.PopReady()) {
    ++processed;
    auto [ns, name] = SplitKey(*key);
    std::optional<DesiredWorkspace> desired;
    bool authoritative;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = desired_.find(*key); it != desired_.end()) desired = it->second;
      authoritative = authoritative_;
    }
    if (!desired && !authoritative) continue;
    Outcome out = desired ? ReconcileDesired(ns, name, *desired) : ReconcileUndesired(ns, name);

    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.reconciles;
    // The desired state may have changed while we worked; the change queued the key again.
    bool still_desired = desired_.count(*key) > 0;
    if (out.entry.is_null() || !still_desired) {
      entries_.erase(*key);
    } else {
      auto& t = transitions_[*key];
      std::string phase = out.entry.value("phase", "");
      if (t.phase != phase) t = {phase, FormatRfc3339(clock_->Now())};
      entries_[*key] = out.entry;
    }
    if (out.retry) {
      ++stats_.reconcile_errors;
      queue_.AddAfterFailure(*key);
    } else {
      queue_.Forget(*key);
      if (out.recheck) queue_.AddAfter(*key, options_.not_ready_recheck);
      if (out.poll_serving) queue_.AddAfter(*key, options_.serving_recheck);
    }
  }
  return processed;
}

Reconciler::Outcome Reconciler::ReconcileDesired(const std::string& ns, const std::string& name,
                                                 const DesiredWorkspace& desired) {
  Outcome out;
  json entry = {{"name", name},
                {"namespace", ns},
                {"revision", desired.revision},
                {"applied", false},
                {"replicas", desired.replicas},
                {"readyReplicas", 0},
                {"updatedReplicas", 0},
                {"availableReplicas", 0},
                {"surgeReplicas", 0},
                {"failures", 0},
                {"endpoint", "http://" + name + "." + ns + ".svc:80"}};
  // The hub trusts this report only for the entry it was made from (per-entry fencing).
  if (desired.entry_generation) entry["observedEntryGeneration"] = *desired.entry_generation;
  auto fail = [&](const std::string& reason, const std::string& message, bool retry) {
    entry["phase"] = "Failed";
    entry["reason"] = reason;
    entry["message"] = message;
    out.entry = entry;
    out.retry = retry;
    return out;
  };

  auto ws = workspace::ParseWorkspace(desired.workspace);
  if (!ws.ok()) return fail("InvalidWorkspace", ws.status().ToString(), false);
  auto update = ParseUpdateSpec(desired.update, desired.replicas);
  if (!update.ok()) return fail("InvalidWorkEntry", update.status().ToString(), false);
  auto pre_pull = ParsePrePull(desired.pre_pull);
  if (!pre_pull.ok()) {
    // The pre-pull can never start: say so in its own field too, so the hub stops waiting.
    const json rev =
        desired.pre_pull.is_object() ? desired.pre_pull.value("revision", json()) : json();
    entry["prePull"] = PrePullReport{rev.is_number_integer() ? rev.get<int64_t>() : 0, "Failed",
                                     "InvalidWorkEntry", pre_pull.status().ToString()}
                           .ToJson();
    return fail("InvalidWorkEntry", pre_pull.status().ToString(), false);
  }
  auto rendered = RenderForMember(*ws, ns, name, desired.replicas, desired.revision, desired.gpu,
                                  desired.references);
  if (!rendered.ok()) return fail("RenderFailed", rendered.status().ToString(), false);
  std::vector<json> objects = std::move(*rendered);
  std::string pre_pull_note;
  std::optional<PrePullReport> pre_pull_failed;  // the DaemonSet could not be rendered
  if (*pre_pull) {
    auto ds = RenderPrePullDaemonSet(name, ns, **pre_pull, desired.gpu);
    if (ds.ok()) {
      objects.push_back(std::move(*ds));
    } else {
      pre_pull_note = "prePull skipped: " + ds.status().ToString();
      pre_pull_failed =
          PrePullReport{(*pre_pull)->revision, "Failed", "RenderFailed", ds.status().ToString()};
    }
  }

  auto live = backend_->ListManaged(ns, name);
  if (!live.ok()) return fail("ApplyFailed", live.status().ToString(), true);
  auto unavailable = [&](const Status& s) {
    entry["phase"] = "Pending";
    entry["reason"] = "StatusUnavailable";
    entry["message"] = "cannot read workload status: " + s.ToString();
    out.entry = entry;
    out.retry = true;
    return out;
  };
  // The update plan decides from what runs now, so read it before writing anything.
  auto observed = backend_->ReadWorkload(ns, name);
  if (!observed.ok()) return unavailable(observed.status());
  UpdatePlan plan = PlanUpdate(name, desired.revision, desired.replicas, *update,
                               std::move(objects), *live, *observed);
  for (json& obj : plan.objects) {
    obj["metadata"]["annotations"][kAppliedHashAnnotation] = ObjectHash(obj);
  }
  auto writes = SyncObjects(*live, plan.objects, plan.held, ns, name);
  if (!writes.ok()) return fail("ApplyFailed", writes.status().ToString(), true);
  entry["applied"] = true;

  if (*writes > 0) {
    observed = backend_->ReadWorkload(ns, name);
    if (!observed.ok()) return unavailable(observed.status());
  }
  WorkspaceReadiness r =
      SummarizeWorkload(name, *observed, desired.replicas, desired.revision);
  std::string message = r.message;
  for (const std::string* note : {&plan.note, &pre_pull_note}) {
    if (!note->empty()) message += "; " + *note;
  }
  entry["readyReplicas"] = r.ready_replicas;
  entry["updatedReplicas"] = r.updated_replicas;
  entry["availableReplicas"] = r.available_replicas;
  entry["surgeReplicas"] = r.surge_replicas;
  entry["failures"] = r.failures;
  entry["phase"] = r.phase;
  entry["reason"] = r.reason;
  entry["message"] = message;
  out.poll_serving = ReportServing(ns, name, entry) && r.phase == "Ready";
  bool pre_pull_done = true;
  if (*pre_pull) {
    PrePullReport report;
    if (pre_pull_failed) {
      report = *pre_pull_failed;
    } else if (auto state = backend_->ReadPrePull(ns, name); state.ok()) {
      report = SummarizePrePull(name, **pre_pull, *state);
    } else {
      report = {(*pre_pull)->revision, "Pulling", "StatusUnavailable",
                "cannot read the pre-pull's state: " + state.status().ToString()};
    }
    // Failed is looked at again too: a registry that comes back turns it into Pulling.
    pre_pull_done = report.phase == "Done";
    entry["prePull"] = report.ToJson();
  }
  out.entry = entry;
  // Look again soon while anything is still moving: not Ready, or Ready but with pods of
  // another revision or a surge StatefulSet left to clean up, or a pre-pull not done.
  out.recheck = r.phase != "Ready" || r.updated_replicas < desired.replicas ||
                r.surge_replicas > 0 || plan.surge_replicas > 0 || !plan.held.empty() ||
                !pre_pull_done;
  return out;
}

bool Reconciler::ReportServing(const std::string& ns, const std::string& name, json& entry) {
  auto state = backend_->ReadServing(ns, name);
  if (!state.ok()) {
    spdlog::debug("serving state of {}/{}: {}", ns, name, state.status().ToString());
    return false;
  }
  if (!state->url.empty()) entry["endpoint"] = state->url;
  if (!state->signals) return false;
  json now = ServingReport(*state->signals);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(Key(ns, name));
  const json reported = it == entries_.end() ? json() : it->second.value("serving", json());
  entry["serving"] = ServingMoved(reported, now) ? std::move(now) : reported;
  return true;
}

StatusOr<int> Reconciler::SyncObjects(const std::vector<ManagedObject>& live_objects,
                                      const std::vector<json>& objects,
                                      const std::set<ObjectKey>& held, const std::string& ns,
                                      const std::string& name) {
  std::map<ObjectKey, std::string> live;
  for (const auto& m : live_objects) live[m.key] = m.applied_hash;
  std::set<ObjectKey> wanted = held;
  int writes = 0;
  for (const auto& obj : objects) {
    ObjectKey key = KeyOf(obj);
    wanted.insert(key);
    std::string hash = obj["metadata"]["annotations"][kAppliedHashAnnotation];
    auto it = live.find(key);
    if (it != live.end() && it->second == hash) continue;  // already as desired
    BERTH_RETURN_IF_ERROR(backend_->Apply(obj).WithContext("apply " + key.ToString()));
    ++writes;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.backend_applies;
  }
  for (const auto& [key, hash] : live) {
    if (wanted.count(key)) continue;
    BERTH_RETURN_IF_ERROR(backend_->Delete(key).WithContext("delete " + key.ToString()));
    ++writes;
    spdlog::info("deleted {} (no longer rendered for workspace {}/{})", key.ToString(), ns, name);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.backend_deletes;
  }
  return writes;
}

Reconciler::Outcome Reconciler::ReconcileUndesired(const std::string& ns, const std::string& name) {
  Outcome out;  // entry stays null: the workspace leaves the status
  auto existing = backend_->ListManaged(ns, name);
  if (!existing.ok()) {
    out.retry = true;
    return out;
  }
  for (const auto& m : *existing) {
    if (Status s = backend_->Delete(m.key); !s.ok()) {
      spdlog::warn("prune {}: {}", m.key.ToString(), s.ToString());
      out.retry = true;
      continue;
    }
    spdlog::info("pruned {} (workspace {}/{} is no longer in this member's Work)", m.key.ToString(),
                 ns, name);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.backend_deletes;
  }
  return out;
}

json Reconciler::BuildStatusLocked() const {
  json workspaces = json::array();
  std::vector<std::string> not_applied;
  int applied = 0;
  for (const auto& [key, d] : desired_) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      not_applied.push_back(key);
      continue;
    }
    json e = it->second;
    if (auto t = transitions_.find(key); t != transitions_.end())
      e["lastTransitionTime"] = t->second.time;
    if (e.value("applied", false)) {
      ++applied;
    } else {
      not_applied.push_back(key);
    }
    workspaces.push_back(std::move(e));
  }
  json cond = {{"type", "Applied"}};
  if (not_applied.empty()) {
    cond["status"] = "True";
    cond["reason"] = "AllApplied";
    cond["message"] =
        std::to_string(applied) + " of " + std::to_string(desired_.size()) + " workspaces applied";
  } else {
    std::string names;
    for (const auto& k : not_applied) names += (names.empty() ? "" : ", ") + k;
    cond["status"] = "False";
    cond["reason"] = "ApplyFailed";
    cond["message"] = "not applied: " + names + " (see the workspace entries)";
  }
  auto t = transitions_.find("#Applied");
  cond["lastTransitionTime"] = (t != transitions_.end() && t->second.phase == cond["status"])
                                   ? t->second.time
                                   : FormatRfc3339(clock_->Now());
  return {{"observedPlacementGeneration", std::max<int64_t>(generation_, 0)},
          {"workspaces", workspaces},
          {"conditions", json::array({cond})}};
}

json Reconciler::CurrentStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  return BuildStatusLocked();
}

Status Reconciler::FlushStatus() {
  json status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!work_exists_at_hub_) return Status::Ok();
    status = BuildStatusLocked();
    const json& cond = status["conditions"][0];
    auto& t = transitions_["#Applied"];
    if (t.phase != cond["status"]) t = {cond["status"], cond["lastTransitionTime"]};
    if (status == hub_status_) return Status::Ok();
  }
  Status s = hub_->PatchWorkStatus(options_.cluster, status);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  hub_status_ = status;
  ++stats_.hub_status_writes;
  return Status::Ok();
}

ReconcilerStats Reconciler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

int64_t Reconciler::applied_generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

size_t Reconciler::desired_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return desired_.size();
}

}  // namespace berth::agent
