// `berthctl token create|list`: single-use bootstrap tokens for joining member agents.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/bootstrap_token.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"

namespace {

struct TokenCreateFlags {
  std::string kubeconfig;
  std::string ttl = "1h";
  std::string description;
};

int CreateToken(const TokenCreateFlags& f) {
  auto ttl = berth::cli::ParseDurationSeconds(f.ttl);
  if (!ttl.ok()) {
    std::cerr << "error: --ttl: " << ttl.status().message() << "\n";
    return 2;
  }
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  auto token = berth::cli::CreateBootstrapToken(**client, *ttl, f.description);
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << token->token << "\n";
  std::cerr << "single-use join token, valid until " << token->expiration << "\n";
  return 0;
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* token =
      root.add_subcommand("token", "Manage bootstrap tokens that member agents join with");
  token->require_subcommand(1);
  auto* create = token->add_subcommand(
      "create",
      "Create a single-use join token and print it (give it to berth-agent --join-token-file, "
      "or --join-token)");
  auto flags = std::make_shared<TokenCreateFlags>();
  berth::cli::AddKubeconfigFlag(create, &flags->kubeconfig);
  create->add_option("--ttl", flags->ttl, "How long the token stays valid (e.g. 30m, 1h, 7d)")
      ->capture_default_str();
  create->add_option("--description", flags->description, "Free text stored with the token");
  create->callback([flags] {
    int rc = CreateToken(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
});

}  // namespace
