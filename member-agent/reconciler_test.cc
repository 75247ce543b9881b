#include "member-agent/reconciler.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>

#include "member-agent/heartbeat.h"
#include "member-agent/sim/sim_cluster.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"

namespace berth::agent {
namespace {

using nlohmann::json;
using testing::CountingBackend;
using testing::FakeHubApi;
using testing::kTestFleet;
using testing::UpdateEntry;
using testing::WithImage;
using testing::Work;
using testing::WorkEntry;
using testing::WorkspaceObject;

// A fresh state directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "agent-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = SimCluster::FromFleetYaml(kTestFleet, "sim-a", {}, &clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    backend_ = std::make_unique<CountingBackend>(sim_.get());
    auto state = AgentStateDir::Open(dir_.path());
    ASSERT_TRUE(state.ok());
    state_ = std::make_unique<AgentStateDir>(*state);
    reconciler_ = NewReconciler();
  }
  std::unique_ptr<Reconciler> NewReconciler() {
    ReconcilerOptions opts;
    opts.cluster = "sim-a";
    return std::make_unique<Reconciler>(backend_.get(), &hub_, state_.get(), &clock_, opts);
  }
  // One full level-triggered pass, as the agent's loop does it.
  void Pass() {
    ASSERT_TRUE(reconciler_->Resync().ok());
    reconciler_->ProcessReady();
    (void)reconciler_->FlushStatus();
  }
  json LastStatus() {
    auto calls = hub_.Calls("PatchWorkStatus");
    return calls.empty() ? json() : calls.back().body;
  }
  void Observe(json work) {
    hub_.set_work(std::move(work));
    ASSERT_TRUE(reconciler_->ObserveWork(hub_.work()));
  }
  // Pods of `ws` as the sim runs them.
  std::vector<PodState> Pods(const std::string& ws = "phi") {
    auto w = sim_->ReadWorkload("models", ws);
    EXPECT_TRUE(w.ok());
    return w.ok() ? w->pods : std::vector<PodState>{};
  }
  // Ready pods of `statefulset` (any when empty) at `revision` (any when empty).
  int ReadyPods(const std::string& statefulset = "", const std::string& revision = "") {
    int n = 0;
    for (const auto& p : Pods()) {
      n += p.ready && (statefulset.empty() || p.statefulset == statefulset) &&
           (revision.empty() || p.revision == revision);
    }
    return n;
  }
  std::set<std::string> StatefulSets(const std::string& ws = "phi") {
    std::set<std::string> out;
    auto managed = sim_->ListManaged("models", ws);
    EXPECT_TRUE(managed.ok());
    for (const auto& m : *managed) {
      if (m.key.kind == "StatefulSet") out.insert(m.key.name);
    }
    return out;
  }
  // Runs passes one fake second apart until `done` (at most `seconds`); `check` runs after
  // every pass.
  void RunUntil(const std::function<bool()>& done, int seconds,
                const std::function<void(int)>& check = nullptr) {
    for (int s = 0; s < seconds && !done(); ++s) {
      clock_.Advance(std::chrono::seconds(1));
      Pass();
      if (check) check(s);
    }
    ASSERT_TRUE(done()) << "not done after " << seconds << " s of fake time";
  }
  bool StatusReady() {
    json status = LastStatus();
    if (!status.is_object() || status["workspaces"].empty()) return false;
    const json& e = status["workspaces"][0];
    return e.value("phase", "") == "Ready" && e.value("updatedReplicas", 0) ==
                                                  e.value("replicas", -1) &&
           e.value("surgeReplicas", -1) == 0;
  }

  TempDir dir_;
  FakeClock clock_;
  FakeHubApi hub_;
  std::unique_ptr<SimCluster> sim_;
  std::unique_ptr<CountingBackend> backend_;
  std::unique_ptr<AgentStateDir> state_;
  std::unique_ptr<Reconciler> reconciler_;
};

TEST_F(ReconcilerTest, SecondPassWithNothingChangedWritesNothing) {
  hub_.set_work(Work("sim-a", 3, {WorkEntry(WorkspaceObject("phi"), 2)}));
  ASSERT_TRUE(reconciler_->ObserveWork(hub_.work()));
  Pass();
  EXPECT_EQ(backend_->applies(), 4);  // ConfigMap, Service, headless Service, StatefulSet
  ASSERT_EQ(hub_.Calls("PatchWorkStatus").size(), 1u);
  json status = LastStatus();
  EXPECT_EQ(status["observedPlacementGeneration"], 3);
  EXPECT_EQ(status["workspaces"][0]["phase"], "Starting");
  EXPECT_EQ(status["workspaces"][0]["reason"], "ImagePulling");
  EXPECT_EQ(status["conditions"][0]["status"], "True");

  // The hub echoes the Work (with our status) through the watch: still nothing to do.
  reconciler_->ObserveWork(hub_.work());
  clock_.Advance(std::chrono::seconds(1));
  Pass();
  Pass();
  EXPECT_EQ(backend_->writes(), 4);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), 1u);

  // A restarted agent (fresh reconciler, same cluster) also writes nothing.
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(backend_->writes(), 4);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), 1u);
}

