// The Secrets and ConfigMaps a Workspace references, resolved for one placement pass:
//  - inference.config (KAITO's inference config) → the effective Workspace object, whose
//    inference.parameters the ConfigMap completes (workspace/inference_config.h); the
//    rollout computes revisions from it, so editing the ConfigMap rolls out like editing
//    the parameters. When the ConfigMap is missing or unusable, a Workspace that already has
//    a revision keeps running it (its template fields stand in) and the reason is held for
//    the ReferencesResolved condition; a new one is not placed (invalid, with the reason).
//  - modelAccessSecret, adapter pull secrets and whatever a custom template names → the
//    objects to deliver to every member that runs the Workspace, in its Work entry
//    (workspace/pod_template.h); missing ones are listed, their pods wait.
// Pure: the caller reads the referenced objects.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "workspace/workspace_types.h"

namespace berth::hub {

// "Kind/namespace/name" of every Secret / ConfigMap `workspace_object` references,
// inference.config included. Cheap for a Workspace that references nothing (no parse).
std::vector<std::string> ReferenceKeys(const nlohmann::json& workspace_object);

struct ResolvedReferences {
  nlohmann::json effective;              // the Workspace as the rollout and Work entries see it
  std::vector<nlohmann::json> deliver;   // {kind, name, type, data, binaryData} to send to members
  std::vector<std::string> missing;      // e.g. "Secret models/hf-token (inference.modelAccessSecret)"
  std::string held;  // non-empty: inference.config did not resolve; the current revision runs on
  bool any = false;  // the Workspace references something (the condition is shown)
  // ParseWorkspace(effective), when `any`: the placement stage takes it instead of parsing again.
  std::optional<StatusOr<workspace::Workspace>> parsed;
};

// `objects` holds the referenced objects that exist, by ReferenceKeys key. Invalid (or
// NotFound) when inference.config does not resolve and the Workspace has no revision yet.
StatusOr<ResolvedReferences> ResolveReferences(const nlohmann::json& workspace_object,
                                               const std::map<std::string, nlohmann::json>& objects);

// The ReferencesResolved condition's (status, reason, message) for `r`.
struct ReferencesCondition {
  bool resolved = true;
  std::string reason, message;
};
ReferencesCondition DescribeReferences(const ResolvedReferences& r);

}  // namespace berth::hub
