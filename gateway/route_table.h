// The route table: which upstream servers serve each model name, built from the hub's
// Workspaces (status.servedModels + status.endpoints). Pure functions of plain data; no I/O.
//
// A Workspace serving models {A, B} on clusters {c1, c2} yields, for A and for B, one
// upstream server per (cluster, namespace, workspace). Several Workspaces serving the same
// model name share that model's route: their servers are merged.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth::gateway {

enum class EndpointState { kServing, kDraining, kDown };
const char* EndpointStateName(EndpointState state);

// One entry of a Workspace's status.endpoints, as the hub publishes it.
struct Endpoint {
  std::string cluster;
  std::string url;  // http://host:port
  EndpointState state = EndpointState::kDown;
  int weight = 0;  // 0..256; 0 for Draining and Down
  int ready_replicas = 0;
  int64_t revision = 0;
  std::string reason;  // why Down/Draining, may be empty
  bool operator==(const Endpoint&) const = default;
};

// What the gateway needs of one Workspace.
struct WorkspaceEndpoints {
  std::string namespace_name;
  std::string name;
  std::vector<std::string> served_models;
  std::vector<Endpoint> endpoints;
  bool operator==(const WorkspaceEndpoints&) const = default;
};

// Decodes one Workspace object (JSON). Missing status, servedModels or endpoints mean an
// empty list. Invalid naming the field when a present field has the wrong shape (an
// unknown state, a weight outside 0..256, a non-string model name).
StatusOr<WorkspaceEndpoints> DecodeWorkspace(const nlohmann::json& object);

// Decodes an endpoints file: JSON or YAML holding one Workspace, a list of them, or a
// `kind: List` / `*List` with `items` (what `kubectl get ws -A -o yaml` prints). The
// first malformed Workspace makes the whole file Invalid (naming its index), so a
// half-edited file never removes routes.
StatusOr<std::vector<WorkspaceEndpoints>> DecodeEndpointsDocument(std::string_view text);

// One upstream server of a model's route. `name` is unique within the route and valid as
// an HAProxy server name.
struct UpstreamServer {
  std::string name;
  std::string host;  // IP literal or DNS name, as in the endpoint URL
  int port = 0;
  EndpointState state = EndpointState::kDown;
  int weight = 0;
  std::string origin;  // "namespace/workspace@cluster", for logs
  bool operator==(const UpstreamServer&) const = default;
};

struct ModelRoute {
  std::string model;
  std::vector<UpstreamServer> servers;  // sorted by name
  bool operator==(const ModelRoute&) const = default;
};

// Keyed (and so ordered) by model name.
using RouteTable = std::map<std::string, ModelRoute>;

struct RouteTableBuild {
  RouteTable routes;
  // Endpoints left out, each with why (bad URL, duplicate server name); for the log.
  std::vector<std::string> problems;
};

// Builds the table. An endpoint whose URL is not http://host[:port][/] is left out with a
// problem; so is a second endpoint mapping to an existing server name, and a model name
// that IsRoutableModelName rejects. A model served with no endpoint gets an empty route
// (it is known: answered 503, not 404).
RouteTableBuild BuildRouteTable(const std::vector<WorkspaceEndpoints>& workspaces);

inline constexpr size_t kMaxModelNameLength = 256;
// A model name the map and the runtime API can carry verbatim: 1..256 printable ASCII
// characters without blanks, quotes, '\\', ';' (the runtime API's command separator) or '#'.
bool IsRoutableModelName(std::string_view model);

// The HAProxy server name for (cluster, namespace, workspace): each part with every
// character outside [A-Za-z0-9.-] replaced by '-', joined with '_' (Kubernetes names carry
// no '_', so distinct triples of valid names never collide). Longer than 100 characters:
// cut and suffixed with a hash of the whole.
std::string ServerName(std::string_view cluster, std::string_view namespace_name,
                       std::string_view workspace);

// Parses "http://host[:port][/...]" (port defaults to 80; IPv6 in brackets). Invalid for
// other schemes (https upstreams are not supported yet) or a malformed authority.
struct HostPort {
  std::string host;
  int port = 0;
};
StatusOr<HostPort> ParseEndpointUrl(std::string_view url);

// The Workspaces known from a hub list + watch stream, keyed by namespace/name.
// Not thread-safe; owned by the thread reading the watch.
class WorkspaceCache {
 public:
  // Replaces everything with a list response body (`items`); returns its
  // metadata.resourceVersion. Workspaces that fail to decode are skipped with a problem.
  StatusOr<std::string> ReplaceFromList(const nlohmann::json& list,
                                        std::vector<std::string>* problems);
  // Applies one watch event {type, object}. ADDED/MODIFIED upsert, DELETED erases,
  // BOOKMARK only moves the resourceVersion. Returns the event's resourceVersion. Gone
  // for an ERROR event with code 410 (re-list), BadRequest for other ERROR events and
  // malformed events.
  StatusOr<std::string> Apply(const nlohmann::json& event);
  std::vector<WorkspaceEndpoints> Snapshot() const;

 private:
  std::map<std::string, WorkspaceEndpoints> by_key_;
};

}  // namespace berth::gateway