TEST_F(ReconcilerTest, BecomesReadyAfterPullAndLoadAndReportsOnce) {
  hub_.set_work(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 1)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  // 10 GiB at 100 MiB/s = 102.4 s, then 7.15 GiB at 1 GiB/s.
  clock_.Advance(std::chrono::seconds(105));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["reason"], "LoadingWeights");
  clock_.Advance(std::chrono::seconds(5));
  Pass();
  json ws = LastStatus()["workspaces"][0];
  EXPECT_EQ(ws["phase"], "Ready");
  EXPECT_EQ(ws["readyReplicas"], 1);
  // The sim's Service is a loopback listener (docs/AGENT.md "Serving (simulated)").
  EXPECT_EQ(ws["endpoint"].get<std::string>().rfind("http://127.0.0.1:", 0), 0u) << ws.dump();
  EXPECT_EQ(ws["lastTransitionTime"], FormatRfc3339(clock_.Now()));
  size_t writes = hub_.Calls("PatchWorkStatus").size();
  clock_.Advance(std::chrono::seconds(30));
  Pass();
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), writes);
}

TEST_F(ReconcilerTest, PrunesWorkspacesLeavingTheWorkAndOrphansByLabelOnly) {
  hub_.set_work(Work(
      "sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 1), WorkEntry(WorkspaceObject("other"), 1)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  ASSERT_EQ(backend_->applies(), 8);
  // Objects the agent did not make: one labelled for Berth (an orphan of a lost Work), one not.
  json orphan = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", "old-inference-params"},
        {"namespace", "models"},
        {"labels", {{"app.kubernetes.io/managed-by", "berth"}, {"berth.dev/workspace", "old"}}}}}};
  json foreign = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", "phi-like-name"}, {"namespace", "models"}, {"labels", {{"app", "x"}}}}}};
  ASSERT_TRUE(sim_->Apply(orphan).ok());
  ASSERT_TRUE(sim_->Apply(foreign).ok());

  hub_.set_work(Work("sim-a", 2, {WorkEntry(WorkspaceObject("phi"), 1)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  std::set<std::string> deleted;
  for (const auto& k : backend_->deleted()) deleted.insert(k.kind + "/" + k.name);
  EXPECT_EQ(deleted, (std::set<std::string>{"ConfigMap/other-inference-params", "Service/other",
                                            "Service/other-headless", "StatefulSet/other",
                                            "ConfigMap/old-inference-params"}));
  auto left = sim_->ListManaged("models", "");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 4u);  // phi's objects only; the foreign ConfigMap is not managed
  EXPECT_EQ(LastStatus()["workspaces"].size(), 1u);
  EXPECT_EQ(LastStatus()["observedPlacementGeneration"], 2);
}

TEST_F(ReconcilerTest, ScalingAndRevisionChangesApplyOnlyTheStatefulSetAndConfig) {
  hub_.set_work(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 1)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  hub_.set_work(Work("sim-a", 2, {WorkEntry(WorkspaceObject("phi"), 3)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(backend_->applies(), 5);  // only the StatefulSet's replicas changed
  auto workload = sim_->ReadWorkload("models", "phi");
  ASSERT_TRUE(workload.ok());
  EXPECT_EQ(workload->pods.size(), 3u);
}

TEST_F(ReconcilerTest, IgnoresWorkFromAnOlderPlacementGeneration) {
  hub_.set_work(Work("sim-a", 7, {WorkEntry(WorkspaceObject("phi"), 1)}));
  EXPECT_TRUE(reconciler_->ObserveWork(hub_.work()));
  Pass();
  EXPECT_FALSE(reconciler_->ObserveWork(Work("sim-a", 6, {})));
  Pass();
  EXPECT_TRUE(backend_->deleted().empty());
  EXPECT_EQ(reconciler_->stats().fenced_works, 1);
  // The fence survives a restart (state dir).
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  EXPECT_EQ(reconciler_->applied_generation(), 7);
  EXPECT_FALSE(reconciler_->ObserveWork(Work("sim-a", 5, {})));
}

TEST_F(ReconcilerTest, FailStaticHubDownForTenMinutesDeletesNothing) {
  hub_.set_work(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  HeartbeatOptions hopts;
  hopts.cluster = "sim-a";
  Heartbeat heartbeat(&hub_, backend_.get(), &clock_, hopts);
  heartbeat.Tick();
  const int writes_before = backend_->writes();

  hub_.set_down(true);
  for (int s = 0; s < 600; s += 5) {  // 10 minutes of fake time, loops as the agent runs them
    clock_.Advance(std::chrono::seconds(5));
    heartbeat.Tick();
    Pass();
  }
  EXPECT_TRUE(backend_->deleted().empty());
  EXPECT_EQ(backend_->writes(), writes_before);
  EXPECT_GT(hub_.failed_calls(), 100);
  EXPECT_FALSE(heartbeat.hub_reachable());
  // The workload kept running (and finished starting) while the hub was away.
  auto workload = sim_->ReadWorkload("models", "phi");
  ASSERT_TRUE(workload.ok());
  EXPECT_EQ(workload->statefulsets[0].ready_replicas, 2);

  // An agent restarted during the outage keeps the workload too (last Work from disk).
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(std::chrono::seconds(5));
    Pass();
  }
  EXPECT_TRUE(backend_->deleted().empty());
  EXPECT_EQ(backend_->writes(), writes_before);

  // The hub returns: status catches up with one write.
  hub_.set_down(false);
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["phase"], "Ready");
}

TEST_F(ReconcilerTest, AgentWithoutAnyWorkNeverPrunes) {
  // Managed objects exist (e.g. from a previous install) but the agent has no Work yet
  // (empty state dir, hub unreachable): they must stay.
  json cm = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", "x-inference-params"},
        {"namespace", "models"},
        {"labels", {{"app.kubernetes.io/managed-by", "berth"}, {"berth.dev/workspace", "x"}}}}}};
  ASSERT_TRUE(sim_->Apply(cm).ok());
  Pass();
  Pass();
  EXPECT_TRUE(backend_->deleted().empty());
  // The hub says there is no Work: now it is authoritative and the orphan goes.
  reconciler_->ObserveNoWork();
  Pass();
  EXPECT_EQ(backend_->deleted().size(), 1u);
}

