// Unit tests of the Work diff on data: members, their Work and the desired entries in; the
// creates, updates and deletes the controller performs out.
#include "hub/controllers/work_diff.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

#include "api/kinds.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;

using Desired = std::map<std::string, std::map<std::string, json>>;
using Works = std::map<std::string, std::shared_ptr<const json>>;

// A desired entry (no entryGeneration: DiffWork assigns it).
json Entry(const std::string& name, int replicas, int64_t revision = 1) {
  return {{"workspace",
           {{"apiVersion", api::kApiVersion},
            {"kind", "Workspace"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 1}}},
            {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}}}},
          {"replicas", replicas},
          {"revision", revision},
          {"gpu", {{"product", "A100-80GB"}, {"migProfile", ""}, {"gpusPerReplica", 1}}},
          {"update", {{"mode", "Surge"}, {"maxUnavailable", 1}}}};
}

json WithGeneration(json entry, int64_t generation) {
  entry["entryGeneration"] = generation;
  return entry;
}

// gpu-a's Work at placementGeneration `generation` with `entries` (a status, and metadata
// the store wrote, to see they are kept).
std::shared_ptr<const json> Work(const std::string& member, int64_t generation, json entries) {
  return std::make_shared<const json>(json{
      {"apiVersion", api::kApiVersion},
      {"kind", "Work"},
      {"metadata", {{"name", member}, {"resourceVersion", "42"}}},
      {"spec", {{"cluster", member}, {"placementGeneration", generation}, {"workspaces", entries}}},
      {"status", {{"observedPlacementGeneration", generation}}}});
}

struct Fleet {
  std::map<std::string, json> objects;
  std::map<std::string, MemberView> members;
  explicit Fleet(std::initializer_list<std::pair<const char*, MemberPhase>> list) {
    for (const auto& m : list) {
      objects[m.first] = {{"metadata", {{"name", m.first}}}};
      members[m.first] = MemberView{&objects[m.first], m.second, kT0};
    }
  }
  Fleet(const Fleet&) = delete;
};

TEST(WhatRuns, OnlyWhatDecidesTheRunningReplicas) {
  const json a = Entry("llama", 2);
  json b = a;
  b["update"] = {{"mode", "InPlace"}, {"maxUnavailable", 2}};
  b["prePull"] = {{"revision", 2}, {"image", "vllm:v2"}};
  b["workspace"]["metadata"]["generation"] = 7;
  b["workspace"]["placement"] = {{"policyRef", {{"name", "other"}}}};
  b["entryGeneration"] = 9;
  EXPECT_EQ(WhatRuns(a), WhatRuns(b));
  for (const char* field : {"replicas", "revision", "gpu", "inference", "resource"}) {
    json c = a;
    if (std::string(field) == "inference" || std::string(field) == "resource") {
      c["workspace"][field] = {{"changed", true}};
    } else {
      c[field] = 5;
    }
    EXPECT_NE(WhatRuns(a), WhatRuns(c)) << field;
  }
}

TEST(DiffWork, CreatesTheWorkOfAMemberThatHasNone) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}});
  Desired desired;
  desired["gpu-a"]["default/llama"] = Entry("llama", 2);
  auto writes = DiffWork(fleet.members, {}, desired);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].op, WorkWrite::Op::kCreate);
  EXPECT_EQ(writes[0].member, "gpu-a");
  const json& w = writes[0].object;
  EXPECT_EQ(w["apiVersion"], api::kApiVersion);
  EXPECT_EQ(w["kind"], "Work");
  EXPECT_EQ(w["metadata"]["name"], "gpu-a");
  EXPECT_EQ(w["spec"]["cluster"], "gpu-a");
  EXPECT_EQ(w["spec"]["placementGeneration"], 1);
  ASSERT_EQ(w["spec"]["workspaces"].size(), 1u);
  EXPECT_EQ(w["spec"]["workspaces"][0], WithGeneration(Entry("llama", 2), 1));
}

TEST(DiffWork, NoWriteWhenNothingChanged) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}, {"gpu-b", MemberPhase::kRecovering}});
  const Works works = {
      {"gpu-a", Work("gpu-a", 5, json::array({WithGeneration(Entry("llama", 2), 3)}))},
      {"gpu-b", Work("gpu-b", 2, json::array())}};
  Desired desired;
  desired["gpu-a"]["default/llama"] = Entry("llama", 2);
  EXPECT_TRUE(DiffWork(fleet.members, works, desired).empty());
}

