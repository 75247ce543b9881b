#include "bench/controllers/fleet_informer.h"

#include <spdlog/spdlog.h>

#include "api/rest_client.h"

namespace berth::bench {

using nlohmann::json;

std::string ObjectKey(const json& object) {
  const json md = object.value("metadata", json::object());
  const std::string ns = md.value("namespace", "");
  const std::string name = md.value("name", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::string ResourcePath(const std::string& plural) {
  if (plural == "events") return "/api/v1/events";
  return "/apis/berth.dev/v1alpha1/" + plural;
}

namespace {

int64_t RvOf(const json& object) {
  try {
    return std::stoll(object.value("/metadata/resourceVersion"_json_pointer, std::string("0")));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

FleetInformer::FleetInformer(ClientConfig admin, std::vector<std::string> resources)
    : config_(std::move(admin)), resources_(std::move(resources)) {
  for (const auto& r : resources_) objects_[r];
}

FleetInformer::~FleetInformer() { Stop(); }

void FleetInformer::AddListener(std::function<void(const ObjectChange&)> listener) {
  listeners_.push_back(std::move(listener));
}

Status FleetInformer::Start(Steady::duration sync_timeout) {
  for (const auto& r : resources_) threads_.emplace_back([this, r] { Run(r); });
  std::unique_lock<std::mutex> lock(mu_);
  const size_t want = resources_.size();
  if (!cv_.wait_for(lock, sync_timeout, [&] { return static_cast<size_t>(synced_) >= want; })) {
    return Status::Unavailable("the informer did not list every resource in time");
  }
  return Status::Ok();
}

void FleetInformer::Stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool FleetInformer::WaitUntil(const std::function<bool()>& pred, Steady::duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return stopping_ || pred(); }) && !stopping_;
}

void FleetInformer::With(const std::function<void()>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  f();
}

const std::map<std::string, json>& FleetInformer::Objects(const std::string& resource) const {
  return objects_.at(resource);
}

const json* FleetInformer::Find(const std::string& resource, const std::string& key) const {
  const auto& m = objects_.at(resource);
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

void FleetInformer::Apply(const std::string& resource, const std::string& type,
                          const json& object) {
  ObjectChange c;
  c.resource = resource;
  c.type = type;
  c.key = ObjectKey(object);
  c.resource_version = RvOf(object);
  c.received = Steady::now();
  c.received_system = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& m = objects_[resource];
    auto it = m.find(c.key);
    if (it != m.end()) c.previous = it->second;
    if (type == "DELETED") {
      if (it != m.end()) m.erase(it);
    } else {
      m[c.key] = object;
    }
    c.object = object;
    for (const auto& l : listeners_) {
      try {
        l(c);
      } catch (const std::exception& e) {
        // A bench bug, not the hub's: say where, keep the informer running.
        spdlog::error("informer listener failed on {} {} {}: {}", c.type, resource, c.key,
                      e.what());
      }
    }
  }
  if (type != "SYNC") ++changes_;
  cv_.notify_all();
}

void FleetInformer::Run(const std::string& resource) {
  auto client = RestClient::Create(config_);
  if (!client.ok()) {
    spdlog::error("informer {}: {}", resource, client.status().ToString());
    return;
  }
  const std::string path = ResourcePath(resource);
  bool need_list = true, first = true;
  std::string rv;
  while (!stop_) {
    if (need_list) {
      auto list = (*client)->Get(path);
      if (!list.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      rv = list->value("/metadata/resourceVersion"_json_pointer, std::string());
      // A relist replaces the cache: what vanished meanwhile is dropped without a change.
      {
        std::lock_guard<std::mutex> lock(mu_);
        objects_[resource].clear();
      }
      for (const auto& item : list->value("items", json::array())) Apply(resource, "SYNC", item);
      need_list = false;
      if (first) {
        std::lock_guard<std::mutex> lock(mu_);
        ++synced_;
      } else {
        ++relists_;
      }
      first = false;
      cv_.notify_all();
    }
    bool gone = false;
    Status s = (*client)->Watch(
        path + "?watch=true&resourceVersion=" + rv,
        [&](const json& event) {
          const std::string type = event.value("type", "");
          const json& object = event.contains("object") ? event["object"] : json();
          if (type == "ERROR") {
            if (object.value("code", 0) == 410) gone = true;
            return;
          }
          if (type == "BOOKMARK" || !object.is_object()) return;
          rv = object.value("/metadata/resourceVersion"_json_pointer, rv);
          Apply(resource, type, object);
        },
        [&] { return stop_.load() || gone; });
    if (stop_) break;
    if (gone || s.code() == StatusCode::kGone) {
      need_list = true;
      continue;
    }
    // The stream broke (hub stopped or restarting): resume from the last version seen.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace berth::bench