TEST_F(ReconcilerTest, RenderFailureIsReportedNotRetriedBlindly) {
  json ws = WorkspaceObject("big", "llama-3.3-70b-instruct");
  hub_.set_work(Work("sim-a", 1, {WorkEntry(ws, 1, 1, testing::L4Gpu(1))}));
  reconciler_->ObserveWork(hub_.work());
  Pass();
  json entry = LastStatus()["workspaces"][0];
  EXPECT_EQ(entry["phase"], "Failed");
  EXPECT_EQ(entry["applied"], false);
  EXPECT_EQ(LastStatus()["conditions"][0]["status"], "False");
  EXPECT_EQ(backend_->applies(), 0);
}

constexpr char kNewImage[] = "vllm/vllm-openai:v0.11.0";
const json kSurge1 = {{"mode", "Surge"}, {"maxSurge", 1}, {"previousRevision", 1}};

TEST_F(ReconcilerTest, StatefulSetsCarryTheEntrysRollingUpdateBudget) {
  const ObjectKey sts{"apps/v1", "StatefulSet", "models", "phi"};
  auto budget = [&] {
    return backend_->last_applied(sts).value("/spec/updateStrategy"_json_pointer, json());
  };
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  EXPECT_EQ(budget(), (json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}));
  Observe(Work("sim-a", 2,
               {UpdateEntry(WorkspaceObject("phi"), 2, 1,
                            {{"mode", "InPlace"}, {"maxUnavailable", 2}})}));
  Pass();
  EXPECT_EQ(budget()["rollingUpdate"]["maxUnavailable"], 2);
  Observe(Work("sim-a", 3,
               {UpdateEntry(WorkspaceObject("phi"), 4, 1, {{"maxUnavailable", "50%"}})}));
  Pass();
  EXPECT_EQ(budget()["rollingUpdate"]["maxUnavailable"], 2);
  // A bad update block is reported, not guessed at.
  Observe(Work("sim-a", 4, {UpdateEntry(WorkspaceObject("phi"), 2, 1, {{"mode", "Sideways"}})}));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["reason"], "InvalidWorkEntry");
  EXPECT_NE(LastStatus()["workspaces"][0]["message"].get<std::string>().find("update.mode"),
            std::string::npos);
}

TEST_F(ReconcilerTest, ReadyReplicasCountOnlyTheAskedForRevisionDuringAnInPlaceUpdate) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  Observe(Work("sim-a", 2, {WorkEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2)}));
  Pass();
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["revision"], 2);
  EXPECT_EQ(ReadyPods("", "1"), 1);  // one old pod still serves...
  EXPECT_EQ(e["readyReplicas"], 0);  // ...but does not count for revision 2
  EXPECT_EQ(e["updatedReplicas"], 1);
  EXPECT_EQ(e["failures"], 0);
  EXPECT_EQ(e["phase"], "Starting");
  RunUntil([&] { return StatusReady(); }, 600);
  EXPECT_EQ(ReadyPods("phi", "2"), 2);
}

TEST_F(ReconcilerTest, FailuresCountImagePullFailuresOfTheNewRevision) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  sim_->SetImagePullFailure(kNewImage, true);
  Observe(Work("sim-a", 2, {WorkEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2)}));
  for (int i = 0; i < 60; ++i) {
    clock_.Advance(std::chrono::seconds(5));
    Pass();
  }
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["phase"], "Failed");
  EXPECT_EQ(e["reason"], "ImagePullBackOff");
  EXPECT_EQ(e["failures"], 1);
  EXPECT_EQ(e["readyReplicas"], 0);
  EXPECT_EQ(e["updatedReplicas"], 1);
  EXPECT_EQ(ReadyPods("phi", "1"), 1);  // the roll stopped: one old pod still serves
}

