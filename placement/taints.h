// Node taints as the Kubernetes scheduler applies them (TaintToleration): a pod may be
// scheduled on a node only if it tolerates every NoSchedule and NoExecute taint of the
// node; PreferNoSchedule is a preference and never keeps a pod off. Shared by the planner
// (pools whose nodes Berth's rendered pods cannot land on) and the simulated member
// backend's scheduler, so both decide alike. Pure.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "placement/fleet.h"

namespace berth::placement {

// The first NoSchedule or NoExecute taint of `taints` that no toleration matches
// (placement::Tolerates), or nullptr when a pod with `tolerations` may be scheduled there.
const Taint* FirstUntoleratedTaint(const std::vector<Taint>& taints,
                                   const std::vector<policies::Toleration>& tolerations);

// A pod spec's `tolerations` (Kubernetes' Toleration objects: key, operator Exists|Equal
// (default Equal), value, effect ("" = every effect), tolerationSeconds). Entries that are
// not objects, or name an unknown operator or effect, tolerate nothing and are skipped.
std::vector<policies::Toleration> ParsePodTolerations(const nlohmann::json& tolerations);

// Kubernetes Taint objects ({key, value, effect}; a Node's spec.taints, or a node's `taints`
// in MemberCluster inventory) in order: those with a string key and a known effect, at most
// kMaxNodeTaints. Anything else is skipped (a node reports what Kubernetes validated).
std::vector<Taint> ParseNodeTaints(const nlohmann::json& taints);
// The inverse, for the inventory: [{key, [value,] effect}].
nlohmann::json NodeTaintsJson(const std::vector<Taint>& taints);

// "key=value:Effect" (or "key:Effect" without a value), as kubectl prints a taint.
std::string TaintText(const Taint& taint);

}  // namespace berth::placement
