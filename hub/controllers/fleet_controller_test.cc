// Fake-clock tests of health, placement, Work generation, failover and failback, against
// an in-process store. Nothing sleeps: time moves only when the test advances the clock.
#include "hub/controllers/fleet_controller.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "api/object.h"
#include "hub/hub.h"
#include "hub/sqlite_store.h"

namespace berth::hub {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class FleetControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-fleet-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(RegisterBerthKinds(registry_).ok());
    SqliteStoreOptions o;
    o.path = (dir_ / "berth.db").string();
    store_ = OpenSqliteStore(o).value();
    objects_ = std::make_unique<ObjectApi>(*store_, clock_, &registry_);
    FleetControllerOptions fo;
    fo.toleration_seconds = 30;
    fo.failback_hysteresis_seconds = 120;
    ctl_ = std::make_unique<FleetController>(*objects_, registry_, clock_, fo);
    ASSERT_TRUE(ctl_->Start(/*run_worker=*/false).ok());
  }
  void TearDown() override {
    ctl_.reset();
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  const api::KindInfo& Kind(const char* k) { return *registry_.ByKind(api::kApiVersion, k); }
  StatusOr<json> Wait(const std::function<void(ObjectCallback)>& call) {
    std::promise<StatusOr<json>> p;
    call([&](StatusOr<json> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  void Create(const char* kind, json obj, const std::string& ns = "") {
    auto r = Wait([&](ObjectCallback cb) { objects_->Create(Kind(kind), ns, obj, {}, cb); });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void PatchStatus(const char* kind, const std::string& ns, const std::string& name, const json& patch) {
    WriteOptions o;
    o.status = true;
    auto r = Wait([&](ObjectCallback cb) {
      objects_->Patch(Kind(kind), ns, name, PatchType::kMerge, patch.dump(), o, cb);
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void AddMember(const std::string& name, int gpus) {
    Create("MemberCluster", {{"apiVersion", api::kApiVersion}, {"kind", "MemberCluster"},
                             {"metadata", {{"name", name}}}, {"spec", {{"region", "eu"}}}});
    Create("Lease", {{"apiVersion", api::kApiVersion}, {"kind", "Lease"}, {"metadata", {{"name", name}}},
                     {"spec", {{"leaseDurationSeconds", 15}}}});
    PatchStatus("MemberCluster", "", name,
                {{"status", {{"nodes", {{{"name", "n0"}, {"ready", true}, {"gpuProduct", "A100-80GB"},
                                         {"gfdProduct", "NVIDIA-A100-SXM4-80GB"}, {"memoryGiB", 80},
                                         {"gpus", gpus}, {"freeGpus", gpus}}}},
                             {"pricesPerGpuHour", {{"A100-80GB", 3.0}}}}}});
    Renew(name);
  }
  void Renew(const std::string& name) {
    auto r = Wait([&](ObjectCallback cb) {
      objects_->Patch(Kind("Lease"), "", name, PatchType::kMerge,
                      json{{"spec", {{"renewTime", FormatRfc3339(clock_.Now())}}}}.dump(), {}, cb);
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Reports every Work entry of `member` as running and Ready (what its agent would say).
  void ReportReady(const std::string& member) {
    json work = Get("Work", "", member);
    json list = json::array();
    for (const auto& e : work["spec"]["workspaces"]) {
      list.push_back({{"name", e["workspace"]["metadata"]["name"]},
                      {"namespace", e["workspace"]["metadata"]["namespace"]},
                      {"revision", e["revision"]}, {"applied", true}, {"replicas", e["replicas"]},
                      {"readyReplicas", e["replicas"]}, {"phase", "Ready"}});
    }
    PatchStatus("Work", "", member, {{"status", {{"observedPlacementGeneration", work["spec"]["placementGeneration"]},
                                                 {"workspaces", list}}}});
  }
  json Get(const char* kind, const std::string& ns, const std::string& name) {
    auto r = store_->Get({Kind(kind).resource(), ns, name});
    return r.ok() ? *r : json(nullptr);
  }
  void Settle() {
    for (int i = 0; i < 20 && ctl_->RunDue() > 0; ++i) {
    }
  }
  // Advances time in steps, renewing the given members' leases as their agents would.
  void Advance(seconds total, std::vector<std::string> alive) {
    for (seconds t(0); t < total; t += seconds(1)) {
      clock_.Advance(seconds(1));
      for (const auto& m : alive) Renew(m);
      Settle();
    }
  }
  std::map<std::string, int> WorkReplicas(const std::string& member, const std::string& ws) {
    std::map<std::string, int> out;
    json work = Get("Work", "", member);
    if (work.is_null()) return out;
    for (const auto& e : work["spec"]["workspaces"]) {
      if (e["workspace"]["metadata"]["name"] == ws) out[member] = e["replicas"];
    }
    return out;
  }
  std::map<std::string, int> Placements(const std::string& ws) {
    std::map<std::string, int> out;
    json obj = Get("Workspace", "default", ws);
    for (const auto& p : api::JsonPathGet(obj, "status.placements")) out[p["cluster"]] = p["replicas"];
    return out;
  }
  std::string Condition(const char* kind, const std::string& ns, const std::string& name, const std::string& type,
                        std::string* reason = nullptr) {
    json obj = Get(kind, ns, name);
    for (const auto& c : api::JsonPathGet(obj, "status.conditions")) {
      if (c["type"] == type) {
        if (reason) *reason = c.value("reason", "");
        return c["status"];
      }
    }
    return "";
  }
  std::vector<std::string> EventReasons() {
    std::vector<std::string> out;
    auto list = store_->List(registry_.ByKind("v1", "Event")->resource(), {});
    for (const auto& e : list->items) out.push_back(e["reason"]);
    return out;
  }
  void AddWorkspace(const std::string& name, int replicas) {
    Create("Workspace", {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"},
                         {"metadata", {{"name", name}}},
                         {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
                         {"placement", {{"replicas", replicas}}}},
           "default");
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  api::KindRegistry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ObjectApi> objects_;
  std::unique_ptr<FleetController> ctl_;
};

TEST_F(FleetControllerTest, HealthFollowsLeaseRenewals) {
  AddMember("gpu-a", 8);
  Settle();
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Joined"), "True");
  Advance(seconds(14), {});  // 3 missed heartbeats of 5 s = 15 s grace
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  Advance(seconds(2), {});
  std::string reason;
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy", &reason), "False");
  EXPECT_EQ(reason, "LeaseExpired");
  Renew("gpu-a");
  Settle();
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "True");
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "MemberUnhealthy"), events.end());
}

TEST_F(FleetControllerTest, PerMemberHeartbeatSettingsApply) {
  AddMember("gpu-a", 8);
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(Kind("MemberCluster"), "", "gpu-a", PatchType::kMerge,
                    R"({"spec":{"heartbeatPeriodSeconds":2,"unhealthyAfterMissedHeartbeats":2}})", {}, cb);
  });
  ASSERT_TRUE(r.ok());
  Settle();
  Advance(seconds(5), {});
  EXPECT_EQ(Condition("MemberCluster", "", "gpu-a", "Healthy"), "False") << "2 × 2 s grace";
}

TEST_F(FleetControllerTest, PlacesWritesWorkAndAggregatesReadiness) {
  AddMember("gpu-a", 8);
  AddMember("gpu-b", 8);
  AddWorkspace("llama", 2);
  Settle();
  auto placed = Placements("llama");
  int total = 0;
  for (auto& [c, n] : placed) total += n;
  EXPECT_EQ(total, 2);
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Scheduled"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "False");
  const std::string where = placed.begin()->first;
  json work = Get("Work", "", where);
  ASSERT_FALSE(work.is_null());
  EXPECT_EQ(work["spec"]["workspaces"][0]["gpu"]["gfdProduct"], "NVIDIA-A100-SXM4-80GB");
  const int64_t gen = work["spec"]["placementGeneration"];
  for (auto& [c, n] : placed) ReportReady(c);
  Settle();
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Applied"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Degraded"), "False");
  // Level-triggered: another pass with nothing new writes nothing.
  const int64_t rv = store_->CurrentRevision();
  ctl_->loop().Enqueue("placement/fleet");
  Settle();
  EXPECT_EQ(store_->CurrentRevision(), rv);
  EXPECT_EQ(Get("Work", "", where)["spec"]["placementGeneration"], gen);
}

TEST_F(FleetControllerTest, UnschedulableWorkspaceSaysWhy) {
  AddMember("gpu-a", 1);
  Create("Workspace", {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", "big"}}},
                       {"inference", {{"preset", {{"name", "llama-3.3-70b-instruct"}}}}},
                       {"placement", {{"replicas", 1}}}},
         "default");
  Settle();
  std::string reason;
  EXPECT_EQ(Condition("Workspace", "default", "big", "Scheduled", &reason), "False");
  EXPECT_FALSE(reason.empty());
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "Unschedulable"), events.end());
}

TEST_F(FleetControllerTest, FailoverAfterTolerationKeepsDeadMembersWorkAndNeverDropsReady) {
  AddMember("gpu-a", 8);
  AddMember("gpu-b", 8);
  AddWorkspace("llama", 1);
  Settle();
  auto placed = Placements("llama");
  ASSERT_EQ(placed.size(), 1u);
  const std::string home = placed.begin()->first;
  const std::string other = home == "gpu-a" ? "gpu-b" : "gpu-a";
  ReportReady(home);
  Settle();
  ASSERT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  const json home_work = Get("Work", "", home)["spec"];

  // The home member stops heartbeating: Unhealthy after 15 s, replicas stay for the 30 s toleration.
  Advance(seconds(16), {other});
  EXPECT_EQ(Condition("MemberCluster", "", home, "Healthy"), "False");
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}})) << "still within toleration";
  Advance(seconds(29), {other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{home, 1}}));
  Advance(seconds(2), {other});
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}})) << "re-placed after toleration";
  EXPECT_EQ(Get("Work", "", home)["spec"], home_work) << "a dead member's Work is frozen, not emptied";
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1);
  auto events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "FailedOver"), events.end());
  ReportReady(other);
  Settle();
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True");
  EXPECT_EQ(Get("Workspace", "default", "llama")["status"]["failedOverFrom"], json::array({home}));

  // Home comes back: no flapping during the hysteresis; its stale entry goes once the
  // replacement is Ready (it is), so nothing runs twice.
  Advance(seconds(5), {home, other});
  EXPECT_EQ(Condition("MemberCluster", "", home, "Healthy"), "True");
  EXPECT_EQ(Placements("llama"), (std::map<std::string, int>{{other, 1}}));
  EXPECT_TRUE(WorkReplicas(home, "llama").empty()) << "superseded work removed after replacements are Ready";

  // After the hysteresis it fails back, make-before-break: the replica on `other` stays
  // until the one at home is Ready.
  Advance(seconds(120), {home, other});
  auto back = Placements("llama");
  EXPECT_EQ(back, (std::map<std::string, int>{{home, 1}})) << "fails back to the preferred member";
  EXPECT_EQ(WorkReplicas(other, "llama")[other], 1) << "old replica kept until the new one is Ready";
  EXPECT_EQ(Condition("Workspace", "default", "llama", "Available"), "True")
      << "the superseded replica still serves";
  ReportReady(home);
  Settle();
  EXPECT_TRUE(WorkReplicas(other, "llama").empty());
  EXPECT_FALSE(Get("Workspace", "default", "llama")["status"].contains("failedOverFrom"));
  events = EventReasons();
  EXPECT_NE(std::find(events.begin(), events.end(), "FailedBack"), events.end());
}

TEST_F(FleetControllerTest, PlacementGenerationOnlyGrows) {
  AddMember("gpu-a", 8);
  AddWorkspace("one", 1);
  Settle();
  const int64_t g1 = Get("Work", "", "gpu-a")["spec"]["placementGeneration"];
  AddWorkspace("two", 1);
  Settle();
  const int64_t g2 = Get("Work", "", "gpu-a")["spec"]["placementGeneration"];
  EXPECT_GT(g2, g1);
}

TEST_F(FleetControllerTest, PendingReplicasReserveTheirGpus) {
  AddMember("gpu-a", 1);  // room for exactly one 8B replica
  AddWorkspace("first", 1);
  Settle();
  ASSERT_EQ(Placements("first").size(), 1u);
  // The agent has not started it yet (free GPUs still 1): a second workspace must not get the same GPU.
  AddWorkspace("second", 1);
  Settle();
  EXPECT_TRUE(Placements("second").empty());
  EXPECT_EQ(Condition("Workspace", "default", "second", "Scheduled"), "False");
}

}  // namespace
}  // namespace berth::hub