TEST_F(ReconcilerTest, SurgeKeepsOldPodsServingUntilNewOnesAreReadyThenRemovesTheSurge) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  ASSERT_EQ(ReadyPods("phi", "1"), 2);

  Observe(Work("sim-a", 2,
               {UpdateEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2, kSurge1)}));
  Pass();
  EXPECT_EQ(StatefulSets(), (std::set<std::string>{"phi", "phi-surge"}));
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["surgeReplicas"], 1);
  EXPECT_EQ(e["readyReplicas"], 0);
  EXPECT_EQ(e["updatedReplicas"], 0);
  const ObjectKey surge_key{"apps/v1", "StatefulSet", "models", "phi-surge"};
  json surge = backend_->last_applied(surge_key);
  EXPECT_EQ(surge["spec"]["replicas"], 1);
  EXPECT_EQ(surge["metadata"]["labels"]["berth.dev/workspace"], "phi");
  EXPECT_EQ(surge["spec"]["template"]["metadata"]["labels"]["berth.dev/revision"], "2");
  EXPECT_EQ(surge["spec"]["template"]["metadata"]["labels"]["berth.dev/workspace"], "phi");

  bool surge_was_ready = false;
  RunUntil([&] { return StatusReady() && StatefulSets().size() == 1; }, 900, [&](int s) {
    // Capacity never drops below the desired replicas: GPUs allow the surge here.
    EXPECT_GE(ReadyPods(), 2) << "at " << s << " s";
    surge_was_ready = surge_was_ready || ReadyPods("phi-surge", "2") == 1;
    // The main StatefulSet's pods keep revision 1 until the surge pod is Ready.
    if (!surge_was_ready) {
      EXPECT_EQ(ReadyPods("phi", "1"), 2) << "at " << s << " s";
    }
  });
  EXPECT_TRUE(surge_was_ready);
  EXPECT_EQ(StatefulSets(), std::set<std::string>{"phi"});
  for (const auto& p : Pods()) EXPECT_EQ(p.revision, "2") << p.name;
  EXPECT_EQ(ReadyPods("phi", "2"), 2);
  e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["readyReplicas"], 2);
  EXPECT_EQ(e["updatedReplicas"], 2);
  EXPECT_EQ(e["failures"], 0);
  // The main StatefulSet was updated k at a time.
  EXPECT_EQ(backend_->last_applied({"apps/v1", "StatefulSet", "models", "phi"})
                ["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1);
  // Done is done: the next pass writes nothing.
  int writes = backend_->writes();
  size_t hub_writes = hub_.Calls("PatchWorkStatus").size();
  reconciler_->ObserveWork(hub_.work());
  clock_.Advance(std::chrono::seconds(10));
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), hub_writes);
}

TEST_F(ReconcilerTest, SurgeInProgressSecondPassWritesNothing) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  Observe(Work("sim-a", 2,
               {UpdateEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2, kSurge1)}));
  Pass();
  ASSERT_EQ(StatefulSets().count("phi-surge"), 1u);
  const int writes = backend_->writes();
  const size_t hub_writes = hub_.Calls("PatchWorkStatus").size();
  reconciler_->ObserveWork(hub_.work());  // the hub echoes our status
  clock_.Advance(std::chrono::seconds(1));
  Pass();
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), hub_writes);
  // A restarted agent decides the same from what the cluster runs: still nothing to write.
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), hub_writes);
  EXPECT_EQ(ReadyPods("phi", "1"), 2);  // held: the main StatefulSet was not touched
}

TEST_F(ReconcilerTest, SurgeWithoutSpareGpusWaitsAndOldPodsKeepServing) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 4)}));  // all 4 L4
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  Observe(Work("sim-a", 2,
               {UpdateEntry(WithImage(WorkspaceObject("phi"), kNewImage), 4, 2, kSurge1)}));
  for (int i = 0; i < 60; ++i) {
    clock_.Advance(std::chrono::seconds(10));
    Pass();
  }
  EXPECT_EQ(ReadyPods("phi", "1"), 4);
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["phase"], "Pending");
  EXPECT_EQ(e["reason"], "InsufficientGPU");
  EXPECT_EQ(e["readyReplicas"], 0);
  EXPECT_EQ(e["surgeReplicas"], 1);
  EXPECT_NE(e["message"].get<std::string>().find("surge"), std::string::npos);
  // The hub falls back to an in-place update: the surge goes, the main StatefulSet rolls.
  Observe(Work("sim-a", 3,
               {UpdateEntry(WithImage(WorkspaceObject("phi"), kNewImage), 4, 2,
                            {{"mode", "InPlace"}, {"maxUnavailable", 1}})}));
  Pass();
  EXPECT_EQ(StatefulSets(), std::set<std::string>{"phi"});
  RunUntil([&] { return StatusReady(); }, 1200,
           [&](int s) { EXPECT_GE(ReadyPods(), 3) << "at " << s << " s"; });
}

TEST_F(ReconcilerTest, NoSurgeForAFirstDeployment) {
  Observe(Work("sim-a", 1, {UpdateEntry(WorkspaceObject("phi"), 2, 2, kSurge1)}));
  Pass();
  EXPECT_EQ(StatefulSets(), std::set<std::string>{"phi"});
  RunUntil([&] { return StatusReady(); }, 300);
}

