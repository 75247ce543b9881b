// Fake-clock tests of staged rollouts as the hub runs them: revisions recorded in the
// Workspace status, the revision each member's Work carries stage by stage, pre-pull, soak,
// approval, the failure budget and automatic rollback, concurrency, and minAvailable. The
// members' agents are played by RunAgents (each Work entry runs its revision; one image can
// be made to fail its pull).
#include <gtest/gtest.h>

#include <set>

#include "hub/controllers/controller_fixture.h"
#include "rollout/rollout.h"

namespace berth::hub {
namespace {

class RolloutControllerTest : public ControllerFixture {
 protected:
  // Four members, one replica each: ring=canary on m1; A100 x `gpus` each.
  void AddFleet(int gpus) {
    AddMember("m1", gpus, {{"ring", "canary"}});
    for (const char* m : {"m2", "m3", "m4"}) AddMember(m, gpus, {{"ring", "main"}});
    members_ = {"m1", "m2", "m3", "m4"};
  }

  // A workspace with one replica per member and the given inline strategy.
  void AddServing(const json& strategy, int min_available = 1) {
    Create("Workspace",
           {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", "chat"}}},
            {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}, {"image", "vllm/vllm-openai:v1"}}},
            {"placement", {{"replicas", 4}, {"policy", {{"maxClusters", 4}, {"minClusters", 4},
                                                        {"minAvailable", min_available}}}}},
            {"rollout", {{"strategy", strategy}}}},
           "default");
  }

