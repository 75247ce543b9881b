#include "member-agent/sim/sim_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "member-agent/hub_api.h"
#include "member-agent/readiness.h"
#include "member-agent/sim/loopback_http_testing.h"
#include "member-agent/sim/serving_model.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"
#include "workspace/renderer.h"
#include "workspace/workspace_types.h"

namespace berth::agent {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class SimTest : public ::testing::Test {
 protected:
  void Make(SimSettings settings = {}) {
    auto sim = SimCluster::FromFleetYaml(testing::kTestFleet, "sim-a", settings, &clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
  }
  // Renders and applies a workspace as the reconciler would (with its annotations), at
  // `revision`, with `image` ("" = the default) and, when `max_unavailable` > 0, that
  // rolling-update budget on its StatefulSet.
  void Deploy(const std::string& name, int replicas,
              const std::string& preset = "phi-4-mini-instruct", json gpu = testing::L4Gpu(),
              int64_t revision = 1, const std::string& image = "", int max_unavailable = 0) {
    json object = testing::WorkspaceObject(name, preset);
    if (!image.empty()) object = testing::WithImage(object, image);
    DeployObject(object, replicas, gpu, revision, max_unavailable);
  }
  void DeployObject(const json& object, int replicas, json gpu = testing::L4Gpu(), int64_t revision = 1,
                    int max_unavailable = 0) {
    auto ws = workspace::ParseWorkspace(object);
    ASSERT_TRUE(ws.ok()) << ws.status().ToString();
    workspace::ClusterAssignment a;
    a.revision = revision;
    a.replicas = replicas;
    a.shape.product = gpu["product"];
    a.shape.gpus_per_node = gpu["gpusPerNode"];
    a.shape.mig_profile = gpu["migProfile"];
    a.gfd_product = gpu["gfdProduct"];
    auto rendered = workspace::RenderWorkspace(*ws, a);
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    for (json obj : rendered->objects) {
      if (obj["kind"] == "StatefulSet") {
        obj["metadata"]["annotations"][kWeightsGibAnnotation] =
            std::to_string(ws->model.weights_gib);
        obj["metadata"]["annotations"][kModelAnnotation] = ws->model.preset;
        if (max_unavailable > 0)
          obj["spec"]["updateStrategy"] = {
              {"type", "RollingUpdate"},
              {"rollingUpdate", {{"maxUnavailable", max_unavailable}}}};
      }
      ASSERT_TRUE(sim_->Apply(obj).ok());
    }
  }
  // Serves 3 replicas of "phi" at revision 1, then rolls out revision 2 with an image whose
  // pulls fail; returns that image.
  std::string RollOutAnUnpullableRevision2() {
    Make();
    const std::string bad = "vllm/vllm-openai:v0.11.0";
    Deploy("phi", 3);
    clock_.Advance(200s);
    sim_->SetImagePullFailure(bad, true);
    Deploy("phi", 3, "phi-4-mini-instruct", testing::L4Gpu(), 2, bad);
    return bad;
  }
  WorkspaceReadiness Readiness(const std::string& name, int replicas, int64_t revision = 1) {
    auto w = sim_->ReadWorkload("models", name);
    EXPECT_TRUE(w.ok());
    return SummarizeWorkload(name, *w, replicas, revision);
  }
  // Pod name → revision label, and how many pods are not Ready.
  std::map<std::string, std::string> Revisions(const std::string& name, int* not_ready) {
    auto w = sim_->ReadWorkload("models", name);
    EXPECT_TRUE(w.ok());
    std::map<std::string, std::string> out;
    *not_ready = 0;
    for (const auto& p : w->pods) {
      out[p.name] = p.revision;
      *not_ready += !p.ready;
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<SimCluster> sim_;
};

TEST_F(SimTest, StartupIsImagePullThenWeightLoad) {
  Make();
  Deploy("phi", 1);
  // 10 GiB at 100 MiB/s = 102.4 s; then 7.15 GiB at 1 GiB/s = 7.15 s.
  EXPECT_EQ(Readiness("phi", 1).reason, "ImagePulling");
  clock_.Advance(102s);
  EXPECT_EQ(Readiness("phi", 1).reason, "ImagePulling");
  clock_.Advance(1s);
  EXPECT_EQ(Readiness("phi", 1).reason, "LoadingWeights");
  clock_.Advance(6s);
  EXPECT_EQ(Readiness("phi", 1).phase, "Starting");
  clock_.Advance(1s);
  EXPECT_EQ(Readiness("phi", 1).phase, "Ready");
  // The node now caches the image: a second workspace scheduled there skips the pull.
  auto inv = sim_->ReadInventory();
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->cached_images, std::vector<std::string>{workspace::kDefaultVllmImage});
  EXPECT_EQ(inv->cached_models,
            (std::vector<std::string>{"mistral-7b-instruct", "phi-4-mini-instruct"}));
}

// As the kubelet: a container that reads a missing Secret is not created
// (CreateContainerConfigError) and starts once the Secret exists; a running one is not
// stopped when the Secret goes away.
TEST_F(SimTest, ContainersWaitForTheSecretsTheyRead) {
  Make();
  json object = testing::WorkspaceObject("gated");
  object["inference"]["modelAccessSecret"] = "hf-token";
  DeployObject(object, 1);
  clock_.Advance(103s);  // image pulled
  auto r = Readiness("gated", 1);
  EXPECT_EQ(r.phase, "Starting");
  EXPECT_NE(r.message.find("secret \"gated-hf-token\" not found"), std::string::npos) << r.message;
  clock_.Advance(60s);  // waiting does not count as loading
  const json secret = {{"apiVersion", "v1"}, {"kind", "Secret"},
                       {"metadata", {{"name", "gated-hf-token"}, {"namespace", "models"}}},
                       {"data", {{"HF_TOKEN", "eA=="}}}};
  ASSERT_TRUE(sim_->Apply(secret).ok());
  EXPECT_EQ(Readiness("gated", 1).reason, "LoadingWeights");
  clock_.Advance(8s);
  EXPECT_EQ(Readiness("gated", 1).phase, "Ready");
  ASSERT_TRUE(sim_->Delete(KeyOf(secret)).ok());
  EXPECT_EQ(Readiness("gated", 1).phase, "Ready");
}

TEST_F(SimTest, TimeScaleShrinksStartup) {
  SimSettings s;
  s.time_scale = 0.01;
  Make(s);
  Deploy("phi", 1);
  clock_.Advance(1100ms);  // 109.55 s × 0.01 ≈ 1.1 s
  EXPECT_EQ(Readiness("phi", 1).phase, "Ready");
}

TEST_F(SimTest, SchedulerHonoursGpuCountsPerNode) {
  Make();
  Deploy("phi", 5);  // 4 L4 in the cluster, one GPU per replica
  auto r = Readiness("phi", 5);
  EXPECT_EQ(r.phase, "Pending");
  EXPECT_EQ(r.reason, "InsufficientGPU");
  auto inv = sim_->ReadInventory();
  ASSERT_TRUE(inv.ok());
  int free_l4 = 0;
  for (const auto& n : inv->nodes) {
    if (n.gpu_product == "L4") free_l4 += n.free_gpus;
  }
  EXPECT_EQ(free_l4, 0);
  clock_.Advance(200s);
  r = Readiness("phi", 5);
  EXPECT_EQ(r.ready_replicas, 4);
  EXPECT_EQ(r.reason, "InsufficientGPU");
}

TEST_F(SimTest, MigSlicesAreScheduledOnMigNodesOnly) {
  Make();
  json mig = {{"product", "A100-80GB"},
              {"gfdProduct", "NVIDIA-A100-SXM4-80GB"},
              {"memoryGiB", 40},
              {"gpusPerNode", 2},
              {"migProfile", "3g.40gb"}};
  Deploy("phi", 3, "phi-4-mini-instruct", mig);
  auto w = sim_->ReadWorkload("models", "phi");
  ASSERT_TRUE(w.ok());
  int scheduled = 0;
  for (const auto& p : w->pods) {
    if (!p.node.empty()) {
      EXPECT_EQ(p.node, "mig-0");
      ++scheduled;
    }
  }
  EXPECT_EQ(scheduled, 2);  // one GPU × 2 slices
  auto inv = sim_->ReadInventory();
  for (const auto& n : inv->nodes) {
    if (n.name == "mig-0") {
      EXPECT_EQ(n.gpus, 2);
      EXPECT_EQ(n.free_gpus, 0);
      EXPECT_EQ(n.mig_profile, "3g.40gb");
    }
  }
}

TEST_F(SimTest, NodeDownMovesPodsOrLeavesThemPendingWithNodeLost) {
  Make();
  Deploy("phi", 4);
  clock_.Advance(200s);
  ASSERT_EQ(Readiness("phi", 4).phase, "Ready");
  ASSERT_TRUE(sim_->SetNodeDown("l4-0", true).ok());
  auto r = Readiness("phi", 4);
  EXPECT_EQ(r.ready_replicas, 2);
  EXPECT_EQ(r.phase, "Pending");
  EXPECT_EQ(r.reason, "NodeLost");
  auto inv = sim_->ReadInventory();
  for (const auto& n : inv->nodes) {
    if (n.name == "l4-0") {
      EXPECT_FALSE(n.ready);
      EXPECT_EQ(n.free_gpus, 0);
    }
  }
  ASSERT_TRUE(sim_->SetNodeDown("l4-0", false).ok());
  r = Readiness("phi", 4);
  EXPECT_EQ(r.reason, "LoadingWeights");  // image cached on the node: straight to loading
  clock_.Advance(10s);
  EXPECT_EQ(Readiness("phi", 4).phase, "Ready");
  EXPECT_EQ(sim_->SetNodeDown("nope", true).code(), StatusCode::kNotFound);
}

TEST_F(SimTest, LostGpusEvictPodsOverCapacity) {
  Make();
  Deploy("phi", 2);
  clock_.Advance(200s);
  ASSERT_EQ(Readiness("phi", 2).phase, "Ready");
  auto w = sim_->ReadWorkload("models", "phi");
  std::string node = w->pods[0].node;
  ASSERT_TRUE(sim_->LoseGpus(node, 2).ok());
  auto r = Readiness("phi", 2);
  EXPECT_LT(r.ready_replicas, 2);  // evicted pods restart elsewhere (pull again there)
  auto inv = sim_->ReadInventory();
  for (const auto& n : inv->nodes) {
    if (n.name == node) {
      EXPECT_EQ(n.gpus, 0);
    }
  }
  clock_.Advance(200s);
  EXPECT_EQ(Readiness("phi", 2).phase, "Ready");  // the other node has 2 L4
  ASSERT_TRUE(sim_->LoseGpus(node, 0).ok());
}

TEST_F(SimTest, ImagePullFailureIsImagePullBackOffUntilCleared) {
  Make();
  sim_->SetImagePullFailure(workspace::kDefaultVllmImage, true);
  Deploy("phi", 1);
  clock_.Advance(300s);
  auto r = Readiness("phi", 1);
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(r.reason, "ImagePullBackOff");
  sim_->SetImagePullFailure(workspace::kDefaultVllmImage, false);
  EXPECT_EQ(Readiness("phi", 1).reason, "ImagePulling");
  clock_.Advance(110s);
  EXPECT_EQ(Readiness("phi", 1).phase, "Ready");
}

TEST_F(SimTest, RollingUpdateReplacesAtMostMaxUnavailableHighestOrdinalFirst) {
  Make();
  Deploy("phi", 4, "phi-4-mini-instruct", testing::L4Gpu(), 1, "", 2);
  clock_.Advance(200s);
  ASSERT_EQ(Readiness("phi", 4).phase, "Ready");
  Deploy("phi", 4, "phi-4-mini-instruct", testing::L4Gpu(), 2, "", 2);
  int not_ready = 0;
  auto revs = Revisions("phi", &not_ready);
  // The two highest ordinals go first; the others keep serving revision 1.
  EXPECT_EQ(revs, (std::map<std::string, std::string>{
                      {"phi-0", "1"}, {"phi-1", "1"}, {"phi-2", "2"}, {"phi-3", "2"}}));
  EXPECT_EQ(not_ready, 2);
  for (int s = 0; s < 120 && Readiness("phi", 4, 2).phase != "Ready"; ++s) {
    clock_.Advance(1s);
    revs = Revisions("phi", &not_ready);
    EXPECT_LE(not_ready, 2) << "at " << s << " s";
  }
  EXPECT_EQ(Readiness("phi", 4, 2).phase, "Ready");
}

TEST_F(SimTest, RollingUpdateDefaultsToOnePodAtATime) {
  Make();
  Deploy("phi", 3);
  clock_.Advance(200s);
  Deploy("phi", 3, "phi-4-mini-instruct", testing::L4Gpu(), 2);  // no updateStrategy
  int not_ready = 0;
  std::vector<std::string> order;  // pods in the order they reached revision 2
  std::set<std::string> seen;
  for (int s = 0; s < 60; ++s) {
    auto revs = Revisions("phi", &not_ready);
    EXPECT_LE(not_ready, 1) << "at " << s << " s";
    for (const auto& [pod, rev] : revs) {
      if (rev == "2" && seen.insert(pod).second) order.push_back(pod);
    }
    clock_.Advance(1s);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"phi-2", "phi-1", "phi-0"}));
  EXPECT_EQ(Readiness("phi", 3, 2).phase, "Ready");
}

TEST_F(SimTest, ImagePullFailureOfTheNewRevisionStopsTheRollingUpdate) {
  const std::string bad = RollOutAnUnpullableRevision2();
  clock_.Advance(600s);
  int not_ready = 0;
  auto revs = Revisions("phi", &not_ready);
  EXPECT_EQ(revs, (std::map<std::string, std::string>{
                      {"phi-0", "1"}, {"phi-1", "1"}, {"phi-2", "2"}}));
  EXPECT_EQ(not_ready, 1);
  auto r = Readiness("phi", 3, 2);
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(r.reason, "ImagePullBackOff");
  EXPECT_EQ(r.failures, 1);
  EXPECT_EQ(Readiness("phi", 3, 1).ready_replicas, 2);  // the old pods still serve
  // The registry recovers: the roll goes on to the end.
  sim_->SetImagePullFailure(bad, false);
  for (int s = 0; s < 20; ++s) {
    clock_.Advance(30s);
    Readiness("phi", 3, 2);
  }
  EXPECT_EQ(Readiness("phi", 3, 2).phase, "Ready");
}

TEST_F(SimTest, RollingBackReplacesAPodStuckOnTheBadRevisionAtOnce) {
  RollOutAnUnpullableRevision2();
  clock_.Advance(300s);
  ASSERT_EQ(Readiness("phi", 3, 2).reason, "ImagePullBackOff");
  Deploy("phi", 3);  // back to revision 1: the stuck pod does not serve, so it goes first
  int not_ready = 0;
  auto revs = Revisions("phi", &not_ready);
  EXPECT_EQ(revs["phi-2"], "1");
  clock_.Advance(30s);
  EXPECT_EQ(Readiness("phi", 3, 1).phase, "Ready");
}

// A pre-pull DaemonSet for L4 nodes, reduced to what the sim reads.
json PrePullDaemonSet(const std::string& image, const std::string& model,
                      const std::string& weights_gib) {
  json ds = {{"apiVersion", "apps/v1"}, {"kind", "DaemonSet"}};
  ds["metadata"]["name"] = "berth-prepull-phi";
  ds["metadata"]["namespace"] = "models";
  ds["metadata"]["labels"][kPrePullLabel] = "phi";
  ds["metadata"]["annotations"][kModelAnnotation] = model;
  ds["metadata"]["annotations"][kWeightsGibAnnotation] = weights_gib;
  json& pod = ds["spec"]["template"]["spec"];
  pod["nodeSelector"]["nvidia.com/gpu.product"] = "NVIDIA-L4";
  pod["initContainers"] = json::array({{{"name", "pull"}, {"image", image}}});
  pod["containers"] = json::array({{{"name", "pause"}, {"image", "registry.k8s.io/pause:3.10"}}});
  return ds;
}

TEST_F(SimTest, PrePullDaemonSetWarmsNodesOfItsGpuShapeOnly) {
  Make();
  const std::string image = "vllm/vllm-openai:v0.11.0";
  json ds = PrePullDaemonSet(image, "llama-3.1-8b-instruct", "14.96");
  ASSERT_TRUE(sim_->Apply(ds).ok());
  auto cached = [&](const std::vector<std::string>& list, const std::string& what) {
    return std::find(list.begin(), list.end(), what) != list.end();
  };
  // 10 GiB at 100 MiB/s = 102.4 s, then 14.96 GiB of weights at 1 GiB/s.
  clock_.Advance(102s);
  auto inv = sim_->ReadInventory();
  EXPECT_FALSE(cached(inv->cached_images, image));
  clock_.Advance(1s);
  inv = sim_->ReadInventory();
  EXPECT_TRUE(cached(inv->cached_images, image));
  EXPECT_FALSE(cached(inv->cached_models, "llama-3.1-8b-instruct"));
  clock_.Advance(15s);
  inv = sim_->ReadInventory();
  EXPECT_TRUE(cached(inv->cached_models, "llama-3.1-8b-instruct"));
  std::set<std::string> nodes;
  const json state = sim_->Describe();
  for (const auto& p : state["prePulls"]) {
    nodes.insert(p["node"].get<std::string>());
    EXPECT_EQ(p["state"], "Done");
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"l4-0", "l4-1"}));  // not the MIG node
  // A pod of that image on those nodes now skips the pull.
  Deploy("phi", 1, "phi-4-mini-instruct", testing::L4Gpu(), 1, image);
  EXPECT_EQ(Readiness("phi", 1).reason, "LoadingWeights");
}

