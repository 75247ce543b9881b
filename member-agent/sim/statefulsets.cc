#include "member-agent/sim/statefulsets.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "member-agent/reconciler.h"
#include "member-agent/sim/startup.h"
#include "placement/taints.h"
#include "workspace/pod_template.h"

namespace berth::agent::sim {

using nlohmann::json;

int MaxUnavailable(const json& sts_spec, int replicas) {
  const json v =
      sts_spec.value("/updateStrategy/rollingUpdate/maxUnavailable"_json_pointer, json(1));
  int n = 1;
  if (v.is_number_integer()) {
    n = v.get<int>();
  } else if (v.is_string()) {
    const std::string text = v.get<std::string>();
    n = std::atoi(text.c_str());
    if (!text.empty() && text.back() == '%') n = (n * replicas + 99) / 100;
  }
  return std::max(1, n);
}

Pod PodFromStatefulSet(const ObjectKey& sts_key, const json& sts, int ordinal) {
  const json spec = sts.value("spec", json::object());
  const json tmpl = spec.value("template", json::object());
  const json pod_spec = tmpl.value("spec", json::object());
  const json containers = pod_spec.value("containers", json::array());
  const json container = containers.empty() ? json::object() : containers[0];
  Pod pod;
  pod.ns = sts_key.namespace_;
  pod.name = sts_key.name + "-" + std::to_string(ordinal);
  pod.statefulset = sts_key.name;
  pod.workspace = LabelOf(sts, kWorkspaceLabel);
  pod.template_hash = ObjectHash(tmpl);
  pod.revision = LabelOf(tmpl, kRevisionLabel);
  pod.ordinal = ordinal;
  pod.image = container.value("image", "");
  const json limits = container.value("/resources/limits"_json_pointer, json::object());
  for (const auto& [res, q] : limits.items()) {
    if (res == "nvidia.com/gpu" || res.starts_with("nvidia.com/mig-")) {
      pod.resource = res;
      pod.units = q.is_string() ? std::atoi(q.get<std::string>().c_str()) : q.get<int>();
    }
  }
  pod.node_affinity_terms = pod_spec.value(
      "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"_json_pointer,
      json::array());
  pod.anti_affinity = pod_spec.contains("/affinity/podAntiAffinity"_json_pointer);
  pod.tolerations = placement::ParsePodTolerations(pod_spec.value("tolerations", json::array()));
  const json ann = sts.value("/metadata/annotations"_json_pointer, json::object());
  pod.weights_gib = std::atof(ann.value(kWeightsGibAnnotation, "0").c_str());
  pod.model = ann.value(kModelAnnotation, "");
  pod.needs = workspace::PodSpecReferences(pod_spec);
  return pod;
}

void SyncStatefulSetPods(const Objects& objects, Clock::TimePoint now, Pods& pods) {
  std::set<std::string> wanted;
  for (const auto& [key, sts] : objects) {
    if (key.kind != "StatefulSet") continue;
    const json spec = sts.value("spec", json::object());
    const std::string template_hash = ObjectHash(spec.value("template", json::object()));
    const int replicas = spec.value("replicas", 1);
    std::vector<Pod*> old;  // pods of another template, by ordinal
    int unavailable = 0;
    for (int i = 0; i < replicas; ++i) {
      std::string pod_key = key.namespace_ + "/" + key.name + "-" + std::to_string(i);
      wanted.insert(pod_key);
      auto it = pods.find(pod_key);
      if (it == pods.end()) {  // missing pods are created from the current template
        it = pods.emplace(pod_key, PodFromStatefulSet(key, sts, i)).first;
      }
      if (!PodReady(it->second, now)) ++unavailable;
      if (it->second.template_hash != template_hash) old.push_back(&it->second);
    }
    if (spec.value("/updateStrategy/type"_json_pointer, std::string()) == "OnDelete") continue;
    // Rolling update, highest ordinal first. A pod of another template that does not serve
    // is replaced at once (that costs no availability, and a pod stuck on a bad revision
    // must not block the way back); Ready ones only while fewer than maxUnavailable pods
    // are unavailable, so a new pod that never becomes Ready (ImagePullBackOff) stops it.
    const int max_unavailable = MaxUnavailable(spec, replicas);
    std::reverse(old.begin(), old.end());
    for (Pod* pod : old) {
      if (!PodReady(*pod, now)) *pod = PodFromStatefulSet(key, sts, pod->ordinal);
    }
    for (Pod* pod : old) {
      if (pod->template_hash == template_hash || unavailable >= max_unavailable) continue;
      *pod = PodFromStatefulSet(key, sts, pod->ordinal);
      ++unavailable;
    }
  }
  for (auto it = pods.begin(); it != pods.end();) {
    it = wanted.count(it->first) ? std::next(it) : pods.erase(it);
  }
}

}  // namespace berth::agent::sim
