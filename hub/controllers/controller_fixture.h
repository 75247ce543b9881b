// Test fixture for the hub's controllers: an in-process store, the FleetController driven
// by a FakeClock (nothing sleeps), and helpers that play the members' agents (leases,
// inventory, Work status reports). Shared by fleet_controller_test and rollout_controller_test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "api/object.h"
#include "hub/controllers/fleet_controller.h"
#include "hub/hub.h"
#include "kinds/berth_kinds.h"
#include "hub/sqlite_store.h"
#include "hub/store_fixture.h"

namespace berth::hub {

using nlohmann::json;
using std::chrono::seconds;

class ControllerFixture : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    FleetControllerOptions fo;
    fo.toleration_seconds = 30;
    fo.failback_hysteresis_seconds = 120;
    ctl_ = std::make_unique<FleetController>(*objects_, registry_, clock_, fo);
    ASSERT_TRUE(ctl_->Start(/*run_worker=*/false).ok());
  }
  void TearDown() override {
    ctl_.reset();
    StoreFixture::TearDown();
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
  // A member with one node of `gpus` A100s (price 3 $/GPU-h unless `price` says otherwise).
  void AddMember(const std::string& name, int gpus, json labels = json::object(),
                 const std::string& driver = "550.54", double price = 3.0) {
    Create("MemberCluster", {{"apiVersion", api::kApiVersion}, {"kind", "MemberCluster"},
                             {"metadata", {{"name", name}, {"labels", labels}}}, {"spec", {{"region", "eu"}}}});
    Create("Lease", {{"apiVersion", api::kApiVersion}, {"kind", "Lease"}, {"metadata", {{"name", name}}},
                     {"spec", {{"leaseDurationSeconds", 15}}}});
    PatchStatus("MemberCluster", "", name,
                {{"status", {{"nodes", {{{"name", "n0"}, {"ready", true}, {"gpuProduct", "A100-80GB"},
                                         {"gfdProduct", "NVIDIA-A100-SXM4-80GB"}, {"memoryGiB", 80},
                                         {"gpus", gpus}, {"freeGpus", gpus}, {"driverVersion", driver},
                                         {"cudaVersion", "12.4"}}}},
                             {"pricesPerGpuHour", {{"A100-80GB", price}}}}}});
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
  void ReportReady(const std::string& member) { ReportAll(member, "Ready", ""); }
  // Reports every Work entry of `member` as applied but Pending for `reason` (no replica runs).
  void ReportPending(const std::string& member, const std::string& reason) {
    ReportAll(member, "Pending", reason);
  }
  // ready_each: Ready replicas reported per entry; -1 = all of them when phase is Ready.
  void ReportAll(const std::string& member, const std::string& phase, const std::string& reason,
                 int ready_each = -1) {
    json work = Get("Work", "", member);
    json list = json::array();
    for (const auto& e : work["spec"]["workspaces"]) {
      json r = {{"name", e["workspace"]["metadata"]["name"]},
                {"namespace", e["workspace"]["metadata"]["namespace"]},
                {"revision", e["revision"]}, {"applied", true}, {"replicas", e["replicas"]},
                {"readyReplicas", ready_each >= 0 ? json(ready_each) : phase == "Ready" ? e["replicas"] : json(0)},
                {"phase", phase}, {"endpoint", "http://" + member + ".test:80"}};
      if (!reason.empty()) r["reason"] = reason;
      list.push_back(std::move(r));
    }
    PatchStatus("Work", "", member, {{"status", {{"observedPlacementGeneration", work["spec"]["placementGeneration"]},
                                                 {"workspaces", list}}}});
  }
  // Two 8-GPU members and a workspace placed on one of them: returns {home, other}.
  std::pair<std::string, std::string> PlaceOnOneOfTwo(const std::string& ws, int replicas) {
    AddMember("gpu-a", 8);
    AddMember("gpu-b", 8);
    AddWorkspace(ws, replicas);
    Settle();
    auto placed = Placements(ws);
    EXPECT_EQ(placed.size(), 1u);
    const std::string home = placed.empty() ? "" : placed.begin()->first;
    return {home, home == "gpu-a" ? "gpu-b" : "gpu-a"};
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
  // `home` serves (reported Ready); both members renew at .6 of a second, then `home` falls
  // silent while `other` renews every second, until the hub marks `home` Unhealthy (at most
  // 20 s). Returns the time of that transition: its whole-second stamp is 0.6 s earlier.
  Clock::TimePoint SilenceUntilUnhealthy(const std::string& home, const std::string& other) {
    ReportReady(home);
    clock_.Advance(std::chrono::milliseconds(600));
    Renew(home);
    Renew(other);
    Settle();
    for (int i = 0; i < 20 && Condition("MemberCluster", "", home, "Healthy") != "False"; ++i) {
      clock_.Advance(seconds(1));
      Renew(other);
      Settle();
    }
    return clock_.Now();
  }
  // lastTransitionTime of a member's Healthy condition ("" without one).
  std::string HealthyTransitionStamp(const std::string& member) {
    for (const auto& c : api::JsonPathGet(Get("MemberCluster", "", member), "status.conditions")) {
      if (c["type"] == "Healthy") return c.value("lastTransitionTime", "");
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

  std::unique_ptr<FleetController> ctl_;
};

}  // namespace berth::hub
