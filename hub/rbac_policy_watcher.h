// The RBAC policy the hub authorizes with: an immutable rbac::RbacSnapshot of the built-in
// roles (hub/rbac/builtin_roles.h) plus every stored Role, ClusterRole, RoleBinding and
// ClusterRoleBinding, rebuilt on each store change of those four kinds and published by an
// atomic pointer swap, so a request reads one consistent policy without locks.
//
// Start() first reconciles the built-ins into the store (ReconcileBuiltinRole/Binding: missing
// ones created, missing rules and subjects added, autoupdate=false respected), then watches.
// Start blocks on store writes: call it before the API server serves.
// Threading: Current() from any thread; watch events arrive on the store's writer thread.
// Stored objects that do not parse (written before validation existed) are skipped and logged.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/object_api.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::hub {

class RbacPolicyWatcher {
 public:
  // The references must outlive the watcher. Until Start, Current() holds the built-ins only.
  RbacPolicyWatcher(ObjectApi& objects, const api::KindRegistry& registry);
  ~RbacPolicyWatcher();

  Status Start();
  void Stop();

  // The policy as of the latest store event seen; never null.
  std::shared_ptr<const rbac::RbacSnapshot> Current() const { return current_.load(); }

 private:
  Status ReconcileBuiltins();
  void OnEvent(const WatchEvent& event);
  void Publish();  // with mu_ held

  ObjectApi& objects_;
  const api::KindRegistry& registry_;
  const api::KindInfo* roles_kind_ = nullptr;
  const api::KindInfo* cluster_roles_kind_ = nullptr;
  const api::KindInfo* bindings_kind_ = nullptr;
  const api::KindInfo* cluster_bindings_kind_ = nullptr;
  std::vector<uint64_t> watches_;

  using Key = std::tuple<std::string, std::string, std::string>;  // resource, namespace, name
  std::mutex mu_;
  std::map<Key, rbac::Role> roles_;            // guarded by mu_
  std::map<Key, rbac::RoleBinding> bindings_;  // guarded by mu_
  std::atomic<std::shared_ptr<const rbac::RbacSnapshot>> current_;
};

}  // namespace berth::hub
