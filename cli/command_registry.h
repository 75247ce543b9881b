// berthctl subcommands register themselves here, one file per command group
// (cli/<group>_commands.cc), so groups can be added without touching main.cc.
#pragma once

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace berth::cli {

// Adds subcommands to the root app. Called once at start-up, in registration order.
using CommandGroup = std::function<void(CLI::App& root)>;

std::vector<CommandGroup>& CommandGroups();

// Usage, at namespace scope in a *_commands.cc file:
//   static berth::cli::CommandRegistrar kRegister([](CLI::App& root) { ... });
struct CommandRegistrar {
  explicit CommandRegistrar(CommandGroup group) { CommandGroups().push_back(std::move(group)); }
};

}  // namespace berth::cli
