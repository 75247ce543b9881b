#include "hub/controllers/desired_work.h"

#include "api/object.h"
#include "hub/controllers/stage_types.h"

namespace berth::hub {

using nlohmann::json;

std::map<std::string, policies::RolloutStrategySpec> StrategiesFrom(const std::vector<json>& objects) {
  std::map<std::string, policies::RolloutStrategySpec> out;
  for (const auto& st : objects) {
    auto parsed = policies::ParseRolloutStrategy(st);
    if (parsed.ok()) out[WsKey(api::NamespaceOf(st), api::NameOf(st))] = parsed->spec;
  }
  return out;
}

void ResolveStrategy(const json& obj, const std::map<std::string, policies::RolloutStrategySpec>& strategies,
                     WorkspaceRolloutInput& in) {
  const json inline_strategy = api::JsonPathGet(obj, "rollout.strategy");
  const json strategy_ref = api::JsonPathGet(obj, "rollout.strategyRef.name");
  in.strategy = policies::DefaultRolloutStrategy();
  in.strategy_source = "default";
  if (inline_strategy.is_object()) {
    if (auto st = policies::ParseRolloutStrategySpec(inline_strategy, "rollout.strategy"); st.ok()) {
      in.strategy = *st;
      in.strategy_source = "inline";
    }
  } else if (strategy_ref.is_string()) {
    const std::string name = strategy_ref.get<std::string>();
    auto st = strategies.find(WsKey(api::NamespaceOf(obj), name));
    if (st != strategies.end()) {
      in.strategy = st->second;
      in.strategy_source = name;
    } else {
      in.strategy_source = name + " (not found: the default strategy applies)";
    }
  }
}

std::map<std::string, placement::Allocation> OneShapePerMember(const placement::PlacementDecision& d, int* dropped) {
  std::map<std::string, placement::Allocation> best;
  for (const auto& a : d.allocations) {
    auto it = best.find(a.cluster);
    if (it == best.end()) {
      best[a.cluster] = a;
    } else {
      *dropped += std::min(a.replicas, it->second.replicas);
      if (a.replicas > it->second.replicas) it->second = a;
    }
  }
  return best;
}

namespace {

// A member's reported nodes, without copying them.
const json& MemberNodes(const json& member) {
  static const json kNone = json::array();
  auto status = member.find("status");
  if (status == member.end() || !status->is_object()) return kNone;
  auto nodes = status->find("nodes");
  return nodes != status->end() && nodes->is_array() ? *nodes : kNone;
}

// The Work entry's gpu block: the shape, and what the agent needs of the member's nodes of
// that shape (GFD product label, memory, GPUs per node).
json GpuBlock(const placement::Allocation& a, const json& member) {
  const size_t slash = a.gpu.find('/');
  const std::string product = a.gpu.substr(0, slash);
  const std::string profile = slash == std::string::npos ? "" : a.gpu.substr(slash + 1);
  json gpu = {{"product", product}, {"migProfile", profile}, {"gpusPerReplica", a.gpus_per_replica},
              {"nodesPerReplica", a.nodes_per_replica}};
  for (const auto& n : MemberNodes(member)) {
    if (n.value("gpuProduct", "") == product && n.value("migProfile", "") == profile) {
      gpu["gfdProduct"] = n.value("gfdProduct", "");
      gpu["memoryGiB"] = n.value("memoryGiB", 0.0);
      gpu["gpusPerNode"] = n.value("gpus", 0);
      break;
    }
  }
  return gpu;
}

// What of the Workspace every Work entry carries (the model fields come per revision).
json TrimmedWorkspace(const json& obj) {
  json trimmed = {{"apiVersion", obj["apiVersion"]}, {"kind", obj["kind"]},
                  {"metadata", {{"name", api::NameOf(obj)}, {"namespace", api::NamespaceOf(obj)},
                                {"uid", api::UidOf(obj)}, {"generation", api::GenerationOf(obj)}}}};
  if (obj.contains("placement")) trimmed["placement"] = obj["placement"];
  return trimmed;
}

// The Work entry for one member: the workspace as of the revision this member runs (a member
// still on the old revision renders the old model/image while the rollout has not reached it).
json WorkEntry(const json& trimmed, const placement::Allocation& a, const json& member, const MemberDirective& dir,
               const std::vector<json>* deliver) {
  json ws_at_revision = trimmed;
  for (const char* f : {"resource", "inference"}) {
    if (dir.template_fields.contains(f)) ws_at_revision[f] = dir.template_fields[f];
  }
  json gpu = GpuBlock(a, member);
  // With a resource.labelSelector, whether this member's nodes carry it (the agent renders it)
  // or none does (the agent leaves it out: see placement::PlacementRequest::node_selector).
  const json selector = api::JsonPathGet(ws_at_revision, "resource.labelSelector");
  if (selector.is_object() && !selector.empty()) {
    gpu["labelSelector"] = a.node_selector_honoured ? "Honoured" : "NoMatchingNodes";
  }
  json entry = {{"workspace", ws_at_revision}, {"replicas", a.replicas},
                {"revision", dir.revision}, {"gpu", gpu}, {"update", dir.update}};
  if (!dir.pre_pull.is_null()) entry["prePull"] = dir.pre_pull;
  // The Secrets and ConfigMaps its pods read: Work is sealed at rest like Secrets.
  if (deliver && !deliver->empty()) entry["references"] = *deliver;
  return entry;
}

const MemberReport* ReportOf(const MemberReports& reported, const std::string& member, const std::string& key) {
  auto m = reported.find(member);
  if (m == reported.end()) return nullptr;
  auto r = m->second.find(key);
  return r == m->second.end() ? nullptr : &r->second;
}

}  // namespace

DesiredWork BuildDesiredWork(const DesiredWorkInput& in, GpuLedger& ledger) {
  DesiredWork out;
  std::map<std::string, const placement::ClusterInventory*> inventory_by_name;
  for (const auto& c : in.snapshot->clusters) inventory_by_name[c.name] = &c;
  for (size_t i = 0; i < in.decisions->size(); ++i) {
    const placement::PlacementDecision& d = (*in.decisions)[i];
    const json& obj = *(*in.objects)[i];
    const std::string& key = d.workspace;
    out.requested[key] = d.requested;
    int dropped = 0;
    const auto best = OneShapePerMember(d, &dropped);
    if (dropped > 0) out.split_dropped[key] = dropped;
    WorkspaceRolloutInput rin;
    rin.workspace = &obj;
    rin.now = in.now;
    const auto& policy = (*in.requests)[i].policy;
    rin.min_available = policy ? policy->min_available : 1;
    ResolveStrategy(obj, *in.strategies, rin);
    for (const auto& [cluster, a] : best) {
      auto c = inventory_by_name.find(cluster);
      if (c == inventory_by_name.end()) continue;
      PlacedMember pm;
      pm.cluster = c->second;
      pm.replicas = a.replicas;
      pm.gpu = a.gpu;
      pm.gpus_per_replica = a.gpus_per_replica;
      pm.nodes_per_replica = a.nodes_per_replica;
      pm.spare_units = ledger.Spare(cluster, a.gpu);
      pm.report = ReportOf(*in.reported, cluster, key);
      rin.placed[cluster] = pm;
    }
    auto ro = ReconcileWorkspaceRollout(rin);
    if (!ro.ok()) {
      out.invalid[key] = ro.status().message();
      continue;
    }
    for (const auto& [cluster, dir] : ro->directives) ledger.TakeSurge(cluster, best.at(cluster).gpu, dir.surge_units);
    const WorkspaceRolloutResult& rollout = out.rollouts[key] = std::move(*ro);
    const json trimmed = TrimmedWorkspace(obj);
    const std::vector<json>* deliver = nullptr;
    if (in.resolved) {
      if (auto r = in.resolved->find(key); r != in.resolved->end()) deliver = &r->second.deliver;
    }
    for (const auto& [cluster, a] : best) {
      out.allocations[key].push_back(a);
      out.entries[cluster][key] = WorkEntry(trimmed, a, *in.members->at(cluster).object, rollout.directives.at(cluster), deliver);
    }
  }
  return out;
}

}  // namespace berth::hub
