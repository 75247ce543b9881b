// Builders for the RBAC unit tests: Roles, RoleBindings and Subjects in one line each.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hub/rbac/rbac_rules.h"

namespace berth::rbac::test {

inline Role MakeRole(std::string ns, std::string name, std::vector<PolicyRule> rules) {
  Role r;
  r.ns = std::move(ns);
  r.name = std::move(name);
  r.rules = std::move(rules);
  return r;
}

inline RoleBinding Bind(std::string ns, std::string name, RoleRef ref, std::vector<Subject> subjects) {
  RoleBinding b;
  b.ns = std::move(ns);
  b.name = std::move(name);
  b.role_ref = std::move(ref);
  b.subjects = std::move(subjects);
  return b;
}

inline Subject User(std::string name) { return {Subject::Kind::kUser, std::move(name), ""}; }
inline Subject Group(std::string name) { return {Subject::Kind::kGroup, std::move(name), ""}; }
inline Subject Sa(std::string name, std::string ns = "") {
  return {Subject::Kind::kServiceAccount, std::move(name), std::move(ns)};
}

}  // namespace berth::rbac::test
