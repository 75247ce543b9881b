// What bounded, strict parsing costs per request body: nlohmann's json::parse against
// api::ParseJson (a linear depth scan, then a parse that refuses duplicate keys), on a member
// heartbeat (Lease patch) and a Workspace create body.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "api/yaml_json.h"

namespace {

const std::string kLease =
    R"({"apiVersion":"berth.dev/v1alpha1","kind":"Lease","metadata":{"name":"m1"},"spec":{"holderIdentity":"m1/host/1","renewTime":"2026-12-04T01:00:00.000000Z","leaseDurationSeconds":15}})";
const std::string kWorkspace =
    R"({"apiVersion":"berth.dev/v1alpha1","kind":"Workspace","metadata":{"name":"chat","namespace":"ml","labels":{"team":"search"}},"resource":{"gpuProducts":["L4","A10"]},"inference":{"preset":{"name":"llama-3.1-8b-instruct"},"image":"ghcr.io/berth/vllm:0.6.3"},"placement":{"replicas":4,"policy":{"scoring":{"weights":{"cost":2,"locality":1}},"demandRegions":[{"region":"westeurope","share":0.7}]}}})";

void BM_NlohmannParse(benchmark::State& st, const std::string* body) {
  for (auto _ : st) benchmark::DoNotOptimize(nlohmann::json::parse(*body));
}
void BM_BoundedParse(benchmark::State& st, const std::string* body) {
  for (auto _ : st) benchmark::DoNotOptimize(berth::api::ParseJson(*body));
}
BENCHMARK_CAPTURE(BM_NlohmannParse, lease, &kLease);
BENCHMARK_CAPTURE(BM_BoundedParse, lease, &kLease);
BENCHMARK_CAPTURE(BM_NlohmannParse, workspace, &kWorkspace);
BENCHMARK_CAPTURE(BM_BoundedParse, workspace, &kWorkspace);

}  // namespace

BENCHMARK_MAIN();
