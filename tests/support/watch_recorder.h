// Records a Kubernetes-style watch in the background, for end-to-end tests: one thread runs
// RestClient::Watch and appends every event; the test waits for what it expects with a
// bounded timeout instead of sleeping. Library berth_test_support.
//
//   WatchRecorder watch(*client, "/apis/berth.dev/v1alpha1/memberclusters?watch=true");
//   ... write objects ...
//   ASSERT_TRUE(watch.WaitForCount(3, 5s)) << watch.Describe();
//
// Thread safety: every method may be called from any thread. The RestClient must outlive
// the recorder.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/rest_client.h"
#include "api/status.h"

namespace berth::testing {

class WatchRecorder {
 public:
  // Starts watching `path` (which should carry ?watch=true[&resourceVersion=N]) at once.
  WatchRecorder(RestClient& client, std::string path);
  // Stops the watch (within ~200 ms, RestClient's stop-poll period) and joins the thread.
  ~WatchRecorder();
  WatchRecorder(const WatchRecorder&) = delete;
  WatchRecorder& operator=(const WatchRecorder&) = delete;

  // Waits until `done(events)` holds or the watch ends or `timeout` passes; returns whether
  // `done` held. `done` runs under the recorder's lock: keep it cheap.
  bool WaitFor(const std::function<bool(const std::vector<nlohmann::json>&)>& done,
               std::chrono::milliseconds timeout);
  // WaitFor at least `n` events of any type (BOOKMARKs included).
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout);
  // Waits for the watch to end on its own (server closed it, or an error); returns its
  // result, or nullopt when it is still running after `timeout`.
  std::optional<Status> WaitForEnd(std::chrono::milliseconds timeout);

  // Asks the watch to stop and joins the thread. Idempotent.
  void Stop();

  std::vector<nlohmann::json> events() const;
  // Events other than BOOKMARK.
  std::vector<nlohmann::json> changes() const;
  // One line per event ("ADDED a rv=12"), plus the end result if ended: for failure output.
  std::string Describe() const;

 private:
  RestClient& client_;
  const std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<nlohmann::json> events_;  // guarded by mu_
  std::optional<Status> result_;        // guarded by mu_; set when Watch returned
  bool stop_ = false;                   // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::testing
