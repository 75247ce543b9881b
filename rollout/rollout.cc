#include "rollout/rollout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace berth::rollout {

using nlohmann::json;
using policies::IncompatibleAction;
using policies::LabelSelector;
using policies::RolloutStage;
using policies::SelectorOperator;
using policies::UpdateMode;

std::string_view RolloutPhaseName(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::kProgressing: return "Progressing";
    case RolloutPhase::kAwaitingApproval: return "AwaitingApproval";
    case RolloutPhase::kPaused: return "Paused";
    case RolloutPhase::kBlocked: return "Blocked";
    case RolloutPhase::kCompleted: return "Completed";
    case RolloutPhase::kFailed: return "Failed";
    case RolloutPhase::kRollingBack: return "RollingBack";
    case RolloutPhase::kRolledBack: return "RolledBack";
  }
  return "Progressing";
}

std::string_view ClusterProgressName(ClusterProgress progress) {
  switch (progress) {
    case ClusterProgress::kPending: return "Pending";
    case ClusterProgress::kPrePulling: return "PrePulling";
    case ClusterProgress::kUpdating: return "Updating";
    case ClusterProgress::kSoaking: return "Soaking";
    case ClusterProgress::kDone: return "Done";
    case ClusterProgress::kFailed: return "Failed";
    case ClusterProgress::kSkipped: return "Skipped";
  }
  return "Pending";
}

namespace {

constexpr size_t kFailedHashesKept = 10;

bool MatchesSelector(const std::map<std::string, std::string>& labels, const LabelSelector& sel) {
  for (const auto& [k, v] : sel.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& e : sel.match_expressions) {
    auto it = labels.find(e.key);
    bool has = it != labels.end();
    bool in = has && std::find(e.values.begin(), e.values.end(), it->second) != e.values.end();
    switch (e.op) {
      case SelectorOperator::kIn: if (!in) return false; break;
      case SelectorOperator::kNotIn: if (in) return false; break;
      case SelectorOperator::kExists: if (!has) return false; break;
      case SelectorOperator::kDoesNotExist: if (has) return false; break;
    }
  }
  return true;
}

// Everything one step needs, so the phases below read like the docs.
class Stepper {
 public:
  Stepper(const RolloutPlan& plan, const RolloutState& state, const FleetView& fleet,
          Clock::TimePoint now)
      : plan_(plan), before_(state), now_(now) {
    out_.state = state;
    for (const auto& c : fleet.clusters) {
      if (c.placed) observed_[c.name] = &c;
    }
  }

  RolloutStep Run();

 private:
  RolloutState& s() { return out_.state; }
  const RolloutState& s() const { return out_.state; }
  const policies::RolloutStrategySpec& strategy() const { return plan_.strategy; }
  int StageCount() const { return static_cast<int>(strategy().stages.size()) + 1; }
  const RolloutStage& StageSpec(int i) const {
    return i < static_cast<int>(strategy().stages.size()) ? strategy().stages[i]
                                                         : strategy().rest_of_fleet;
  }
  bool FirstDeployment() const { return s().rollback_revision == 0; }
  bool TargetFailedBefore() const {
    const auto& f = s().failed_hashes;
    return std::find(f.begin(), f.end(), plan_.target.hash) != f.end();
  }
  int Desired(const ClusterObservation& o) const { return std::max(o.desired_replicas, 0); }
  int MaxUnavailable(const ClusterObservation& o) const {
    return std::max(1, strategy().max_unavailable.Resolve(Desired(o)));
  }

  void Event(std::string reason, std::string message, std::string cluster = "",
             std::string type = "Normal") {
    out_.events.push_back({std::move(type), std::move(reason), std::move(message), std::move(cluster)});
  }
  void Requeue(Clock::TimePoint t) {
    if (!out_.requeue_at || t < *out_.requeue_at) out_.requeue_at = t;
  }

  void StartIfNewTarget();
  void SyncClusters();
  std::string IncompatibilityReason(const ClusterObservation& o) const;
  void ObserveInFlight();
  void FailCluster(const std::string& name, ClusterRollout& c, const std::string& reason,
                   const std::string& message);
  void JudgeServing(const std::string& name, ClusterRollout& c, const ClusterObservation& o,
                    const RolloutStage& stage);
  void CheckBudget();
  void AdvanceFirstDeployment();
  void AdvanceStages();
  // AdvanceStages' steps for one stage.
  std::vector<std::string> StageMembers(int cur) const;
  int CountProgress(const std::vector<std::string>& members, ClusterProgress p);
  void NextStage();
  bool StageMayStart(int cur, const RolloutStage& spec, size_t clusters);
  std::string PrePullStage(const RolloutStage& spec, const std::vector<std::string>& members);
  std::pair<int, std::string> StartStageUpdates(const RolloutStage& spec,
                                                const std::vector<std::string>& members,
                                                int eligible);
  void ReportUnsettledStage(const std::string& stage_name, const std::vector<std::string>& members,
                            int in_flight, const std::string& block_reason,
                            const std::string& hold_reason);
  bool StageSoaked(const RolloutStage& spec, const std::string& stage_name,
                   const std::vector<std::string>& members);
  // Marks the Pending or PrePulling clusters of a stage that the strategy skips (onIncompatible:
  // Skip) as Skipped, with an event each.
  void SkipIncompatible(const std::vector<std::string>& members);
  bool StartUpdate(const std::string& name, ClusterRollout& c, const ClusterObservation& o);
  void ObserveRollback();
  void SetPhase(RolloutPhase phase, std::string reason, std::string message);
  void WriteDirectives();
  // The cluster's rollback mode, decided on first call (ClusterRollout::rollback_surge).
  int RollbackSurge(ClusterRollout& c, const ClusterObservation& o);

