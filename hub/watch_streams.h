// Open watch streams and their upkeep. A stream is one client's watch: the store's events
// for one kind and its selectors, each a JSON line {"type","object"} (the object as a Table
// row when the client asked for a Table), queued on the streaming exchange, whose server
// bounds the backlog and cuts a client that falls too far behind.
//
// A ticker thread wakes every 500 ms. It ends a stream once its client is gone or its
// deadline (now + timeout, from Open) has passed, and sends every other stream a keep-alive
// once per keepalive_interval: a BOOKMARK at the store's current revision when the client
// allowed bookmarks, otherwise a newline (whitespace between JSON objects, which reveals a
// dead client). The `open_watches` gauge rises on Open and falls when the ticker ends a
// stream; Stop closes the rest without counting them.
//
// Thread-safe: Open may be called from any thread while the streams are running.
#pragma once

#include <prometheus/gauge.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "api/clock.h"
#include "api/kinds.h"
#include "api/status.h"
#include "hub/https_server.h"
#include "hub/store.h"

namespace berth::hub {

class WatchStream;

class WatchStreams {
 public:
  // `store`, `clock` and `open_watches` must outlive this object.
  WatchStreams(Store& store, Clock& clock, std::chrono::seconds keepalive_interval,
               prometheus::Gauge& open_watches);
  ~WatchStreams();  // Stop()
  WatchStreams(const WatchStreams&) = delete;
  WatchStreams& operator=(const WatchStreams&) = delete;

  // Starts the ticker.
  void Start();
  // Stops the ticker, then unsubscribes and ends every open stream. Idempotent.
  void Stop();

  // Subscribes `req` to the store's events for `options` and keeps the stream open for at
  // most `timeout`. Events the store replays are queued on `req` before this returns; the
  // caller then starts the reply. On error (Gone: the store's event log no longer reaches
  // back to options.from_revision) nothing is kept and the caller replies with the error.
  // `table`: send Table rows with `include_object` ("" means "Object"); `bookmarks`:
  // keep-alives are BOOKMARK events.
  Status Open(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
              const WatchOptions& options, bool table, std::string include_object, bool bookmarks,
              std::chrono::seconds timeout);

 private:
  void EndWatch(const std::shared_ptr<WatchStream>& stream);
  void TickerLoop();

  Store& store_;
  Clock& clock_;
  const std::chrono::seconds keepalive_interval_;
  prometheus::Gauge& open_watches_;
  std::atomic<bool> running_{false};

  std::mutex streams_mu_;
  std::set<std::shared_ptr<WatchStream>> streams_;  // guarded by streams_mu_

  std::mutex ticker_mu_;
  std::condition_variable ticker_cv_;
  std::thread ticker_;
};

}  // namespace berth::hub
