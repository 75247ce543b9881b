// berthctl: the Berth command line. main only builds the CLI from the registered groups.
#include <CLI/CLI.hpp>

#include "cli/command_registry.h"

namespace berth::cli {
std::vector<CommandGroup>& CommandGroups() {
  static std::vector<CommandGroup> groups;
  return groups;
}
}  // namespace berth::cli

int main(int argc, char** argv) {
  CLI::App app{"berthctl: manage a Berth fleet (workspaces, placement, rollouts, local fleets)"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.footer(
      "Environment: KUBECONFIG names the hub's kubeconfig (as --kubeconfig). With several hub replicas "
      "and no load balancer, BERTH_HUB_FALLBACK_SERVERS=https://hub-1:6443,https://hub-2:6443 lists the "
      "others: a request that cannot reach the kubeconfig's server moves on to them.");
  for (auto& group : berth::cli::CommandGroups()) group(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