  const RolloutPlan& plan_;
  const RolloutState& before_;
  Clock::TimePoint now_;
  std::map<std::string, const ClusterObservation*> observed_;
  RolloutStep out_;
};

void Stepper::SetPhase(RolloutPhase phase, std::string reason, std::string message) {
  s().phase = phase;
  s().reason = std::move(reason);
  s().message = std::move(message);
}

void Stepper::StartIfNewTarget() {
  if (s().target_revision == plan_.target.number && s().target_hash == plan_.target.hash) return;
  bool superseded = before_.target_revision != 0 && before_.phase != RolloutPhase::kCompleted &&
                    before_.phase != RolloutPhase::kRolledBack && before_.phase != RolloutPhase::kFailed;
  RolloutState fresh;
  fresh.failed_hashes = s().failed_hashes;
  fresh.target_revision = plan_.target.number;
  fresh.target_hash = plan_.target.hash;
  fresh.rollback_revision = plan_.last_good ? plan_.last_good->number : 0;
  for (const auto& st : strategy().stages) fresh.stage_names.push_back(st.name);
  fresh.stage_names.push_back("rest");
  s() = std::move(fresh);
  if (superseded) {
    Event("RolloutSuperseded", "revision " + std::to_string(before_.target_revision) +
                                   " was replaced by revision " + std::to_string(plan_.target.number) +
                                   " before it finished");
  }
  std::string msg = FirstDeployment()
                        ? "deploying revision " + std::to_string(plan_.target.number) +
                              " to every placed cluster (first deployment, no stages)"
                        : "rolling out revision " + std::to_string(plan_.target.number) +
                              " (from " + std::to_string(s().rollback_revision) + ")";
  Event("RolloutStarted", msg);
  SetPhase(RolloutPhase::kProgressing, "RolloutStarted", msg);
  if (TargetFailedBefore()) {
    // Same content as a revision that already failed here: do not retry it in a loop.
    std::string why = "revision " + std::to_string(plan_.target.number) +
                      " failed before; change the Workspace or run `berthctl rollout retry`";
    if (FirstDeployment()) {
      SetPhase(RolloutPhase::kFailed, "RevisionFailedBefore", why);
    } else {
      SetPhase(RolloutPhase::kRolledBack, "RevisionFailedBefore", why);
    }
    Event("RolloutRefused", why, "", "Warning");
  }
}

std::string Stepper::IncompatibilityReason(const ClusterObservation& o) const {
  auto floor = [](const DottedVersion& a, const DottedVersion& b) {
    return a.Compare(b) >= 0 ? a : b;
  };
  DottedVersion driver = floor(strategy().compatibility.min_driver_version, plan_.target.min_driver_version);
  DottedVersion cuda = floor(strategy().compatibility.min_cuda_version, plan_.target.min_cuda_version);
  if (!driver.empty()) {
    if (o.driver_version.empty()) return "DriverVersionUnknown: the cluster reports no driver version; revision needs " + driver.ToString();
    if (o.driver_version.Compare(driver) < 0) {
      return "DriverTooOld: driver " + o.driver_version.ToString() + " < required " + driver.ToString();
    }
  }
  if (!cuda.empty()) {
    if (o.cuda_version.empty()) return "CudaVersionUnknown: the cluster reports no CUDA version; revision needs " + cuda.ToString();
    if (o.cuda_version.Compare(cuda) < 0) {
      return "CudaTooOld: CUDA " + o.cuda_version.ToString() + " < required " + cuda.ToString();
    }
  }
  return "";
}

void Stepper::SyncClusters() {
  // Clusters the placement no longer gives replicas (failover, scale-in) leave the rollout.
  for (auto it = s().clusters.begin(); it != s().clusters.end();) {
    if (!observed_.count(it->first)) it = s().clusters.erase(it);
    else ++it;
  }
  std::vector<int> members(StageCount(), 0);
  for (const auto& [name, c] : s().clusters) {
    if (c.stage >= 0 && c.stage < StageCount()) ++members[c.stage];
  }
  // New clusters join in name order so the canary choice is deterministic.
  for (const auto& [name, o] : observed_) {
    if (s().clusters.count(name)) continue;
    ClusterRollout c;
    c.stage = StageCount() - 1;
    for (int i = 0; i + 1 < StageCount(); ++i) {
      const RolloutStage& st = strategy().stages[i];
      if (!MatchesSelector(o->labels, st.cluster_selector)) continue;
      if (st.max_clusters > 0 && members[i] >= st.max_clusters) continue;
      c.stage = i;
      break;
    }
    ++members[c.stage];
    // A cluster that joins after its stage passed waits in the current stage instead.
    c.stage = std::max(c.stage, s().stage);
    // The way back is the last good revision, even for a cluster still running a revision
    // this rollout superseded: that one never proved itself.
    c.from_revision = s().rollback_revision;
    s().clusters[name] = c;
  }
}

void Stepper::FailCluster(const std::string& name, ClusterRollout& c, const std::string& reason,
                          const std::string& message) {
  c.progress = ClusterProgress::kFailed;
  c.reason = reason;
  ++s().failed_clusters;
  Event("ClusterFailed", name + ": " + message, name, "Warning");
}

void Stepper::ObserveInFlight() {
  for (auto& [name, c] : s().clusters) {
    if (c.progress != ClusterProgress::kUpdating && c.progress != ClusterProgress::kSoaking) continue;
    const ClusterObservation& o = *observed_.at(name);
    if (c.progress == ClusterProgress::kSoaking && !o.reported) continue;
    const auto& gate = StageSpec(std::min(c.stage, StageCount() - 1)).health_gate;
    bool on_target = o.revision == s().target_revision;
    bool ready = on_target && o.ready_replicas >= Desired(o) && o.phase != ReplicaPhase::kFailed;
    // Soaking: as Ready as when the soak began (replicas added since may still be starting).
    const int soak_floor = c.soak_ready < 0 ? Desired(o) : std::min(c.soak_ready, Desired(o));
    if (c.progress == ClusterProgress::kSoaking)
      ready = on_target && o.ready_replicas >= soak_floor && o.phase != ReplicaPhase::kFailed;
    if (on_target && o.phase == ReplicaPhase::kFailed) {
      std::string why = o.reason.empty() ? "Failed" : o.reason;
      FailCluster(name, c, why, "replicas failed on revision " + std::to_string(s().target_revision) +
                                    " (" + why + ")");
      continue;
    }
    if (on_target && o.failure_reports > gate.max_failure_reports) {
      FailCluster(name, c, "TooManyFailureReports",
                  std::to_string(o.failure_reports) + " failure reports for revision " +
                      std::to_string(s().target_revision) + " (health gate allows " +
                      std::to_string(gate.max_failure_reports) + ")" +
                      (o.reason.empty() ? "" : ", last: " + o.reason));
      continue;
    }
    if (c.progress == ClusterProgress::kUpdating) {
      if (ready) {
        c.progress = ClusterProgress::kSoaking;
        c.ready_since = now_;
        c.soak_ready = o.ready_replicas;
        c.reason.clear();
        continue;
      }
      auto deadline = *c.update_started + std::chrono::seconds(gate.progress_deadline_seconds);
      if (now_ >= deadline) {
        FailCluster(name, c, "ProgressDeadlineExceeded",
                    "not Ready on revision " + std::to_string(s().target_revision) + " within " +
                        std::to_string(gate.progress_deadline_seconds) + " s (" +
                        std::to_string(o.ready_replicas) + "/" + std::to_string(Desired(o)) +
                        " ready" + (o.reason.empty() ? "" : ", " + o.reason) + ")");
        continue;
      }
      Requeue(deadline);
    } else if (!ready) {
      // The soak gate wants every replica Ready for the whole soak, not just at its end.
      FailCluster(name, c, "NotReadyDuringSoak",
                  std::to_string(o.ready_replicas) + "/" + std::to_string(Desired(o)) +
                      " replicas Ready during the soak" + (o.reason.empty() ? "" : " (" + o.reason + ")"));
    } else if (gate.serving_gated()) {
      JudgeServing(name, c, o, StageSpec(std::min(c.stage, StageCount() - 1)));
    }
  }
}

// The serving gates of a soaking cluster (policies::HealthGate). Judged from half the stage's
// soak on (before, the endpoint's signals still mix in the previous revision's requests) to
// its end. No signal (no traffic) is not a failure: nothing regressed that anyone saw; the
// cluster says so in its reason and with one Warning.
void Stepper::JudgeServing(const std::string& name, ClusterRollout& c, const ClusterObservation& o,
                           const RolloutStage& stage) {
  const auto from = *c.ready_since + std::chrono::seconds(stage.soak_seconds) / 2;
  if (now_ < from) {
    Requeue(from);
    return;
  }
  const policies::HealthGate& gate = stage.health_gate;
  auto seconds = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g s", v);
    return std::string(buf);
  };
  // Errors first: a revision that fails requests may still answer the rest quickly.
  if (gate.max_error_rate_percent && o.error_rate && *o.error_rate * 100 > *gate.max_error_rate_percent) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.3g %% of requests failed on revision %lld, over the gate's %.3g %%",
                  *o.error_rate * 100, static_cast<long long>(s().target_revision), *gate.max_error_rate_percent);
    FailCluster(name, c, "ServingGateFailed", buf);
    return;
  }
  const bool ttft_gated = gate.max_ttft_p90_seconds || gate.max_ttft_p90_regression_percent;
  const bool no_errors_signal = gate.max_error_rate_percent && !o.error_rate;
  if ((ttft_gated && !o.ttft_p90_seconds) || (!ttft_gated && no_errors_signal)) {
    if (c.reason != "ServingGateNoSignal") {
      c.reason = "ServingGateNoSignal";
      Event("ServingGateNoSignal", name + ": no " + (ttft_gated ? "time-to-first-token" : "error-rate") +
                                       " reported during the soak; the serving gate passes without evidence",
            name, "Warning");
    }
    return;
  }
  if (!ttft_gated) return;
  const double p90 = *o.ttft_p90_seconds;
  if (gate.max_ttft_p90_seconds && p90 > *gate.max_ttft_p90_seconds) {
    FailCluster(name, c, "ServingGateFailed",
                "p90 time to first token " + seconds(p90) + " on revision " + std::to_string(s().target_revision) +
                    " is over the gate's " + seconds(*gate.max_ttft_p90_seconds));
    return;
  }
  if (gate.max_ttft_p90_regression_percent && c.baseline_ttft_p90 && *c.baseline_ttft_p90 > 0) {
    const double worse = (p90 / *c.baseline_ttft_p90 - 1) * 100;
    if (worse > *gate.max_ttft_p90_regression_percent) {
      FailCluster(name, c, "ServingGateFailed",
                  "p90 time to first token " + seconds(p90) + " on revision " + std::to_string(s().target_revision) +
                      " is " + std::to_string(static_cast<int>(std::lround(worse))) + " % above the " +
                      seconds(*c.baseline_ttft_p90) + " this cluster served on revision " +
                      std::to_string(c.from_revision) + " (the gate allows " +
                      std::to_string(static_cast<int>(std::lround(*gate.max_ttft_p90_regression_percent))) + " %)");
    }
  }
}

