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

StatusOr<std::unique_ptr<RestClient>> ConnectToHub(const std::string& kubeconfig_flag) {
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

StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  int64_t total = 0, value = 0;
  bool digits = false, any = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      digits = true;
      continue;
    }
    int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
    if (!digits || unit == 0) {
      return Status::Invalid("invalid duration \"" + text + "\": use forms like 90s, 30m, 1h, 2h30m, 7d");
    }
    total += value * unit;
    value = 0;
    digits = false;
    any = true;
  }
  if (digits || !any) {
    return Status::Invalid("invalid duration \"" + text + "\": every number needs a unit (s, m, h, d)");
  }
  return total;
}

}  // namespace berth::cli
