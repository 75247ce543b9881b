// A small fleet and Work builders shared by member-agent tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::agent::testing {

// One cluster "sim-a": 2 nodes × 2 L4, 1 node with an A100-80GB split in 2 × 3g.40gb.
// Image pull 100 MiB/s, default image 10 GiB, weights 1 GiB/s (4 GiB/s when cached).
inline constexpr char kTestFleet[] = R"(
apiVersion: berth.dev/v1alpha1
kind: Fleet
clusters:
  - name: sim-a
    region: westeurope
    zone: z1
    provider: onprem
    labels: {env: test}
    prices: {L4: 0.8, A100-80GB: 3.5}
    cached: {models: [mistral-7b-instruct]}
    nodePools:
      - {name: l4, gpu: L4, gpusPerNode: 2, count: 2, driverVersion: "550.54.15", cudaVersion: "12.4"}
      - name: mig
        gpu: A100-80GB
        gpusPerNode: 1
        count: 1
        mig: {profile: 3g.40gb, slicesPerGpu: 2}
        driverVersion: "550.54.15"
        cudaVersion: "12.4"
    sim: {imagePullMiBps: 100, defaultImageGiB: 10, weightLoadGiBps: 1, cachedWeightLoadGiBps: 4}
)";

inline nlohmann::json WorkspaceObject(const std::string& name,
                                      const std::string& preset = "phi-4-mini-instruct",
                                      const std::string& ns = "models") {
  return {
      {"apiVersion", "berth.dev/v1alpha1"},
      {"kind", "Workspace"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}, {"generation", 1}}},
      {"resource", {{"gpuProducts", {"L4"}}}},
      {"inference", {{"preset", {{"name", preset}, {"revision", "main"}}}}},
      {"placement", {{"replicas", 1}}}};
}

inline nlohmann::json L4Gpu(int gpus_per_node = 2) {
  return {{"product", "L4"},
          {"gfdProduct", "NVIDIA-L4"},
          {"memoryGiB", 24},
          {"gpusPerNode", gpus_per_node},
          {"migProfile", ""}};
}

inline nlohmann::json WorkEntry(const nlohmann::json& ws, int replicas, int revision = 1,
                                nlohmann::json gpu = L4Gpu()) {
  return {{"workspace", ws}, {"replicas", replicas}, {"revision", revision}, {"gpu", gpu}};
}

// A Work entry that rolls `ws` out as revision `revision` over `previous` with `update`
// (the contract's `update` block).
inline nlohmann::json UpdateEntry(const nlohmann::json& ws, int replicas, int revision,
                                  nlohmann::json update, nlohmann::json gpu = L4Gpu()) {
  nlohmann::json e = WorkEntry(ws, replicas, revision, std::move(gpu));
  e["update"] = std::move(update);
  return e;
}

// The workspace of a new revision: another image (any template change is a new revision).
inline nlohmann::json WithImage(nlohmann::json ws, const std::string& image) {
  ws["inference"]["image"] = image;
  return ws;
}

// `entries` is a vector, not a json: `Work(c, g, {entry})` with a json parameter is an array
// for clang and the entry itself for gcc (CWG 1467 vs 2137).
inline nlohmann::json Work(const std::string& cluster, int64_t generation,
                           const std::vector<nlohmann::json>& entry_list) {
  const nlohmann::json entries(entry_list);
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "Work"},
          {"metadata", {{"name", cluster}, {"resourceVersion", "10"}}},
          {"spec",
           {{"cluster", cluster}, {"placementGeneration", generation}, {"workspaces", entries}}}};
}

}  // namespace berth::agent::testing