  void SetImage(const std::string& image) {
    auto r = Wait([&](ObjectCallback cb) {
      objects_->Patch(Kind("Workspace"), "default", "chat", PatchType::kMerge,
                      json{{"inference", {{"image", image}}}}.dump(), {}, cb);
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Settle();
  }

  // Plays each member's agent once: reports every Work entry as running its revision (Ready,
  // or failing to pull when its image is bad_image_) and finishes requested pre-pulls.
  void RunAgents() {
    for (const auto& m : members_) {
      json work = Get("Work", "", m);
      if (work.is_null()) continue;
      json list = json::array();
      bool new_cache = false;
      for (const auto& e : work["spec"]["workspaces"]) {
        const std::string image = e["workspace"]["inference"].value("image", "");
        const bool bad = !bad_image_.empty() && image == bad_image_;
        const int replicas = e["replicas"];
        const int64_t revision = e["revision"];
        auto& since = started_[m];
        if (since.first != revision) since = {revision, clock_.Now()};
        const bool started = clock_.Now() - since.second >= startup_;
        const std::string phase = bad ? "Failed" : started ? "Ready" : "Starting";
        // A surge keeps the old replicas serving until the new ones are Ready; in place, a
        // replica being replaced serves nothing.
        const json update = e.value("update", json::object());
        const bool surging = update.value("mode", "") == "Surge" && update.value("previousRevision", 0) > 0;
        json entry = {{"name", e["workspace"]["metadata"]["name"]},
                      {"namespace", e["workspace"]["metadata"]["namespace"]},
                      {"revision", revision}, {"applied", true}, {"replicas", replicas},
                      {"observedEntryGeneration", e["entryGeneration"]},
                      {"readyReplicas", phase == "Ready" ? replicas : 0}, {"updatedReplicas", replicas},
                      {"availableReplicas", phase == "Ready" || surging ? replicas : 0},
                      {"failures", bad ? 1 : 0}, {"phase", phase},
                      {"reason", bad ? "ImagePullBackOff" : ""}};
        if (e.contains("prePull")) {
          ++pre_pulls_seen_[m];
          if (e["prePull"]["image"] == bad_image_) {
            entry["prePull"] = {{"revision", e["prePull"]["revision"]}, {"phase", "Failed"},
                                {"reason", "ImagePullBackOff"}};
          } else {
            new_cache |= cached_images_[m].insert(e["prePull"]["image"].get<std::string>()).second;
            new_cache |= cached_models_[m].insert(e["prePull"]["model"].get<std::string>()).second;
          }
        }
        list.push_back(entry);
      }
      json status = {{"observedPlacementGeneration", work["spec"]["placementGeneration"]}, {"workspaces", list}};
      if (work.value("status", json::object()) != status) PatchStatus("Work", "", m, {{"status", status}});
      if (new_cache) {
        PatchStatus("MemberCluster", "", m,
                    {{"status", {{"cachedImages", cached_images_[m]}, {"cachedModels", cached_models_[m]}}}});
      }
    }
  }

  // Moves time one second at a time: leases renewed, controller settled, agents report.
  void Run(seconds total) {
    for (seconds t(0); t < total; t += seconds(1)) {
      clock_.Advance(seconds(1));
      for (const auto& m : members_) Renew(m);
      Settle();
      RunAgents();
      Settle();
      RecordServing();
    }
  }

  // Revision each member's Work asks for ("" when none).
  std::map<std::string, int64_t> WorkRevisions() {
    std::map<std::string, int64_t> out;
    for (const auto& m : members_) {
      json work = Get("Work", "", m);
      if (work.is_null()) continue;
      for (const auto& e : work["spec"]["workspaces"]) out[m] = e["revision"];
    }
    return out;
  }
  int CountAt(int64_t revision) {
    int n = 0;
    for (auto& [m, r] : WorkRevisions()) n += r == revision;
    return n;
  }
  json Status() { return Get("Workspace", "default", "chat")["status"]; }

  // Four members, m4 with driver 470; revision 2 needs driver 535 and rolls out to completion.
  void RollOutPastOldDriver();
  std::string Phase() {
    json ro = api::JsonPathGet(Get("Workspace", "default", "chat"), "status.rollout");
    return ro.is_object() ? ro.value("phase", "") : "";
  }
  bool HasEvent(const std::string& reason) {
    auto e = EventReasons();
    return std::find(e.begin(), e.end(), reason) != e.end();
  }
  // The lowest number of Ready replicas on the revisions members were asked to run.
  void RecordServing() {
    int ready = 0;
    json st = Status();
    if (!st.is_object()) return;
    for (const auto& p : st.value("placements", json::array())) ready += p.value("availableReplicas", 0);
    for (const auto& s : st.value("superseded", json::array())) ready += s.value("readyReplicas", 0);
    min_ready_seen_ = std::min(min_ready_seen_, ready);
    for (auto& [m, r] : WorkRevisions()) max_updating_ = std::max(max_updating_, r);
  }
  // Settles the first deployment (revision 1) and forgets the serving minimum so far.
  void Deploy(const json& strategy, int min_available = 1) {
    AddServing(strategy, min_available);
    ASSERT_TRUE(RunUntil([&] { return Phase() == "Completed"; }, seconds(30))) << Status().dump();
    ASSERT_EQ(CountAt(1), 4) << Status().dump();
    ASSERT_EQ(Phase(), "Completed") << Status()["rollout"].dump();
    min_ready_seen_ = 1 << 20;
  }
  // Runs until `done` or `limit` passes; false on timeout.
  bool RunUntil(const std::function<bool()>& done, seconds limit) {
    for (seconds t(0); t < limit; t += seconds(1)) {
      if (done()) return true;
      Run(seconds(1));
    }
    return done();
  }

  std::vector<std::string> members_;
  std::string bad_image_;
  std::map<std::string, std::set<std::string>> cached_images_, cached_models_;
  std::map<std::string, int> pre_pulls_seen_;
  int min_ready_seen_ = 1 << 20;
  int64_t max_updating_ = 0;
  std::map<std::string, std::pair<int64_t, Clock::TimePoint>> started_;  // member → revision, since
  Clock::Duration startup_ = seconds(3);  // a new revision's replicas become Ready after this
};

json CanaryThenRest(int soak = 10, bool approval = false, const std::string& rest_concurrency = "1") {
  json rest = {{"soakSeconds", 0}};
  rest["maxConcurrency"] = rest_concurrency.find('%') == std::string::npos ? json(std::stoi(rest_concurrency))
                                                                            : json(rest_concurrency);
  return {{"stages", {{{"name", "canary"}, {"clusterSelector", {{"matchLabels", {{"ring", "canary"}}}}},
                       {"soakSeconds", soak}, {"approvalRequired", approval}}}},
          {"restOfFleet", rest},
          {"updateMode", "InPlace"},
          {"maxUnavailable", 1}};
}

void RolloutControllerTest::RollOutPastOldDriver() {
  AddMember("m1", 1, {{"ring", "canary"}});
  AddMember("m2", 1, {{"ring", "main"}});
  AddMember("m3", 1, {{"ring", "main"}});
  AddMember("m4", 1, {{"ring", "main"}}, /*driver=*/"470.82");
  members_ = {"m1", "m2", "m3", "m4"};
  ASSERT_NO_FATAL_FAILURE(Deploy(CanaryThenRest(0)));
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(Kind("Workspace"), "default", "chat", PatchType::kMerge,
                    R"({"metadata":{"annotations":{"berth.dev/min-driver-version":"535"}},"inference":{"image":"vllm/vllm-openai:v2"}})",
                    {}, cb);
  });
  ASSERT_TRUE(r.ok());
  Settle();
  ASSERT_TRUE(RunUntil([&] { return Phase() == "Completed"; }, seconds(60))) << Status()["rollout"].dump();
}