TEST_F(ReconcilerTest, PrePullShowsInTheInventoryAfterTheModelledTimeAndIsRemovedAfter) {
  json entry = WorkEntry(WorkspaceObject("phi"), 1);
  entry["prePull"] = {{"revision", 2}, {"image", kNewImage}, {"model", "llama-3.1-8b-instruct"}};
  Observe(Work("sim-a", 1, {entry}));
  Pass();
  const ObjectKey ds_key{"apps/v1", "DaemonSet", "models", "berth-prepull-phi"};
  json ds = backend_->last_applied(ds_key);
  ASSERT_FALSE(ds.is_null());
  EXPECT_EQ(ds["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.product"], "NVIDIA-L4");
  EXPECT_FALSE(ds["spec"]["template"]["metadata"]["labels"].contains("berth.dev/workspace"));

  HeartbeatOptions hopts;
  hopts.cluster = "sim-a";
  Heartbeat heartbeat(&hub_, backend_.get(), &clock_, hopts);
  auto cached = [&](const char* list, const std::string& what) {
    heartbeat.Tick();
    auto calls = hub_.Calls("PatchMemberStatus");
    if (calls.empty()) return false;
    const json items = calls.back().body.value(list, json::array());
    return std::find(items.begin(), items.end(), what) != items.end();
  };
  // 10 GiB image at 100 MiB/s = 102.4 s, then 14.96 GiB of weights at 1 GiB/s (117.4 s);
  // the heartbeat reads the inventory every 5 s.
  clock_.Advance(std::chrono::seconds(100));
  Pass();
  EXPECT_FALSE(cached("cachedImages", kNewImage));
  clock_.Advance(std::chrono::seconds(10));
  Pass();
  EXPECT_TRUE(cached("cachedImages", kNewImage));
  EXPECT_FALSE(cached("cachedModels", "llama-3.1-8b-instruct"));
  clock_.Advance(std::chrono::seconds(10));
  Pass();
  EXPECT_TRUE(cached("cachedModels", "llama-3.1-8b-instruct"));

  const int writes = backend_->writes();
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(backend_->writes(), writes);  // nothing changed, nothing written

  Observe(Work("sim-a", 2, {WorkEntry(WorkspaceObject("phi"), 1)}));  // pre-pull no longer asked
  Pass();
  auto deleted = backend_->deleted();
  EXPECT_NE(std::find(deleted.begin(), deleted.end(), ds_key), deleted.end());
}

// A Work entry carrying the hub's per-entry fencing token.
json WithEntryGeneration(json entry, int64_t generation) {
  entry["entryGeneration"] = generation;
  return entry;
}

TEST_F(ReconcilerTest, EchoesEntryGenerationAndAChangeOfOnlyItWritesOnlyTheStatus) {
  Observe(Work("sim-a", 3, {WithEntryGeneration(WorkEntry(WorkspaceObject("phi"), 2), 3)}));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["observedEntryGeneration"], 3);
  const int writes = backend_->writes();
  ASSERT_EQ(writes, 4);
  ASSERT_EQ(hub_.Calls("PatchWorkStatus").size(), 1u);

  // Another workspace's change moved the placementGeneration and re-fenced this entry:
  // the same objects, so no backend write, and one status write to echo the new token.
  Observe(Work("sim-a", 4, {WithEntryGeneration(WorkEntry(WorkspaceObject("phi"), 2), 4)}));
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  ASSERT_EQ(hub_.Calls("PatchWorkStatus").size(), 2u);
  EXPECT_EQ(LastStatus()["workspaces"][0]["observedEntryGeneration"], 4);
  EXPECT_EQ(LastStatus()["observedPlacementGeneration"], 4);

  // The hub echoes the Work: nothing to write anywhere, also after a restart.
  reconciler_->ObserveWork(hub_.work());
  clock_.Advance(std::chrono::seconds(1));
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), 2u);
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  reconciler_->ObserveWork(hub_.work());
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), 2u);

  // An entry without the token (an older hub): no echo, the hub falls back to the Work.
  Observe(Work("sim-a", 5, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  EXPECT_FALSE(LastStatus()["workspaces"][0].contains("observedEntryGeneration"));
  EXPECT_EQ(backend_->writes(), writes);
}

TEST_F(ReconcilerTest, AvailableReplicasCountPodsOfAnyRevisionDuringAnInPlaceUpdate) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["availableReplicas"], 0);  // still pulling
  RunUntil([&] { return StatusReady(); }, 300);
  EXPECT_EQ(LastStatus()["workspaces"][0]["availableReplicas"], 2);

  Observe(Work("sim-a", 2, {WorkEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2)}));
  Pass();
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["readyReplicas"], 0);      // nothing Ready at revision 2 yet...
  EXPECT_EQ(e["availableReplicas"], 1);  // ...but the old pod left still serves
  int min_available = 2;
  // Steps of the agent's 2 s re-check, so every pass reports what the sim runs right now.
  for (int s = 0; s < 600 && !StatusReady(); s += 2) {
    clock_.Advance(std::chrono::seconds(2));
    Pass();
    const json w = LastStatus()["workspaces"][0];
    EXPECT_EQ(w["availableReplicas"], std::min(2, ReadyPods())) << "at " << s << " s";
    EXPECT_GE(w["availableReplicas"].get<int>(), w["readyReplicas"].get<int>());
    min_available = std::min(min_available, w["availableReplicas"].get<int>());
  }
  ASSERT_TRUE(StatusReady());
  EXPECT_EQ(min_available, 1);  // maxUnavailable 1: never both pods down at once
  EXPECT_EQ(LastStatus()["workspaces"][0]["availableReplicas"], 2);
}

