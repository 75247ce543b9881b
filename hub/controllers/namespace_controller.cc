#include "hub/controllers/namespace_controller.h"

#include <future>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/controllers/namespace_cleanup.h"

namespace berth::hub {

using nlohmann::json;

namespace {

constexpr const char* kFinalizer = "kubernetes";

StatusOr<json> Wait(const std::function<void(ObjectCallback)>& call) {
  auto p = std::make_shared<std::promise<StatusOr<json>>>();
  auto f = p->get_future();
  call([p](StatusOr<json> r) { p->set_value(std::move(r)); });
  return f.get();
}

}  // namespace

NamespaceController::NamespaceController(ObjectApi& objects, const api::KindRegistry& registry, Clock& clock,
                                         Clock::Duration resync)
    : objects_(objects), registry_(registry), clock_(clock), resync_(resync), loop_(clock) {
  namespaces_ = registry_.ByKind("v1", "Namespace");
  for (const auto* k : registry_.All()) {
    if (k->namespaced && k->served() && !k->is_view()) content_kinds_.push_back(k);
  }
  loop_.Register("namespace", [this](const std::string& key) { return Reconcile(key.substr(10)); });
}

NamespaceController::~NamespaceController() { Stop(); }

Status NamespaceController::Start(bool run_worker) {
  if (!namespaces_) return Status::Internal("the Namespace kind is not registered");
  auto watch = [this](const std::string& resource, std::function<void(const WatchEvent&)> on) -> Status {
    return WatchResource(objects_.store(), resource, std::move(on), watches_);
  };
  BERTH_RETURN_IF_ERROR(watch(namespaces_->resource(), [this](const WatchEvent& e) {
    const std::string name = api::NameOf(e.object);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (e.type != EventType::kDeleted && api::IsBeingDeleted(e.object)) {
        terminating_.insert(name);
      } else {
        terminating_.erase(name);
        return;
      }
    }
    loop_.Enqueue("namespace/" + name);
  }));
  for (const auto* k : content_kinds_) {
    BERTH_RETURN_IF_ERROR(watch(k->resource(), [this](const WatchEvent& e) { OnContentEvent(e.object); }));
  }
  if (run_worker) loop_.Start();
  return Status::Ok();
}

void NamespaceController::Stop() {
  for (uint64_t id : watches_) objects_.store().Unwatch(id);
  watches_.clear();
  loop_.Stop();
}

void NamespaceController::OnContentEvent(const json& object) {
  const std::string ns = api::NamespaceOf(object);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!terminating_.count(ns)) return;
  }
  loop_.Enqueue("namespace/" + ns);
}

ReconcileResult NamespaceController::Reconcile(const std::string& name) {
  auto ns = objects_.store().Get({namespaces_->resource(), "", name});
  if (!ns.ok()) return {};  // gone
  if (!api::IsBeingDeleted(*ns)) return {};
  std::vector<NamespacedObject> content;
  std::map<std::string, const api::KindInfo*> kinds;
  for (const auto* k : content_kinds_) {
    ListOptions lo;
    lo.ns = name;
    auto list = objects_.store().List(k->resource(), lo);
    if (!list.ok()) return list.status();
    kinds[k->resource()] = k;
    for (const auto& o : list->items) {
      NamespacedObject entry{k->resource(), api::NameOf(o), api::IsBeingDeleted(o), {}};
      json f = api::JsonPathGet(o, "metadata.finalizers");
      if (f.is_array()) {
        for (const auto& x : f) entry.finalizers.push_back(x.is_string() ? x.get<std::string>() : x.dump());
      }
      content.push_back(std::move(entry));
    }
  }
  NamespaceCleanup d = DecideNamespaceCleanup(*ns, content, clock_.Now());
  for (const auto& o : d.to_delete) {
    auto r = Wait([&](ObjectCallback cb) { objects_.Delete(*kinds[o.resource], name, o.name, {}, cb); });
    if (!r.ok() && r.status().code() != StatusCode::kNotFound) {
      return r.status().WithContext("namespace " + name + ": delete " + o.resource + " " + o.name);
    }
  }
  if (d.status != ns->value("status", json::object())) {
    WriteOptions wo;
    wo.status = true;
    const std::string patch = json{{"status", d.status}}.dump();
    auto r = Wait([&](ObjectCallback cb) { objects_.Patch(*namespaces_, "", name, PatchType::kMerge, patch, wo, cb); });
    if (!r.ok() && r.status().code() != StatusCode::kNotFound) return r.status().WithContext("namespace " + name);
  }
  if (d.finalize) {
    BERTH_RETURN_IF_ERROR(Finalize(name, api::UidOf(*ns)));
    spdlog::info("namespace {}: emptied and removed", name);
    return {};
  }
  return {Status::Ok(), resync_};
}

Status NamespaceController::Finalize(const std::string& name, const std::string& uid) {
  std::vector<const api::KindInfo*> kinds = content_kinds_;
  Store& store = objects_.store();
  Mutation m{{namespaces_->resource(), "", name},
             [&store, kinds, name, uid](const json* current) -> StatusOr<std::optional<json>> {
               if (!current) return Status::NotFound("namespaces \"" + name + "\" not found");
               if (api::UidOf(*current) != uid || !api::IsBeingDeleted(*current)) return std::optional<json>(*current);
               // Something created since the listing (a race with admission): not yet.
               for (const auto* k : kinds) {
                 ListOptions lo;
                 lo.ns = name;
                 lo.limit = 1;
                 auto list = store.List(k->resource(), lo);
                 if (list.ok() && !list->items.empty()) return std::optional<json>(*current);
               }
               json next = *current;
               json& fin = next["spec"]["finalizers"];
               json kept = json::array();
               if (fin.is_array()) {
                 for (const auto& f : fin) {
                   if (f != kFinalizer) kept.push_back(f);
                 }
               }
               fin = std::move(kept);
               if (!api::HasFinalizers(next)) return std::optional<json>();
               return std::optional<json>(std::move(next));
             }};
  auto r = store.Apply(std::move(m));
  if (!r.ok() && r.status().code() != StatusCode::kNotFound) return r.status().WithContext("finalize namespace " + name);
  return Status::Ok();
}

}  // namespace berth::hub