TEST_F(RolloutControllerTest, FirstDeploymentRunsRevisionOneEverywhereAndMarksItGood) {
  AddFleet(1);
  AddServing(CanaryThenRest());
  Settle();
  EXPECT_EQ(CountAt(1), 4) << "a first deployment goes everywhere at once";
  ASSERT_TRUE(RunUntil([&] { return Phase() == "Completed"; }, seconds(30))) << Status().dump();
  json st = Status();
  EXPECT_EQ(st["revision"], 1);
  EXPECT_EQ(st["revisions"]["lastGood"], 1);
  EXPECT_EQ(st["revisions"]["revisions"][0]["template"]["inference"]["image"], "vllm/vllm-openai:v1");
  EXPECT_EQ(st["rollout"]["strategy"], "inline");
  EXPECT_EQ(Condition("Workspace", "default", "chat", "RolloutProgressing"), "True");
  EXPECT_EQ(Condition("Workspace", "default", "chat", "Available"), "True");
  // A settled rollout is quiet: another pass writes nothing.
  const int64_t rv = store_->CurrentRevision();
  ctl_->loop().Enqueue("placement/fleet");
  Settle();
  EXPECT_EQ(store_->CurrentRevision(), rv);
}

TEST_F(RolloutControllerTest, GoodRevisionWalksCanarySoakThenRestOneAtATime) {
  AddFleet(1);
  ASSERT_NO_FATAL_FAILURE(Deploy(CanaryThenRest(/*soak=*/10)));
  SetImage("vllm/vllm-openai:v2");
  Settle();
  // The canary pre-pulls first; nobody else has been touched.
  EXPECT_EQ(Status()["revision"], 2);
  EXPECT_EQ(CountAt(1), 4) << "nothing updates before its pre-pull";
  json canary_work = Get("Work", "", "m1")["spec"]["workspaces"][0];
  ASSERT_TRUE(canary_work.contains("prePull")) << canary_work.dump();
  EXPECT_EQ(canary_work["prePull"]["image"], "vllm/vllm-openai:v2");
  EXPECT_EQ(canary_work["workspace"]["inference"]["image"], "vllm/vllm-openai:v1")
      << "the canary keeps serving the old revision while it pulls";
  Run(seconds(2));
  EXPECT_EQ(WorkRevisions()["m1"], 2);
  EXPECT_EQ(Get("Work", "", "m1")["spec"]["workspaces"][0]["workspace"]["inference"]["image"], "vllm/vllm-openai:v2");
  EXPECT_EQ(CountAt(2), 1) << "only the canary until its soak ends";
  Run(seconds(5));
  EXPECT_EQ(CountAt(2), 1) << "still soaking";
  EXPECT_TRUE(HasEvent("StageSoaking"));
  ASSERT_TRUE(RunUntil([&] { return CountAt(2) >= 2; }, seconds(20)));
  EXPECT_EQ(CountAt(2), 2) << "rest stage: maxConcurrency 1";
  ASSERT_TRUE(RunUntil([&] { return Phase() == "Completed"; }, seconds(60))) << Status()["rollout"].dump();
  EXPECT_EQ(CountAt(2), 4);
  EXPECT_EQ(Status()["revisions"]["lastGood"], 2);
  EXPECT_TRUE(HasEvent("RolloutCompleted"));
  EXPECT_GE(min_ready_seen_, 3) << "one member at a time updates in place";
}

