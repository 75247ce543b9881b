#include "hub/store_seed.h"

#include <algorithm>

#include "api/object.h"

namespace berth::hub {

size_t StoreSeed::object_count() const {
  size_t n = 0;
  for (const auto& [resource, objects] : objects) n += objects.size();
  return n;
}

StatusOr<StoreSeed> ExportStore(Store& store, const std::vector<std::string>& resources) {
  StoreSeed seed;
  seed.revision = store.CurrentRevision();
  seed.compacted = std::max<int64_t>(store.CompactedRevision(), 1);
  for (const auto& resource : resources) {
    auto listed = store.List(resource, {});
    if (!listed.ok()) return listed.status().WithContext("export " + resource);
    for (auto& item : listed->items) {
      ObjectKey key{api::NamespaceOf(item), api::NameOf(item)};
      seed.objects[resource][key] = std::move(item);
    }
  }
  if (seed.compacted >= seed.revision) {
    seed.compacted = seed.revision;
    return seed;
  }
  for (const auto& resource : resources) {
    WatchOptions options;
    options.resource = resource;
    options.from_revision = seed.compacted;
    std::vector<WatchEvent> events;
    auto id = store.Watch(options, [&](const WatchEvent& e) {
      if (e.type != EventType::kBookmark && e.type != EventType::kError && e.resource_version <= seed.revision) {
        events.push_back(e);
      }
      return true;
    });
    if (!id.ok()) return id.status().WithContext("export the history of " + resource);
    store.Unwatch(*id);
    for (auto& e : events) seed.history.push_back(std::move(e));
  }
  std::stable_sort(seed.history.begin(), seed.history.end(),
                   [](const WatchEvent& a, const WatchEvent& b) { return a.resource_version < b.resource_version; });
  return seed;
}

}  // namespace berth::hub
