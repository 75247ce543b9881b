// Who a request comes from once authenticated, as Kubernetes' user.Info has it: a user name
// and the groups it is in. Every authenticator (bearer tokens, client certificates, later an
// OIDC ID token) produces one; the RBAC authorizer (hub/rbac/rbac_rules.h) reads only this.
#pragma once

#include <string>
#include <vector>

namespace berth::rbac {

// Groups and name prefixes Kubernetes gives meaning to.
inline constexpr const char* kGroupAuthenticated = "system:authenticated";
// Allowed everything before RBAC is consulted (kube-apiserver's privileged-groups authorizer).
inline constexpr const char* kGroupMasters = "system:masters";
inline constexpr const char* kGroupServiceAccounts = "system:serviceaccounts";
inline constexpr const char* kServiceAccountUserPrefix = "system:serviceaccount:";
// Berth's member agents (docs/API.md "What a member credential may do").
inline constexpr const char* kGroupMembers = "berth:members";
inline constexpr const char* kMemberUserPrefix = "system:member:";

struct UserInfo {
  std::string user;
  std::vector<std::string> groups;
  bool operator==(const UserInfo&) const = default;
};

// "system:serviceaccount:<ns>:<name>", the user name of a service account.
inline std::string ServiceAccountUser(const std::string& ns, const std::string& name) {
  return kServiceAccountUserPrefix + ns + ":" + name;
}

// "system:serviceaccounts:<ns>", the group of every service account in `ns`.
inline std::string ServiceAccountNamespaceGroup(const std::string& ns) {
  return std::string(kGroupServiceAccounts) + ":" + ns;
}

}  // namespace berth::rbac