TEST_F(RolloutControllerTest, BadRevisionFailsInCanaryAndRollsBackWithoutRetrying) {
  AddFleet(1);
  ASSERT_NO_FATAL_FAILURE(Deploy(CanaryThenRest()));
  bad_image_ = "vllm/vllm-openai:broken";
  SetImage(bad_image_);
  ASSERT_TRUE(RunUntil([&] { return Phase() == "RolledBack"; }, seconds(60))) << Status()["rollout"].dump();
  EXPECT_EQ(CountAt(1), 4) << "every member back on the last good revision";
  EXPECT_EQ(Get("Work", "", "m1")["spec"]["workspaces"][0]["workspace"]["inference"]["image"], "vllm/vllm-openai:v1");
  EXPECT_TRUE(HasEvent("ClusterFailed"));
  EXPECT_TRUE(HasEvent("RollbackStarted"));
  json revs = Status()["revisions"]["revisions"];
  EXPECT_EQ(revs.back()["number"], 2);
  EXPECT_FALSE(revs.back().value("failureReason", "").empty()) << revs.dump();
  EXPECT_EQ(Status()["revisions"]["lastGood"], 1);
  EXPECT_GE(min_ready_seen_, 3) << "the service never lost more than the canary";
  EXPECT_EQ(Condition("Workspace", "default", "chat", "Available"), "True");
  // Not retried in a loop: time passes, nothing moves.
  Run(seconds(30));
  EXPECT_EQ(CountAt(1), 4);
  EXPECT_EQ(Phase(), "RolledBack");
}

TEST_F(RolloutControllerTest, ApprovalGateWaitsForApprove) {
  AddFleet(1);
  ASSERT_NO_FATAL_FAILURE(Deploy(CanaryThenRest(/*soak=*/0, /*approval=*/true)));
  SetImage("vllm/vllm-openai:v2");
  Run(seconds(10));
  EXPECT_EQ(Phase(), "AwaitingApproval");
  EXPECT_EQ(CountAt(1), 4) << "nothing starts before approval";
  EXPECT_TRUE(HasEvent("AwaitingApproval"));
  // What `berthctl rollout approve` does: the pure operation on status.rollout, written
  // back through the status subresource.
  json obj = Get("Workspace", "default", "chat");
  auto state = rollout::RolloutStateFromJson(obj["status"]["rollout"]);
  ASSERT_TRUE(state.ok());
  auto approved = rollout::Approve(*state);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  json rollout_json = rollout::RolloutStateToJson(*approved);
  rollout_json["strategy"] = obj["status"]["rollout"]["strategy"];
  PatchStatus("Workspace", "default", "chat", {{"status", {{"rollout", rollout_json}}}});
  ASSERT_TRUE(RunUntil([&] { return Phase() == "Completed"; }, seconds(60))) << Status()["rollout"].dump();
  EXPECT_EQ(CountAt(2), 4);
}

TEST_F(RolloutControllerTest, RestStageHonoursMaxConcurrency) {
  AddFleet(1);
  ASSERT_NO_FATAL_FAILURE(Deploy(CanaryThenRest(/*soak=*/0, false, /*rest_concurrency=*/"2")));
  SetImage("vllm/vllm-openai:v2");
  int most_updating = 0;
  for (int i = 0; i < 60 && Phase() != "Completed"; ++i) {
    Run(seconds(1));
    int updating = 0;
    const json clusters = Status()["rollout"]["clusters"];
    for (const auto& [name, c] : clusters.items()) updating += c["progress"] == "Updating";
    most_updating = std::max(most_updating, updating);
  }
  EXPECT_EQ(Phase(), "Completed");
  EXPECT_LE(most_updating, 2);
  EXPECT_GE(most_updating, 1);
}