TEST_F(ReconcilerTest, AvailableReplicasStayAtReplicasDuringASurgeAndAreCapped) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  Observe(
      Work("sim-a", 2, {UpdateEntry(WithImage(WorkspaceObject("phi"), kNewImage), 2, 2, kSurge1)}));
  Pass();
  bool three_ready = false;
  RunUntil([&] { return StatusReady() && StatefulSets().size() == 1; }, 900, [&](int s) {
    const json w = LastStatus()["workspaces"][0];
    // Old and surge pods together: the Services never route to fewer than 2, and a third
    // Ready pod (old main pods plus the surge pod) is not reported beyond the replicas.
    EXPECT_EQ(w["availableReplicas"], 2) << "at " << s << " s";
    three_ready = three_ready || ReadyPods() == 3;
  });
  EXPECT_TRUE(three_ready);
  EXPECT_EQ(LastStatus()["workspaces"][0]["availableReplicas"], 2);
}

const json kPrePull = {{"revision", 2}, {"image", kNewImage}, {"model", "llama-3.1-8b-instruct"}};

TEST_F(ReconcilerTest, PrePullPhaseGoesFromPullingToDoneAfterTheModelledTime) {
  json entry = WithEntryGeneration(WorkEntry(WorkspaceObject("phi"), 1), 1);
  entry["prePull"] = kPrePull;
  Observe(Work("sim-a", 1, {entry}));
  Pass();
  auto pre_pull = [&] { return LastStatus()["workspaces"][0].value("prePull", json()); };
  EXPECT_EQ(pre_pull()["revision"], 2);
  EXPECT_EQ(pre_pull()["phase"], "Pulling");
  EXPECT_NE(pre_pull()["message"].get<std::string>().find("0/2"), std::string::npos)
      << pre_pull().dump();
  // Image: 10 GiB at 100 MiB/s = 102.4 s; weights: 14.96 GiB at 1 GiB/s, 117.4 s in all.
  // The agent looks again every 2 s while the pre-pull is not done.
  for (int s = 0; s < 110; s += 2) {
    clock_.Advance(std::chrono::seconds(2));
    reconciler_->ProcessReady();
    (void)reconciler_->FlushStatus();
  }
  EXPECT_EQ(pre_pull()["phase"], "Pulling");  // the image is there, the weights are not
  for (int s = 110; s < 120; s += 2) {
    clock_.Advance(std::chrono::seconds(2));
    reconciler_->ProcessReady();
    (void)reconciler_->FlushStatus();
  }
  EXPECT_EQ(pre_pull()["phase"], "Done") << pre_pull().dump();
  EXPECT_EQ(pre_pull()["reason"], "");
  EXPECT_EQ(LastStatus()["workspaces"][0]["observedEntryGeneration"], 1);

  // Done is done: nothing to write, to the cluster or to the hub.
  const int writes = backend_->writes();
  const size_t hub_writes = hub_.Calls("PatchWorkStatus").size();
  reconciler_->ObserveWork(hub_.work());
  clock_.Advance(std::chrono::seconds(10));
  Pass();
  Pass();
  EXPECT_EQ(backend_->writes(), writes);
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), hub_writes);

  // No longer asked for: the field goes with the DaemonSet.
  Observe(Work("sim-a", 2, {WithEntryGeneration(WorkEntry(WorkspaceObject("phi"), 1), 1)}));
  Pass();
  EXPECT_FALSE(LastStatus()["workspaces"][0].contains("prePull"));
}

TEST_F(ReconcilerTest, PrePullFailsAtOnceWhenTheImageCannotBePulledAndRecovers) {
  sim_->SetImagePullFailure(kNewImage, true);
  json entry = WorkEntry(WorkspaceObject("phi"), 1);
  entry["prePull"] = kPrePull;
  Observe(Work("sim-a", 1, {entry}));
  Pass();
  json pp = LastStatus()["workspaces"][0]["prePull"];
  EXPECT_EQ(pp["revision"], 2);
  EXPECT_EQ(pp["phase"], "Failed");
  EXPECT_EQ(pp["reason"], "ImagePullBackOff");
  EXPECT_NE(pp["message"].get<std::string>().find(kNewImage), std::string::npos) << pp.dump();
  // The workspace itself (revision 1) is not affected.
  EXPECT_NE(LastStatus()["workspaces"][0]["phase"], "Failed");
  // Failed stays while the registry fails; it is looked at again and recovers with it.
  clock_.Advance(std::chrono::seconds(60));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["prePull"]["phase"], "Failed");
  sim_->SetImagePullFailure(kNewImage, false);
  clock_.Advance(std::chrono::seconds(2));
  Pass();
  EXPECT_EQ(LastStatus()["workspaces"][0]["prePull"]["phase"], "Pulling");
  RunUntil([&] { return LastStatus()["workspaces"][0]["prePull"]["phase"] == "Done"; }, 200);
}

