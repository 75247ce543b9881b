// RolloutStrategy (berth.dev/v1alpha1, namespaced): how a new revision of a Workspace reaches
// the member clusters — ordered stages selected by cluster labels, concurrency, pre-pull,
// soak, approval and health gates, a failure budget and automatic rollback. The body lives
// under `spec`; the same body may be given inline (parse it with a different `path`).
//
// Parsing applies the documented defaults (docs/ROLLOUTS.md) and validates semantics,
// reporting every problem as a FieldCause with a JSON field path. Unknown fields are left to
// the generic structural validator that uses RolloutStrategySchema().
// Pure: no I/O. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "api/status.h"
#include "policies/placement_policy.h"

namespace berth::policies {

inline constexpr std::string_view kRolloutStrategyKind = "RolloutStrategy";

// A count ("3") or a percentage ("25%") of some total, like Kubernetes' IntOrString.
struct IntOrPercent {
  int value = 0;
  bool percent = false;
  // Percentages round up and never resolve to 0 when `total` > 0 and value > 0, so "10%" of
  // 3 clusters is 1 (progress is always possible). Counts are returned as written.
  int Resolve(int total) const;
  std::string ToString() const;  // "3" or "25%"
  bool operator==(const IntOrPercent&) const = default;
};

// How one cluster moves to the new revision.
enum class UpdateMode {
  kSurge,    // start new replicas beside the old when spare GPUs exist, then drain the old
  kInPlace,  // replace replicas, at most maxUnavailable at a time
};
std::string_view UpdateModeName(UpdateMode mode);

// What a stage does with a cluster whose driver/CUDA is older than the revision needs.
enum class IncompatibleAction {
  kSkip,   // leave it on its current revision, mark it Skipped with the reason
  kBlock,  // hold the stage until the cluster is upgraded (or the strategy changes)
};

// A cluster passes the gate while its replicas are all Ready and agents report at most
// `max_failure_reports` failures (CrashLoopBackOff restarts, ImagePullBackOff, …) for the
// new revision; it fails when it has not become Ready within `progress_deadline_seconds`.
// Serving gates are judged while the cluster soaks on the new revision, from the serving
// signals its agent reports for the cluster's endpoint (docs/ROLLOUTS.md "Serving gates"):
// p90 time to first token at most `max_ttft_p90_seconds`, and at most
// `max_ttft_p90_regression_percent` above the p90 the same cluster served with on the revision
// it ran before; failed requests at most `max_error_rate_percent` of all. Unset: not checked.
// They need soak_seconds > 0.
struct HealthGate {
  int max_failure_reports = 0;
  int64_t progress_deadline_seconds = 1800;
  std::optional<double> max_ttft_p90_seconds;
  std::optional<double> max_ttft_p90_regression_percent;
  std::optional<double> max_error_rate_percent;
  bool serving_gated() const {
    return max_ttft_p90_seconds || max_ttft_p90_regression_percent || max_error_rate_percent;
  }
  bool operator==(const HealthGate&) const = default;
};

struct RolloutStage {
  std::string name;
  // Clusters this stage takes (those not taken by an earlier stage). Empty = any cluster.
  LabelSelector cluster_selector;
  // At most this many clusters join the stage (canary of one); 0 = every matching cluster.
  int max_clusters = 0;
  IntOrPercent max_concurrency{1, false};  // clusters updating at once, of the stage's clusters
  bool pre_pull = true;                    // ask the stage's clusters to pull image/weights first
  int64_t pre_pull_timeout_seconds = 1800; // then update anyway (the update pulls)
  int64_t soak_seconds = 0;                // all stage clusters Ready this long before moving on
  bool approval_required = false;          // the stage waits for `rollout approve` before starting
  HealthGate health_gate;
  // While the stage runs, the gateway sends this share (1..99) of the model's traffic to the
  // endpoints on the new revision and the rest to those still on the old one (a canary by
  // traffic as well as by cluster; docs/ROLLOUTS.md). nullopt: weights by capacity only.
  std::optional<int> traffic_percent;
};

// Driver/CUDA floor of the new revision (the strategy's floor; the Workspace revision may
// raise it, see rollout/revision.h).
struct Compatibility {
  DottedVersion min_driver_version;  // empty = no minimum
  DottedVersion min_cuda_version;    // empty = no minimum
  IncompatibleAction on_incompatible = IncompatibleAction::kSkip;
};

struct RolloutStrategySpec {
  std::vector<RolloutStage> stages;
  // Settings for the implicit last stage that takes every cluster no stage selected. Its
  // selector and max_clusters are ignored. Named "rest".
  RolloutStage rest_of_fleet;
  // Clusters that may fail (and are rolled back individually) before the whole rollout fails;
  // a percentage is of the clusters in the rollout.
  IntOrPercent failure_budget{0, false};
  bool rollback_on_failure = true;
  UpdateMode update_mode = UpdateMode::kSurge;
  IntOrPercent max_unavailable{25, true};  // in-place (and surge fallback), per cluster
  Compatibility compatibility;
  int revision_history_limit = 10;
};

struct RolloutStrategy {
  ObjectMeta metadata;
  RolloutStrategySpec spec;
};

// The documented default (docs/ROLLOUTS.md "Default strategy"): a canary stage of one
// cluster soaking 60 s, then the rest of the fleet 25% at a time; surge updates; rollback on.
RolloutStrategySpec DefaultRolloutStrategy();

// Parses a strategy body (the content of `spec`, or an inline body). `path` prefixes field
// paths in causes. Absent fields take the defaults of DefaultRolloutStrategy() except
// `stages`: a body that lists stages gets exactly those (plus the implicit rest stage); a
// body without `stages` gets the default canary stage. Invalid with one cause per problem.
StatusOr<RolloutStrategySpec> ParseRolloutStrategySpec(const nlohmann::json& body,
                                                       std::string_view path = "spec");

// Parses a whole object {apiVersion, kind, metadata, spec}.
StatusOr<RolloutStrategy> ParseRolloutStrategy(const nlohmann::json& object);

// Canonical JSON of a spec with every default written out; parses back to an equal spec.
nlohmann::json RolloutStrategySpecToJson(const RolloutStrategySpec& spec);

// OpenAPI v3 structural schema of the whole RolloutStrategy object (embedded from
// policies/rollout_strategy.schema.json).
const nlohmann::json& RolloutStrategySchema();

}  // namespace berth::policies
