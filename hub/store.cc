#include "hub/store.h"

#include <future>

#include <spdlog/spdlog.h>

namespace berth::hub {

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
    case EventType::kBookmark: return "BOOKMARK";
    case EventType::kError: return "ERROR";
  }
  return "ERROR";
}

StatusOr<nlohmann::json> Store::Apply(Mutation mutation) {
  auto promise = std::make_shared<std::promise<StatusOr<nlohmann::json>>>();
  auto future = promise->get_future();
  Submit(std::move(mutation), [promise](StatusOr<nlohmann::json> result) {
    promise->set_value(std::move(result));
  });
  return future.get();
}

Status Store::Sync() {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  SyncThen([promise](Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

StatusOr<std::optional<nlohmann::json>> RunTransform(const Transform& transform, const nlohmann::json* current) {
  try {
    return transform(current);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("transform failed: ") + e.what());
  }
}

void RunMutationCallback(const MutationCallback& done, StatusOr<nlohmann::json> result) {
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    spdlog::error("store: a mutation callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("store: a mutation callback threw a non-standard exception");
  }
}

Status WatchResource(Store& store, const std::string& resource, std::function<void(const WatchEvent&)> on,
                     std::vector<uint64_t>& ids) {
  WatchOptions wo;
  wo.resource = resource;
  // Controllers are level-triggered: after the store re-reads its state they are sent the
  // difference and keep watching.
  wo.resync_on_expiry = true;
  auto id = store.Watch(wo, [on = std::move(on)](const WatchEvent& e) {
    on(e);
    return true;
  });
  if (!id.ok()) return id.status();
  ids.push_back(*id);
  return Status::Ok();
}

}  // namespace berth::hub