TEST_F(ReconcilerTest, InvalidPrePullIsFailedInItsOwnField) {
  json entry = WorkEntry(WorkspaceObject("phi"), 1);
  entry["prePull"] = {{"revision", 2}};  // no image
  Observe(Work("sim-a", 1, {entry}));
  Pass();
  const json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["reason"], "InvalidWorkEntry");
  EXPECT_EQ(e["prePull"]["phase"], "Failed");
  EXPECT_EQ(e["prePull"]["reason"], "InvalidWorkEntry");
  EXPECT_EQ(e["prePull"]["revision"], 2);
}

// Two replicas of a model that needs two nodes (2 × L4 each): one StatefulSet per replica.
constexpr char kMultiNodeFleet[] = R"(
apiVersion: berth.dev/v1alpha1
kind: Fleet
clusters:
  - name: sim-m
    region: westeurope
    prices: {L4: 0.8}
    nodePools:
      - {name: l4, gpu: L4, gpusPerNode: 2, count: 4, driverVersion: "550.54.15", cudaVersion: "12.4"}
    sim: {imagePullMiBps: 100, defaultImageGiB: 10, weightLoadGiBps: 1, cachedWeightLoadGiBps: 4}
)";

TEST_F(ReconcilerTest, MultiNodeReplicasUpdateInPlaceOneReplicaAtATimeEvenWhenSurgeIsAsked) {
  auto sim = SimCluster::FromFleetYaml(kMultiNodeFleet, "sim-m", {}, &clock_);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  sim_ = std::move(*sim);
  backend_ = std::make_unique<CountingBackend>(sim_.get());
  reconciler_ = NewReconciler();
  const json ws = WorkspaceObject("gemma", "gemma-3-27b-instruct");
  Observe(Work("sim-a", 1, {WorkEntry(ws, 2)}));
  Pass();
  ASSERT_EQ(StatefulSets("gemma"), (std::set<std::string>{"gemma-r0", "gemma-r1"}))
      << LastStatus().dump();
  RunUntil([&] { return StatusReady(); }, 600);

  Observe(Work("sim-a", 2, {UpdateEntry(WithImage(ws, kNewImage), 2, 2, kSurge1)}));
  Pass();
  EXPECT_EQ(StatefulSets("gemma"), (std::set<std::string>{"gemma-r0", "gemma-r1"}));
  auto replica_ready = [&](const std::string& sts) {
    int ready = 0;
    for (const auto& p : Pods("gemma")) ready += p.statefulset == sts && p.ready;
    return ready == 2;
  };
  auto revisions = [&](const std::string& sts) {
    std::set<std::string> out;
    for (const auto& p : Pods("gemma"))
      if (p.statefulset == sts) out.insert(p.revision);
    return out;
  };
  EXPECT_EQ(revisions("gemma-r1"), std::set<std::string>{"2"});  // highest index first
  EXPECT_EQ(revisions("gemma-r0"), std::set<std::string>{"1"});  // held
  RunUntil([&] { return StatusReady(); }, 1200, [&](int s) {
    EXPECT_TRUE(replica_ready("gemma-r0") || replica_ready("gemma-r1")) << "at " << s << " s";
  });
  EXPECT_EQ(revisions("gemma-r0"), std::set<std::string>{"2"});
}

TEST(StateDirTest, CredentialIsStoredOwnerOnlyAndReloaded) {
  TempDir dir;
  auto state = AgentStateDir::Open(dir.path());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->LoadCredential().status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(state->StoreCredential("member-secret").ok());
  struct stat st {};
  ASSERT_EQ(::stat((state->dir() + "/credential").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = AgentStateDir::Open(state->dir());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->LoadCredential(), "member-secret");
}

// The sim's Services: once Ready, the report carries the loopback endpoint and the queueing
// model's signals with exactly the keys the hub reads.
TEST_F(ReconcilerTest, ReadyWorkspaceReportsItsSimulatedEndpointAndServingSignals) {
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 2)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  Pass();
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["endpoint"].get<std::string>().rfind("http://127.0.0.1:", 0), 0u) << e.dump();
  ASSERT_TRUE(e.contains("serving")) << e.dump();
  const json& serving = e["serving"];
  std::set<std::string> keys;
  for (const auto& [k, v] : serving.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"requestsPerSecond", "running", "waiting", "kvCacheUsage",
                                         "ttftSeconds", "latencySeconds", "capacity"}));
  for (const char* group : {"ttftSeconds", "latencySeconds"}) {
    std::set<std::string> ps;
    for (const auto& [k, v] : serving[group].items()) ps.insert(k);
    EXPECT_EQ(ps, (std::set<std::string>{"p50", "p90", "p99"})) << group;
  }
  EXPECT_GT(serving["capacity"].get<int>(), 1);  // two Ready replicas' sequences
  EXPECT_EQ(serving["running"], 0);
}

