#include "hub/store.h"

#include <future>

namespace berth::hub {

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
    case EventType::kBookmark: return "BOOKMARK";
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

}  // namespace berth::hub
