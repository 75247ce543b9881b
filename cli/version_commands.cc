// `berthctl version`
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/command_registry.h"

namespace {
berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* cmd = root.add_subcommand("version", "Print the berthctl version");
  cmd->callback([] { std::cout << "berthctl 0.1.0\n"; });
});
}  // namespace
