// Runs every tests/rbac/scenarios/*.yaml: RBAC manifests and users in, the verdicts of requests
// and of RBAC writes out. The format is described in scenarios/README.md.
//
// Besides each file's expectations, every request checks that RulesFor (kubectl auth can-i
// --list) agrees with Authorize on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/yaml_json.h"
#include "hub/rbac/builtin_roles.h"
#include "hub/rbac/escalation.h"
#include "hub/rbac/identity_tokens.h"
#include "hub/rbac/rbac_rules.h"
#include "tests/support/scenario_files.h"

namespace berth::rbac {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path ScenarioDir() { return berth::testing::ScenarioDir("rbac"); }
std::vector<std::string> ScenarioFiles() { return berth::testing::ScenarioFiles("rbac"); }
std::string ReadFile(const fs::path& p) { return berth::testing::ReadScenarioText(p); }

// The users of a scenario, by the names its requests use.
std::map<std::string, UserInfo> Users(const json& users) {
  std::map<std::string, UserInfo> out;
  for (const auto& [key, u] : users.items()) {
    IdentityToken t;
    if (u.contains("serviceAccount")) {
      t.kind = IdentityKind::kServiceAccount;
      t.ns = u["serviceAccount"].at("namespace").get<std::string>();
      t.name = u["serviceAccount"].at("name").get<std::string>();
    } else {
      t.name = key;
      t.groups = u.value("groups", std::vector<std::string>{});
    }
    out[key] = UserInfoOf(t);
  }
  return out;
}

// Whether any listed rule allows the request (what a can-i --list reader would conclude).
bool ListedRulesAllow(const RequestAttributes& a, const SubjectRules& rules) {
  const auto& list = a.resource_request ? rules.resource_rules : rules.non_resource_rules;
  return std::any_of(list.begin(), list.end(), [&a](const PolicyRule& r) { return RuleAllows(a, r); });
}

RequestAttributes Attributes(const UserInfo& who, const json& r) {
  RequestAttributes a;
  a.user = who.user;
  a.groups = who.groups;
  a.verb = r.at("verb").get<std::string>();
  if (r.contains("path")) {
    a.resource_request = false;
    a.path = r["path"].get<std::string>();
    return a;
  }
  a.api_group = r.value("group", "");
  a.resource = r.at("resource").get<std::string>();
  a.subresource = r.value("subresource", "");
  a.ns = r.value("namespace", "");
  a.name = r.value("name", "");
  return a;
}

// Authorization to create the object, then the escalation check: what the API would answer.
Status WriteVerdict(const UserInfo& who, const json& object, const RbacSnapshot& snap) {
  const std::string kind = object.value("kind", "");
  const bool role = kind == "Role" || kind == "ClusterRole";
  RequestAttributes a;
  a.user = who.user;
  a.groups = who.groups;
  a.verb = "create";
  a.api_group = kRbacGroup;
  a.resource = kind == "Role" ? "roles" : kind == "ClusterRole" ? "clusterroles"
               : kind == "RoleBinding" ? "rolebindings" : "clusterrolebindings";
  a.ns = object["metadata"].value("namespace", "");
  Decision d = Authorize(a, snap);
  if (!d.allowed) return ForbiddenStatus(a, d);
  if (role) {
    auto r = ParseRole(object);
    return r.ok() ? CheckRoleEscalation(who, *r, nullptr, snap) : r.status();
  }
  auto b = ParseRoleBinding(object);
  return b.ok() ? CheckBindingEscalation(who, *b, nullptr, snap) : b.status();
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, DecidesAsExpected) {
  auto doc = api::YamlToJson(ReadFile(ScenarioDir() / GetParam()));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  ASSERT_TRUE(doc->contains("description")) << "every scenario says what it shows";
  std::vector<Role> roles = BuiltinClusterRoles();
  std::vector<RoleBinding> bindings = BuiltinClusterRoleBindings();
  for (const json& o : doc->value("objects", json::array())) {
    const std::string kind = o.value("kind", "");
    if (kind == "Role" || kind == "ClusterRole") {
      auto r = ParseRole(o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      roles.push_back(std::move(*r));
    } else {
      auto b = ParseRoleBinding(o);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      bindings.push_back(std::move(*b));
    }
  }
  auto snap = RbacSnapshot::Build(std::move(roles), std::move(bindings));
  const std::map<std::string, UserInfo> users = Users(doc->value("users", json::object()));
  auto who = [&users](const json& step) {
    auto it = users.find(step.at("user").get<std::string>());
    EXPECT_NE(it, users.end()) << "unknown user in " << step.dump();
    return it == users.end() ? UserInfo{} : it->second;
  };

  for (const json& r : doc->value("requests", json::array())) {
    SCOPED_TRACE(GetParam() + ": " + r.dump());
    const RequestAttributes a = Attributes(who(r), r);
    const Decision d = Authorize(a, *snap);
    EXPECT_EQ(d.allowed, r.at("allowed").get<bool>()) << d.reason;
    if (r.contains("reason")) {
      const std::string text = d.allowed ? d.reason : ForbiddenStatus(a, d).message();
      EXPECT_NE(text.find(r["reason"].get<std::string>()), std::string::npos) << text;
    }
    const SubjectRules listed = RulesFor(a.user, a.groups, a.resource_request ? a.ns : "", *snap);
    EXPECT_EQ(ListedRulesAllow(a, listed), d.allowed) << "can-i --list disagrees with the request";
  }
  for (const json& w : doc->value("writes", json::array())) {
    SCOPED_TRACE(GetParam() + ": " + w.dump());
    const Status s = WriteVerdict(who(w), w.at("object"), *snap);
    EXPECT_EQ(s.ok(), w.at("allowed").get<bool>()) << s.ToString();
    if (w.contains("reason")) {
      EXPECT_NE(s.message().find(w["reason"].get<std::string>()), std::string::npos) << s.message();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rbac, Scenario, ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace berth::rbac