void Stepper::CheckBudget() {
  int total = static_cast<int>(s().clusters.size());
  int budget = strategy().failure_budget.Resolve(total);
  if (s().failed_clusters <= budget) return;
  std::string why = std::to_string(s().failed_clusters) + " cluster(s) failed, budget " +
                    std::to_string(budget);
  if (s().failed_hashes.empty() || s().failed_hashes.back() != s().target_hash) {
    s().failed_hashes.push_back(s().target_hash);
    if (s().failed_hashes.size() > kFailedHashesKept) s().failed_hashes.erase(s().failed_hashes.begin());
  }
  if (strategy().rollback_on_failure && !FirstDeployment()) {
    SetPhase(RolloutPhase::kRollingBack, "RollbackOnFailure",
             why + "; rolling back to revision " + std::to_string(s().rollback_revision));
    Event("RollbackStarted", s().message, "", "Warning");
  } else {
    SetPhase(RolloutPhase::kFailed, "FailureBudgetExhausted",
             why + (FirstDeployment() ? "; no earlier good revision to roll back to"
                                      : "; rollbackOnFailure is false: fix the Workspace or run `berthctl rollout undo`"));
    Event("RolloutFailed", s().message, "", "Warning");
  }
}

bool Stepper::StartUpdate(const std::string& name, ClusterRollout& c, const ClusterObservation& o) {
  bool surge = strategy().update_mode == UpdateMode::kSurge && o.surge_capacity > 0;
  if (!surge) {
    // In place takes up to maxUnavailable replicas down; count what in-place updates already
    // running could still take down too, since the agents may not have reported it yet.
    int ready = 0;
    for (const auto& [n, obs] : observed_) ready += obs->ready_replicas;
    int at_risk = 0;
    for (const auto& [n, other] : s().clusters) {
      if (other.progress != ClusterProgress::kUpdating || other.surge) continue;
      const ClusterObservation& oo = *observed_.at(n);
      int down = Desired(oo) - std::min(oo.ready_replicas, Desired(oo));
      at_risk += std::max(0, std::min(MaxUnavailable(oo), oo.ready_replicas) - down);
    }
    int take = std::min(MaxUnavailable(o), o.ready_replicas);
    if (ready - at_risk - take < plan_.min_available) {
      c.reason = "MinAvailable: updating in place could leave " + std::to_string(ready - at_risk - take) +
                 " Ready replicas, below minAvailable " + std::to_string(plan_.min_available) +
                 (strategy().update_mode == UpdateMode::kSurge ? " (no spare GPUs for a surge)" : "");
      return false;
    }
  }
  c.progress = ClusterProgress::kUpdating;
  c.update_started = now_;
  c.baseline_ttft_p90 = o.ttft_p90_seconds;
  c.surge = surge;
  c.max_surge = surge ? std::min(o.surge_capacity, std::max(1, Desired(o))) : 0;
  c.reason.clear();
  Requeue(now_ + std::chrono::seconds(StageSpec(std::min(c.stage, StageCount() - 1))
                                          .health_gate.progress_deadline_seconds));
  Event("ClusterUpdating",
        name + ": updating to revision " + std::to_string(s().target_revision) +
            (surge ? " (surge " + std::to_string(c.max_surge) + ")" : " (in place)"),
        name);
  return true;
}

