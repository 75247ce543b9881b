#include "hub/watch_streams.h"

#include <vector>

#include "hub/discovery.h"

namespace berth::hub {

using nlohmann::json;
using Ex = std::shared_ptr<HttpExchange>;

// One client's watch stream over a streaming exchange (whose server bounds its backlog).
class WatchStream {
 public:
  WatchStream(Ex ex, const api::KindInfo* kind, bool table, std::string include_object,
              bool bookmarks)
      : ex_(std::move(ex)),
        kind_(kind),
        table_(table),
        include_object_(std::move(include_object)),
        bookmarks_(bookmarks) {}

  // Non-blocking: queues the event; false once the stream is cut (client gone, too far behind).
  bool Send(const std::string& type, const json& object, Clock::TimePoint now) {
    json wire = object;
    if (table_ && type != "BOOKMARK" && type != "ERROR") {
      wire = ToTable(*kind_, {object}, now, include_object_.empty() ? "Object" : include_object_,
                     "", "");
      wire.erase("metadata");
      wire["metadata"] = {{"resourceVersion", object["metadata"].value("resourceVersion", "")}};
    }
    return ex_->Write(json{{"type", type}, {"object", wire}}.dump(-1, ' ', false,
                                                                  json::error_handler_t::replace) +
                      "\n");
  }

  // The end of a streaming list's initial events (sent whether or not bookmarks were asked
  // for: a client that asks for the initial events must ask for bookmarks too).
  bool InitialEventsEnd(int64_t revision) {
    json bm = {{"kind", kind_->kind},
               {"apiVersion", kind_->api_version()},
               {"metadata",
                {{"resourceVersion", std::to_string(revision)},
                 {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
    return ex_->Write(json{{"type", "BOOKMARK"}, {"object", bm}}.dump() + "\n");
  }

  bool KeepAlive(int64_t revision) {
    if (bookmarks_) {
      json bm = {{"kind", kind_->kind},
                 {"apiVersion", kind_->api_version()},
                 {"metadata", {{"resourceVersion", std::to_string(revision)}}}};
      return ex_->Write(json{{"type", "BOOKMARK"}, {"object", bm}}.dump() + "\n");
    }
    return ex_->Write("\n");  // whitespace between JSON objects: lets us notice a dead client
  }

  void Close() { ex_->EndStream(); }
  bool closed() const { return ex_->closed(); }

  uint64_t watch_id = 0;
  Clock::TimePoint deadline;
  Clock::TimePoint next_keepalive;

 private:
  Ex ex_;
  const api::KindInfo* kind_;
  bool table_;
  std::string include_object_;
  bool bookmarks_;
};

WatchStreams::WatchStreams(Store& store, Clock& clock, std::chrono::seconds keepalive_interval,
                           prometheus::Gauge& open_watches)
    : store_(store),
      clock_(clock),
      keepalive_interval_(keepalive_interval),
      open_watches_(open_watches) {}

WatchStreams::~WatchStreams() { Stop(); }

void WatchStreams::Start() {
  running_ = true;
  ticker_ = std::thread([this] { TickerLoop(); });
}

void WatchStreams::Stop() {
  if (!running_.exchange(false)) return;
  {
    std::lock_guard<std::mutex> lock(ticker_mu_);
    ticker_cv_.notify_all();
  }
  if (ticker_.joinable()) ticker_.join();
  std::set<std::shared_ptr<WatchStream>> streams;
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    streams.swap(streams_);
  }
  for (auto& s : streams) {
    store_.Unwatch(s->watch_id);
    s->Close();
  }
}

Status WatchStreams::Open(const Ex& req, const api::KindInfo& kind, const WatchOptions& options,
                          bool table, std::string include_object, bool bookmarks,
                          std::chrono::seconds timeout) {
  auto stream =
      std::make_shared<WatchStream>(req, &kind, table, std::move(include_object), bookmarks);
  const auto now = clock_.Now();
  stream->deadline = now + std::chrono::duration_cast<Clock::Duration>(timeout);
  stream->next_keepalive = now + std::chrono::duration_cast<Clock::Duration>(keepalive_interval_);
  std::weak_ptr<WatchStream> weak = stream;
  Clock* clock = &clock_;
  const api::KindInfo* view = kind.is_view() ? &kind : nullptr;
  auto id = store_.Watch(options, [weak, clock, view](const WatchEvent& e) {
    auto s = weak.lock();
    if (!s) return false;
    if (e.type == EventType::kBookmark) return s->InitialEventsEnd(e.resource_version);
    if (e.type == EventType::kError) {
      // The store can no longer continue this watch (410 Expired): as Kubernetes does, send
      // the Status and end the stream; the client lists again.
      s->Send(EventTypeName(e.type), e.object, clock->Now());
      s->Close();
      return false;
    }
    if (view) {
      auto v = view->to_view(e.object);
      if (!v) return true;  // not an object of this view
      return s->Send(EventTypeName(e.type), *v, clock->Now());
    }
    return s->Send(EventTypeName(e.type), e.object, clock->Now());
  });
  if (!id.ok()) return id.status();
  stream->watch_id = *id;
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    streams_.insert(stream);
  }
  open_watches_.Increment();
  return Status::Ok();
}

void WatchStreams::EndWatch(const std::shared_ptr<WatchStream>& stream) {
  size_t erased;
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    erased = streams_.erase(stream);
  }
  store_.Unwatch(stream->watch_id);
  stream->Close();
  if (erased) open_watches_.Decrement();
}

void WatchStreams::TickerLoop() {
  while (running_) {
    {
      std::unique_lock<std::mutex> lock(ticker_mu_);
      ticker_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return !running_; });
    }
    if (!running_) return;
    std::vector<std::shared_ptr<WatchStream>> streams;
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      streams.assign(streams_.begin(), streams_.end());
    }
    const auto now = clock_.Now();
    const int64_t revision = store_.CurrentRevision();
    for (auto& s : streams) {
      if (s->closed() || now >= s->deadline) {
        EndWatch(s);
        continue;
      }
      if (now >= s->next_keepalive) {
        s->next_keepalive = now + std::chrono::duration_cast<Clock::Duration>(keepalive_interval_);
        if (!s->KeepAlive(revision)) EndWatch(s);
      }
    }
  }
}

}  // namespace berth::hub
