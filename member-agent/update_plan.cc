#include "member-agent/update_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

namespace berth::agent {

using nlohmann::json;

namespace {

// An integer, or "<n>%" of `replicas` rounded up (as Kubernetes rounds maxUnavailable).
bool ParseCount(const json& v, int replicas, int* out) {
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0) return false;
    *out = static_cast<int>(v.get<int64_t>());
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  if (s.size() < 2 || s.back() != '%') return false;
  char* end = nullptr;
  long pct = std::strtol(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() - 1 || pct < 0 || pct > 100) return false;
  *out = static_cast<int>(std::ceil(pct * std::max(replicas, 0) / 100.0));
  return true;
}

json RollingUpdate(int max_unavailable) {
  return {{"type", "RollingUpdate"},
          {"rollingUpdate", {{"maxUnavailable", std::max(1, max_unavailable)}}}};
}

// The replica index of a multi-node StatefulSet <ws>-r<i> (-1 when the name is not one).
int ReplicaIndex(const std::string& workspace, const std::string& name) {
  const std::string prefix = workspace + "-r";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  int index = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    index = index * 10 + (name[i] - '0');
  }
  return index;
}

struct PodCounts {
  int live = 0;               // not terminating
  int ready = 0;              // of those, Ready (any revision)
  int at_revision = 0;        // at the asked-for revision
  int ready_at_revision = 0;  // at it and Ready
};

std::map<std::string, PodCounts> CountPods(const WorkloadState& observed, const std::string& rev) {
  std::map<std::string, PodCounts> out;
  for (const auto& pod : observed.pods) {
    if (pod.terminating) continue;
    PodCounts& c = out[pod.statefulset];
    ++c.live;
    c.ready += pod.ready;
    if (pod.revision == rev) {
      ++c.at_revision;
      c.ready_at_revision += pod.ready;
    }
  }
  return out;
}

}  // namespace

StatusOr<UpdateSpec> ParseUpdateSpec(const json& update, int replicas) {
  UpdateSpec spec;
  if (update.is_null()) return spec;
  if (!update.is_object())
    return Status::Invalid("update: must be an object", {{"update", "must be an object"}});
  std::vector<FieldCause> causes;
  if (auto it = update.find("mode"); it != update.end() && !it->is_null()) {
    if (*it == "Surge") {
      spec.mode = UpdateSpec::Mode::kSurge;
    } else if (*it != "InPlace") {
      causes.push_back({"update.mode", "must be Surge or InPlace"});
    }
  }
  if (auto it = update.find("maxUnavailable"); it != update.end() && !it->is_null()) {
    if (!ParseCount(*it, replicas, &spec.max_unavailable))
      causes.push_back({"update.maxUnavailable", "must be an integer ≥ 0 or a percentage"});
  }
  spec.max_unavailable = std::max(1, spec.max_unavailable);
  if (auto it = update.find("maxSurge"); it != update.end() && !it->is_null()) {
    if (!ParseCount(*it, replicas, &spec.max_surge))
      causes.push_back({"update.maxSurge", "must be an integer ≥ 0 or a percentage"});
  }
  if (auto it = update.find("previousRevision"); it != update.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      causes.push_back({"update.previousRevision", "must be an integer ≥ 0"});
    } else {
      spec.previous_revision = it->get<int64_t>();
    }
  }
  if (!causes.empty()) return Status::Invalid(causes[0].field + ": " + causes[0].message, causes);
  return spec;
}

