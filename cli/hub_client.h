// How berthctl reaches the hub: a kubeconfig from --kubeconfig, else $KUBECONFIG.
#pragma once

#include <memory>
#include <string>

#include "api/duration_text.h"
#include "api/rest_client.h"

namespace CLI {
class App;
}

namespace berth::cli {

// Adds --kubeconfig to `cmd`, storing into `*path`.
void AddKubeconfigFlag(CLI::App* cmd, std::string* path);

// The kubeconfig from --kubeconfig, else $KUBECONFIG, resolved. FailedPrecondition when
// neither is set.
StatusOr<ClientConfig> LoadHubKubeconfig(const std::string& kubeconfig_flag);

// Opens a client for the hub. FailedPrecondition says where a kubeconfig was looked for.
StatusOr<std::unique_ptr<RestClient>> ConnectToHub(const std::string& kubeconfig_flag);

// "90s", "30m", "1h", "2h30m", "7d" (api/duration_text.h).
using berth::ParseDurationSeconds;

}  // namespace berth::cli