void Stepper::AdvanceFirstDeployment() {
  // Nothing runs yet, so there is nothing to protect: every cluster starts at once; the
  // gates that compare against a good revision (soak, approval) do not apply.
  bool all_done = true;
  for (auto& [name, c] : s().clusters) {
    const ClusterObservation& o = *observed_.at(name);
    if (c.progress == ClusterProgress::kPending || c.progress == ClusterProgress::kPrePulling) {
      std::string incompatible = IncompatibilityReason(o);
      if (!incompatible.empty()) {
        c.progress = ClusterProgress::kSkipped;
        c.reason = incompatible;
        Event("ClusterSkipped", name + ": " + incompatible, name, "Warning");
        continue;
      }
      c.progress = ClusterProgress::kUpdating;
      c.update_started = now_;
      Event("ClusterUpdating", name + ": deploying revision " + std::to_string(s().target_revision), name);
    }
    if (c.progress == ClusterProgress::kSoaking) c.progress = ClusterProgress::kDone;
    if (c.progress == ClusterProgress::kUpdating) all_done = false;
  }
  if (all_done && !s().clusters.empty()) {
    s().stage = StageCount();
    SetPhase(RolloutPhase::kCompleted, "RolloutCompleted",
             "revision " + std::to_string(s().target_revision) + " is running");
    Event("RolloutCompleted", s().message);
  } else if (s().phase != RolloutPhase::kCompleted) {
    SetPhase(RolloutPhase::kProgressing, "Deploying",
             "waiting for clusters to become Ready on revision " + std::to_string(s().target_revision));
  }
}

void Stepper::SkipIncompatible(const std::vector<std::string>& members) {
  if (strategy().compatibility.on_incompatible != IncompatibleAction::kSkip) return;
  for (const auto& m : members) {
    ClusterRollout& c = s().clusters[m];
    if (c.progress != ClusterProgress::kPending && c.progress != ClusterProgress::kPrePulling) continue;
    std::string incompatible = IncompatibilityReason(*observed_.at(m));
    if (incompatible.empty()) continue;
    c.progress = ClusterProgress::kSkipped;
    c.reason = incompatible;
    Event("ClusterSkipped", m + ": " + incompatible, m, "Warning");
  }
}

// The clusters of stage `cur`, in name order.
std::vector<std::string> Stepper::StageMembers(int cur) const {
  std::vector<std::string> members;
  for (const auto& [name, c] : s().clusters) {
    if (c.stage == cur) members.push_back(name);
  }
  return members;
}

int Stepper::CountProgress(const std::vector<std::string>& members, ClusterProgress p) {
  int n = 0;
  for (const auto& m : members) n += s().clusters[m].progress == p;
  return n;
}

