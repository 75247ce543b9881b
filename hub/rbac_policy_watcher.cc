#include "hub/rbac_policy_watcher.h"

#include <future>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/rbac/builtin_roles.h"

namespace berth::hub {

using nlohmann::json;

namespace {

StatusOr<json> Wait(const std::function<void(ObjectCallback)>& call) {
  std::promise<StatusOr<json>> p;
  call([&p](StatusOr<json> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

// The stored object with the reconciled body (rules / roleRef and subjects, labels,
// annotations); metadata the server owns (uid, resourceVersion, creationTimestamp) is kept.
json WithBody(json stored, const json& reconciled) {
  for (const char* field : {"rules", "aggregationRule", "roleRef", "subjects"}) {
    if (reconciled.contains(field)) stored[field] = reconciled[field];
  }
  for (const char* field : {"labels", "annotations"}) {
    if (reconciled["metadata"].contains(field)) stored["metadata"][field] = reconciled["metadata"][field];
  }
  return stored;
}

}  // namespace

RbacPolicyWatcher::RbacPolicyWatcher(ObjectApi& objects, const api::KindRegistry& registry)
    : objects_(objects), registry_(registry) {
  const std::string v = rbac::kRbacApiVersion;
  roles_kind_ = registry_.ByKind(v, "Role");
  cluster_roles_kind_ = registry_.ByKind(v, "ClusterRole");
  bindings_kind_ = registry_.ByKind(v, "RoleBinding");
  cluster_bindings_kind_ = registry_.ByKind(v, "ClusterRoleBinding");
  std::lock_guard lock(mu_);
  Publish();
}

RbacPolicyWatcher::~RbacPolicyWatcher() { Stop(); }

void RbacPolicyWatcher::Stop() {
  for (uint64_t id : watches_) objects_.store().Unwatch(id);
  watches_.clear();
}

Status RbacPolicyWatcher::Start() {
  if (!roles_kind_ || !cluster_roles_kind_ || !bindings_kind_ || !cluster_bindings_kind_) {
    return Status::Internal("the rbac.authorization.k8s.io kinds are not registered");
  }
  BERTH_RETURN_IF_ERROR(ReconcileBuiltins());
  // A watch from revision 0 first replays every stored object as ADDED.
  for (const api::KindInfo* k : {roles_kind_, cluster_roles_kind_, bindings_kind_, cluster_bindings_kind_}) {
    BERTH_RETURN_IF_ERROR(
        WatchResource(objects_.store(), k->resource(), [this](const WatchEvent& e) { OnEvent(e); }, watches_));
  }
  return Status::Ok();
}

Status RbacPolicyWatcher::ReconcileBuiltins() {
  // Writes `want` (reconciled from the stored object, if any) through ObjectApi, so built-ins
  // get the metadata and validation of any other write.
  auto write = [this](const api::KindInfo& kind, const std::string& name, const json* stored,
                      const json& want) -> Status {
    StatusOr<json> r = stored ? Wait([&](ObjectCallback done) {
      objects_.Update(kind, "", name, WithBody(*stored, want), {}, std::move(done));
    }) : Wait([&](ObjectCallback done) { objects_.Create(kind, "", want, {}, std::move(done)); });
    return r.ok() ? Status::Ok() : r.status().WithContext("reconcile built-in " + kind.kind + " " + name);
  };
  for (const rbac::Role& builtin : rbac::BuiltinClusterRoles()) {
    auto stored = objects_.store().Get({cluster_roles_kind_->resource(), "", builtin.name});
    std::optional<rbac::Role> parsed;
    if (stored.ok()) {
      auto p = rbac::ParseRole(*stored);
      if (p.ok()) parsed = std::move(*p);
    }
    auto next = rbac::ReconcileBuiltinRole(parsed ? &*parsed : nullptr, builtin);
    if (!next) continue;
    BERTH_RETURN_IF_ERROR(write(*cluster_roles_kind_, builtin.name, stored.ok() ? &*stored : nullptr,
                                rbac::RoleToJson(*next)));
  }
  for (const rbac::RoleBinding& builtin : rbac::BuiltinClusterRoleBindings()) {
    auto stored = objects_.store().Get({cluster_bindings_kind_->resource(), "", builtin.name});
    std::optional<rbac::RoleBinding> parsed;
    if (stored.ok()) {
      auto p = rbac::ParseRoleBinding(*stored);
      if (p.ok()) parsed = std::move(*p);
    }
    auto next = rbac::ReconcileBuiltinBinding(parsed ? &*parsed : nullptr, builtin);
    if (!next) continue;
    if (parsed && !(parsed->role_ref == next->role_ref)) {
      // roleRef cannot change in place: replace the binding, as Kubernetes' reconciliation does.
      auto gone = Wait([&](ObjectCallback done) {
        objects_.Delete(*cluster_bindings_kind_, "", builtin.name, {}, std::move(done));
      });
      if (!gone.ok()) return gone.status().WithContext("replace built-in binding " + builtin.name);
      parsed.reset();
    }
    BERTH_RETURN_IF_ERROR(write(*cluster_bindings_kind_, builtin.name, parsed ? &*stored : nullptr,
                                rbac::RoleBindingToJson(*next)));
  }
  return Status::Ok();
}

void RbacPolicyWatcher::OnEvent(const WatchEvent& e) {
  if (e.type == EventType::kBookmark) return;
  const Key key{e.resource, api::NamespaceOf(e.object), api::NameOf(e.object)};
  const bool is_role = e.resource == roles_kind_->resource() || e.resource == cluster_roles_kind_->resource();
  std::lock_guard lock(mu_);
  if (is_role) {
    roles_.erase(key);
  } else {
    bindings_.erase(key);
  }
  if (e.type != EventType::kDeleted) {
    if (is_role) {
      auto role = rbac::ParseRole(e.object);
      if (role.ok()) {
        roles_.emplace(key, std::move(*role));
      } else {
        spdlog::warn("RBAC: ignoring stored {}: {}", e.resource, role.status().message());
      }
    } else {
      auto binding = rbac::ParseRoleBinding(e.object);
      if (binding.ok()) {
        bindings_.emplace(key, std::move(*binding));
      } else {
        spdlog::warn("RBAC: ignoring stored {}: {}", e.resource, binding.status().message());
      }
    }
  }
  Publish();
}

void RbacPolicyWatcher::Publish() {
  // Built-ins first: the stored (reconciled) objects of the same name replace them.
  std::vector<rbac::Role> roles = rbac::BuiltinClusterRoles();
  for (const auto& [key, role] : roles_) roles.push_back(role);
  std::vector<rbac::RoleBinding> bindings = rbac::BuiltinClusterRoleBindings();
  for (const auto& [key, binding] : bindings_) bindings.push_back(binding);
  current_.store(rbac::RbacSnapshot::Build(std::move(roles), std::move(bindings)));
}

}  // namespace berth::hub
