#include "hub/namespace_bootstrap.h"

#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/namespace_admission.h"

namespace berth::hub {

using nlohmann::json;

StatusOr<std::vector<std::string>> EnsureNamespaces(ObjectApi& objects, const api::KindRegistry& registry) {
  const api::KindInfo* namespaces = registry.ByKind("v1", "Namespace");
  if (!namespaces) return Status::Internal("the Namespace kind is not registered");
  std::set<std::string> wanted = {kDefaultNamespace};
  for (const auto* k : registry.All()) {
    if (!k->namespaced || !k->served() || k->is_view()) continue;
    auto list = objects.store().List(k->resource(), {});
    if (!list.ok()) return list.status();
    for (const auto& o : list->items) wanted.insert(api::NamespaceOf(o));
  }
  wanted.erase("");
  std::vector<std::string> created;
  for (const auto& name : wanted) {
    if (objects.store().Get({namespaces->resource(), "", name}).ok()) continue;
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    std::promise<StatusOr<json>> p;
    objects.Create(*namespaces, "", ns, {}, [&p](StatusOr<json> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    if (!r.ok() && r.status().code() != StatusCode::kAlreadyExists) {
      return r.status().WithContext("create namespace " + name);
    }
    created.push_back(name);
  }
  if (!created.empty()) {
    std::string list;
    for (const auto& n : created) list += (list.empty() ? "" : ", ") + n;
    spdlog::info("created namespaces that stored objects (or the hub) use: {}", list);
  }
  return created;
}

}  // namespace berth::hub
