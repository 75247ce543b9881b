#include "hub/join_policy.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const Clock::TimePoint kNow = FakeClock().Now();

json Member(json spec = json::object(), json conditions = json::array()) {
  return {
      {"metadata", {{"name", "gpu-a"}}}, {"spec", spec}, {"status", {{"conditions", conditions}}}};
}
json LeaseRenewed(Clock::TimePoint t) { return {{"spec", {{"renewTime", FormatRfc3339(t)}}}}; }

TokenBinding Bound(std::string name, bool rejoin = false) { return {std::move(name), "", rejoin}; }
TokenBinding Pattern(std::string glob, bool rejoin = false) {
  return {"", std::move(glob), rejoin};
}

TEST(AssessMemberTest, NoMemberIsNew) {
  EXPECT_EQ(AssessMember(nullptr, nullptr, kNow, {}).standing, MemberStanding::kNew);
}

TEST(AssessMemberTest, ALeaseRenewedWithinTheGraceIsHealthy) {
  json m = Member(), fresh = LeaseRenewed(kNow - seconds(14)),
       stale = LeaseRenewed(kNow - seconds(15));
  MemberHealth h = AssessMember(&m, &fresh, kNow, {});  // 5 s × 3 missed
  EXPECT_EQ(h.standing, MemberStanding::kHealthy);
  EXPECT_NE(h.evidence.find("renewed 14s ago"), std::string::npos) << h.evidence;
  h = AssessMember(&m, &stale, kNow, {});
  EXPECT_EQ(h.standing, MemberStanding::kNotHealthy);
  EXPECT_NE(h.evidence.find("last renewed 15s ago"), std::string::npos) << h.evidence;
}

TEST(AssessMemberTest, TheMembersOwnHeartbeatSettingsAndTheHubDefaultsSetTheGrace) {
  json lease = LeaseRenewed(kNow - seconds(50));
  json slow = Member({{"heartbeatPeriodSeconds", 20}, {"unhealthyAfterMissedHeartbeats", 3}});
  EXPECT_EQ(AssessMember(&slow, &lease, kNow, {}).standing, MemberStanding::kHealthy);
  json plain = Member();
  EXPECT_EQ(AssessMember(&plain, &lease, kNow, {}).standing, MemberStanding::kNotHealthy);
  EXPECT_EQ(AssessMember(&plain, &lease, kNow, HeartbeatDefaults{30, 2}).standing,
            MemberStanding::kHealthy);
}

TEST(AssessMemberTest, NeverRenewedIsNotHealthyUnlessTheHealthControllerSaysHealthy) {
  json m = Member(), lease = json{{"spec", json::object()}};
  EXPECT_EQ(AssessMember(&m, nullptr, kNow, {}).standing, MemberStanding::kNotHealthy);
  EXPECT_EQ(AssessMember(&m, &lease, kNow, {}).standing, MemberStanding::kNotHealthy);
  // After a hub restart the controller keeps members Healthy for a grace: so does a join.
  json healthy = Member(json::object(), {{{"type", "Healthy"}, {"status", "True"}}});
  json stale = LeaseRenewed(kNow - seconds(600));
  MemberHealth h = AssessMember(&healthy, &stale, kNow, {});
  EXPECT_EQ(h.standing, MemberStanding::kHealthy);
  EXPECT_NE(h.evidence.find("Healthy condition"), std::string::npos) << h.evidence;
}

TEST(AssessMemberTest, ARenewalInTheFutureCountsAsCurrent) {
  json m = Member(), lease = LeaseRenewed(kNow + seconds(3600));
  EXPECT_EQ(AssessMember(&m, &lease, kNow, {}).standing, MemberStanding::kHealthy);
}

const MemberHealth kNew{};
const MemberHealth kDown{MemberStanding::kNotHealthy, "no agent has renewed its lease"};
const MemberHealth kUp{MemberStanding::kHealthy, "its lease was renewed 2s ago"};

TEST(CheckJoinAllowedTest, ABoundTokenJoinsOnlyItsName) {
  EXPECT_TRUE(CheckJoinAllowed("t1", Bound("gpu-a"), "gpu-a", kNew).ok());
  EXPECT_TRUE(CheckJoinAllowed("t1", Bound("gpu-a"), "gpu-a", kDown).ok());
  Status s = CheckJoinAllowed("t1", Bound("gpu-a"), "gpu-b", kNew);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("bound to cluster \"gpu-a\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--cluster gpu-b"), std::string::npos) << s.message();
}

TEST(CheckJoinAllowedTest, APatternTokenJoinsTheNamesItMatches) {
  EXPECT_TRUE(CheckJoinAllowed("t1", Pattern("gpu-east-*"), "gpu-east-7", kNew).ok());
  EXPECT_TRUE(CheckJoinAllowed("t1", Pattern("gpu-east-*"), "gpu-east-7", kDown).ok());
  Status s = CheckJoinAllowed("t1", Pattern("gpu-east-*"), "gpu-west-1", kNew);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("matching \"gpu-east-*\""), std::string::npos) << s.message();
  EXPECT_EQ(CheckJoinAllowed("t1", Pattern("gpu-east-*"), "gpu-east-7", kUp).code(),
            StatusCode::kForbidden);
  EXPECT_TRUE(CheckJoinAllowed("t1", Pattern("gpu-east-*", true), "gpu-east-7", kUp).ok());
}

TEST(CheckJoinAllowedTest, AnUnboundTokenJoinsOnlyAsANewMember) {
  EXPECT_TRUE(CheckJoinAllowed("t1", {}, "gpu-a", kNew).ok());
  for (const MemberHealth& existing : {kDown, kUp}) {
    Status s = CheckJoinAllowed("t1", {}, "gpu-a", existing);
    EXPECT_EQ(s.code(), StatusCode::kForbidden);
    EXPECT_NE(s.message().find("not bound to a cluster name"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("berthctl token create --cluster gpu-a"), std::string::npos)
        << s.message();
  }
}

TEST(CheckJoinAllowedTest, TakingOverAHealthyMemberNeedsRejoin) {
  Status s = CheckJoinAllowed("t1", Bound("gpu-a"), "gpu-a", kUp);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("is healthy (its lease was renewed 2s ago)"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--cluster gpu-a --rejoin"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckJoinAllowed("t1", Bound("gpu-a", true), "gpu-a", kUp).ok());
  // --rejoin never widens the binding.
  EXPECT_EQ(CheckJoinAllowed("t1", Bound("gpu-a", true), "gpu-b", kUp).code(),
            StatusCode::kForbidden);
}

TEST(BindingOfTest, ReadsTheSpecAndIgnoresFieldsOfTheWrongType) {
  TokenBinding b = BindingOf({{"spec", {{"clusterName", "gpu-a"}, {"allowRejoin", true}}}});
  EXPECT_EQ(b.cluster_name, "gpu-a");
  EXPECT_TRUE(b.allow_rejoin);
  EXPECT_TRUE(b.bound());
  b = BindingOf({{"spec", {{"clusterName", 5}, {"allowRejoin", "yes"}}}});
  EXPECT_FALSE(b.bound());
  EXPECT_FALSE(b.allow_rejoin);
  EXPECT_EQ(BindingOf({{"spec", {{"clusterNamePattern", "gpu-*"}}}}).Describe(),
            "cluster names matching \"gpu-*\"");
}

}  // namespace
}  // namespace berth::hub
