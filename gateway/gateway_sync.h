// One synchronisation pass and the loop around it: read HAProxy's state through the
// runtime API, plan (runtime_plan.h), run the commands, publish the catalog. Level-
// triggered: a pass depends only on the latest Workspaces and what HAProxy runs now.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/status.h"
#include "gateway/catalog.h"
#include "gateway/haproxy_state.h"
#include "gateway/route_table.h"
#include "gateway/runtime_api.h"
#include "gateway/runtime_plan.h"
#include "gateway/workspace_sources.h"

namespace berth::gateway {

class HaproxyProcess;

// Host name → IP literal. The real one returns IP literals as they are and asks
// getaddrinfo for names (first IPv4 address, else the first IPv6 one).
using HostResolver = std::function<StatusOr<std::string>(const std::string& host)>;
StatusOr<std::string> ResolveHost(const std::string& host);

// Replaces every server's host by its address; servers whose host does not resolve are
// left out, each with a problem.
RouteTable ResolveRoutes(RouteTable routes, const HostResolver& resolve,
                         std::vector<std::string>* problems);

// Reads the slot backends' servers, their connections and the model map. Servers of
// backends that are not slots (the catalog, anything the user added) are ignored.
StatusOr<ObservedHaproxy> ObserveHaproxy(RuntimeApi* api, const PlanOptions& options);

struct SyncResult {
  Status status;  // not Ok when HAProxy could not be read
  RuntimePlan plan;
  RouteTable routes;  // resolved
  int refused = 0;    // commands HAProxy refused (retried next pass)
};

// Not thread-safe: owned by the loop's thread.
class GatewaySync {
 public:
  GatewaySync(RuntimeApi* api, PlanOptions options, HostResolver resolver);
  SyncResult Sync(const std::vector<WorkspaceEndpoints>& workspaces);

 private:
  // Logs problems only when they differ from the previous pass (no log spam every resync).
  void LogProblems(const std::vector<std::string>& problems,
                   const std::vector<std::string>& errors);
  RuntimeApi* api_;
  PlanOptions options_;
  HostResolver resolver_;
  std::set<std::string> last_problems_;
  std::set<std::string> last_errors_;
};

struct LoopOptions {
  std::chrono::milliseconds resync{5000};  // pass at least this often
  std::chrono::milliseconds retry{1000};   // sooner while removals or refusals are pending
};

// Runs passes until feed->Stop(): on every new snapshot, and every resync (or retry)
// interval. When `haproxy` is our child and it exits, it is restarted (and the next pass
// puts every server and map entry back). Passes start once the first snapshot arrived.
void RunSyncLoop(GatewaySync* sync, WorkspaceFeed* feed, Catalog* catalog, HaproxyProcess* haproxy,
                 RuntimeApi* api, const LoopOptions& options);

}  // namespace berth::gateway
