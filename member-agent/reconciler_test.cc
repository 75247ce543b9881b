#include "member-agent/reconciler.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "member-agent/heartbeat.h"
#include "member-agent/sim_backend.h"
#include "member-agent/test_fleet.h"
#include "member-agent/testing_fakes.h"

namespace berth::agent {
namespace {

using nlohmann::json;
using testing::CountingBackend;
using testing::FakeHubApi;
using testing::kTestFleet;
using testing::Work;
using testing::WorkEntry;
using testing::WorkspaceObject;

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "agent-test-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = SimCluster::FromFleetYaml(kTestFleet, "sim-a", {}, &clock_);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    backend_ = std::make_unique<CountingBackend>(sim_.get());
    auto state = AgentStateDir::Open(TempDir());
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
  EXPECT_EQ(ws["endpoint"], "http://phi.models.svc:80");
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
  EXPECT_FALSE(reconciler_->ObserveWork(Work("sim-a", 6, json::array())));
  Pass();
  EXPECT_TRUE(backend_->deleted().empty());
  EXPECT_EQ(reconciler_->stats().fenced_works, 1);
  // The fence survives a restart (state dir).
  reconciler_ = NewReconciler();
  reconciler_->LoadPersisted();
  EXPECT_EQ(reconciler_->applied_generation(), 7);
  EXPECT_FALSE(reconciler_->ObserveWork(Work("sim-a", 5, json::array())));
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

TEST(StateDirTest, CredentialIsStoredOwnerOnlyAndReloaded) {
  auto state = AgentStateDir::Open(TempDir());
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

}  // namespace
}  // namespace berth::agent