void Stepper::NextStage() {
  ++s().stage;
  s().stage_started = false;
  s().stage_soak_started.reset();
}

// Before a stage's first cluster moves: its approval and a pause hold it. False when held.
bool Stepper::StageMayStart(int cur, const RolloutStage& spec, size_t clusters) {
  const std::string& stage_name = s().stage_names[cur];
  if (spec.approval_required && !s().approved_stages.count(cur)) {
    std::string msg = "stage " + stage_name + " (" + std::to_string(clusters) +
                      " clusters) waits for approval: run `berthctl rollout approve`";
    if (before_.phase != RolloutPhase::kAwaitingApproval || before_.stage != cur) {
      Event("AwaitingApproval", msg);
    }
    SetPhase(RolloutPhase::kAwaitingApproval, "AwaitingApproval", msg);
    return false;
  }
  if (s().paused) {
    SetPhase(RolloutPhase::kPaused, "Paused",
             "paused before stage " + stage_name + ": run `berthctl rollout resume`");
    return false;
  }
  return true;
}

// Compatibility and pre-pull apply to the whole stage at once, so every cluster pulls in
// parallel while only maxConcurrency of them are disrupted. Returns the first cluster that
// blocks the stage (onIncompatible: Block) with its reason, or "".
std::string Stepper::PrePullStage(const RolloutStage& spec,
                                  const std::vector<std::string>& members) {
  std::string block_reason;
  for (const auto& m : members) {
    ClusterRollout& c = s().clusters[m];
    const ClusterObservation& o = *observed_.at(m);
    if (c.progress != ClusterProgress::kPending && c.progress != ClusterProgress::kPrePulling)
      continue;
    std::string incompatible = IncompatibilityReason(o);
    if (!incompatible.empty()) {  // onIncompatible: Block (SkipIncompatible took the rest)
      if (c.reason != incompatible) c.reason = incompatible;
      if (block_reason.empty()) block_reason = m + ": " + incompatible;
      continue;
    }
    if (c.progress == ClusterProgress::kPending && spec.pre_pull && !o.artifacts_cached &&
        !c.pre_pull_started) {
      c.progress = ClusterProgress::kPrePulling;
      c.pre_pull_started = now_;
    }
    if (c.progress == ClusterProgress::kPrePulling && o.pre_pull_failed) {
      const std::string why = o.pre_pull_reason.empty() ? "PrePullFailed" : o.pre_pull_reason;
      FailCluster(m, c, why,
                  "pre-pull of revision " + std::to_string(s().target_revision) + " (" +
                      plan_.target.image + ") failed: " + why);
      continue;
    }
    if (c.progress == ClusterProgress::kPrePulling) {
      auto timeout = *c.pre_pull_started + std::chrono::seconds(spec.pre_pull_timeout_seconds);
      if (o.artifacts_cached || now_ >= timeout) {
        c.progress = ClusterProgress::kPending;
        if (!o.artifacts_cached) {
          Event("PrePullTimedOut",
                m + ": artifacts not cached after " +
                    std::to_string(spec.pre_pull_timeout_seconds) + " s; updating anyway",
                m, "Warning");
        }
      } else {
        out_.pre_pulls.push_back({m, plan_.target.image, plan_.target.model, s().target_revision});
        Requeue(timeout);
      }
    }
  }
  return block_reason;
}

// Starts updates up to maxConcurrency, in name order. Returns the clusters updating and the
// first one minAvailable held back ("" when none was).
std::pair<int, std::string> Stepper::StartStageUpdates(const RolloutStage& spec,
                                                       const std::vector<std::string>& members,
                                                       int eligible) {
  int limit = std::max(1, spec.max_concurrency.Resolve(eligible));
  int in_flight = CountProgress(members, ClusterProgress::kUpdating);
  std::string hold_reason;
  if (s().paused) return {in_flight, hold_reason};
  for (const auto& m : members) {
    if (in_flight >= limit) break;
    ClusterRollout& c = s().clusters[m];
    if (c.progress != ClusterProgress::kPending) continue;
    if (!c.reason.empty() && (c.reason.rfind("Driver", 0) == 0 || c.reason.rfind("Cuda", 0) == 0)) {
      if (!IncompatibilityReason(*observed_.at(m)).empty()) continue;
    }
    if (StartUpdate(m, c, *observed_.at(m))) {
      ++in_flight;
    } else if (hold_reason.empty()) {
      hold_reason = m + ": " + c.reason;
    }
  }
  return {in_flight, hold_reason};
}

// The phase of a stage whose clusters are still moving: paused, blocked (by a driver or by
// minAvailable, with nothing else in flight) or progressing.
void Stepper::ReportUnsettledStage(const std::string& stage_name,
                                   const std::vector<std::string>& members, int in_flight,
                                   const std::string& block_reason,
                                   const std::string& hold_reason) {
  if (s().paused) {
    SetPhase(RolloutPhase::kPaused, "Paused",
             "paused in stage " + stage_name +
                 "; clusters already updating finish: run `berthctl rollout resume`");
    return;
  }
  const bool blocked_by_driver = !block_reason.empty();
  if (in_flight == 0 && CountProgress(members, ClusterProgress::kPrePulling) == 0 &&
      (blocked_by_driver || !hold_reason.empty())) {
    std::string msg = blocked_by_driver
                          ? "stage " + stage_name + " is blocked by " + block_reason +
                                "; upgrade the cluster or set compatibility.onIncompatible: Skip"
                          : "stage " + stage_name + " is held: " + hold_reason +
                                "; add capacity for a surge or lower minAvailable";
    if (before_.phase != RolloutPhase::kBlocked) Event("RolloutBlocked", msg, "", "Warning");
    SetPhase(RolloutPhase::kBlocked, blocked_by_driver ? "IncompatibleClusters" : "MinAvailable",
             msg);
    return;
  }
  SetPhase(RolloutPhase::kProgressing, "StageProgressing",
           "stage " + stage_name + ": " +
               std::to_string(CountProgress(members, ClusterProgress::kSoaking)) + "/" +
               std::to_string(members.size()) + " clusters Ready, " + std::to_string(in_flight) +
               " updating");
}

