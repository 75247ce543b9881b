#include "hub/store_mirror.h"

#include <mutex>
#include <set>

#include "api/object.h"

namespace berth::hub {
namespace {

using nlohmann::json;

std::string HexEncode(const std::string& s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

bool HexDecode(const std::string& s, std::string* out) {
  if (s.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

// A continue token: the first page's revision and the last key returned, hex-encoded.
std::string ContinueToken(int64_t revision, const ObjectKey& last) {
  return HexEncode(std::to_string(revision) + '\x1f' + last.first + '\x1f' + last.second);
}

Status ParseContinueToken(const std::string& token, int64_t* revision, ObjectKey* last) {
  const Status bad = Status::BadRequest("invalid continue token: pass the value from the previous list");
  std::string decoded;
  if (!HexDecode(token, &decoded)) return bad;
  const size_t a = decoded.find('\x1f');
  const size_t b = a == std::string::npos ? a : decoded.find('\x1f', a + 1);
  if (b == std::string::npos || a == 0 || a > 18) return bad;
  int64_t rv = 0;
  for (size_t i = 0; i < a; ++i) {
    if (decoded[i] < '0' || decoded[i] > '9') return bad;
    rv = rv * 10 + (decoded[i] - '0');
  }
  *revision = rv;
  *last = {decoded.substr(a + 1, b - a - 1), decoded.substr(b + 1)};
  return Status::Ok();
}

// Hands `e` to `sink` as `o` sees it; false when the sink ends the watch.
bool Deliver(const WatchOptions& o, const WatchEvent& e, const WatchSink& sink) {
  auto as = DeliveredAs(o, e);
  if (!as) return true;
  if (*as == e.type) return sink(e);
  WatchEvent changed = e;
  changed.type = *as;
  return sink(changed);
}

// The Kubernetes Status a watch ends with when its revisions are gone (kubectl and
// client-go re-list on code 410).
json ExpiredStatus(int64_t revision) {
  const std::string message = "the store re-read its state at revision " + std::to_string(revision) +
                              " after missing compacted revisions; list again and watch from the list's "
                              "resourceVersion";
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
          {"message", message}, {"reason", "Expired"}, {"code", 410}};
}

// The events that take `before` to `after` at `revision`, by resource and key: ADDED and
// MODIFIED carry the new object (labels_before set), DELETED the last state stamped with
// `revision`.
std::vector<WatchEvent> Difference(const ObjectsByResource& before, const ObjectsByResource& after, int64_t revision) {
  static const ObjectMap kNone;
  std::set<std::string> resources;
  for (const auto* side : {&before, &after}) {
    for (const auto& [r, m] : *side) resources.insert(r);
  }
  std::vector<WatchEvent> out;
  for (const auto& resource : resources) {
    auto b = before.find(resource), a = after.find(resource);
    const ObjectMap& old = b == before.end() ? kNone : b->second;
    const ObjectMap& now = a == after.end() ? kNone : a->second;
    for (const auto& [key, obj] : now) {
      auto prior = old.find(key);
      if (prior == old.end()) {
        out.push_back(WatchEvent{EventType::kAdded, revision, resource, obj});
      } else if (prior->second != obj) {
        out.push_back(WatchEvent{EventType::kModified, revision, resource, obj, api::LabelsOf(prior->second)});
      }
    }
    for (const auto& [key, obj] : old) {
      if (now.count(key)) continue;
      json last = obj;
      last["metadata"]["resourceVersion"] = std::to_string(revision);
      out.push_back(WatchEvent{EventType::kDeleted, revision, resource, std::move(last)});
    }
  }
  return out;
}

}  // namespace

std::optional<EventType> DeliveredAs(const WatchOptions& o, const WatchEvent& e) {
  if (e.resource != o.resource) return std::nullopt;
  if (!o.ns.empty() && api::NamespaceOf(e.object) != o.ns) return std::nullopt;
  if (!o.fields.empty() && !o.fields.Matches(e.object)) return std::nullopt;
  if (o.labels.empty()) return e.type;
  const bool now = o.labels.Matches(api::LabelsOf(e.object));
  if (e.type != EventType::kModified || !e.labels_before) return now ? std::optional(e.type) : std::nullopt;
  const bool before = o.labels.Matches(*e.labels_before);
  if (before && now) return e.type;
  if (now) return EventType::kAdded;
  if (before) return EventType::kDeleted;
  return std::nullopt;
}

std::string StoreMirror::NotFoundMessage(const ObjectRef& ref) {
  return ref.resource + " \"" + ref.name + "\" not found";
}

void StoreMirror::Load(ObjectsByResource objects, std::deque<WatchEvent> events, int64_t current_revision,
                       int64_t compacted_revision) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  objects_ = std::move(objects);
  events_ = std::move(events);
  current_rv_ = current_revision;
  compacted_rv_ = compacted_revision;
  TrimWindowLocked();
}

void StoreMirror::Reset(ObjectsByResource objects, int64_t revision) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  bool resync = false;
  for (const auto& [id, w] : watchers_) resync = resync || w.options.resync_on_expiry;
  const std::vector<WatchEvent> difference = resync ? Difference(objects_, objects, revision) : std::vector<WatchEvent>{};
  objects_ = std::move(objects);
  events_.clear();
  current_rv_ = revision;
  compacted_rv_ = revision;
  snapshots_.Compact(revision + 1);
  const WatchEvent expired{EventType::kError, revision, "", ExpiredStatus(revision)};
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    bool keep = it->second.options.resync_on_expiry;
    if (keep) {
      for (const auto& e : difference) {
        if (!(keep = Deliver(it->second.options, e, it->second.sink))) break;
      }
    } else {
      it->second.sink(expired);
    }
    it = keep ? std::next(it) : watchers_.erase(it);
  }
}

