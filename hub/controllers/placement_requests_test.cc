// Unit tests of the placement requests on data: Workspaces, PlacementPolicies and the fleet
// view in; one placement::Request per valid Workspace (policy resolved, failover decisions
// applied) and the WakeUp out.
#include "hub/controllers/placement_requests.h"

#include <gtest/gtest.h>

#include "api/kinds.h"
#include "hub/controllers/stage_test_data.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

json Policy(const std::string& name, json spec) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", "PlacementPolicy"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", spec}};
}

json Workspace(const std::string& name, json placement) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", "Workspace"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 1}}},
          {"inference", {{"preset", {{"name", "llama-3.1-8b-instruct"}}}}},
          {"placement", placement}};
}

// One pass with no member reports, the default toleration 30 s, at kT0.
PlacementRequests Build(const std::vector<json>& workspaces, const placement::PolicyCatalog& catalog,
                        const std::map<std::string, MemberView>& members) {
  static const MemberReports kNoReports;
  PlacementRequestsInput in;
  in.workspaces = &workspaces;
  in.policies = &catalog;
  in.members = &members;
  in.reported = &kNoReports;
  in.defaults.toleration_seconds = 30;
  in.now = kT0;
  return BuildPlacementRequests(in);
}

TEST(PoliciesFrom, ParsesPoliciesByKeyAndLeavesOutBrokenOnes) {
  auto catalog = PoliciesFrom({Policy("shared", {{"failover", {{"tolerationSeconds", 20}}}}),
                               Policy("broken", {{"mode", "Everywhere"}})});
  ASSERT_EQ(catalog.size(), 1u);
  ASSERT_TRUE(catalog.count("default/shared"));
  EXPECT_EQ(catalog["default/shared"]->failover.toleration_seconds.value_or(-1), 20);
}

TEST(BuildPlacementRequests, OneRequestPerValidWorkspaceWithFailoverApplied) {
  std::vector<json> workspaces;
  json llama = Workspace("llama", {{"replicas", 2}, {"policyRef", {{"name", "shared"}}}});
  llama["status"] = {{"placements", {{{"cluster", "gpu-a"}, {"replicas", 2}}}}};
  workspaces.push_back(llama);
  workspaces.push_back(
      Workspace("mistral", {{"replicas", 1}, {"policyRef", {{"name", "shared"}}}}));
  json broken = Workspace("broken", {{"replicas", 1}});
  broken.erase("inference");
  workspaces.push_back(broken);
  workspaces.push_back(
      Workspace("orphan", {{"replicas", 1}, {"policyRef", {{"name", "missing"}}}}));
  json gone = Workspace("gone", {{"replicas", 1}});
  gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  workspaces.push_back(gone);
  workspaces.push_back(Workspace("plain", {{"replicas", 1}}));

  const placement::PolicyCatalog catalog =
      PoliciesFrom({Policy("shared", {{"failover", {{"tolerationSeconds", 20}}}})});
  std::map<std::string, json> objects = {{"gpu-a", MemberObject("gpu-a")},
                                         {"gpu-b", MemberObject("gpu-b")}};
  std::map<std::string, MemberView> members = {
      {"gpu-a", MemberView{&objects["gpu-a"], MemberPhase::kFailed, kT0 - seconds(20)}},
      {"gpu-b", MemberView{&objects["gpu-b"], MemberPhase::kSuspect, kT0 - seconds(5)}}};
  PlacementRequests out = Build(workspaces, catalog, members);

  ASSERT_EQ(out.requests.size(), 3u);
  ASSERT_EQ(out.objects.size(), 3u);
  EXPECT_EQ(out.requests[0].workspace, "default/llama");
  EXPECT_EQ(out.objects[0], &workspaces[0]);
  EXPECT_EQ(out.requests[1].workspace, "default/mistral");
  EXPECT_EQ(out.requests[2].workspace, "default/plain");
  EXPECT_EQ(out.objects[2], &workspaces[5]);
  EXPECT_EQ(out.requests[0].replicas, 2);

  EXPECT_EQ(out.by_key.size(), 6u) << "every Workspace, the deleted one included";
  EXPECT_EQ(out.by_key.at("default/gone"), &workspaces[4]);
  ASSERT_EQ(out.invalid.size(), 2u);
  EXPECT_FALSE(out.invalid.at("default/broken").empty());
  EXPECT_NE(out.invalid.at("default/orphan").find("missing"), std::string::npos)
      << out.invalid.at("default/orphan");
  EXPECT_FALSE(out.invalid.count("default/gone"))
      << "a workspace being deleted is neither placed nor invalid";

  // gpu-a has been unreachable 20 s: the shared policy tolerates that for 20 s.
  EXPECT_TRUE(out.requests[0].current.empty());
  EXPECT_EQ(out.failover.evicted_unreachable["default/llama"], std::set<std::string>{"gpu-a"});

  // Requests sharing a policy share its effective copy; it carries the implicit toleration.
  ASSERT_TRUE(out.requests[0].policy);
  EXPECT_EQ(out.requests[0].policy, out.requests[1].policy);
  ASSERT_EQ(out.requests[0].policy->tolerations.size(), 1u);
  EXPECT_EQ(*out.requests[0].policy->tolerations[0].toleration_seconds, 20);
  ASSERT_TRUE(out.requests[2].policy) << "no policy: the default one, with the hub's toleration";
  EXPECT_EQ(*out.requests[2].policy->tolerations.at(0).toleration_seconds, 30);
}

TEST(BuildPlacementRequests, WakesWhenAToleratedUnreachableMemberRunsOut) {
  std::vector<json> workspaces;
  json llama = Workspace("llama", {{"replicas", 1}});
  llama["status"] = {{"placements", {{{"cluster", "gpu-a"}, {"replicas", 1}}}}};
  workspaces.push_back(llama);
  const placement::PolicyCatalog catalog;
  std::map<std::string, json> objects = {{"gpu-a", MemberObject("gpu-a")}};
  std::map<std::string, MemberView> members = {
      {"gpu-a", MemberView{&objects["gpu-a"], MemberPhase::kSuspect, kT0 - seconds(5)}}};
  PlacementRequests out = Build(workspaces, catalog, members);
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].current, (std::map<std::string, int>{{"gpu-a", 1}}));
  ASSERT_TRUE(out.wake.at.has_value());
  EXPECT_EQ(*out.wake.at, kT0 + seconds(25));
}

}  // namespace
}  // namespace berth::hub
