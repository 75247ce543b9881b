// `berthctl user create|revoke` and `berthctl serviceaccount create`: bearer tokens for people
// and pipelines (docs/ACCESS.md). The token is drawn here from the OS CSPRNG; only its record
// (SHA-256, whom it authenticates, expiry) goes to the hub as an IdentityToken, so the token
// itself never crosses the network except in the kubeconfig printed once to stdout. What the
// identity may do is RBAC's: bind it a role (kubectl create rolebinding ...).
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "api/clock.h"
#include "api/kubeconfig.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"
#include "hub/pki.h"

namespace {

using nlohmann::json;

constexpr const char* kTokensPath = "/apis/berth.dev/v1alpha1/identitytokens";

struct IdentityFlags {
  std::string kubeconfig;
  std::string name;
  std::string ns;      // service accounts
  std::string groups;  // users: comma-separated
  std::string expires;
};

std::vector<std::string> SplitGroups(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string g; std::getline(in, g, ',');) {
    if (!g.empty()) out.push_back(g);
  }
  return out;
}

// Mints a token for the user (`ns` empty) or service account, stores its record and prints a
// kubeconfig that authenticates with it.
int CreateIdentity(const IdentityFlags& f, bool service_account) {
  const auto now = berth::RealClock::Instance().Now();
  json spec = {{"type", service_account ? "ServiceAccount" : "User"}, {"name", f.name},
               {"createdAt", berth::FormatRfc3339(now)}, {"revoked", false}};
  if (service_account) spec["namespace"] = f.ns;
  if (!f.groups.empty()) spec["groups"] = SplitGroups(f.groups);
  if (!f.expires.empty()) {
    auto seconds = berth::cli::ParseDurationSeconds(f.expires);
    if (!seconds.ok()) {
      std::cerr << "error: --expires: " << seconds.status().message() << "\n";
      return 2;
    }
    spec["expiresAt"] = berth::FormatRfc3339(now + std::chrono::seconds(*seconds));
  }
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  const std::string token = berth::RandomToken(32);
  spec["sha256"] = berth::Sha256Hex(token);
  const std::string id = spec["sha256"].get<std::string>().substr(0, 12);
  json record = {{"apiVersion", "berth.dev/v1alpha1"}, {"kind", "IdentityToken"},
                 {"metadata", {{"name", id}}}, {"spec", spec}};
  if (auto r = (*client)->Post(kTokensPath, record); !r.ok()) {
    std::cerr << "error: " << r.status().message() << "\n";
    return 1;
  }
  const auto& config = (*client)->config();
  const std::string user = service_account ? "system:serviceaccount:" + f.ns + ":" + f.name : f.name;
  std::cout << berth::RenderKubeconfig("berth", config.server, config.ca_pem, user, token);
  std::cerr << "token " << id << " for " << (service_account ? "service account " + f.ns + "/" : "user ") << f.name
            << (spec.contains("expiresAt") ? ", valid until " + spec["expiresAt"].get<std::string>() : "")
            << "; it is shown only this once. Grant it access with a RoleBinding, e.g. kubectl create rolebinding "
            << f.name << "-edit --clusterrole=edit "
            << (service_account ? "--serviceaccount=" + f.ns + ":" + f.name : "--user=" + f.name) << " -n NAMESPACE\n";
  return 0;
}

// Marks every token of the user revoked (records stay, for audit); NotFound if it has none.
int RevokeUser(const IdentityFlags& f) {
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  auto list = (*client)->Get(kTokensPath);
  if (!list.ok()) {
    std::cerr << "error: " << list.status().message() << "\n";
    return 1;
  }
  int revoked = 0;
  for (const json& t : list->value("items", json::array())) {
    const json spec = t.value("spec", json::object());
    if (spec.value("type", "") != "User" || spec.value("name", "") != f.name || spec.value("revoked", false)) continue;
    const std::string name = t["metadata"].value("name", "");
    auto r = (*client)->Patch(std::string(kTokensPath) + "/" + name, R"({"spec":{"revoked":true}})", berth::kMergePatch);
    if (!r.ok()) {
      std::cerr << "error: revoke token " << name << ": " << r.status().message() << "\n";
      return 1;
    }
    std::cerr << "revoked token " << name << "\n";
    ++revoked;
  }
  if (revoked == 0) {
    std::cerr << "error: user \"" << f.name << "\" has no token that is not revoked\n";
    return 1;
  }
  return 0;
}

void Run(int rc) {
  if (rc != 0) throw CLI::RuntimeError(rc);
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* user = root.add_subcommand("user", "Manage users' bearer tokens (what they may do is RBAC's)");
  user->require_subcommand(1);
  auto created = std::make_shared<IdentityFlags>();
  auto* create = user->add_subcommand(
      "create", "Create a token for user NAME and print a kubeconfig using it (shown only once)");
  berth::cli::AddKubeconfigFlag(create, &created->kubeconfig);
  create->add_option("NAME", created->name, "The user name RBAC bindings name")->required();
  create->add_option("--groups", created->groups, "Comma-separated groups the user is in (not system:*)");
  create->add_option("--expires", created->expires, "How long the token works (e.g. 24h, 7d); default: until revoked");
  create->callback([created] { Run(CreateIdentity(*created, false)); });

  auto revoked = std::make_shared<IdentityFlags>();
  auto* revoke = user->add_subcommand("revoke", "Revoke every token of user NAME");
  berth::cli::AddKubeconfigFlag(revoke, &revoked->kubeconfig);
  revoke->add_option("NAME", revoked->name, "The user")->required();
  revoke->callback([revoked] { Run(RevokeUser(*revoked)); });

  auto* sa = root.add_subcommand("serviceaccount", "Manage service accounts' bearer tokens");
  sa->alias("sa");
  sa->require_subcommand(1);
  auto sa_flags = std::make_shared<IdentityFlags>();
  auto* sa_create = sa->add_subcommand(
      "create", "Create a token for service account NAME in namespace NS and print a kubeconfig using it");
  berth::cli::AddKubeconfigFlag(sa_create, &sa_flags->kubeconfig);
  sa_create->add_option("NAME", sa_flags->name, "The service account (a DNS-1123 label)")->required();
  sa_create->add_option("-n,--namespace", sa_flags->ns, "Its namespace")->required();
  sa_create->add_option("--expires", sa_flags->expires, "How long the token works (e.g. 24h, 7d); default: until revoked");
  sa_create->callback([sa_flags] { Run(CreateIdentity(*sa_flags, true)); });
});

}  // namespace
