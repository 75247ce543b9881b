#include "cli/hub_client.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "api/kubeconfig.h"

namespace berth::cli {

void AddKubeconfigFlag(CLI::App* cmd, std::string* path) {
  cmd->add_option("--kubeconfig", *path,
                  "Kubeconfig of the hub (default: $KUBECONFIG; the hub writes <data-dir>/admin.kubeconfig)");
}

StatusOr<ClientConfig> LoadHubKubeconfig(const std::string& kubeconfig_flag) {
  std::string path = kubeconfig_flag;
  if (path.empty()) {
    const char* env = std::getenv("KUBECONFIG");
    if (env && *env) path = env;
  }
  if (path.empty()) {
    return Status::FailedPrecondition(
        "no kubeconfig: pass --kubeconfig <data-dir>/admin.kubeconfig or set KUBECONFIG");
  }
  auto config = LoadKubeconfigFile(path);
  if (!config.ok()) return config.status().WithContext("kubeconfig " + path);
  return config;
}

StatusOr<std::unique_ptr<RestClient>> ConnectToHub(const std::string& kubeconfig_flag) {
  auto config = LoadHubKubeconfig(kubeconfig_flag);
  if (!config.ok()) return config.status();
  const std::string path = kubeconfig_flag.empty() ? "$KUBECONFIG" : kubeconfig_flag;
  // Hub replicas without a load balancer: BERTH_HUB_FALLBACK_SERVERS lists the others' URLs,
  // comma-separated; a request that cannot reach the kubeconfig's server moves on to them.
  if (const char* more = std::getenv("BERTH_HUB_FALLBACK_SERVERS"); more && *more) {
    std::stringstream list(more);
    for (std::string url; std::getline(list, url, ',');) {
      if (!url.empty()) config->fallback_servers.push_back(url);
    }
  }
  auto client = RestClient::Create(std::move(*config));
  if (!client.ok()) return client.status().WithContext("BERTH_HUB_FALLBACK_SERVERS or kubeconfig " + path);
  return client;
}

}  // namespace berth::cli
