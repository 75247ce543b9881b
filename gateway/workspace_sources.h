// Where the Workspaces come from: the hub (list + watch over the Kubernetes-style API) or
// an endpoints file re-read when it changes. Each source runs one thread of its own and
// publishes whole snapshots into a WorkspaceFeed, which the sync loop waits on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/route_table.h"

namespace berth {
class RestClient;
}

namespace berth::gateway {

// A mailbox holding the latest snapshot. Thread-safe.
class WorkspaceFeed {
 public:
  void Publish(std::vector<WorkspaceEndpoints> workspaces);
  // Waits until a snapshot newer than `seen_version` exists, Stop() is called or
  // `max_wait` passes. Returns the current version (0 = nothing published yet).
  uint64_t WaitForChange(uint64_t seen_version, std::chrono::milliseconds max_wait);
  // The latest snapshot and its version.
  std::pair<uint64_t, std::vector<WorkspaceEndpoints>> Latest() const;
  uint64_t version() const;
  void Stop();
  bool stopped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint64_t version_ = 0;                    // guarded by mu_
  std::vector<WorkspaceEndpoints> latest_;  // guarded by mu_
  bool stopped_ = false;                    // guarded by mu_
};

// Polls an endpoints file (DecodeEndpointsDocument) every `poll` for a changed mtime or
// size and publishes it. A file that fails to parse is logged and the last good snapshot
// stays; a missing file publishes nothing until it appears.
class EndpointsFileSource {
 public:
  EndpointsFileSource(std::string path, WorkspaceFeed* feed,
                      std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  ~EndpointsFileSource();  // stops and joins the thread

 private:
  void Run();
  std::string path_;
  WorkspaceFeed* feed_;
  std::chrono::milliseconds poll_;
  std::thread thread_;
};

// Lists all Workspaces from the hub, then watches from the list's resourceVersion; each
// event publishes a new snapshot. A failed watch re-watches from the last
// resourceVersion; 410 Gone or a failed list re-lists, with backoff (1 s doubling to 30 s).
class HubWorkspaceSource {
 public:
  HubWorkspaceSource(RestClient* client, WorkspaceFeed* feed);
  ~HubWorkspaceSource();  // stops and joins the thread

  static constexpr const char* kWorkspacesPath = "/apis/berth.dev/v1alpha1/workspaces";

 private:
  void Run();
  bool Sleep(std::chrono::milliseconds d);  // false when stopping
  RestClient* client_;
  WorkspaceFeed* feed_;
  std::thread thread_;
};

}  // namespace berth::gateway