// Soak gate: the stage's clusters stay Ready this long (failures were caught before). False
// while the soak lasts.
bool Stepper::StageSoaked(const RolloutStage& spec, const std::string& stage_name,
                          const std::vector<std::string>& members) {
  if (CountProgress(members, ClusterProgress::kSoaking) == 0 || spec.soak_seconds <= 0) return true;
  if (!s().stage_soak_started) {
    s().stage_soak_started = now_;
    Event("StageSoaking",
          "stage " + stage_name + " soaking for " + std::to_string(spec.soak_seconds) + " s");
  }
  auto soak_end = *s().stage_soak_started + std::chrono::seconds(spec.soak_seconds);
  if (now_ >= soak_end) return true;
  Requeue(soak_end);
  SetPhase(RolloutPhase::kProgressing, "StageSoaking",
           "stage " + stage_name + " soaking until " + FormatTime(soak_end));
  return false;
}

void Stepper::AdvanceStages() {
  while (s().stage < StageCount()) {
    const int cur = s().stage;
    const RolloutStage& spec = StageSpec(cur);
    const std::string& stage_name = s().stage_names[cur];
    const std::vector<std::string> members = StageMembers(cur);
    // Clusters the strategy skips are skipped before any gate: a stage whose every cluster
    // is skipped has nothing to approve, soak or wait for.
    SkipIncompatible(members);
    const int eligible =
        static_cast<int>(members.size()) - CountProgress(members, ClusterProgress::kSkipped);
    if (eligible == 0) {
      if (!members.empty()) {
        Event(s().stage_started ? "StageCompleted" : "StageSkipped",
              "stage " + stage_name + ": every cluster was skipped (incompatible), nothing to update");
      }
      NextStage();
      continue;
    }
    const bool untouched = CountProgress(members, ClusterProgress::kPending) == eligible;
    if (untouched && !s().stage_started && !StageMayStart(cur, spec, members.size())) return;
    if (!s().stage_started) {
      s().stage_started = true;
      Event("StageStarted", "stage " + stage_name + ": " + std::to_string(eligible) + " cluster(s)");
    }
    const std::string block_reason = PrePullStage(spec, members);
    const auto [in_flight, hold_reason] = StartStageUpdates(spec, members, eligible);
    const bool stage_settled = CountProgress(members, ClusterProgress::kPending) == 0 &&
                               CountProgress(members, ClusterProgress::kPrePulling) == 0 &&
                               CountProgress(members, ClusterProgress::kUpdating) == 0;
    if (!stage_settled) {
      ReportUnsettledStage(stage_name, members, in_flight, block_reason, hold_reason);
      return;
    }
    if (!StageSoaked(spec, stage_name, members)) return;
    for (const auto& m : members) {
      ClusterRollout& c = s().clusters[m];
      if (c.progress == ClusterProgress::kSoaking) c.progress = ClusterProgress::kDone;
    }
    if (!members.empty()) Event("StageCompleted", "stage " + stage_name + " completed");
    NextStage();
  }
  SetPhase(RolloutPhase::kCompleted, "RolloutCompleted",
           "revision " + std::to_string(s().target_revision) + " is running on every compatible cluster");
  Event("RolloutCompleted", s().message);
}

void Stepper::ObserveRollback() {
  for (const auto& [name, o] : observed_) {
    int64_t want = s().clusters.count(name) ? s().clusters[name].from_revision : s().rollback_revision;
    if (want == 0) want = s().rollback_revision;
    if (o->revision != want || o->ready_replicas < Desired(*o)) return;
  }
  SetPhase(RolloutPhase::kRolledBack, s().reason == "UndoRequested" ? "RolledBack" : "RolledBackOnFailure",
           "every cluster is back on revision " + std::to_string(s().rollback_revision) +
               "; revision " + std::to_string(s().target_revision) +
               " will not be retried until the Workspace changes (or `berthctl rollout retry`)");
  Event("RollbackCompleted", s().message);
}

int Stepper::RollbackSurge(ClusterRollout& c, const ClusterObservation& o) {
  if (c.rollback_surge < 0) {
    const bool surge = o.revision == s().target_revision && strategy().update_mode == UpdateMode::kSurge &&
                       o.surge_capacity > 0;
    c.rollback_surge = surge ? std::min(o.surge_capacity, std::max(1, Desired(o))) : 0;
  }
  return c.rollback_surge;
}

