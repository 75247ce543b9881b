// PlacementPolicy (berth.dev/v1alpha1, namespaced): where a Workspace's replicas may run
// and how candidate clusters are ranked. Served by the hub as its own kind and also
// accepted inline in a Workspace under `placement.policy` (same body as `spec`).
//
// Parsing applies the documented defaults (docs/PLACEMENT.md) and validates semantics,
// reporting every problem as a FieldCause with a JSON field path. Unknown fields are left to
// the generic structural validator that uses PlacementPolicySchema().
// Pure: no I/O. All functions are thread-safe.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::policies {

inline constexpr std::string_view kPlacementApiVersion = "berth.dev/v1alpha1";
inline constexpr std::string_view kPlacementPolicyKind = "PlacementPolicy";

// A dotted numeric version such as a driver "550.54.15" or CUDA "12.4". Missing trailing
// components compare as zero ("12" == "12.0").
struct DottedVersion {
  std::vector<int> parts;
  std::string text;  // as written, e.g. "470.82.01"
  static std::optional<DottedVersion> Parse(std::string_view text);
  std::string ToString() const;
  int Compare(const DottedVersion& other) const;  // <0, 0, >0
  bool empty() const { return parts.empty(); }
};

enum class PlacementMode { kPickN, kPickAll, kPickFixed };
std::string_view PlacementModeName(PlacementMode mode);

enum class SelectorOperator { kIn, kNotIn, kExists, kDoesNotExist };
struct LabelSelectorRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kIn;
  std::vector<std::string> values;
};
// Kubernetes label selector: all matchLabels and all matchExpressions must hold.
// An empty selector matches every cluster.
struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
};

enum class PropertyOperator { kGt, kGe, kEq, kNe, kLt, kLe };
// Cluster properties a selector can compare (names as written in YAML):
//   freeGpus, totalGpus, nodes, maxFreeGpusPerNode, minPricePerGpuHour
enum class ClusterProperty {
  kFreeGpus,
  kTotalGpus,
  kNodes,
  kMaxFreeGpusPerNode,
  kMinPricePerGpuHour
};
struct PropertyRequirement {
  ClusterProperty property = ClusterProperty::kFreeGpus;
  PropertyOperator op = PropertyOperator::kGe;
  double value = 0;
};

// One cluster term: a label selector AND property requirements.
struct ClusterTerm {
  LabelSelector label_selector;
  std::vector<PropertyRequirement> property_selector;
};

struct RequiredTerms {
  std::vector<ClusterTerm> cluster_selector_terms;  // ORed; empty = any cluster
  std::vector<std::string> allowed_regions;         // data residency; empty = any region
  std::vector<std::string> gpu_products;            // catalog names; empty = any GPU
  DottedVersion min_driver_version;                 // empty = no minimum
  DottedVersion min_cuda_version;                   // empty = no minimum
  double max_price_per_gpu_hour = 0;                // 0 = no limit
};

struct PreferredTerm {
  int weight = 1;  // 1..100
  ClusterTerm term;
};

// Weights of the score terms (docs/PLACEMENT.md "Score"). Each ≥ 0; at least one > 0.
struct ScoringWeights {
  double availability = 1;
  double cost = 1;
  double locality = 1;
  double warm_cache = 1;
  double affinity = 1;  // preferred terms
};

struct DemandRegion {
  std::string region;
  double share = 0;  // fraction of traffic; shares are normalised to sum 1
};

struct Scoring {
  ScoringWeights weights;
  std::vector<DemandRegion> demand_regions;
};

enum class WhenUnsatisfiable { kDoNotSchedule, kScheduleAnyway };
struct SpreadConstraint {
  std::string topology_key = "region";  // a cluster label (region, zone, provider, …)
  int max_skew = 1;
  int min_domains = 1;
  WhenUnsatisfiable when_unsatisfiable = WhenUnsatisfiable::kDoNotSchedule;
};

enum class TaintEffect { kNoSchedule, kPreferNoSchedule, kNoExecute };
std::string_view TaintEffectName(TaintEffect effect);
std::optional<TaintEffect> ParseTaintEffect(std::string_view text);

enum class TolerationOperator { kEqual, kExists };
struct Toleration {
  std::string key;  // empty with Exists tolerates every taint
  TolerationOperator op = TolerationOperator::kEqual;
  std::string value;
  std::optional<TaintEffect> effect;          // unset tolerates every effect
  std::optional<int64_t> toleration_seconds;  // NoExecute only: how long replicas may stay
};

// Used by the hub's failover controller; placement only carries them.
struct FailoverSettings {
  // Unhealthy this long → re-place replicas. Unset: the hub's --failover-toleration (30 s).
  std::optional<int64_t> toleration_seconds;
  bool failback = true;  // move replicas home when the cluster recovers
  // Home must be healthy this long first. Unset: the hub's --failback-hysteresis (300 s).
  std::optional<int64_t> failback_hysteresis_seconds;
  // Replicas Pending on a capacity reason (InsufficientGPU, Unschedulable, GPUsLost,
  // NodeLost) this long on a healthy member are re-placed on other clusters. Unset: the
  // hub's --capacity-pending-timeout (120 s).
  std::optional<int64_t> capacity_pending_seconds;
  // Before a planned removal of a cluster's replicas (failback, rebalancing, re-placement,
  // scale-in) its endpoint gets no new requests for this long, so in-flight requests and
  // streams finish; then its Work entry goes. Unset: the hub's --drain-grace (30 s).
  std::optional<int64_t> drain_seconds;
};

struct PlacementPolicySpec {
  PlacementMode mode = PlacementMode::kPickN;
  std::optional<int> replicas;             // default when the Workspace sets none (then 1)
  std::vector<std::string> cluster_names;  // PickFixed only
  int min_clusters = 1;
  int max_clusters = 0;   // 0 = unlimited
  int min_available = 1;  // fewer placeable replicas → place none
  RequiredTerms required;
  std::vector<PreferredTerm> preferred;
  Scoring scoring;
  std::vector<SpreadConstraint> spread;
  std::vector<Toleration> tolerations;
  bool rebalance = false;  // false = existing replicas stay while their cluster fits
  FailoverSettings failover;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_ = "default";
  std::map<std::string, std::string> labels;
};

// Checks the envelope every policy kind shares — apiVersion berth.dev/v1alpha1, `kind`,
// metadata.name — and reads metadata into `meta`. Problems are appended to `causes`.
void ParsePolicyEnvelope(const nlohmann::json& object, std::string_view kind, ObjectMeta* meta,
                         std::vector<FieldCause>* causes);

struct PlacementPolicy {
  ObjectMeta metadata;
  PlacementPolicySpec spec;
};

// Parses a policy body (the content of `spec`, or of a Workspace's `placement.policy`).
// `path` prefixes field paths in causes, e.g. "spec" or "placement.policy".
// Returns Invalid with one FieldCause per problem.
StatusOr<PlacementPolicySpec> ParsePlacementPolicySpec(const nlohmann::json& body,
                                                       std::string_view path = "spec");

// Parses a whole object {apiVersion, kind, metadata, spec}.
StatusOr<PlacementPolicy> ParsePlacementPolicy(const nlohmann::json& object);

// Canonical JSON of a spec with every default written out.
nlohmann::json PlacementPolicySpecToJson(const PlacementPolicySpec& spec);

// OpenAPI v3 structural schema of the whole PlacementPolicy object (embedded from
// policies/placement_policy.schema.json).
const nlohmann::json& PlacementPolicySchema();

}  // namespace berth::policies
