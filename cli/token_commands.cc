// `berthctl token create|list`: single-use bootstrap tokens for joining member agents.
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/cluster_name_pattern.h"
#include "api/schema.h"
#include "cli/bootstrap_token.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"

namespace {

struct TokenCreateFlags {
  std::string kubeconfig;
  std::string ttl = "1h";
  std::string description;
  std::string cluster;
  std::string cluster_pattern;
  bool rejoin = false;
};

// The binding flags, checked before anything is sent (the hub checks them again). Empty
// when fine, else the error to print.
std::string CheckBindingFlags(const TokenCreateFlags& f) {
  if (!f.cluster.empty() && !f.cluster_pattern.empty()) {
    return "--cluster and --cluster-pattern are mutually exclusive: bind the token to one name "
           "or to one pattern";
  }
  if (!f.cluster.empty()) {
    if (std::string why = berth::api::CheckDns1123Label(f.cluster); !why.empty()) {
      return "--cluster \"" + f.cluster + "\": " + why;
    }
  }
  if (!f.cluster_pattern.empty()) {
    if (std::string why = berth::api::CheckClusterNamePattern(f.cluster_pattern); !why.empty()) {
      return "--cluster-pattern \"" + f.cluster_pattern + "\" " + why;
    }
  }
  if (f.rejoin && f.cluster.empty() && f.cluster_pattern.empty()) {
    return "--rejoin needs --cluster NAME (or --cluster-pattern): a token that may take over a "
           "healthy member must name it";
  }
  return "";
}

int CreateToken(const TokenCreateFlags& f) {
  auto ttl = berth::cli::ParseDurationSeconds(f.ttl);
  if (!ttl.ok()) {
    std::cerr << "error: --ttl: " << ttl.status().message() << "\n";
    return 2;
  }
  if (std::string why = CheckBindingFlags(f); !why.empty()) {
    std::cerr << "error: " << why << "\n";
    return 2;
  }
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  berth::cli::BootstrapTokenSpec spec;
  spec.ttl_seconds = *ttl;
  spec.description = f.description;
  spec.cluster_name = f.cluster;
  spec.cluster_name_pattern = f.cluster_pattern;
  spec.allow_rejoin = f.rejoin;
  auto token = berth::cli::CreateBootstrapToken(**client, spec);
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << token->token << "\n";
  std::string scope;
  if (!f.cluster.empty()) scope = "for cluster " + f.cluster;
  if (!f.cluster_pattern.empty()) scope = "for clusters matching " + f.cluster_pattern;
  if (scope.empty()) {
    scope =
        "not bound to a cluster name (it can join only as a new member; bind it with --cluster "
        "NAME)";
  } else if (f.rejoin) {
    scope += ", may rejoin as a healthy member (revoking its agent's credential)";
  }
  std::cerr << "single-use join token " << scope << ", valid until " << token->expiration << "\n";
  return 0;
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* token =
      root.add_subcommand("token", "Manage bootstrap tokens that member agents join with");
  token->require_subcommand(1);
  auto* create = token->add_subcommand(
      "create",
      "Create a single-use join token and print it (give it to berth-agent --join-token-file, "
      "or --join-token). Bind it to the member it is for with --cluster NAME: a token without "
      "--cluster or --cluster-pattern can join only as a new cluster name, never as an existing "
      "member; joining as an existing member whose agent is still healthy also needs --rejoin");
  auto flags = std::make_shared<TokenCreateFlags>();
  berth::cli::AddKubeconfigFlag(create, &flags->kubeconfig);
  create->add_option("--ttl", flags->ttl, "How long the token stays valid (e.g. 30m, 1h, 7d)")
      ->capture_default_str();
  create->add_option("--description", flags->description, "Free text stored with the token");
  create->add_option("--cluster", flags->cluster,
                     "The only cluster name the token may join as (the agent's --cluster-name); "
                     "stored as spec.clusterName");
  create->add_option("--cluster-pattern", flags->cluster_pattern,
                     "Instead of --cluster: the cluster names the token may join as, a glob where "
                     "'*' matches any run of characters, e.g. 'gpu-east-*' (lower-case letters, "
                     "digits, '-' and '*'; at least one '*' and one letter or digit); stored as "
                     "spec.clusterNamePattern");
  create->add_flag("--rejoin", flags->rejoin,
                   "Also allow joining as an existing member whose agent is healthy (lease "
                   "current): the join replaces that agent and revokes its credential. Needs "
                   "--cluster or --cluster-pattern; stored as spec.allowRejoin");
  create->callback([flags] {
    int rc = CreateToken(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
});

}  // namespace