TEST(DiffWork, AChangeThatDoesNotTouchWhatRunsKeepsTheEntryGeneration) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}});
  const Works works = {
      {"gpu-a", Work("gpu-a", 5, json::array({WithGeneration(Entry("llama", 2), 3)}))}};
  Desired desired;
  json pre_pulling = Entry("llama", 2);
  pre_pulling["prePull"] = {{"revision", 2}, {"image", "vllm:v2"}};
  desired["gpu-a"]["default/llama"] = pre_pulling;
  auto writes = DiffWork(fleet.members, works, desired);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].op, WorkWrite::Op::kUpdate);
  const json& w = writes[0].object;
  EXPECT_EQ(w["spec"]["placementGeneration"], 6);
  EXPECT_EQ(w["spec"]["workspaces"][0]["entryGeneration"], 3)
      << "the running replicas are untouched";
  EXPECT_EQ(w["spec"]["workspaces"][0]["prePull"]["image"], "vllm:v2");
  EXPECT_EQ(w["metadata"]["resourceVersion"], "42") << "an update of the Work as read";
  EXPECT_EQ(w["status"]["observedPlacementGeneration"], 5);
}

TEST(DiffWork, AChangeOfWhatRunsTakesTheNewGenerationForThatEntryOnly) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}});
  const Works works = {{"gpu-a", Work("gpu-a", 5,
                                      json::array({WithGeneration(Entry("llama", 2), 3),
                                                   WithGeneration(Entry("mistral", 1), 4)}))}};
  Desired desired;
  desired["gpu-a"]["default/llama"] = Entry("llama", 3);
  desired["gpu-a"]["default/mistral"] = Entry("mistral", 1);
  auto writes = DiffWork(fleet.members, works, desired);
  ASSERT_EQ(writes.size(), 1u);
  const json& entries = writes[0].object["spec"]["workspaces"];
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["workspace"]["metadata"]["name"], "llama");
  EXPECT_EQ(entries[0]["entryGeneration"], 6);
  EXPECT_EQ(entries[1]["workspace"]["metadata"]["name"], "mistral");
  EXPECT_EQ(entries[1]["entryGeneration"], 4);
}

TEST(DiffWork, AnEntryWithoutAGenerationGetsOne) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}});
  const Works works = {{"gpu-a", Work("gpu-a", 5, json::array({Entry("llama", 2)}))}};
  Desired desired;
  desired["gpu-a"]["default/llama"] = Entry("llama", 2);
  auto writes = DiffWork(fleet.members, works, desired);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].object["spec"]["workspaces"][0]["entryGeneration"], 6);
}

TEST(DiffWork, AMemberThatWantsNothingGetsAnEmptyWork) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}, {"gpu-b", MemberPhase::kHealthy}});
  const Works works = {
      {"gpu-a", Work("gpu-a", 5, json::array({WithGeneration(Entry("llama", 2), 3)}))}};
  auto writes = DiffWork(fleet.members, works, {});
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].op, WorkWrite::Op::kUpdate);
  EXPECT_EQ(writes[0].object["spec"]["workspaces"], json::array()) << "the entry is removed";
  EXPECT_EQ(writes[0].object["spec"]["placementGeneration"], 6);
  EXPECT_EQ(writes[1].op, WorkWrite::Op::kCreate);
  EXPECT_EQ(writes[1].member, "gpu-b");
  EXPECT_EQ(writes[1].object["spec"]["workspaces"], json::array());
}

TEST(DiffWork, DeletesTheWorkOfAMemberThatNoLongerExists) {
  Fleet fleet({{"gpu-a", MemberPhase::kHealthy}});
  const Works works = {{"gpu-a", Work("gpu-a", 5, json::array())},
                       {"gone", Work("gone", 9, json::array())}};
  auto writes = DiffWork(fleet.members, works, {});
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].op, WorkWrite::Op::kDelete);
  EXPECT_EQ(writes[0].member, "gone");
  EXPECT_TRUE(writes[0].object.is_null());
}

TEST(DiffWork, FrozenMembersWorkIsNeverWritten) {
  Fleet fleet({{"gpu-a", MemberPhase::kSuspect},
               {"gpu-b", MemberPhase::kFailed},
               {"gpu-c", MemberPhase::kSuspect}});
  const Works works = {
      {"gpu-a", Work("gpu-a", 5, json::array({WithGeneration(Entry("llama", 2), 3)}))},
      {"gpu-b", Work("gpu-b", 5, json::array({WithGeneration(Entry("llama", 2), 3)}))}};
  Desired desired;
  desired["gpu-a"]["default/mistral"] = Entry("mistral", 1);
  desired["gpu-c"]["default/mistral"] = Entry("mistral", 1);
  EXPECT_TRUE(DiffWork(fleet.members, works, desired).empty())
      << "not emptied, not changed, not created, not deleted";
}

}  // namespace
}  // namespace berth::hub
