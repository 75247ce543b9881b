#include "hub/controllers/namespace_cleanup.h"

#include <gtest/gtest.h>

#include "hub/controllers/conditions.h"

namespace berth::hub {
namespace {

using nlohmann::json;

const Clock::TimePoint kNow = Clock::TimePoint{} + std::chrono::hours(1000);

json Ns(bool deleting) {
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "ml"}}},
             {"spec", {{"finalizers", {"kubernetes"}}}}, {"status", {{"phase", "Active"}}}};
  if (deleting) ns["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return ns;
}

TEST(NamespaceCleanupTest, ALiveNamespaceIsLeftAlone) {
  auto d = DecideNamespaceCleanup(Ns(false), {{"configmaps", "c", false, {}}}, kNow);
  EXPECT_FALSE(d.terminating);
  EXPECT_TRUE(d.to_delete.empty());
  EXPECT_FALSE(d.finalize);
}

TEST(NamespaceCleanupTest, DeletesWhatIsNotYetBeingDeletedAndReportsWhatRemains) {
  std::vector<NamespacedObject> content = {
      {"workspaces.berth.dev", "a", false, {}},
      {"workspaces.berth.dev", "b", true, {"berth.dev/drain"}},
      {"configmaps", "c", false, {}},
  };
  auto d = DecideNamespaceCleanup(Ns(true), content, kNow);
  ASSERT_TRUE(d.terminating);
  EXPECT_EQ(d.status["phase"], "Terminating");
  ASSERT_EQ(d.to_delete.size(), 2u);
  EXPECT_EQ(d.to_delete[0].name, "a");
  EXPECT_EQ(d.to_delete[1].name, "c");
  EXPECT_FALSE(d.finalize);
  json ns = {{"status", d.status}};
  const json& remaining = FindCondition(ns, "NamespaceContentRemaining");
  EXPECT_EQ(remaining["status"], "True");
  EXPECT_EQ(remaining["message"],
            "Some resources are remaining: configmaps has 1 resource instances, workspaces.berth.dev has 2 "
            "resource instances");
  const json& fin = FindCondition(ns, "NamespaceFinalizersRemaining");
  EXPECT_EQ(fin["status"], "True");
  EXPECT_NE(fin["message"].get<std::string>().find("berth.dev/drain in 1 resource instances"), std::string::npos);
}

TEST(NamespaceCleanupTest, AnEmptyTerminatingNamespaceIsFinalized) {
  auto d = DecideNamespaceCleanup(Ns(true), {}, kNow);
  EXPECT_TRUE(d.finalize);
  json ns = {{"status", d.status}};
  EXPECT_EQ(FindCondition(ns, "NamespaceContentRemaining")["reason"], "ContentRemoved");
}

}  // namespace
}  // namespace berth::hub
