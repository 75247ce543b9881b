#include "hub/list_snapshots.h"

namespace berth::hub {

using nlohmann::json;

void ListSnapshots::Register(const std::string& resource, int64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& by_rev = snapshots_[resource];
  if (by_rev.count(revision)) return;
  auto snap = std::make_shared<ListSnapshot>();
  snap->revision = revision;
  by_rev.emplace(revision, std::move(snap));
  ++count_;
  while (count_ > max_snapshots_) EvictOldestLocked();
}

std::shared_ptr<const ListSnapshot> ListSnapshots::Find(const std::string& resource, int64_t revision) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto r = snapshots_.find(resource);
  if (r == snapshots_.end()) return nullptr;
  auto it = r->second.find(revision);
  return it == r->second.end() ? nullptr : it->second;
}

void ListSnapshots::BeforeChange(const std::string& resource, const ObjectKey& key, const json* current) {
  std::lock_guard<std::mutex> lock(mu_);
  auto r = snapshots_.find(resource);
  if (r == snapshots_.end()) return;
  for (auto& [rev, snap] : r->second) {
    // The first change after the snapshot is the one whose prior state the snapshot saw.
    if (snap->before.count(key)) continue;
    snap->before.emplace(key, current ? std::optional<json>(*current) : std::nullopt);
    ++recorded_;
  }
  while (recorded_ > max_recorded_ && count_ > 0) EvictOldestLocked();
}

void ListSnapshots::Compact(int64_t compacted_revision) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto r = snapshots_.begin(); r != snapshots_.end();) {
    auto& by_rev = r->second;
    while (!by_rev.empty() && by_rev.begin()->first < compacted_revision) {
      recorded_ -= by_rev.begin()->second->before.size();
      --count_;
      by_rev.erase(by_rev.begin());
    }
    r = by_rev.empty() ? snapshots_.erase(r) : std::next(r);
  }
}

size_t ListSnapshots::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void ListSnapshots::EvictOldestLocked() {
  auto oldest = snapshots_.end();
  for (auto r = snapshots_.begin(); r != snapshots_.end(); ++r) {
    if (oldest == snapshots_.end() || r->second.begin()->first < oldest->second.begin()->first) oldest = r;
  }
  if (oldest == snapshots_.end()) return;
  auto& by_rev = oldest->second;
  recorded_ -= by_rev.begin()->second->before.size();
  --count_;
  by_rev.erase(by_rev.begin());
  if (by_rev.empty()) snapshots_.erase(oldest);
}

void ForEachAt(const ObjectMap& current, const ListSnapshot* snapshot, const ObjectKey& from, bool inclusive,
               const std::function<bool(const ObjectKey&, const json&)>& visit) {
  auto c = inclusive ? current.lower_bound(from) : current.upper_bound(from);
  if (!snapshot) {
    for (; c != current.end(); ++c) {
      if (!visit(c->first, c->second)) return;
    }
    return;
  }
  const auto& before = snapshot->before;
  auto b = inclusive ? before.lower_bound(from) : before.upper_bound(from);
  while (c != current.end() || b != before.end()) {
    if (b == before.end() || (c != current.end() && c->first < b->first)) {
      if (!visit(c->first, c->second)) return;
      ++c;
      continue;
    }
    // The snapshot's state wins over the current one for a key it recorded.
    if (c != current.end() && c->first == b->first) ++c;
    const auto& state = b->second;
    const ObjectKey& key = b->first;
    ++b;
    if (state && !visit(key, *state)) return;
  }
}

}  // namespace berth::hub
