// A view of a Store whose every mutation carries one Fence (hub/store.h): what a leader
// hub's controllers write through, so that their writes fail once this replica's term is
// over (hub/leader_election.h). Reads and watches pass straight through.
#pragma once

#include <utility>

#include "hub/store.h"

namespace berth::hub {

class FencedStore final : public Store {
 public:
  FencedStore(Store& inner, Fence fence) : inner_(inner), fence_(std::move(fence)) {}

  void Submit(Mutation mutation, MutationCallback done) override {
    mutation.fence = fence_;
    inner_.Submit(std::move(mutation), std::move(done));
  }
  StatusOr<nlohmann::json> Get(const ObjectRef& ref) const override { return inner_.Get(ref); }
  StatusOr<ListResult> List(const std::string& resource, const ListOptions& options) const override {
    return inner_.List(resource, options);
  }
  StatusOr<uint64_t> Watch(const WatchOptions& options, WatchSink sink) override {
    return inner_.Watch(options, std::move(sink));
  }
  void Unwatch(uint64_t id) override { inner_.Unwatch(id); }
  void SyncThen(std::function<void(Status)> done) override { inner_.SyncThen(std::move(done)); }
  int64_t CurrentRevision() const override { return inner_.CurrentRevision(); }
  int64_t CompactedRevision() const override { return inner_.CompactedRevision(); }

  const Fence& fence() const { return fence_; }

 private:
  Store& inner_;
  const Fence fence_;
};

}  // namespace berth::hub
