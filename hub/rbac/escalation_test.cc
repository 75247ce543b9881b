#include "hub/rbac/escalation.h"

#include <gtest/gtest.h>

#include "hub/rbac/rbac_test_builders.h"

namespace berth::rbac {
namespace {

using Strings = std::vector<std::string>;

using test::Bind;
using test::MakeRole;
using test::User;

const PolicyRule kWsWrite{{"get", "list", "create", "patch"}, {"berth.dev"}, {"workspaces"}, {}, {}};
const PolicyRule kSecretsRead{{"get"}, {""}, {"secrets"}, {}, {}};

TEST(CoversTest, KubernetesCoveringRules) {
  std::vector<PolicyRule> missing;
  EXPECT_TRUE(Covers({kWsWrite}, {{{"get", "patch"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, nullptr));
  EXPECT_FALSE(Covers({kWsWrite}, {{{"get", "delete"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, &missing));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], (PolicyRule{{"delete"}, {"berth.dev"}, {"workspaces"}, {}, {}}));
  // A servant "*" verb needs an owner "*" verb, not every verb listed.
  EXPECT_FALSE(Covers({kWsWrite}, {{{"*"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, nullptr));
  EXPECT_TRUE(Covers({{{"*"}, {"*"}, {"*"}, {}, {}}}, {{{"*"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, nullptr));
  // Subresources: "*/scale" covers workspaces/scale, not workspaces.
  const PolicyRule any_scale{{"patch"}, {"berth.dev"}, {"*/scale"}, {}, {}};
  EXPECT_TRUE(Covers({any_scale}, {{{"patch"}, {"berth.dev"}, {"workspaces/scale"}, {}, {}}}, nullptr));
  EXPECT_FALSE(Covers({any_scale}, {{{"patch"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, nullptr));
  // resourceNames: an owner limited to names covers only those names, never "all names".
  const PolicyRule chat_only{{"get"}, {"berth.dev"}, {"workspaces"}, {"chat"}, {}};
  EXPECT_TRUE(Covers({chat_only}, {{{"get"}, {"berth.dev"}, {"workspaces"}, {"chat"}, {}}}, nullptr));
  EXPECT_FALSE(Covers({chat_only}, {{{"get"}, {"berth.dev"}, {"workspaces"}, {"chat", "x"}, {}}}, nullptr));
  EXPECT_FALSE(Covers({chat_only}, {{{"get"}, {"berth.dev"}, {"workspaces"}, {}, {}}}, nullptr));
  EXPECT_TRUE(Covers({kWsWrite}, {{{"get"}, {"berth.dev"}, {"workspaces"}, {"chat"}, {}}}, nullptr));
  // Non-resource URLs by prefix.
  EXPECT_TRUE(Covers({{{"get"}, {}, {}, {}, {"/apis/*"}}}, {{{"get"}, {}, {}, {}, {"/apis/berth.dev"}}}, nullptr));
  EXPECT_FALSE(Covers({{{"get"}, {}, {}, {}, {"/apis/*"}}}, {{{"get"}, {}, {}, {}, {"/metrics"}}}, nullptr));
  // Rules are covered piece by piece, across several owner rules.
  EXPECT_FALSE(Covers({kWsWrite, kSecretsRead},  // core-group "workspaces" is not held
                      {{{"get"}, {"berth.dev", ""}, {"workspaces"}, {}, {}}, kSecretsRead}, nullptr));
  EXPECT_TRUE(Covers({kWsWrite, kSecretsRead}, {{{"get"}, {"berth.dev"}, {"workspaces"}, {}, {}}, kSecretsRead}, nullptr));
}

class EscalationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snap_ = RbacSnapshot::Build(
        {
            MakeRole("", "ws-writer", {kWsWrite}),
            MakeRole("", "secrets-reader", {kSecretsRead}),
            // What a namespace admin gets: write roles and bindings in its namespace.
            MakeRole("", "rbac-writer", {{{"create", "update", "patch"}, {kRbacGroup}, {"roles", "rolebindings"}, {}, {}}}),
            MakeRole("", "may-bind-secrets-reader", {{{"bind"}, {kRbacGroup}, {"clusterroles"}, {"secrets-reader"}, {}}}),
            MakeRole("", "may-escalate", {{{"escalate"}, {kRbacGroup}, {"roles"}, {}, {}}}),
        },
        {
            Bind("team-a", "lead-ws", {"ClusterRole", "ws-writer"}, {User("lead")}),
            Bind("team-a", "lead-rbac", {"ClusterRole", "rbac-writer"}, {User("lead")}),
            Bind("team-a", "binder", {"ClusterRole", "may-bind-secrets-reader"}, {User("binder")}),
            Bind("team-a", "escalator", {"ClusterRole", "may-escalate"}, {User("escalator")}),
        });
  }
  std::shared_ptr<const RbacSnapshot> snap_;
  const UserInfo lead_{"lead", {kGroupAuthenticated}};
};

TEST_F(EscalationTest, RoleWithinHeldRulesIsAllowed) {
  Role r = MakeRole("team-a", "ws-reader", {{{"get", "list"}, {"berth.dev"}, {"workspaces"}, {}, {}}});
  EXPECT_TRUE(CheckRoleEscalation(lead_, r, nullptr, *snap_).ok());
}

TEST_F(EscalationTest, RoleGrantingMoreIsRefusedWithMissingRules) {
  Role r = MakeRole("team-a", "sneaky",
                    {{{"get", "delete"}, {"berth.dev"}, {"workspaces"}, {}, {}}, {{"get", "list"}, {""}, {"secrets"}, {}, {}}});
  Status s = CheckRoleEscalation(lead_, r, nullptr, *snap_);
  ASSERT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(),
            "roles.rbac.authorization.k8s.io \"sneaky\" is forbidden: user \"lead\" (groups=[\"system:authenticated\"]) "
            "is attempting to grant RBAC permissions not currently held:\n"
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}\n"
            "{APIGroups:[\"berth.dev\"], Resources:[\"workspaces\"], Verbs:[\"delete\"]}");
  // The rights lead holds in team-a do not count in team-b.
  Role elsewhere = MakeRole("team-b", "ws-reader", {{{"get"}, {"berth.dev"}, {"workspaces"}, {}, {}}});
  EXPECT_EQ(CheckRoleEscalation(lead_, elsewhere, nullptr, *snap_).code(), StatusCode::kForbidden);
  // Nor for a ClusterRole (checked cluster-wide).
  Role cluster = MakeRole("", "ws-reader", {{{"get"}, {"berth.dev"}, {"workspaces"}, {}, {}}});
  EXPECT_EQ(CheckRoleEscalation(lead_, cluster, nullptr, *snap_).code(), StatusCode::kForbidden);
}

TEST_F(EscalationTest, EscalateVerbOrMastersSkipTheCheck) {
  Role r = MakeRole("team-a", "big", {{{"*"}, {"*"}, {"*"}, {}, {}}});
  EXPECT_TRUE(CheckRoleEscalation({"escalator", {}}, r, nullptr, *snap_).ok());
  EXPECT_TRUE(CheckRoleEscalation({"admin", {kGroupMasters}}, r, nullptr, *snap_).ok());
  EXPECT_FALSE(CheckRoleEscalation(lead_, r, nullptr, *snap_).ok());
  // escalate on roles in team-a is not escalate on ClusterRoles.
  Role cluster = MakeRole("", "big", r.rules);
  EXPECT_FALSE(CheckRoleEscalation({"escalator", {}}, cluster, nullptr, *snap_).ok());
}

TEST_F(EscalationTest, AggregationRuleNeedsClusterAdmin) {
  // lead holds nothing cluster-wide; an empty aggregated ClusterRole grants nothing by itself
  // but would gather every matching role's rules.
  const UserInfo wide{"wide", {kGroupAuthenticated}};
  auto snap = RbacSnapshot::Build({MakeRole("", "ws-writer", {kWsWrite}), MakeRole("", "all", {{{"*"}, {"*"}, {"*"}, {}, {}}})},
                                  {Bind("", "wide-ws", {"ClusterRole", "ws-writer"}, {User("wide")}),
                                   Bind("", "root", {"ClusterRole", "all"}, {User("root")})});
  Role agg = MakeRole("", "gatherer", {});
  agg.aggregation_rule = nlohmann::json::object();
  Status s = CheckRoleEscalation(wide, agg, nullptr, *snap);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(),
            "clusterroles.rbac.authorization.k8s.io \"gatherer\" is forbidden: must have cluster-admin privileges to "
            "use the aggregationRule");
  // Verb '*' on every resource includes 'escalate' on clusterroles.
  EXPECT_TRUE(CheckRoleEscalation({"root", {}}, agg, nullptr, *snap).ok());
  Role plain = MakeRole("", "plain", {kWsWrite});
  EXPECT_TRUE(CheckRoleEscalation(wide, plain, nullptr, *snap).ok());
  EXPECT_TRUE(CheckRoleEscalation({"admin", {kGroupMasters}}, agg, nullptr, *snap).ok());
}

TEST_F(EscalationTest, UnchangedRulesNeedNoCheckButNewLabelsDo) {
  Role old = MakeRole("team-a", "big", {{{"*"}, {"*"}, {"*"}, {}, {}}});
  Role same = old;
  same.annotations["note"] = "x";
  EXPECT_TRUE(CheckRoleEscalation(lead_, same, &old, *snap_).ok());
  Role relabelled = old;
  relabelled.labels["aggregate-to-edit"] = "true";
  EXPECT_FALSE(CheckRoleEscalation(lead_, relabelled, &old, *snap_).ok());
}

TEST_F(EscalationTest, BindingToHeldRoleIsAllowedInScopeOnly) {
  RoleBinding b = Bind("team-a", "intern", {"ClusterRole", "ws-writer"}, {User("intern")});
  EXPECT_TRUE(CheckBindingEscalation(lead_, b, nullptr, *snap_).ok());
  b.ns = "team-b";
  EXPECT_EQ(CheckBindingEscalation(lead_, b, nullptr, *snap_).code(), StatusCode::kForbidden);
  RoleBinding crb = Bind("", "intern", {"ClusterRole", "ws-writer"}, {User("intern")});
  EXPECT_EQ(CheckBindingEscalation(lead_, crb, nullptr, *snap_).code(), StatusCode::kForbidden);
}

TEST_F(EscalationTest, BindingRoleWithMoreRightsIsRefused) {
  RoleBinding b = Bind("team-a", "me-too", {"ClusterRole", "secrets-reader"}, {User("lead")});
  Status s = CheckBindingEscalation(lead_, b, nullptr, *snap_);
  ASSERT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message().rfind("rolebindings.rbac.authorization.k8s.io \"me-too\" is forbidden: user \"lead\"", 0), 0u)
      << s.message();
  EXPECT_NE(s.message().find("{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"), std::string::npos);
}

TEST_F(EscalationTest, BindVerbHonoursResourceNames) {
  RoleBinding ok = Bind("team-a", "b1", {"ClusterRole", "secrets-reader"}, {User("someone")});
  EXPECT_TRUE(CheckBindingEscalation({"binder", {}}, ok, nullptr, *snap_).ok());
  RoleBinding other = Bind("team-a", "b2", {"ClusterRole", "ws-writer"}, {User("someone")});
  EXPECT_FALSE(CheckBindingEscalation({"binder", {}}, other, nullptr, *snap_).ok());
  // bind was granted in team-a only.
  ok.ns = "team-b";
  EXPECT_FALSE(CheckBindingEscalation({"binder", {}}, ok, nullptr, *snap_).ok());
}

TEST_F(EscalationTest, BindingUpdateAddingSubjectsIsChecked) {
  RoleBinding old = Bind("team-a", "s", {"ClusterRole", "secrets-reader"}, {User("x")});
  RoleBinding same = old;
  same.labels["l"] = "v";
  EXPECT_TRUE(CheckBindingEscalation(lead_, same, &old, *snap_).ok());
  RoleBinding more = old;
  more.subjects.push_back(User("lead"));
  EXPECT_FALSE(CheckBindingEscalation(lead_, more, &old, *snap_).ok());
}

TEST_F(EscalationTest, BindingToMissingRoleIsForbidden) {
  RoleBinding b = Bind("team-a", "ghost", {"Role", "nope"}, {User("x")});
  Status s = CheckBindingEscalation(lead_, b, nullptr, *snap_);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_EQ(s.message(),
            "rolebindings.rbac.authorization.k8s.io \"ghost\" is forbidden: role.rbac.authorization.k8s.io \"nope\" "
            "not found");
}

}  // namespace
}  // namespace berth::rbac