TEST_F(SimTest, PrePullWaitsOutAnImagePullFailure) {
  Make();
  const std::string image = "vllm/vllm-openai:v0.11.0";
  sim_->SetImagePullFailure(image, true);
  json ds = PrePullDaemonSet(image, "", "0");
  ASSERT_TRUE(sim_->Apply(ds).ok());
  clock_.Advance(600s);
  auto inv = sim_->ReadInventory();
  EXPECT_EQ(std::count(inv->cached_images.begin(), inv->cached_images.end(), image), 0);
  const json state = sim_->Describe();
  EXPECT_EQ(state["prePulls"].size(), 2u);
  EXPECT_EQ(state["prePulls"][0]["state"], "ImagePullBackOff");
  sim_->SetImagePullFailure(image, false);
  clock_.Advance(103s);
  inv = sim_->ReadInventory();
  EXPECT_EQ(std::count(inv->cached_images.begin(), inv->cached_images.end(), image), 1);
}

TEST_F(SimTest, ReadPrePullCountsNodesOfTheShapeDoneAndFailing) {
  Make();
  const std::string image = "vllm/vllm-openai:v0.11.0";
  ASSERT_TRUE(sim_->Apply(PrePullDaemonSet(image, "llama-3.1-8b-instruct", "14.96")).ok());
  auto state = sim_->ReadPrePull("models", "phi");
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->found);
  EXPECT_EQ(state->image, image);
  EXPECT_EQ(state->desired_nodes, 2);  // the two L4 nodes, not the MIG node
  EXPECT_EQ(state->done_nodes, 0);
  // Image (102.4 s) and weights (14.96 s): done only when both are there.
  clock_.Advance(110s);
  EXPECT_EQ(sim_->ReadPrePull("models", "phi")->done_nodes, 0);
  clock_.Advance(8s);
  EXPECT_EQ(sim_->ReadPrePull("models", "phi")->done_nodes, 2);
  ASSERT_TRUE(sim_->SetNodeDown("l4-1", true).ok());
  EXPECT_EQ(sim_->ReadPrePull("models", "phi")->desired_nodes, 1);
  ASSERT_TRUE(sim_->SetNodeDown("l4-1", false).ok());

  // A new image that cannot be pulled: every node fails.
  const std::string bad = "vllm/vllm-openai:v9.9.9";
  sim_->SetImagePullFailure(bad, true);
  ASSERT_TRUE(sim_->Apply(PrePullDaemonSet(bad, "llama-3.1-8b-instruct", "14.96")).ok());
  clock_.Advance(30s);
  state = sim_->ReadPrePull("models", "phi");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->image, bad);
  EXPECT_EQ(state->failed_nodes, 2);
  EXPECT_EQ(state->done_nodes, 0);
  EXPECT_EQ(state->reason, "ImagePullBackOff");
  EXPECT_NE(state->message.find(bad), std::string::npos) << state->message;
  EXPECT_FALSE(sim_->ReadPrePull("models", "other")->found);
}