void Stepper::WriteDirectives() {
  const RolloutPhase phase = s().phase;
  for (auto& [name, c] : s().clusters) {
    const ClusterObservation& o = *observed_.at(name);
    ClusterDirective d;
    int64_t from = c.from_revision ? c.from_revision : s().rollback_revision;
    bool on_target;
    switch (phase) {
      case RolloutPhase::kRollingBack:
      case RolloutPhase::kRolledBack:
        on_target = false;
        break;
      case RolloutPhase::kCompleted:
        on_target = c.progress != ClusterProgress::kSkipped && c.progress != ClusterProgress::kFailed;
        break;
      default:
        on_target = c.progress == ClusterProgress::kUpdating || c.progress == ClusterProgress::kSoaking ||
                    c.progress == ClusterProgress::kDone;
    }
    if (from == 0) on_target = true;  // first deployment: nothing else to run
    d.revision = on_target ? s().target_revision : from;
    d.max_unavailable = MaxUnavailable(o);
    // Old replicas are kept only while the new ones start; once Ready the agent drains them.
    if (on_target && c.surge && from != 0 && c.progress == ClusterProgress::kUpdating &&
        phase != RolloutPhase::kCompleted) {
      d.mode = UpdateMode::kSurge;
      d.previous_revision = from;
      d.max_surge = c.max_surge;
    } else if (phase == RolloutPhase::kRollingBack && !on_target && from != 0 && RollbackSurge(c, o) > 0) {
      // Make before break on the way back too: the revision being left keeps serving (a
      // slow or erring revision still answers most requests; a crashing one serves nothing
      // either way) until the last good one is Ready beside it.
      d.mode = UpdateMode::kSurge;
      d.previous_revision = s().target_revision;
      d.max_surge = c.rollback_surge;
    } else {
      d.mode = UpdateMode::kInPlace;
    }
    out_.directives[name] = d;
  }
}

RolloutStep Stepper::Run() {
  StartIfNewTarget();
  SyncClusters();

  if (s().undo_requested) {
    s().undo_requested = false;
    if (s().phase != RolloutPhase::kRolledBack && s().phase != RolloutPhase::kRollingBack &&
        !FirstDeployment()) {
      if (std::find(s().failed_hashes.begin(), s().failed_hashes.end(), s().target_hash) ==
          s().failed_hashes.end()) {
        s().failed_hashes.push_back(s().target_hash);
        if (s().failed_hashes.size() > kFailedHashesKept) s().failed_hashes.erase(s().failed_hashes.begin());
      }
      SetPhase(RolloutPhase::kRollingBack, "UndoRequested",
               "rolling back to revision " + std::to_string(s().rollback_revision) + " on request");
      Event("RollbackStarted", s().message);
    }
  }

  switch (s().phase) {
    case RolloutPhase::kProgressing:
    case RolloutPhase::kAwaitingApproval:
    case RolloutPhase::kPaused:
    case RolloutPhase::kBlocked:
      ObserveInFlight();
      CheckBudget();
      if (s().phase == RolloutPhase::kRollingBack) {
        ObserveRollback();
      } else if (s().phase != RolloutPhase::kFailed) {
        if (FirstDeployment()) AdvanceFirstDeployment();
        else AdvanceStages();
      }
      break;
    case RolloutPhase::kRollingBack:
      ObserveRollback();
      break;
    case RolloutPhase::kCompleted:
    case RolloutPhase::kFailed:
    case RolloutPhase::kRolledBack:
      break;  // terminal until the target changes
  }

  WriteDirectives();
  out_.phase = s().phase;
  if (s().phase == RolloutPhase::kCompleted) out_.completed_revision = s().target_revision;
  if (s().phase == RolloutPhase::kFailed || s().phase == RolloutPhase::kRollingBack ||
      s().phase == RolloutPhase::kRolledBack) {
    out_.failed_revision = s().target_revision;
  }
  return std::move(out_);
}

}  // namespace

RolloutStep Advance(const RolloutPlan& plan, const RolloutState& state, const FleetView& fleet,
                    Clock::TimePoint now) {
  return Stepper(plan, state, fleet, now).Run();
}

namespace {

bool Terminal(RolloutPhase p) {
  return p == RolloutPhase::kCompleted || p == RolloutPhase::kFailed || p == RolloutPhase::kRolledBack;
}

}  // namespace

StatusOr<RolloutState> Approve(const RolloutState& state) {
  if (state.target_revision == 0 || Terminal(state.phase) || state.phase == RolloutPhase::kRollingBack) {
    return Status::FailedPrecondition("no rollout is in progress to approve");
  }
  RolloutState s = state;
  s.approved_stages.insert(s.stage);
  return s;
}

StatusOr<RolloutState> Pause(const RolloutState& state) {
  if (state.target_revision == 0 || Terminal(state.phase) || state.phase == RolloutPhase::kRollingBack) {
    return Status::FailedPrecondition("no rollout is in progress to pause");
  }
  RolloutState s = state;
  s.paused = true;
  return s;
}

StatusOr<RolloutState> Resume(const RolloutState& state) {
  if (!state.paused) return Status::FailedPrecondition("the rollout is not paused");
  RolloutState s = state;
  s.paused = false;
  return s;
}

StatusOr<RolloutState> Undo(const RolloutState& state) {
  if (state.rollback_revision == 0) {
    return Status::FailedPrecondition("there is no earlier good revision to roll back to");
  }
  if (state.phase == RolloutPhase::kRollingBack || state.phase == RolloutPhase::kRolledBack) {
    return Status::FailedPrecondition("the rollout is already rolled back");
  }
  RolloutState s = state;
  s.undo_requested = true;
  return s;
}

StatusOr<RolloutState> Retry(const RolloutState& state) {
  auto it = std::find(state.failed_hashes.begin(), state.failed_hashes.end(), state.target_hash);
  if (state.target_hash.empty() || it == state.failed_hashes.end()) {
    return Status::FailedPrecondition("the target revision has not failed; nothing to retry");
  }
  RolloutState s;
  s.failed_hashes = state.failed_hashes;
  s.failed_hashes.erase(s.failed_hashes.begin() + (it - state.failed_hashes.begin()));
  return s;  // target 0: the next step starts the rollout afresh from stage 0
}

// ---- JSON (status.rollout) ----