void StoreMirror::Publish(std::vector<StoreChange> changes, int64_t revision) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (auto& [key, e] : changes) {
    auto& bucket = objects_[e.resource];
    auto prior = bucket.find(key);
    snapshots_.BeforeChange(e.resource, key, prior == bucket.end() ? nullptr : &prior->second);
    if (e.type == EventType::kDeleted) {
      if (prior != bucket.end()) bucket.erase(prior);
    } else if (prior != bucket.end()) {
      prior->second = e.object;
    } else {
      bucket.emplace(key, e.object);
    }
    events_.push_back(std::move(e));
    const WatchEvent& ev = events_.back();
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (!Deliver(it->second.options, ev, it->second.sink)) {
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  current_rv_ = std::max(current_rv_, revision);
  TrimWindowLocked();
}

std::pair<int64_t, size_t> StoreMirror::RevisionAndCount() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t count = 0;
  for (const auto& [resource, objects] : objects_) count += objects.size();
  return {current_rv_, count};
}

void StoreMirror::TrimWindowLocked() {
  // Trimmed at revision boundaries: one etcd transaction writes several objects at one
  // revision, and a watch resuming from a revision must see all of the next one or none.
  while (events_.size() > event_window_) {
    const int64_t dropped = events_.front().resource_version;
    while (!events_.empty() && events_.front().resource_version == dropped) events_.pop_front();
    compacted_rv_ = dropped;
  }
  if (!events_.empty()) compacted_rv_ = std::max(compacted_rv_, events_.front().resource_version - 1);
  snapshots_.Compact(compacted_rv_);
}

const json* StoreMirror::Find(const ObjectRef& ref) const {
  auto r = objects_.find(ref.resource);
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find({ref.ns, ref.name});
  return it == r->second.end() ? nullptr : &it->second;
}

StatusOr<json> StoreMirror::Get(const ObjectRef& ref) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (const json* obj = Find(ref)) return *obj;
  return Status::NotFound(NotFoundMessage(ref));
}

