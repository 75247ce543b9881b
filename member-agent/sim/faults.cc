#include "member-agent/sim/faults.h"

#include <spdlog/spdlog.h>

#include "member-agent/sim/sim_cluster.h"

namespace berth::agent {
namespace sim {

void EvictFromFailedNodes(const std::vector<Node>& nodes, Pods& pods) {
  for (const auto& node : nodes) {
    int capacity = node.spec.units - node.lost - node.other_used;
    int used = 0;
    for (auto& [k, pod] : pods) {
      if (pod.node != node.spec.name) continue;
      if (node.down) {
        pod.node.clear();
        pod.displaced = "NodeLost";
        continue;
      }
      if (used + pod.units > capacity) {
        pod.node.clear();
        pod.displaced = "GPUsLost";
        continue;
      }
      used += pod.units;
    }
  }
}

bool PullRestarts(bool pull_failed, bool image_failing) { return pull_failed && !image_failing; }

bool PullFailsNow(bool pull_failed, bool image_failing, Clock::TimePoint now,
                  Clock::TimePoint pull_done) {
  return !pull_failed && image_failing && now < pull_done;
}

}  // namespace sim

Status SimCluster::SetNodeDown(const std::string& node_name, bool down) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    if (node.spec.name != node_name) continue;
    node.down = down;
    spdlog::warn("simulated fault: node {} {}", node_name, down ? "down" : "back up");
    StepLocked();
    return Status::Ok();
  }
  return Status::NotFound("simulated cluster has no node \"" + node_name + "\"");
}

Status SimCluster::LoseGpus(const std::string& node_name, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    if (node.spec.name != node_name) continue;
    if (count < 0 || count > node.spec.units) {
      return Status::Invalid("count: must be between 0 and " + std::to_string(node.spec.units));
    }
    node.lost = count;
    spdlog::warn("simulated fault: node {} has {} failed GPU units", node_name, count);
    StepLocked();
    return Status::Ok();
  }
  return Status::NotFound("simulated cluster has no node \"" + node_name + "\"");
}

void SimCluster::SetImagePullFailure(const std::string& image, bool failing) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failing) {
    failing_images_.insert(image);
  } else {
    failing_images_.erase(image);
  }
  spdlog::warn("simulated fault: pulls of {} {}", image, failing ? "fail" : "work again");
  StepLocked();
}

void SimCluster::SetSlowServing(const std::string& image, double factor) {
  std::lock_guard<std::mutex> lock(mu_);
  if (factor > 1) {
    serving_faults_.slow[image] = factor;
  } else {
    serving_faults_.slow.erase(image);
  }
  spdlog::warn("simulated fault: replicas of {} serve {}", image,
               factor > 1 ? std::to_string(factor) + " times slower" : "at full speed again");
  StepLocked();
}

void SimCluster::SetFailingServing(const std::string& image, double fraction) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fraction > 0) {
    serving_faults_.failing[image] = fraction;
  } else {
    serving_faults_.failing.erase(image);
  }
  spdlog::warn("simulated fault: replicas of {} {}", image,
               fraction > 0 ? "fail " + std::to_string(fraction) + " of their requests" : "answer every request again");
  StepLocked();
}

void SimCluster::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& node : nodes_) {
    node.down = false;
    node.lost = 0;
  }
  failing_images_.clear();
  serving_faults_ = {};
  unreachable_ = false;
  StepLocked();
}

}  // namespace berth::agent
