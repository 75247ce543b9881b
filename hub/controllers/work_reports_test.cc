// Unit tests of what agent reports count, on Work objects as data: a report counts only when
// it answers the Work entry as it stands now (observedEntryGeneration), or, without that
// echo, when the agent has seen the whole Work (observedPlacementGeneration).
#include "hub/controllers/work_reports.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;

// A Work entry for workspace default/`name`, last changed at placementGeneration `generation`.
json Entry(const std::string& name, int64_t generation) {
  return {{"workspace", {{"metadata", {{"name", name}, {"namespace", "default"}}}}},
          {"replicas", 2},
          {"revision", 1},
          {"entryGeneration", generation}};
}

// An agent's report about default/`name`, Ready with 2 replicas.
json Report(const std::string& name) {
  return {{"name", name},  {"namespace", "default"}, {"revision", 1},   {"applied", true},
          {"replicas", 2}, {"readyReplicas", 2},     {"phase", "Ready"}};
}

// Work of member gpu-a at placementGeneration `wanted`, the agent having seen `observed`
// (null: it never said), reporting `reports`.
json Work(int64_t wanted, json observed, json entries, json reports) {
  json status = {{"workspaces", reports}};
  if (!observed.is_null()) status["observedPlacementGeneration"] = observed;
  return {
      {"metadata", {{"name", "gpu-a"}}},
      {"spec", {{"cluster", "gpu-a"}, {"placementGeneration", wanted}, {"workspaces", entries}}},
      {"status", status}};
}

std::vector<std::string> Keys(const std::map<std::string, MemberReport>& reports) {
  std::vector<std::string> out;
  for (const auto& kv : reports) out.push_back(kv.first);
  return out;
}

TEST(EntryKey, NamespaceAndName) {
  EXPECT_EQ(EntryKey(Entry("llama", 1)), "default/llama");
  json other = Entry("llama", 1);
  other["workspace"]["metadata"]["namespace"] = "models";
  EXPECT_EQ(EntryKey(other), "models/llama");
  json bare = {{"workspace", {{"metadata", {{"name", "llama"}}}}}};
  EXPECT_EQ(EntryKey(bare), "default/llama");
}

TEST(ReportedByWorkspace, AnEchoOfTheCurrentEntryGenerationCountsWhateverElseChanged) {
  // The Work moved to generation 7 for mistral; llama's entry last changed at 5 and the
  // agent answered it: llama's report stands although the agent has not seen generation 7.
  json llama = Report("llama");
  llama["observedEntryGeneration"] = 5;
  const json work =
      Work(7, 6, json::array({Entry("llama", 5), Entry("mistral", 7)}), json::array({llama}));
  auto reports = ReportedByWorkspace(work);
  ASSERT_EQ(Keys(reports), std::vector<std::string>{"default/llama"});
  EXPECT_EQ(reports["default/llama"].ready, 2);
}

TEST(ReportedByWorkspace, AReportForAnOlderVersionOfTheEntryIsIgnored) {
  json mistral = Report("mistral");
  mistral["observedEntryGeneration"] = 6;  // the entry is at 7 now
  const json work =
      Work(7, 7, json::array({Entry("llama", 5), Entry("mistral", 7)}), json::array({mistral}));
  EXPECT_TRUE(ReportedByWorkspace(work).empty())
      << "a stale echo is ignored even when the agent claims the whole Work";
}

TEST(ReportedByWorkspace, AnEchoForAnEntryNoLongerAskedForIsIgnored) {
  json gone = Report("gone");
  gone["observedEntryGeneration"] = 3;
  const json work = Work(7, 7, json::array({Entry("llama", 5)}), json::array({gone}));
  EXPECT_TRUE(ReportedByWorkspace(work).empty());
}

TEST(ReportedByWorkspace, WithoutAnEchoOnlyWhenTheWholeWorkWasObserved) {
  const json entries = json::array({Entry("llama", 5)});
  const json reports = json::array({Report("llama")});
  EXPECT_EQ(Keys(ReportedByWorkspace(Work(7, 7, entries, reports))),
            std::vector<std::string>{"default/llama"});
  EXPECT_EQ(Keys(ReportedByWorkspace(Work(7, 8, entries, reports))),
            std::vector<std::string>{"default/llama"});
  EXPECT_TRUE(ReportedByWorkspace(Work(7, 6, entries, reports)).empty())
      << "the agent saw an older Work";
  EXPECT_TRUE(ReportedByWorkspace(Work(7, json(), entries, reports)).empty())
      << "the agent never said";
}

