// The endpoint map of a Workspace as a Gateway API HTTPRoute (gateway.networking.k8s.io/v1),
// for teams that run their own gateway instead of berth-gateway: served by the hub at
// GET .../workspaces/NAME/httproute (docs/GATEWAY.md, "Your own gateway").
//
// One backendRef per cluster endpoint, weighted as berth-gateway weights it (Draining and Down
// endpoints weight 0), pointing at a Service `<workspace>-<cluster>` (or a ServiceImport of
// the Multi-Cluster Services API) that the user's gateway cluster maps to that cluster's
// endpoint; the URLs are in the annotation berth.dev/endpoints. Two rules: requests whose
// X-Gateway-Model-Name header (what the Gateway API inference extension's body-based router
// sets from the OpenAI `model` field) names a served model, and requests under
// /models/<model>/ (prefix stripped). Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::hub {

struct HttpRouteOptions {
  std::string gateway_name = "berth";  // parentRefs[0].name
  std::string gateway_namespace;       // "" = the route's namespace
  bool service_import = false;         // backendRefs are multicluster.x-k8s.io ServiceImports
  int port = 80;
};

// Invalid naming the query parameter for a bad option (parsed by the caller from the query:
// gateway, gatewayNamespace, backendKind=Service|ServiceImport, port).
StatusOr<HttpRouteOptions> HttpRouteOptionsFrom(const std::string& gateway, const std::string& gateway_namespace,
                                                const std::string& backend_kind, const std::string& port);

// The HTTPRoute of a stored Workspace (its status.endpoints and status.servedModels).
nlohmann::json HttpRouteFor(const nlohmann::json& workspace, const HttpRouteOptions& options);

// The Service / ServiceImport name for a workspace's endpoint on `cluster`: "<ws>-<cluster>",
// shortened with a hash suffix to stay a DNS label (≤ 63 characters).
std::string EndpointBackendName(const std::string& workspace, const std::string& cluster);

}  // namespace berth::hub
