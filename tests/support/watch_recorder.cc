#include "tests/support/watch_recorder.h"

namespace berth::testing {

using nlohmann::json;

WatchRecorder::WatchRecorder(RestClient& client, std::string path)
    : client_(client), path_(std::move(path)) {
  thread_ = std::thread([this] {
    Status result = client_.Watch(
        path_,
        [this](const json& event) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(event);
          cv_.notify_all();
        },
        [this] {
          std::lock_guard<std::mutex> lock(mu_);
          return stop_;
        });
    std::lock_guard<std::mutex> lock(mu_);
    result_ = result;
    cv_.notify_all();
  });
}

WatchRecorder::~WatchRecorder() { Stop(); }

void WatchRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool WatchRecorder::WaitFor(const std::function<bool(const std::vector<json>&)>& done,
                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return done(events_) || result_.has_value(); });
  return done(events_);
}

bool WatchRecorder::WaitForCount(size_t n, std::chrono::milliseconds timeout) {
  return WaitFor([n](const std::vector<json>& e) { return e.size() >= n; }, timeout);
}

std::optional<Status> WatchRecorder::WaitForEnd(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return result_.has_value(); });
  return result_;
}

std::vector<json> WatchRecorder::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::vector<json> WatchRecorder::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (const auto& e : events_) {
    if (e.value("type", "") != "BOOKMARK") out.push_back(e);
  }
  return out;
}

std::string WatchRecorder::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "watch " + path_ + ": " + std::to_string(events_.size()) + " events\n";
  for (const auto& e : events_) {
    const json meta = e.contains("object") && e["object"].is_object()
                          ? e["object"].value("metadata", json::object())
                          : json::object();
    out += "  " + e.value("type", "?") + " " + meta.value("name", "") +
           " rv=" + meta.value("resourceVersion", "") + "\n";
  }
  if (result_) out += "  ended: " + result_->ToString() + "\n";
  return out;
}

}  // namespace berth::testing