TEST_F(SimTest, UnreachableCutsTheAgentOffFromTheHub) {
  Make();
  testing::FakeHubApi hub;
  PartitionableHubApi cut(&hub, sim_->unreachable_flag());
  EXPECT_TRUE(cut.RenewLease("sim-a", "me", "t", 15).ok());
  sim_->SetUnreachable(true);
  EXPECT_EQ(cut.RenewLease("sim-a", "me", "t", 15).code(), StatusCode::kUnavailable);
  EXPECT_EQ(cut.PatchWorkStatus("sim-a", json::object()).code(), StatusCode::kUnavailable);
  EXPECT_EQ(hub.Calls("RenewLease").size(), 1u);
  sim_->ClearFaults();
  EXPECT_TRUE(cut.RenewLease("sim-a", "me", "t", 15).ok());
}

// The port of a workspace's serving listener, 0 when it has none.
int ServingPort(SimCluster& sim, const std::string& ws) {
  auto state = sim.ReadServing("models", ws);
  if (!state.ok() || state->url.empty()) return 0;
  return std::stoi(state->url.substr(std::string("http://127.0.0.1:").size()));
}

TEST_F(SimTest, ServingListenerFollowsTheStatefulSetAndItsReadyPods) {
  Make();
  EXPECT_EQ(ServingPort(*sim_, "phi"), 0);
  Deploy("phi", 2);
  const int port = ServingPort(*sim_, "phi");
  ASSERT_GT(port, 0);
  auto state = sim_->ReadServing("models", "phi");
  ASSERT_TRUE(state.ok() && state->signals);
  EXPECT_EQ(state->signals->ready_endpoints, 0);  // still pulling
  EXPECT_EQ(sim::testing::Status(sim::testing::Get(port, "/health")), 503);
  clock_.Advance(200s);
  state = sim_->ReadServing("models", "phi");
  EXPECT_EQ(state->signals->ready_endpoints, 2);
  EXPECT_GT(state->signals->capacity, 2);
  EXPECT_EQ(sim::testing::Status(sim::testing::Get(port, "/health")), 200);
  const std::string models = sim::testing::Get(port, "/v1/models");
  EXPECT_NE(models.find("\"id\":\"phi-4-mini-instruct\""), std::string::npos) << models;
  // The pod's GPUs and the model's KV bytes set its slots: the same as the model computes.
  sim::ReplicaSpec l4;
  l4.gpu_product = "L4";
  l4.gpu_memory_gib = 24;
  l4.weights_gib = 7.15;
  l4.kv_bytes_per_token = sim::KvBytesPerToken("phi-4-mini-instruct", 7.15);
  EXPECT_EQ(state->signals->capacity, 2 * sim::SpeedOf(l4).max_sequences);
  EXPECT_EQ(sim_->Describe()["serving"][0]["url"], state->url);
  ASSERT_TRUE(sim_->Delete({"apps/v1", "StatefulSet", "models", "phi"}).ok());
  EXPECT_EQ(ServingPort(*sim_, "phi"), 0);
  EXPECT_EQ(sim::testing::Connect(port), -1);
}

