#include "hub/controllers/placement_requests.h"

#include <memory>
#include <utility>

#include "api/object.h"
#include "rollout/revision.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

using nlohmann::json;

placement::PolicyCatalog PoliciesFrom(const std::vector<json>& policy_objects) {
  placement::PolicyCatalog out;
  for (const auto& p : policy_objects) {
    auto parsed = policies::ParsePlacementPolicy(p);
    if (parsed.ok()) {
      out[WsKey(api::NamespaceOf(p), api::NameOf(p))] = std::make_shared<policies::PlacementPolicySpec>(parsed->spec);
    }
  }
  return out;
}

namespace {

// Each policy of the pass once with the implicit unreachable toleration, so requests that
// share a policy share its effective copy (the planner caches per-policy work by address).
// Keyed by address; the original is held too, so an address is never reused while cached.
class EffectivePolicies {
 public:
  explicit EffectivePolicies(int64_t default_toleration_seconds)
      : default_toleration_seconds_(default_toleration_seconds),
        default_policy_(std::make_shared<const policies::PlacementPolicySpec>()) {}

  std::shared_ptr<const policies::PlacementPolicySpec> Of(std::shared_ptr<const policies::PlacementPolicySpec> p) {
    if (!p) p = default_policy_;
    auto& [original, effective] = cache_[p.get()];
    if (!effective) {
      original = p;
      effective = WithUnreachableToleration(*p, default_toleration_seconds_);
    }
    return effective;
  }

 private:
  using Policy = std::shared_ptr<const policies::PlacementPolicySpec>;
  int64_t default_toleration_seconds_;
  Policy default_policy_;
  std::map<const policies::PlacementPolicySpec*, std::pair<Policy, Policy>> cache_;
};

// The autoscaler's verdict for an autoscaled Workspace, on the reports of members that are
// not frozen (a frozen member's last signals describe a cluster that may be gone).
AutoscaleStageResult Autoscaled(const PlacementRequestsInput& in, const std::string& key, const json& obj,
                                const workspace::Workspace& ws) {
  AutoscaleStageInput ai;
  ai.workspace = &ws;
  ai.stored_status = &ws.status.raw;
  ai.generation = api::GenerationOf(obj);
  if (in.reported && in.members) {
    for (const auto& [member, by_key] : *in.reported) {
      auto view = in.members->find(member);
      if (view == in.members->end() || view->second.frozen()) continue;
      if (auto r = by_key.find(key); r != by_key.end()) ai.reports.push_back(&r->second);
    }
  }
  ai.now = in.now;
  ai.sync_period = in.autoscale_sync;
  return AutoscaleWorkspace(ai);
}

// The request for one Workspace, or why it cannot be placed.
StatusOr<placement::PlacementRequest> RequestFor(const json& obj, const workspace::Workspace& ws,
                                                 const placement::PolicyCatalog& policies, Clock::TimePoint now) {
  if (auto rev = rollout::RevisionOf(obj, now); !rev.ok()) return rev.status();
  return placement::RequestFromWorkspace(ws, policies);
}

}  // namespace

PlacementRequests BuildPlacementRequests(const PlacementRequestsInput& in) {
  PlacementRequests out;
  EffectivePolicies effective(in.defaults.toleration_seconds);
  for (const auto& obj : *in.workspaces) {
    const std::string key = WsKey(api::NamespaceOf(obj), api::NameOf(obj));
    out.by_key[key] = &obj;
    if (api::IsBeingDeleted(obj)) continue;
    static const std::map<std::string, json> kNone;
    auto refs = ResolveReferences(obj, in.referenced ? *in.referenced : kNone);
    if (!refs.ok()) {
      out.invalid[key] = refs.status().message();
      continue;
    }
    const json* effective_obj = &obj;
    std::optional<StatusOr<workspace::Workspace>> parsed;
    if (refs->any) {
      auto& slot = out.resolved[key] = std::move(*refs);
      effective_obj = &slot.effective;
      parsed = std::move(slot.parsed);  // parsed once, by ResolveReferences
      slot.parsed.reset();
    }
    auto ws = parsed ? std::move(*parsed) : workspace::ParseWorkspace(*effective_obj);
    if (!ws.ok()) {
      out.invalid[key] = ws.status().message();
      continue;
    }
    auto req = RequestFor(*effective_obj, *ws, *in.policies, in.now);
    if (!req.ok()) {
      out.invalid[key] = req.status().message();
      continue;
    }
    req->policy = effective.Of(req->policy);
    if (ws->autoscaling) {
      AutoscaleStageResult scaled = Autoscaled(in, key, obj, *ws);
      req->replicas = scaled.desired_replicas;
      out.wake.Merge(scaled.wake);
      out.autoscaled[key] = std::move(scaled);
    }
    FailoverContext c;
    c.key = &key;
    c.status = &ws->status.raw;
    c.policy = req->policy.get();
    c.members = in.members;
    c.reported = in.reported;
    c.defaults = in.defaults;
    c.now = in.now;
    EvictNoExecute(c, *req, out.failover, out.wake);
    DecideFailback(c, *req, out.failover, out.wake);
    ReplaceCapacityPending(c, *req, out.failover, out.wake);
    out.requests.push_back(std::move(*req));
    out.objects.push_back(&obj);
    out.effective.push_back(effective_obj);
  }
  return out;
}

}  // namespace berth::hub