// A backend that knows nothing of serving (kube today, or the sim with serving off) leaves
// the Service's DNS name as the endpoint and reports no signals.
TEST_F(ReconcilerTest, WithoutServingStateTheEndpointIsTheServiceName) {
  SimSettings settings;
  settings.serve = false;
  auto sim = SimCluster::FromFleetYaml(kTestFleet, "sim-a", settings, &clock_);
  ASSERT_TRUE(sim.ok());
  sim_ = std::move(*sim);
  backend_ = std::make_unique<CountingBackend>(sim_.get());
  reconciler_ = NewReconciler();
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 1)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["endpoint"], "http://phi.models.svc:80");
  EXPECT_FALSE(e.contains("serving"));
}

// Signals are re-reported only when they moved enough, and a Ready workspace is looked at
// again every serving_recheck so that a change reaches the hub without a resync.
class ServingBackend : public CountingBackend {
 public:
  using CountingBackend::CountingBackend;
  StatusOr<ServingState> ReadServing(const std::string&, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  void set_running(int running) {
    std::lock_guard<std::mutex> lock(mu_);
    state_.url = "http://127.0.0.1:18000";
    ServingSignals s;
    s.running = running;
    s.capacity = 64;
    s.ready_endpoints = 2;
    s.ttft_p50 = 0.2;
    state_.signals = s;
  }

 private:
  std::mutex mu_;
  ServingState state_;
};

TEST_F(ReconcilerTest, ServingSignalsReachTheHubOnlyWhenTheyMoveEnough) {
  auto backend = std::make_unique<ServingBackend>(sim_.get());
  backend->set_running(20);
  ReconcilerOptions opts;
  opts.cluster = "sim-a";
  reconciler_ = std::make_unique<Reconciler>(backend.get(), &hub_, state_.get(), &clock_, opts);
  Observe(Work("sim-a", 1, {WorkEntry(WorkspaceObject("phi"), 1)}));
  Pass();
  RunUntil([&] { return StatusReady(); }, 300);
  json e = LastStatus()["workspaces"][0];
  EXPECT_EQ(e["endpoint"], "http://127.0.0.1:18000");
  EXPECT_EQ(e["serving"]["running"], 20);
  EXPECT_EQ(e["serving"]["capacity"], 64);
  const size_t writes = hub_.Calls("PatchWorkStatus").size();

  auto recheck = [&] {  // no Resync: only the periodic serving recheck can find the key
    clock_.Advance(std::chrono::seconds(2));
    EXPECT_GE(reconciler_->ProcessReady(), 1);
    ASSERT_TRUE(reconciler_->FlushStatus().ok());
  };
  backend->set_running(21);  // 1 of 20 is under 10 %: not worth a write
  recheck();
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), writes);
  EXPECT_EQ(LastStatus()["workspaces"][0]["serving"]["running"], 20);
  backend->set_running(30);
  recheck();
  EXPECT_EQ(hub_.Calls("PatchWorkStatus").size(), writes + 1);
  EXPECT_EQ(LastStatus()["workspaces"][0]["serving"]["running"], 30);
}

TEST(ServingMovedTest, Thresholds) {
  ServingSignals s;
  s.running = 10;
  s.waiting = 0;
  s.requests_per_second = 5;
  s.ttft_p50 = s.ttft_p90 = s.ttft_p99 = 0.1;
  s.latency_p50 = s.latency_p90 = s.latency_p99 = 1;
  s.capacity = 32;
  const json base = ServingReport(s);
  EXPECT_TRUE(ServingMoved(json(), base));
  EXPECT_FALSE(ServingMoved(base, base));
  auto moved = [&](auto change) {
    ServingSignals t = s;
    change(t);
    return ServingMoved(base, ServingReport(t));
  };
  EXPECT_TRUE(moved([](ServingSignals& t) { t.running = 11; }));  // 1 and 10 % of 10
  EXPECT_TRUE(moved([](ServingSignals& t) { t.waiting = 1; }));   // from none
  EXPECT_FALSE(moved([](ServingSignals& t) { t.requests_per_second = 5.4; }));
  EXPECT_TRUE(moved([](ServingSignals& t) { t.requests_per_second = 5.6; }));
  EXPECT_FALSE(moved([](ServingSignals& t) { t.latency_p99 = 1.05; }));
  EXPECT_TRUE(moved([](ServingSignals& t) { t.ttft_p90 = 0.2; }));
  EXPECT_TRUE(moved([](ServingSignals& t) { t.capacity = 33; }));
  EXPECT_FALSE(moved([](ServingSignals& t) { t.kv_cache_usage = 0.04; }));
  EXPECT_TRUE(moved([](ServingSignals& t) { t.kv_cache_usage = 0.06; }));
  EXPECT_FALSE(base.contains("errorRate")) << "unknown is not zero";
  EXPECT_TRUE(moved([](ServingSignals& t) { t.error_rate = 0; }));  // now known
  ServingSignals e = s;
  e.error_rate = 0.02;
  const json with_errors = ServingReport(e);
  EXPECT_EQ(with_errors["errorRate"], 0.02);
  e.error_rate = 0.024;
  EXPECT_FALSE(ServingMoved(with_errors, ServingReport(e)));
  e.error_rate = 0.026;
  EXPECT_TRUE(ServingMoved(with_errors, ServingReport(e)));
}

}  // namespace
}  // namespace berth::agent
