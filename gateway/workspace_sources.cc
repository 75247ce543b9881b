#include "gateway/workspace_sources.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "api/rest_client.h"

namespace berth::gateway {

void WorkspaceFeed::Publish(std::vector<WorkspaceEndpoints> workspaces) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = std::move(workspaces);
    ++version_;
  }
  changed_.notify_all();
}

uint64_t WorkspaceFeed::WaitForChange(uint64_t seen_version, std::chrono::milliseconds max_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, max_wait, [&] { return stopped_ || version_ != seen_version; });
  return version_;
}

std::pair<uint64_t, std::vector<WorkspaceEndpoints>> WorkspaceFeed::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {version_, latest_};
}

uint64_t WorkspaceFeed::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

void WorkspaceFeed::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
}

bool WorkspaceFeed::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

EndpointsFileSource::EndpointsFileSource(std::string path, WorkspaceFeed* feed,
                                         std::chrono::milliseconds poll)
    : path_(std::move(path)), feed_(feed), poll_(poll), thread_([this] { Run(); }) {}

EndpointsFileSource::~EndpointsFileSource() {
  feed_->Stop();
  thread_.join();
}

void EndpointsFileSource::Run() {
  struct Seen {
    timespec mtime{};
    off_t size = -1;
    ino_t inode = 0;
  } seen;
  bool reported_missing = false;
  while (!feed_->stopped()) {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      if (!reported_missing) spdlog::warn("endpoints file {}: not found; waiting for it", path_);
      reported_missing = true;
    } else if (st.st_mtim.tv_sec != seen.mtime.tv_sec || st.st_mtim.tv_nsec != seen.mtime.tv_nsec ||
               st.st_size != seen.size || st.st_ino != seen.inode) {
      reported_missing = false;
      seen = {st.st_mtim, st.st_size, st.st_ino};
      std::ifstream in(path_, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      auto workspaces = DecodeEndpointsDocument(text.str());
      if (workspaces.ok()) {
        spdlog::info("endpoints file {}: {} workspace(s)", path_, workspaces->size());
        feed_->Publish(std::move(*workspaces));
      } else {
        spdlog::error("endpoints file {}: {}; keeping the previous routes", path_,
                      workspaces.status().message());
      }
    }
    // WaitForChange doubles as an interruptible sleep: our own publishes are the only
    // changes, and a spurious early wake-up just polls sooner.
    feed_->WaitForChange(feed_->version(), poll_);
  }
}

HubWorkspaceSource::HubWorkspaceSource(RestClient* client, WorkspaceFeed* feed)
    : client_(client), feed_(feed), thread_([this] { Run(); }) {}

HubWorkspaceSource::~HubWorkspaceSource() {
  feed_->Stop();
  thread_.join();
}

bool HubWorkspaceSource::Sleep(std::chrono::milliseconds d) {
  auto version = feed_->version();
  // Publishes only come from this thread, so this waits for d or Stop().
  feed_->WaitForChange(version, d);
  return !feed_->stopped();
}

void HubWorkspaceSource::Run() {
  WorkspaceCache cache;
  auto backoff = std::chrono::milliseconds(1000);
  const auto kMaxBackoff = std::chrono::milliseconds(30000);
  while (!feed_->stopped()) {
    auto list = client_->Get(kWorkspacesPath);
    if (!list.ok()) {
      spdlog::warn("hub: list workspaces: {}; retrying in {} ms", list.status().message(),
                   backoff.count());
      if (!Sleep(backoff)) return;
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    std::vector<std::string> problems;
    auto rv = cache.ReplaceFromList(*list, &problems);
    for (const auto& p : problems) spdlog::warn("hub: workspace skipped: {}", p);
    if (!rv.ok()) {
      spdlog::warn("hub: list workspaces: {}", rv.status().message());
      if (!Sleep(backoff)) return;
      continue;
    }
    backoff = std::chrono::milliseconds(1000);
    std::string resource_version = *rv;
    spdlog::info("hub: listed {} workspace(s) at resourceVersion {}", cache.Snapshot().size(),
                 resource_version);
    feed_->Publish(cache.Snapshot());
    // Watch until it fails; re-watch from the last seen version unless the hub says Gone.
    for (;;) {
      Status event_error;
      Status st = client_->Watch(
          std::string(kWorkspacesPath) +
              "?watch=true&allowWatchBookmarks=true&resourceVersion=" + resource_version,
          [&](const nlohmann::json& event) {
            if (!event_error.ok()) return;
            auto applied = cache.Apply(event);
            if (!applied.ok() && applied.status().code() == StatusCode::kInvalid) {
              spdlog::warn("hub: workspace skipped: {}", applied.status().message());
              return;
            }
            if (!applied.ok()) {
              event_error = applied.status();
              return;
            }
            if (!applied->empty()) resource_version = *applied;
            if (event.value("type", "") != "BOOKMARK") feed_->Publish(cache.Snapshot());
          },
          [&] { return feed_->stopped() || !event_error.ok(); });
      if (feed_->stopped()) return;
      if (!event_error.ok()) st = event_error;
      if (st.code() == StatusCode::kGone) {
        spdlog::info("hub: watch expired ({}); re-listing", st.message());
        break;
      }
      if (!st.ok() && st.code() == StatusCode::kBadRequest) {
        spdlog::warn("hub: watch: {}; re-listing", st.message());
        break;
      }
      if (!st.ok())
        spdlog::warn("hub: watch: {}; re-watching in {} ms", st.message(), backoff.count());
      if (!Sleep(st.ok() ? std::chrono::milliseconds(0) : backoff)) return;
      if (!st.ok()) backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
}

}  // namespace berth::gateway