TEST_F(RolloutControllerTest, SurgeUsesSpareGpusAndReservesThem) {
  AddFleet(2);  // one spare A100 per member
  json strategy = CanaryThenRest(0);
  strategy["updateMode"] = "Surge";
  ASSERT_NO_FATAL_FAILURE(Deploy(strategy));
  SetImage("vllm/vllm-openai:v2");
  bool saw_surge = false;
  for (int i = 0; i < 60 && Phase() != "Completed"; ++i) {
    Run(seconds(1));
    for (const auto& m : members_) {
      json work = Get("Work", "", m);
      for (const auto& e : work["spec"]["workspaces"]) {
        if (e["update"].value("mode", "") == "Surge" && e["update"].value("maxSurge", 0) == 1) {
          saw_surge = true;
          EXPECT_EQ(e["update"]["previousRevision"], 1);
        }
      }
    }
  }
  EXPECT_TRUE(saw_surge) << Status().dump();
  EXPECT_EQ(Phase(), "Completed");
  EXPECT_GE(min_ready_seen_, 4) << "a surge never takes a serving replica down first";
}

// Four members, m4 with driver 470; revision 2 needs driver 535 and rolls out to completion.
TEST_F(RolloutControllerTest, DriverFloorSkipsOldClusters) {
  ASSERT_NO_FATAL_FAILURE(RollOutPastOldDriver());
  EXPECT_EQ(WorkRevisions()["m4"], 1) << "the old-driver member keeps its revision";
  EXPECT_EQ(CountAt(2), 3);
  EXPECT_EQ(Status()["rollout"]["clusters"]["m4"]["progress"], "Skipped");
  EXPECT_TRUE(HasEvent("ClusterSkipped"));
}

// Was: the Workspace showed "REVISION 2 Available" while m4 still ran revision 1.
TEST_F(RolloutControllerTest, SkippedClusterShowsAsMixedRevisions) {
  ASSERT_NO_FATAL_FAILURE(RollOutPastOldDriver());
  const json ws = Get("Workspace", "default", "chat");
  EXPECT_EQ(api::ConditionStatus(ws, "MixedRevisions"), "True");
  std::string reason, message;
  for (const auto& c : ws["status"]["conditions"]) {
    if (c["type"] == "MixedRevisions") reason = c["reason"], message = c["message"];
  }
  EXPECT_EQ(reason, "ClustersSkipped");
  EXPECT_NE(message.find("revision 1 on m4 (DriverTooOld"), std::string::npos) << message;
  std::map<std::string, std::string> cells;
  for (const auto& col : Kind("Workspace").columns) {
    json v = col.cell(ws);
    cells[col.name] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  EXPECT_EQ(cells["Status"], "Available (mixed revisions)");
  EXPECT_EQ(cells["Revision"].rfind("2 (1 on m4: DriverTooOld", 0), 0u) << cells["Revision"];
}

TEST_F(RolloutControllerTest, InvalidDriverAnnotationIsRefusedAtAdmission) {
  AddFleet(1);
  AddServing(CanaryThenRest());
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Patch(Kind("Workspace"), "default", "chat", PatchType::kMerge,
                    R"({"metadata":{"annotations":{"berth.dev/min-driver-version":"latest"}}})", {}, cb);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("berth.dev/min-driver-version"), std::string::npos) << r.status().ToString();
}

TEST_F(RolloutControllerTest, InlineStrategyErrorsNameTheField) {
  AddFleet(1);
  json bad = CanaryThenRest();
  bad["stages"][0]["soakSecs"] = 5;
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Create(Kind("Workspace"), "default",
                     {{"apiVersion", api::kApiVersion}, {"kind", "Workspace"}, {"metadata", {{"name", "x"}}},
                      {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
                      {"rollout", {{"strategy", bad}}}},
                     {}, cb);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("rollout.strategy.stages[0].soakSecs"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace berth::hub