namespace {

std::optional<RolloutPhase> ParsePhase(const std::string& s) {
  for (RolloutPhase p : {RolloutPhase::kProgressing, RolloutPhase::kAwaitingApproval, RolloutPhase::kPaused,
                         RolloutPhase::kBlocked, RolloutPhase::kCompleted, RolloutPhase::kFailed,
                         RolloutPhase::kRollingBack, RolloutPhase::kRolledBack}) {
    if (RolloutPhaseName(p) == s) return p;
  }
  return std::nullopt;
}

std::optional<ClusterProgress> ParseProgress(const std::string& s) {
  for (ClusterProgress p : {ClusterProgress::kPending, ClusterProgress::kPrePulling, ClusterProgress::kUpdating,
                            ClusterProgress::kSoaking, ClusterProgress::kDone, ClusterProgress::kFailed,
                            ClusterProgress::kSkipped}) {
    if (ClusterProgressName(p) == s) return p;
  }
  return std::nullopt;
}

void PutTime(json& j, const char* key, const std::optional<Clock::TimePoint>& t) {
  if (t) j[key] = FormatTime(*t);
}

}  // namespace

json RolloutStateToJson(const RolloutState& s) {
  json out = {{"targetRevision", s.target_revision},
              {"targetHash", s.target_hash},
              {"rollbackRevision", s.rollback_revision},
              {"phase", RolloutPhaseName(s.phase)},
              {"stage", s.stage},
              {"stageNames", s.stage_names},
              {"stageStarted", s.stage_started},
              {"approvedStages", s.approved_stages},
              {"paused", s.paused},
              {"undoRequested", s.undo_requested},
              {"failedClusters", s.failed_clusters},
              {"failedHashes", s.failed_hashes},
              {"reason", s.reason},
              {"message", s.message}};
  PutTime(out, "stageSoakStarted", s.stage_soak_started);
  json clusters = json::object();
  for (const auto& [name, c] : s.clusters) {
    json jc = {{"stage", c.stage},
               {"progress", ClusterProgressName(c.progress)},
               {"fromRevision", c.from_revision},
               {"surge", c.surge},
               {"maxSurge", c.max_surge}};
    if (c.rollback_surge >= 0) jc["rollbackSurge"] = c.rollback_surge;
    if (!c.reason.empty()) jc["reason"] = c.reason;
    if (c.baseline_ttft_p90) jc["baselineTtftP90Seconds"] = *c.baseline_ttft_p90;
    if (c.soak_ready >= 0) jc["soakReady"] = c.soak_ready;
    PutTime(jc, "prePullStarted", c.pre_pull_started);
    PutTime(jc, "updateStarted", c.update_started);
    PutTime(jc, "readySince", c.ready_since);
    clusters[name] = std::move(jc);
  }
  out["clusters"] = std::move(clusters);
  return out;
}

StatusOr<RolloutState> RolloutStateFromJson(const json& j) {
  RolloutState s;
  if (j.is_null()) return s;
  auto bad = [](const std::string& field, const std::string& msg) {
    return Status::Invalid("invalid status.rollout: " + field + ": " + msg, {{field, msg}});
  };
  if (!j.is_object()) return bad("status.rollout", "must be an object");
  try {
    s.target_revision = j.value("targetRevision", int64_t{0});
    s.target_hash = j.value("targetHash", std::string());
    s.rollback_revision = j.value("rollbackRevision", int64_t{0});
    auto phase = ParsePhase(j.value("phase", std::string("Progressing")));
    if (!phase) return bad("status.rollout.phase", "unknown phase");
    s.phase = *phase;
    s.stage = j.value("stage", 0);
    s.stage_names = j.value("stageNames", std::vector<std::string>{});
    s.stage_started = j.value("stageStarted", false);
    s.approved_stages = j.value("approvedStages", std::set<int>{});
    s.paused = j.value("paused", false);
    s.undo_requested = j.value("undoRequested", false);
    s.failed_clusters = j.value("failedClusters", 0);
    s.failed_hashes = j.value("failedHashes", std::vector<std::string>{});
    s.reason = j.value("reason", std::string());
    s.message = j.value("message", std::string());
    auto time = [&](const json& obj, const char* key, std::optional<Clock::TimePoint>* dst,
                    const std::string& path) -> bool {
      auto it = obj.find(key);
      if (it == obj.end()) return true;
      Clock::TimePoint t;
      if (!ParseTime(*it, &t)) return false;
      *dst = t;
      (void)path;
      return true;
    };
    if (!time(j, "stageSoakStarted", &s.stage_soak_started, "")) {
      return bad("status.rollout.stageSoakStarted", "must be an RFC 3339 time");
    }
    if (auto cl = j.find("clusters"); cl != j.end()) {
      if (!cl->is_object()) return bad("status.rollout.clusters", "must be an object");
      for (const auto& [name, jc] : cl->items()) {
        std::string p = "status.rollout.clusters." + name;
        ClusterRollout c;
        c.stage = jc.value("stage", 0);
        auto prog = ParseProgress(jc.value("progress", std::string("Pending")));
        if (!prog) return bad(p + ".progress", "unknown progress");
        c.progress = *prog;
        c.from_revision = jc.value("fromRevision", int64_t{0});
        c.surge = jc.value("surge", false);
        c.max_surge = jc.value("maxSurge", 0);
        c.rollback_surge = jc.value("rollbackSurge", -1);
        c.reason = jc.value("reason", std::string());
        if (auto b = jc.find("baselineTtftP90Seconds"); b != jc.end() && b->is_number()) c.baseline_ttft_p90 = b->get<double>();
        c.soak_ready = jc.value("soakReady", -1);
        if (!time(jc, "prePullStarted", &c.pre_pull_started, p) ||
            !time(jc, "updateStarted", &c.update_started, p) || !time(jc, "readySince", &c.ready_since, p)) {
          return bad(p, "times must be RFC 3339");
        }
        s.clusters[name] = std::move(c);
      }
    }
  } catch (const json::exception& e) {
    return bad("status.rollout", e.what());
  }
  return s;
}

}  // namespace berth::rollout
