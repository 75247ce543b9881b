// `berthctl dashboard`: opens the hub's fleet dashboard (/ui) in a browser with the
// kubeconfig's bearer token. The token travels in the URL's fragment (#token=…), which the
// browser never sends to a server; the page moves it into the tab's sessionStorage and
// drops it from the address bar.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "api/query_escape.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"

namespace {

struct DashboardFlags {
  std::string kubeconfig;
  bool print_url = false;
};

int OpenDashboard(const DashboardFlags& f) {
  auto config = berth::cli::LoadHubKubeconfig(f.kubeconfig);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return 1;
  }
  std::string token = config->bearer_token;
  if (!config->bearer_token_file.empty()) {
    std::ifstream in(config->bearer_token_file);
    std::stringstream text;
    text << in.rdbuf();
    if (in) token = text.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  std::string server = config->server;
  while (!server.empty() && server.back() == '/') server.pop_back();
  const std::string page = server + "/ui/";
  if (token.empty()) {
    std::cerr << "error: this kubeconfig has no bearer token (a client certificate cannot be handed to a "
                 "browser); open "
              << page << " and paste a token, or make one with `berthctl user create NAME`\n";
    return 1;
  }
  const std::string url = page + "#token=" + berth::QueryEscape(token);
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  const bool can_open = !f.print_url && ((display && *display) || (wayland && *wayland)) &&
                        std::system("command -v xdg-open >/dev/null 2>&1") == 0;
  if (can_open) {
    std::cerr << "opening " << page << " (the hub's certificate is signed by its own CA: "
              << "trust <data-dir>/pki/ca.crt, or accept it once)\n";
    const std::string cmd = "xdg-open '" + url + "' >/dev/null 2>&1 &";
    if (std::system(cmd.c_str()) == 0) return 0;
    std::cerr << "xdg-open failed; open this URL yourself:\n";
  } else {
    std::cerr << "open this URL in a browser; it carries your token, so do not share it:\n";
  }
  std::cout << url << "\n";
  return 0;
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "dashboard", "Open the hub's fleet dashboard (/ui) in a browser with the kubeconfig's token");
  auto f = std::make_shared<DashboardFlags>();
  berth::cli::AddKubeconfigFlag(cmd, &f->kubeconfig);
  cmd->add_flag("--print-url", f->print_url,
                "Print the URL (with the token in its fragment) instead of opening a browser");
  cmd->callback([f] {
    int rc = OpenDashboard(*f);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
});

}  // namespace
