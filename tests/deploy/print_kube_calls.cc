// Prints every request the agent's kube backend can send (KubeBackend::ApiCalls()) as a
// JSON array, for check_deploy.py's RBAC check. Linked against the same library as
// berth-agent, so the list cannot drift from what the binary sends. Stands in until
// berth-agent prints the list itself (e.g. `berth-agent --print-kube-requests`).
#include <iostream>
#include <nlohmann/json.hpp>

#include "member-agent/kube_backend.h"

int main() {
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& call : berth::agent::KubeBackend::ApiCalls()) {
    calls.push_back({{"method", call.method},
                     {"path", call.path},
                     {"apiGroup", call.api_group},
                     {"resource", call.resource},
                     {"verb", call.verb}});
  }
  std::cout << calls.dump(2) << "\n";
  return 0;
}