UpdatePlan PlanUpdate(const std::string& workspace, int64_t revision, int replicas,
                      const UpdateSpec& update, std::vector<json> rendered,
                      const std::vector<ManagedObject>& live, const WorkloadState& observed) {
  UpdatePlan plan;
  const std::string rev = std::to_string(revision);
  std::map<ObjectKey, const ManagedObject*> live_by_key;
  for (const auto& m : live) live_by_key[m.key] = &m;
  const auto pods = CountPods(observed, rev);
  auto pods_of = [&](const std::string& sts) {
    auto it = pods.find(sts);
    return it == pods.end() ? PodCounts{} : it->second;
  };

  json* main = nullptr;
  std::vector<json*> replica_sets;  // multi-node: <ws>-r<i>, one per replica
  for (auto& obj : rendered) {
    if (obj.value("kind", "") != "StatefulSet") continue;
    const std::string name = obj.value("/metadata/name"_json_pointer, std::string());
    if (name == workspace) {
      main = &obj;
    } else if (ReplicaIndex(workspace, name) >= 0) {
      replica_sets.push_back(&obj);
    }
  }

  std::optional<json> extra;  // appended last: `main` and `replica_sets` point into `rendered`
  const int surge = std::min(update.max_surge, replicas);
  const bool surge_mode =
      update.mode == UpdateSpec::Mode::kSurge && update.previous_revision != 0 && surge > 0;

  if (main) {
    (*main)["spec"]["updateStrategy"] = RollingUpdate(surge_mode ? surge : update.max_unavailable);
    const ObjectKey main_key = KeyOf(*main);
    const ObjectKey surge_key{main_key.api_version, main_key.kind, main_key.namespace_,
                              SurgeStatefulSetName(workspace)};
    auto main_live = live_by_key.find(main_key);
    const PodCounts main_pods = pods_of(workspace);
    const bool main_switched = main_live != live_by_key.end() && main_live->second->revision == rev;
    const bool main_done = main_pods.ready_at_revision >= replicas;
    const bool surge_live = live_by_key.count(surge_key) > 0;
    // A surge only makes sense beside a main StatefulSet whose pods serve another revision.
    const bool need_surge =
        surge_mode && main_live != live_by_key.end() &&
        (!main_switched || main_pods.live > main_pods.at_revision || (surge_live && !main_done));
    if (need_surge) {
      json surge_sts = *main;
      surge_sts["metadata"]["name"] = surge_key.name;
      surge_sts["metadata"]["labels"][kSurgeLabel] = "true";
      surge_sts["spec"]["replicas"] = surge;
      surge_sts["spec"]["selector"]["matchLabels"][kSurgeLabel] = "true";
      surge_sts["spec"]["template"]["metadata"]["labels"][kSurgeLabel] = "true";
      surge_sts["spec"]["updateStrategy"] = RollingUpdate(surge);
      plan.surge_replicas = surge;
      const PodCounts surge_pods = pods_of(surge_key.name);
      // Switch the main StatefulSet once the surge pods serve, or at once when none of its
      // pods serves (nothing to protect, e.g. a rollback from a revision that never came up).
      const bool may_switch =
          main_switched || surge_pods.ready_at_revision >= surge || main_pods.ready == 0;
      if (!may_switch) {
        plan.held.insert(main_key);
        plan.note = "surge: " + std::to_string(surge_pods.ready_at_revision) + "/" +
                    std::to_string(surge) + " new pod(s) of revision " + rev +
                    " Ready; StatefulSet " + workspace + " keeps its revision until they are";
      } else {
        plan.note = "surge: " + std::to_string(surge) + " pod(s) of revision " + rev +
                    " serve while StatefulSet " + workspace + " is updated " +
                    std::to_string(surge) + " at a time";
      }
      extra = std::move(surge_sts);
    }
  }

  if (!replica_sets.empty()) {
    // One multi-node replica is one StatefulSet: replace its pods together (the replica is
    // down as soon as one of them goes), and switch at most maxUnavailable replicas at once.
    std::sort(replica_sets.begin(), replica_sets.end(), [&](const json* a, const json* b) {
      return ReplicaIndex(workspace, (*a)["metadata"]["name"]) >
             ReplicaIndex(workspace, (*b)["metadata"]["name"]);
    });
    int unavailable = 0;
    for (json* sts : replica_sets) {
      const int pods_per_replica = (*sts)["spec"].value("replicas", 1);
      (*sts)["spec"]["updateStrategy"] = RollingUpdate(pods_per_replica);
      const ObjectKey key = KeyOf(*sts);
      if (!live_by_key.count(key)) continue;
      const PodCounts c = pods_of(key.name);
      if (c.ready < pods_per_replica) ++unavailable;
    }
    int held = 0;
    for (json* sts : replica_sets) {
      const ObjectKey key = KeyOf(*sts);
      auto it = live_by_key.find(key);
      if (it == live_by_key.end() || it->second->revision == rev) continue;
      const PodCounts c = pods_of(key.name);
      const bool available = c.ready >= (*sts)["spec"].value("replicas", 1);
      if (!available) continue;  // not serving: switching it costs nothing
      if (unavailable < update.max_unavailable) {
        ++unavailable;
        continue;
      }
      plan.held.insert(key);
      ++held;
    }
    if (held > 0) {
      plan.note = "updating multi-node replicas " + std::to_string(update.max_unavailable) +
                  " at a time: " + std::to_string(held) + " still on their revision";
    }
  }

  if (extra) rendered.push_back(std::move(*extra));
  for (auto& obj : rendered) {
    if (!plan.held.count(KeyOf(obj))) plan.objects.push_back(std::move(obj));
  }
  return plan;
}

}  // namespace berth::agent
