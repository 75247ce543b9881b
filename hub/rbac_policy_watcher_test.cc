#include "hub/rbac_policy_watcher.h"

#include <gtest/gtest.h>

#include "hub/rbac/builtin_roles.h"
#include "hub/store_fixture.h"

namespace berth::hub {
namespace {

using nlohmann::json;

class RbacPolicyWatcherTest : public StoreFixture {
 protected:
  const api::KindInfo& Rbac(const char* kind) { return Kind(kind, rbac::kRbacApiVersion); }

  bool Allowed(const std::shared_ptr<const rbac::RbacSnapshot>& snapshot, const std::string& user,
               const std::string& verb, const std::string& ns) {
    rbac::RequestAttributes a;
    a.user = user;
    a.groups = {rbac::kGroupAuthenticated};
    a.verb = verb;
    a.api_group = "berth.dev";
    a.resource = "workspaces";
    a.ns = ns;
    return rbac::Authorize(a, *snapshot).allowed;
  }

  json EditBinding(const std::string& ns, const std::string& user) {
    return {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "RoleBinding"},
            {"metadata", {{"name", user + "-edit"}, {"namespace", ns}}},
            {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "edit"}}},
            {"subjects", {{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "User"}, {"name", user}}}}};
  }
};

TEST_F(RbacPolicyWatcherTest, StartStoresTheBuiltinRolesAndBindings) {
  RbacPolicyWatcher watcher(*objects_, registry_);
  { Status started = watcher.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  for (const rbac::Role& r : rbac::BuiltinClusterRoles()) {
    EXPECT_TRUE(store_->Get({Rbac("ClusterRole").resource(), "", r.name}).ok()) << r.name;
  }
  for (const rbac::RoleBinding& b : rbac::BuiltinClusterRoleBindings()) {
    EXPECT_TRUE(store_->Get({Rbac("ClusterRoleBinding").resource(), "", b.name}).ok()) << b.name;
  }
}

TEST_F(RbacPolicyWatcherTest, ABindingWritten_AppliesToTheNextSnapshot_AndItsDeletionRevokes) {
  RbacPolicyWatcher watcher(*objects_, registry_);
  { Status started = watcher.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  auto before = watcher.Current();
  EXPECT_FALSE(Allowed(before, "alice", "create", "team-a"));

  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Create(Rbac("RoleBinding"), "team-a", EditBinding("team-a", "alice"), {}, done);
              }).ok());
  // Watchers see a commit before its writer's callback runs.
  EXPECT_TRUE(Allowed(watcher.Current(), "alice", "create", "team-a"));
  EXPECT_FALSE(Allowed(watcher.Current(), "alice", "create", "team-b"));
  EXPECT_FALSE(Allowed(before, "alice", "create", "team-a")) << "a published snapshot never changes";

  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Delete(Rbac("RoleBinding"), "team-a", "alice-edit", {}, done);
              }).ok());
  EXPECT_FALSE(Allowed(watcher.Current(), "alice", "create", "team-a"));
}

TEST_F(RbacPolicyWatcherTest, ARestartKeepsWhatAnAdministratorAddedToABuiltin) {
  {
    RbacPolicyWatcher first(*objects_, registry_);
    { Status started = first.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  }
  const std::string view = Rbac("ClusterRole").resource();
  json stored = store_->Get({view, "", "view"}).value();
  stored["rules"].push_back({{"verbs", {"get"}}, {"apiGroups", {"berth.dev"}}, {"resources", {"works"}}});
  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Update(Rbac("ClusterRole"), "", "view", stored, {}, done);
              }).ok());
  const std::string rv = store_->Get({view, "", "view"}).value()["metadata"]["resourceVersion"];

  RbacPolicyWatcher second(*objects_, registry_);
  { Status started = second.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  json after = store_->Get({view, "", "view"}).value();
  EXPECT_EQ(after["metadata"]["resourceVersion"], rv) << "nothing to reconcile: no write";
  EXPECT_EQ(after["rules"].back()["resources"], json({"works"}));
}

TEST_F(RbacPolicyWatcherTest, ARemovedBuiltinRuleIsRestoredAtStart) {
  {
    RbacPolicyWatcher first(*objects_, registry_);
    { Status started = first.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  }
  const std::string view = Rbac("ClusterRole").resource();
  json stored = store_->Get({view, "", "view"}).value();
  const size_t builtin_rules = stored["rules"].size();
  stored["rules"] = json::array({stored["rules"][0]});
  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Update(Rbac("ClusterRole"), "", "view", stored, {}, done);
              }).ok());

  RbacPolicyWatcher second(*objects_, registry_);
  { Status started = second.Start(); ASSERT_TRUE(started.ok()) << started.ToString(); }
  EXPECT_EQ(store_->Get({view, "", "view"}).value()["rules"].size(), builtin_rules);
}

}  // namespace
}  // namespace berth::hub