StatusOr<ListResult> StoreMirror::List(const std::string& resource, const ListOptions& options) const {
  int64_t token_rv = 0;
  ObjectKey start;
  if (!options.continue_token.empty()) {
    BERTH_RETURN_IF_ERROR(ParseContinueToken(options.continue_token, &token_rv, &start));
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  ListResult result;
  result.resource_version = current_rv_;
  std::shared_ptr<const ListSnapshot> snapshot;
  if (!options.continue_token.empty()) {
    // Later pages show the objects as of the first page's revision.
    result.resource_version = token_rv;
    if (token_rv != current_rv_ && !(snapshot = snapshots_.Find(resource, token_rv))) {
      return Status::Gone(
          "The provided continue parameter is too old to display a consistent list result (revision " +
          std::to_string(token_rv) + "; the store is at " + std::to_string(current_rv_) +
          "). Start a new list without the continue parameter.");
    }
  }
  static const ObjectMap kNone;
  auto r = objects_.find(resource);
  const ObjectMap& current = r == objects_.end() ? kNone : r->second;
  const bool from_start = options.continue_token.empty();
  if (from_start) start = {options.ns, ""};
  const std::string exact_name = options.fields.ExactName();
  bool full = false;
  ForEachAt(current, snapshot.get(), start, from_start, [&](const ObjectKey& key, const json& obj) {
    if (!options.ns.empty() && key.first != options.ns) return key.first < options.ns;
    if (!exact_name.empty() && key.second != exact_name) return true;
    if (!options.labels.empty() && !options.labels.Matches(api::LabelsOf(obj))) return true;
    if (!options.fields.empty() && !options.fields.Matches(obj)) return true;
    if (full) {
      result.remaining++;  // counted so clients can show progress; cheap at hub scale
      return true;
    }
    result.items.push_back(obj);
    full = options.limit > 0 && static_cast<int64_t>(result.items.size()) == options.limit;
    if (full) result.continue_token = ContinueToken(result.resource_version, key);
    return true;
  });
  if (result.remaining == 0) {
    result.continue_token.clear();
  } else if (from_start) {
    snapshots_.Register(resource, result.resource_version);
  }
  return result;
}

StatusOr<uint64_t> StoreMirror::Watch(const WatchOptions& options, WatchSink sink) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (options.from_revision > 0 && options.from_revision < compacted_rv_) {
    return Status::Gone("too old resource version: " + std::to_string(options.from_revision) +
                        " (oldest available: " + std::to_string(compacted_rv_) +
                        "); list again and watch from the list's resourceVersion");
  }
  if (options.from_revision > current_rv_) {
    // A client ahead of us (e.g. after restoring an older backup) would miss events.
    return Status::Gone("resource version " + std::to_string(options.from_revision) +
                        " is newer than the store's " + std::to_string(current_rv_));
  }
  bool keep = true;
  if (options.from_revision == 0) {
    auto r = objects_.find(options.resource);
    if (r != objects_.end()) {
      for (const auto& [key, obj] : r->second) {
        WatchEvent e{EventType::kAdded, api::ResourceVersionOf(obj), options.resource, obj};
        if (!(keep = Deliver(options, e, sink))) break;
      }
    }
    if (keep && options.initial_events_end) {
      keep = sink(WatchEvent{EventType::kBookmark, current_rv_, options.resource, json::object()});
    }
  } else {
    for (const auto& e : events_) {
      if (e.resource_version <= options.from_revision) continue;
      if (!(keep = Deliver(options, e, sink))) break;
    }
  }
  if (!keep) return uint64_t{0};
  uint64_t id = ++next_watch_id_;
  watchers_[id] = Watcher{options, std::move(sink)};
  return id;
}

void StoreMirror::Unwatch(uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  watchers_.erase(id);
}

int64_t StoreMirror::CurrentRevision() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return current_rv_;
}

int64_t StoreMirror::CompactedRevision() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return compacted_rv_;
}

}  // namespace berth::hub
