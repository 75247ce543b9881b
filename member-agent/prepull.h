// Pre-pull: warming a member's GPU nodes with the image (and, on sim, the weights) of a
// revision before a rollout stage updates the member (Work entry `prePull`,
// docs/AGENT.md "Rollouts on the member"). Rendered as one DaemonSet per workspace that
// both backends understand: kube runs it; sim models its pulls. The result shows in the
// MemberCluster inventory (cachedImages, cachedModels) and, per workspace, in the Work
// status entry's `prePull` (SummarizePrePull), so the hub learns of a failing pull at once.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/status.h"
#include "member-agent/backend.h"

namespace berth::agent {

// The main container of a pre-pull pod: it only keeps the pod (and so the pulled image)
// around; the image to warm is the init container's.
inline constexpr char kPauseImage[] = "registry.k8s.io/pause:3.10";

struct PrePullSpec {
  int64_t revision = 0;
  std::string image;
  std::string model;  // "" = image only
  bool operator==(const PrePullSpec&) const = default;
};

// Parses the entry's `prePull` (null or absent: nullopt). Invalid names the field;
// `image` is required.
StatusOr<std::optional<PrePullSpec>> ParsePrePull(const nlohmann::json& pre_pull);

// "berth-prepull-<workspace>".
std::string PrePullDaemonSetName(const std::string& workspace);

// The DaemonSet berth-prepull-<workspace> in `namespace_`: pods only on nodes of the
// entry's GPU shape (`gpu`: gfdProduct, or product looked up in the catalog; migProfile),
// tolerating the nvidia.com/gpu taint, with one init container running the image
// (`/bin/sh -c true`) and a pause container. Object labels: managed-by=berth,
// berth.dev/workspace, berth.dev/prepull=<workspace>, berth.dev/revision; annotations
// berth.dev/model and berth.dev/weights-gib (catalog; "0" for unknown models) for the sim.
// Pod labels: managed-by=berth and berth.dev/prepull only (no berth.dev/workspace, so the
// workspace's Services never select them). Invalid when the GPU product is unknown.
StatusOr<nlohmann::json> RenderPrePullDaemonSet(const std::string& workspace,
                                                const std::string& namespace_,
                                                const PrePullSpec& spec, const nlohmann::json& gpu);

// The Work status entry's `prePull`: {"revision", "phase", "reason", "message"}.
struct PrePullReport {
  int64_t revision = 0;  // the entry's prePull.revision
  std::string phase;     // Pulling | Done | Failed
  // CamelCase. Failed: the pod's reason (ImagePullBackOff, ErrImagePull, ...), or
  // InvalidWorkEntry / RenderFailed when the agent could not even start the pre-pull.
  // Pulling: "" while nodes pull, PrePullPending while the DaemonSet does not run the
  // image yet, NoMatchingNodes when no Ready node has the GPU shape. Done: "".
  std::string reason;
  std::string message;
  nlohmann::json ToJson() const;
  bool operator==(const PrePullReport&) const = default;
};

// Pure. Done when every node of the shape has finished (state.done_nodes ≥ desired > 0);
// Failed as soon as one node cannot pull `spec.image`; Pulling otherwise.
PrePullReport SummarizePrePull(const std::string& workspace, const PrePullSpec& spec,
                               const PrePullState& state);

}  // namespace berth::agent
