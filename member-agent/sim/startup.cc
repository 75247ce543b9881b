#include "member-agent/sim/startup.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

#include "workspace/text_match.h"

namespace berth::agent::sim {

Clock::Duration Scaled(const SimSettings& settings, double seconds) {
  return Clock::Duration(
      static_cast<int64_t>(std::llround(seconds * 1000.0 * settings.time_scale)));
}

double ImagePullSeconds(const SimSettings& settings, const std::set<std::string>& node_images,
                        const std::string& image) {
  if (node_images.count(image)) return 0;
  return placement::ImagePullSeconds(settings.rates, image);
}

void StartPull(Pod& pod, const Node& node, const SimSettings& settings, bool model_cached,
               Clock::TimePoint now) {
  double pull_s = ImagePullSeconds(settings, node.images, pod.image);
  double load_s = placement::WeightLoadSeconds(settings.rates, pod.weights_gib, model_cached);
  pod.pull_failed = false;
  pod.pull_done = now + Scaled(settings, pull_s);
  pod.ready_at = pod.pull_done + Scaled(settings, load_s);
}

void CreateContainers(Pod& pod, const Objects& objects, Clock::TimePoint now) {
  if (pod.created || pod.node.empty() || pod.pull_failed || now < pod.pull_done) return;
  for (const auto& need : pod.needs) {
    if (objects.count(ObjectKey{"v1", need.kind, pod.ns, need.name}) == 0) {
      if (pod.config_error.empty()) pod.blocked_since = now;
      pod.config_error = workspace::ToLower(need.kind) + " \"" + need.name + "\" not found";
      return;
    }
  }
  if (!pod.config_error.empty()) pod.ready_at += now - pod.blocked_since;
  pod.config_error.clear();
  pod.created = true;
}

bool PodReady(const Pod& pod, Clock::TimePoint now) {
  return !pod.node.empty() && !pod.pull_failed && pod.created && now >= pod.ready_at;
}

PodState StartupState(const Pod& pod, Clock::TimePoint now) {
  PodState s = PodStateOf(pod);
  if (pod.pull_failed) {
    s.reason = "ImagePullBackOff";
    s.message = "pulling image " + pod.image + " failed (simulated fault)";
  } else if (!pod.config_error.empty()) {
    s.reason = "CreateContainerConfigError";
    s.message = pod.config_error;
  } else if (now < pod.pull_done) {
    s.reason = "ImagePulling";
    s.message = "pulling image " + pod.image + " on " + pod.node;
  } else if (now < pod.ready_at) {
    s.reason = "LoadingWeights";
    char gib[32];
    std::snprintf(gib, sizeof(gib), "%.1f", pod.weights_gib);
    s.message = "loading " + std::string(gib) + " GiB of weights on " + pod.node;
  } else if (!pod.created) {
    s.reason = "ContainerCreating";
    s.message = "creating containers on " + pod.node;
  } else {
    s.ready = true;
  }
  return s;
}

}  // namespace berth::agent::sim
