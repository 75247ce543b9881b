// `berthctl token create|list`: single-use bootstrap tokens for joining member agents.
#include <CLI/CLI.hpp>

#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"
#include "hub/pki.h"

namespace {

using nlohmann::json;

std::string RandomLowerAlnum(size_t n) {
  // The id and secret come from the OS CSPRNG via RandomToken; map to [a-z0-9].
  static const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string raw = berth::RandomToken(n * 2);
  std::string out;
  for (size_t i = 0; out.size() < n && i < raw.size(); ++i) {
    out += kAlphabet[static_cast<unsigned char>(raw[i]) % 36];
  }
  return out;
}

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
  const std::string id = RandomLowerAlnum(6);
  const std::string secret = RandomLowerAlnum(16);
  const auto expires = berth::RealClock::Instance().Now() + std::chrono::seconds(*ttl);
  json token = {{"apiVersion", "berth.dev/v1alpha1"},
                {"kind", "BootstrapToken"},
                {"metadata", {{"name", id}}},
                {"spec", {{"secretHash", berth::Sha256Hex(secret)},
                          {"expiration", berth::FormatRfc3339(expires)}}}};
  if (!f.description.empty()) token["spec"]["description"] = f.description;
  auto r = (*client)->Post("/apis/berth.dev/v1alpha1/bootstraptokens", token);
  if (!r.ok()) {
    std::cerr << "error: " << r.status().message() << "\n";
    return 1;
  }
  std::cout << id << "." << secret << "\n";
  std::cerr << "single-use join token, valid until " << berth::FormatRfc3339(expires) << "\n";
  return 0;
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* token = root.add_subcommand("token", "Manage bootstrap tokens that member agents join with");
  token->require_subcommand(1);
  auto* create = token->add_subcommand(
      "create", "Create a single-use join token and print it (pass it to berth-agent --join-token)");
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
