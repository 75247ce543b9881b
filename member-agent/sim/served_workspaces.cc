#include "member-agent/sim/served_workspaces.h"

#include <algorithm>
#include <cstdlib>

#include "member-agent/sim/startup.h"

namespace berth::agent::sim {

using nlohmann::json;

namespace {

// The value of `--flag=value` or `--flag value` in `args` ("" when absent).
std::string FlagValue(const json& args, const std::string& flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].is_string()) continue;
    const std::string& a = args[i].get_ref<const std::string&>();
    if (a.starts_with(flag + "=")) return a.substr(flag.size() + 1);
    if (a == flag && i + 1 < args.size() && args[i + 1].is_string())
      return args[i + 1].get<std::string>();
  }
  return "";
}

json ContainerArgs(const json& sts) {
  const json containers = sts.value("/spec/template/spec/containers"_json_pointer, json::array());
  if (containers.empty() || !containers[0].is_object()) return json::array();
  json args = containers[0].value("args", json::array());
  return args.is_array() ? args : json::array();
}

}  // namespace

std::vector<std::string> ServedModelNames(const json& args, const std::string& fallback) {
  std::string base = FlagValue(args, "--served-model-name");
  if (base.empty()) base = FlagValue(args, "--model");
  if (base.empty()) base = fallback;
  std::vector<std::string> names = {base};
  bool in_lora = false;
  for (const auto& arg : args) {
    if (!arg.is_string()) continue;
    const std::string& a = arg.get_ref<const std::string&>();
    if (a.starts_with("--")) {
      in_lora = a == "--lora-modules";
      continue;
    }
    auto eq = a.find('=');
    if (in_lora && eq != std::string::npos && eq > 0) names.push_back(a.substr(0, eq));
  }
  return names;
}

int PipelineParallelSize(const json& args) {
  return std::max(1, std::atoi(FlagValue(args, "--pipeline-parallel-size").c_str()));
}

std::vector<ServedWorkspace> ServedWorkspaces(const Objects& objects, const Pods& pods,
                                              const std::vector<Node>& nodes, Clock::TimePoint now,
                                              std::map<std::string, int64_t>& kv_bytes_cache,
                                              const ServingFaults& faults) {
  std::map<std::string, ServedWorkspace> out;  // "<ns>/<workspace>"
  for (const auto& [key, sts] : objects) {
    if (key.kind != "StatefulSet") continue;
    const std::string ws = LabelOf(sts, kWorkspaceLabel);
    if (ws.empty()) continue;
    const json args = ContainerArgs(sts);
    ServedWorkspace& w = out[key.namespace_ + "/" + ws];
    w.ns = key.namespace_;
    w.workspace = ws;
    // The main StatefulSet's names win over the surge's (they are the same unless mid-update).
    if (w.model_names.empty() || key.name == ws) w.model_names = ServedModelNames(args, ws);
    const int nodes_per_replica = PipelineParallelSize(args);
    for (const auto& entry : pods) {
      const auto& pod = entry.second;  // not a structured binding: clang 14 cannot capture one
      if (pod.ns != key.namespace_ || pod.statefulset != key.name || pod.node.empty()) continue;
      if (nodes_per_replica > 1 && pod.ordinal % nodes_per_replica != 0) continue;
      if (!PodReady(pod, now)) continue;
      auto node = std::find_if(nodes.begin(), nodes.end(),
                               [&](const Node& n) { return n.spec.name == pod.node; });
      if (node == nodes.end() || node->down) continue;
      auto kv = kv_bytes_cache.find(pod.model);
      if (kv == kv_bytes_cache.end())
        kv = kv_bytes_cache.emplace(pod.model, KvBytesPerToken(pod.model, pod.weights_gib)).first;
      const int per_gpu = std::max(1, node->spec.units_per_gpu);
      ReplicaSpec spec;
      spec.pod = pod.name;
      spec.revision = pod.revision;
      spec.gpu_product = node->spec.gpu_product;
      spec.gpu_memory_gib = node->spec.memory_gib * per_gpu;
      spec.gpus = static_cast<double>(std::max(1, pod.units) * nodes_per_replica) / per_gpu;
      spec.weights_gib = pod.weights_gib;
      spec.kv_bytes_per_token = kv->second;
      if (auto slow = faults.slow.find(pod.image); slow != faults.slow.end()) spec.slowdown = slow->second;
      if (auto failing = faults.failing.find(pod.image); failing != faults.failing.end()) {
        spec.failure_fraction = failing->second;
      }
      w.ready.push_back(std::move(spec));
    }
  }
  std::vector<ServedWorkspace> result;
  for (auto& [k, w] : out) result.push_back(std::move(w));
  return result;
}

}  // namespace berth::agent::sim