TEST(ReportedByWorkspace, ReadsEveryFieldAndDefaultsUpdatedAndAvailableToReady) {
  json r = Report("llama");
  r["observedEntryGeneration"] = 5;
  r["surgeReplicas"] = 1;
  r["failures"] = 2;
  r["revision"] = 3;
  r["reason"] = "Serving";
  r["message"] = "all good";
  r["endpoint"] = "http://10.0.0.1:8000";
  r["prePull"] = {{"revision", 4}, {"phase", "Pulling"}, {"reason", "ImagePulling"}};
  const json work = Work(5, 5, json::array({Entry("llama", 5)}), json::array({r}));
  const MemberReport got = ReportedByWorkspace(work).at("default/llama");
  EXPECT_EQ(got.replicas, 2);
  EXPECT_EQ(got.ready, 2);
  EXPECT_EQ(got.updated, 2) << "updatedReplicas defaults to readyReplicas";
  EXPECT_EQ(got.available, 2) << "availableReplicas defaults to readyReplicas";
  EXPECT_EQ(got.surge, 1);
  EXPECT_EQ(got.failures, 2);
  EXPECT_EQ(got.revision, 3);
  EXPECT_TRUE(got.applied);
  EXPECT_EQ(got.phase, "Ready");
  EXPECT_EQ(got.reason, "Serving");
  EXPECT_EQ(got.message, "all good");
  EXPECT_EQ(got.endpoint, "http://10.0.0.1:8000");
  EXPECT_EQ(got.pre_pull_revision, 4);
  EXPECT_EQ(got.pre_pull_phase, "Pulling");
  EXPECT_EQ(got.pre_pull_reason, "ImagePulling");

  r["updatedReplicas"] = 0;
  r["availableReplicas"] = 1;
  const MemberReport explicit_counts =
      ReportedByWorkspace(Work(5, 5, json::array({Entry("llama", 5)}), json::array({r})))
          .at("default/llama");
  EXPECT_EQ(explicit_counts.updated, 0);
  EXPECT_EQ(explicit_counts.available, 1);
}

TEST(ReportedByWorkspace, NothingWithoutAStatus) {
  json work = Work(5, 5, json::array({Entry("llama", 5)}), json::array());
  work.erase("status");
  EXPECT_TRUE(ReportedByWorkspace(work).empty());
}

TEST(IsCapacityPending, OnlyPendingForLackOfGpus) {
  MemberReport r;
  r.phase = "Pending";
  for (const char* reason : {"InsufficientGPU", "Unschedulable", "GPUsLost", "NodeLost"}) {
    r.reason = reason;
    EXPECT_TRUE(IsCapacityPending(r)) << reason;
  }
  for (const char* reason : {"ImagePulling", "ContainerCreating", ""}) {
    r.reason = reason;
    EXPECT_FALSE(IsCapacityPending(r)) << reason;
  }
  r.phase = "Ready";
  r.reason = "InsufficientGPU";
  EXPECT_FALSE(IsCapacityPending(r)) << "only a Pending workspace waits";
}

TEST(CapacityPendingSince, ReadsThePlacementOfThatCluster) {
  const json status = {{"placements",
                        {{{"cluster", "gpu-a"}, {"capacityPendingSince", "2026-01-01T00:00:00Z"}},
                         {{"cluster", "gpu-b"}, {"replicas", 1}},
                         {{"cluster", "gpu-c"}, {"capacityPendingSince", "soon"}}}}};
  auto a = CapacityPendingSince(status, "gpu-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, kT0);
  EXPECT_FALSE(CapacityPendingSince(status, "gpu-b").has_value()) << "not waiting";
  EXPECT_FALSE(CapacityPendingSince(status, "gpu-c").has_value()) << "not a time";
  EXPECT_FALSE(CapacityPendingSince(status, "gpu-z").has_value()) << "not placed there";
  EXPECT_FALSE(CapacityPendingSince(json(), "gpu-a").has_value()) << "no status";
  EXPECT_FALSE(CapacityPendingSince(json::object(), "gpu-a").has_value());
}

}  // namespace
}  // namespace berth::hub
