#include "hub/controllers/workspace_rollout.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "workspace/renderer.h"

namespace berth::hub {

using nlohmann::json;
using rollout::ClusterObservation;
using rollout::ReplicaPhase;
using rollout::RevisionHistory;
using rollout::RolloutPhase;
using rollout::RolloutState;

namespace {

ReplicaPhase PhaseOf(const MemberReport& r) {
  if (r.phase == "Ready") return ReplicaPhase::kReady;
  if (r.phase == "Failed") return ReplicaPhase::kFailed;
  if (r.updated > 0 || r.phase == "Progressing" || r.phase == "Starting") return ReplicaPhase::kStarting;
  return ReplicaPhase::kPending;
}

// The lowest driver / CUDA version over the member's nodes of the allocated GPU product
// (those are the nodes that run it); empty when no node reports one.
void LowestVersions(const placement::ClusterInventory& c, const std::string& gpu, ClusterObservation* o) {
  const std::string product = gpu.substr(0, gpu.find('/'));
  for (const auto& n : c.nodes) {
    if (n.gpu_product != product) continue;
    if (!n.driver_version.empty() &&
        (o->driver_version.empty() || n.driver_version.Compare(o->driver_version) < 0)) {
      o->driver_version = n.driver_version;
    }
    if (!n.cuda_version.empty() &&
        (o->cuda_version.empty() || n.cuda_version.Compare(o->cuda_version) < 0)) {
      o->cuda_version = n.cuda_version;
    }
  }
}

const char* UpdateModeValue(policies::UpdateMode m) {
  return m == policies::UpdateMode::kSurge ? "Surge" : "InPlace";
}

// What the rollout engine sees of one placed member: its labels, lowest driver/CUDA, what its
// agent reports, room for a surge and whether the target's image and model are cached.
ClusterObservation Observe(const std::string& name, const PlacedMember& p, const rollout::Revision& target) {
  ClusterObservation o;
  o.name = name;
  o.labels = p.cluster->labels;
  LowestVersions(*p.cluster, p.gpu, &o);
  o.placed = true;
  o.desired_replicas = p.replicas;
  o.reported = p.report != nullptr;
  if (p.report) {
    const MemberReport& r = *p.report;
    o.revision = r.revision;
    o.replicas = r.replicas;
    // Ready on the target only once the member's own replicas run it and are Ready: during
    // a surge the agent counts Ready surge pods as ready, but the surge must stay asked for
    // until the main replicas are replaced and Ready (the agent then removes the surge).
    o.ready_replicas = std::max(0, std::min({r.ready - r.surge, r.updated, r.replicas}));
    o.phase = PhaseOf(r);
    o.reason = r.reason;
    o.failure_reports = r.failures;
    o.pre_pull_failed = r.pre_pull_phase == "Failed" && r.pre_pull_revision == target.number;
    o.pre_pull_reason = r.pre_pull_reason;
    if (r.serving.is_object()) {
      auto ttft = r.serving.find("ttftSeconds");
      if (ttft != r.serving.end() && ttft->is_object() && ttft->contains("p90") && (*ttft)["p90"].is_number())
        o.ttft_p90_seconds = (*ttft)["p90"].get<double>();
      if (auto e = r.serving.find("errorRate"); e != r.serving.end() && e->is_number()) o.error_rate = e->get<double>();
    }
  }
  // Surge replicas must fit beside the running ones on whole free nodes' worth of units;
  // multi-node replicas are updated in place.
  o.surge_capacity = p.nodes_per_replica > 1 || p.gpus_per_replica <= 0
                         ? 0
                         : std::max(0, p.spare_units / p.gpus_per_replica);
  const std::string image = RevisionImage(target);
  o.artifacts_cached = p.cluster->cached_images.count(image) > 0 &&
                       (target.model.empty() || p.cluster->cached_models.count(target.model) > 0);
  return o;
}

// The Work-entry additions for one member from the engine's directive (null: run the target)
// and pre-pull request (null: none).
MemberDirective DirectiveFor(const std::string& key, const std::string& name, const PlacedMember& p,
                             const rollout::ClusterDirective* directive, const rollout::PrePullRequest* pre_pull,
                             const RevisionHistory& history, const rollout::Revision& target) {
  rollout::ClusterDirective cd;
  if (directive) {
    cd = *directive;
  } else {
    cd.revision = target.number;
  }
  const rollout::Revision* rev = history.Find(cd.revision);
  if (!rev) {
    // Evicted from the history (a very old revision): run the target rather than guess.
    spdlog::warn("workspace {}: revision {} is no longer in the history; member {} gets {}", key, cd.revision, name,
                 target.number);
    rev = history.Find(target.number);
    cd = {};
    cd.revision = target.number;
  }
  MemberDirective d;
  d.revision = cd.revision;
  d.template_fields = rev->template_fields;
  d.update = {{"mode", UpdateModeValue(cd.mode)}, {"maxUnavailable", std::max(1, cd.max_unavailable)}};
  if (cd.mode == policies::UpdateMode::kSurge && cd.previous_revision > 0 && cd.max_surge > 0) {
    d.update["maxSurge"] = cd.max_surge;
    d.update["previousRevision"] = cd.previous_revision;
    d.surge_units = cd.max_surge * p.gpus_per_replica;
  }
  if (pre_pull) {
    d.pre_pull = {{"revision", pre_pull->revision},
                  {"image", pre_pull->image.empty() ? std::string(workspace::kDefaultVllmImage) : pre_pull->image},
                  {"model", pre_pull->model}};
  }
  return d;
}

}  // namespace

std::string RevisionImage(const rollout::Revision& rev) {
  return rev.image.empty() ? std::string(workspace::kDefaultVllmImage) : rev.image;
}

StatusOr<WorkspaceRolloutResult> ReconcileWorkspaceRollout(const WorkspaceRolloutInput& in) {
  const json& obj = *in.workspace;
  const json status = obj.value("status", json::object());
  const std::string key = api::NamespaceOf(obj) + "/" + api::NameOf(obj);

  RevisionHistory history(in.strategy.revision_history_limit);
  if (auto it = status.find("revisions"); it != status.end()) {
    auto h = RevisionHistory::FromJson(*it);
    if (h.ok()) {
      history = std::move(*h);
      history.set_limit(in.strategy.revision_history_limit);
    } else {
      spdlog::warn("workspace {}: {}; starting a new revision history", key, h.status().message());
    }
  }
  auto wanted = rollout::RevisionOf(obj, in.now);
  if (!wanted.ok()) return wanted.status();
  const rollout::Revision target = history.Record(*wanted);

  RolloutState state;
  if (auto it = status.find("rollout"); it != status.end()) {
    auto s = rollout::RolloutStateFromJson(*it);
    if (s.ok()) {
      state = std::move(*s);
    } else {
      spdlog::warn("workspace {}: {}; the rollout state starts afresh", key, s.status().message());
    }
  }

  rollout::RolloutPlan plan;
  plan.strategy = in.strategy;
  plan.target = target;
  if (const rollout::Revision* good = history.LastGood(); good && good->number != target.number) {
    plan.last_good = *good;
  }
  plan.min_available = in.min_available;

  rollout::FleetView fleet;
  for (const auto& [name, p] : in.placed) fleet.clusters.push_back(Observe(name, p, target));

  rollout::RolloutStep step = rollout::Advance(plan, state, fleet, in.now);
  if (step.completed_revision > 0) (void)history.MarkGood(step.completed_revision);
  if (step.failed_revision > 0) (void)history.MarkFailed(step.failed_revision, step.state.reason);

  WorkspaceRolloutResult out;
  out.target_revision = target.number;
  out.revisions = history.ToJson();
  out.rollout = rollout::RolloutStateToJson(step.state);
  out.rollout["strategy"] = in.strategy_source;
  // The split of the stage that runs, or (waiting for approval or paused before the next
  // one) of the last that ran: the share stays until the next stage starts.
  const auto& stages = in.strategy.stages;
  const auto phase = step.state.phase;
  const int stage = step.state.stage_started ? step.state.stage : step.state.stage - 1;
  if ((phase == rollout::RolloutPhase::kProgressing || phase == rollout::RolloutPhase::kAwaitingApproval ||
       phase == rollout::RolloutPhase::kPaused || phase == rollout::RolloutPhase::kBlocked) &&
      stage >= 0 && static_cast<size_t>(stage) < stages.size()) {
    out.traffic_percent = stages[stage].traffic_percent;
  }
  out.events = std::move(step.events);
  out.requeue_at = step.requeue_at;
  out.reason = step.state.reason.empty() ? std::string(rollout::RolloutPhaseName(step.state.phase))
                                         : step.state.reason;
  out.message = step.state.message;
  switch (step.state.phase) {
    case RolloutPhase::kProgressing:
    case RolloutPhase::kAwaitingApproval:
    case RolloutPhase::kRollingBack:
    case RolloutPhase::kCompleted:
      out.progressing = true;
      break;
    default:
      out.progressing = false;
  }

  std::map<std::string, const rollout::PrePullRequest*> pre_pulls;
  for (const auto& p : step.pre_pulls) pre_pulls[p.cluster] = &p;
  for (const auto& [name, p] : in.placed) {
    auto it = step.directives.find(name);
    auto pp = pre_pulls.find(name);
    out.directives[name] = DirectiveFor(key, name, p, it == step.directives.end() ? nullptr : &it->second,
                                        pp == pre_pulls.end() ? nullptr : pp->second, history, target);
  }
  return out;
}

}  // namespace berth::hub
