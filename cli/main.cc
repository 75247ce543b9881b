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
  for (auto& group : berth::cli::CommandGroups()) group(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