TEST_F(SimTest, UnreachableClosesServingListenersAndClearingReopensThemOnTheSamePorts) {
  Make();
  Deploy("phi", 1);
  clock_.Advance(200s);
  const int port = ServingPort(*sim_, "phi");
  ASSERT_GT(port, 0);
  sim_->SetUnreachable(true);
  EXPECT_EQ(sim::testing::Connect(port), -1);
  sim_->ClearFaults();
  EXPECT_EQ(ServingPort(*sim_, "phi"), port);
  EXPECT_EQ(sim::testing::Status(sim::testing::Get(port, "/health")), 200);
}

TEST_F(SimTest, PodsThatStopBeingReadyGetNoNewRequests) {
  SimSettings fast;
  fast.time_scale = 0.01;  // replies in milliseconds of real time
  Make(fast);
  Deploy("phi", 4);
  clock_.Advance(200s);
  const int port = ServingPort(*sim_, "phi");
  ASSERT_EQ(sim_->ReadServing("models", "phi")->signals->ready_endpoints, 4);
  ASSERT_TRUE(sim_->SetNodeDown("l4-0", true).ok());
  EXPECT_EQ(sim_->ReadServing("models", "phi")->signals->ready_endpoints, 2);
  for (int i = 0; i < 6; ++i) {
    const std::string r = sim::testing::Post(port, "/v1/completions",
                                             R"({"model": "phi-4-mini-instruct", "prompt": "hi"})");
    ASSERT_EQ(sim::testing::Status(r), 200) << r;
  }
  clock_.Advance(60s);
  const std::string metrics = sim::testing::Get(port, "/metrics");
  auto ready = sim_->ReadWorkload("models", "phi");
  for (const auto& pod : ready->pods) {
    const std::string line =
        "vllm:request_success_total{model_name=\"phi-4-mini-instruct\",pod=\"" + pod.name + "\"}";
    if (pod.ready) {
      EXPECT_NE(metrics.find(line), std::string::npos) << pod.name;  // it took some
    } else {
      EXPECT_EQ(metrics.find(line), std::string::npos) << pod.name;  // it took none
    }
  }
}

TEST_F(SimTest, InventoryComesFromTheFleetAndSaysSimulated) {
  Make();
  auto inv = sim_->ReadInventory();
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->nodes.size(), 3u);
  EXPECT_EQ(inv->total_gpus(), 5);  // 4 L4 + 1 A100 (2 slices)
  json status = InventoryStatusJson(*inv, kAgentVersion, sim_->name(), sim_->simulated());
  EXPECT_EQ(status["simulated"], true);
  EXPECT_EQ(status["backend"], "sim");
  EXPECT_EQ(status["nodes"][0]["gfdProduct"], "NVIDIA-L4");
  EXPECT_EQ(status["nodes"][0]["driverVersion"], "550.54.15");
  EXPECT_EQ(status["pricesPerGpuHour"]["L4"], 0.8);
  EXPECT_EQ(sim_->Describe()["simulated"], true);
}

TEST(SimFleetTest, UnknownClusterListsTheKnownOnes) {
  FakeClock clock;
  auto sim = SimCluster::FromFleetYaml(testing::kTestFleet, "nope", {}, &clock);
  ASSERT_FALSE(sim.ok());
  EXPECT_NE(sim.status().message().find("sim-a"), std::string::npos);
}

}  // namespace
}  // namespace berth::agent
