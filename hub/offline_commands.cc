#include "hub/offline_commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "api/duration_text.h"
#include "api/clock.h"
#include "hub/client_cert_kubeconfig.h"
#include "hub/store_migration.h"
#include "hub/pki.h"
#include "hub/rbac/user_info.h"

namespace berth::hub {

namespace {

struct KubeconfigUserFlags {
  ClientCertKubeconfigRequest request;
  std::string validity = "30d";
  std::string out;
};

int RunKubeconfigUser(KubeconfigUserFlags& f) {
  auto seconds = ParseDurationSeconds(f.validity);
  if (!seconds.ok()) {
    std::cerr << "berth-hub kubeconfig user: --validity: " << seconds.status().message() << "\n";
    return 2;
  }
  f.request.validity = std::chrono::seconds(*seconds);
  f.request.now = std::chrono::system_clock::now();
  auto made = MakeClientCertKubeconfig(f.request);
  if (!made.ok()) {
    std::cerr << "berth-hub kubeconfig user: " << made.status().message() << "\n";
    return made.status().code() == StatusCode::kInvalid ? 2 : 1;
  }
  if (f.out.empty()) {
    std::cout << made->kubeconfig;
  } else if (Status s = WriteFileAtomic(f.out, made->kubeconfig, 0600); !s.ok()) {
    std::cerr << "berth-hub kubeconfig user: --out: " << s.message() << "\n";
    return 1;
  }
  std::string groups;
  for (const auto& g : f.request.groups) groups += (groups.empty() ? "" : ", ") + g;
  std::cerr << "client certificate for user \"" << f.request.user << "\""
            << (groups.empty() ? "" : " in groups " + groups) << ", valid until "
            << FormatRfc3339(std::chrono::time_point_cast<Clock::Duration>(made->not_after))
            << ". It cannot be revoked before then: keep it short-lived, or use `berthctl user create` "
               "for a revocable token.\n";
  for (const auto& g : f.request.groups) {
    if (g == rbac::kGroupMasters) {
      std::cerr << "warning: O=" << g << " makes this certificate a superuser credential (cluster-admin).\n";
    }
  }
  return 0;
}

struct MigrateFlags {
  std::string from, to;
  HubOptions store;  // data_dir, etcd, etcd_prefix, encryption_key_file
};

int RunMigrate(const MigrateFlags& f) {
  if (f.from == f.to) {
    std::cerr << "berth-hub migrate: --from and --to must differ (sqlite -> etcd, or etcd -> sqlite)\n";
    return 2;
  }
  if (f.store.etcd.endpoints.empty()) {
    std::cerr << "berth-hub migrate: --etcd-endpoints is required\n";
    return 2;
  }
  // Progress lines go to stdout; the stores' own logs to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("migrate"));
  HubOptions from = f.store, to = f.store;
  from.store = f.from;
  to.store = f.to;
  auto lines = MigrateStore(from, to);
  if (!lines.ok()) {
    std::cerr << "berth-hub migrate: " << lines.status().message() << "\n";
    return lines.status().code() == StatusCode::kInvalid || lines.status().code() == StatusCode::kBadRequest ? 2 : 1;
  }
  for (const auto& line : *lines) std::cout << line << "\n";
  std::cout << "done: start the hubs with --store " << f.to
            << (f.to == "etcd" ? " --etcd-endpoints ... --etcd-prefix " + f.store.etcd_prefix : "") << "\n";
  return 0;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<MigrateFlags>();
  flags->store.etcd_prefix = "/berth";
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy the whole store from SQLite into etcd, or back, keeping resourceVersions growing and the watch "
      "history (docs/OPERATIONS.md). Stop every hub first; the target must be empty");
  cmd->add_option("--from", flags->from, "The source store")->required()->check(CLI::IsMember({"sqlite", "etcd"}));
  cmd->add_option("--to", flags->to, "The target store")->required()->check(CLI::IsMember({"sqlite", "etcd"}));
  cmd->add_option("--data-dir", flags->store.data_dir,
                  "The hub data directory whose berth.db is the SQLite side (a new berth.db is written when it is the "
                  "target) and whose encryption.key seals Secrets")
      ->required();
  cmd->add_option("--etcd-endpoints", flags->store.etcd.endpoints, "etcd client URLs (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--etcd-prefix", flags->store.etcd_prefix, "Key prefix of the etcd side")->capture_default_str();
  cmd->add_option("--etcd-ca", flags->store.etcd.ca_file, "CA bundle etcd's certificate must chain to")
      ->check(CLI::ExistingFile);
  cmd->add_option("--etcd-cert", flags->store.etcd.cert_file, "Client certificate for etcd")->check(CLI::ExistingFile);
  cmd->add_option("--etcd-key", flags->store.etcd.key_file, "Its key")->check(CLI::ExistingFile);
  cmd->add_option("--encryption-key-file", flags->store.encryption_key_file,
                  "The hubs' key file (default: <data-dir>/encryption.key); it must exist");
  cmd->callback([flags, exit_code] { *exit_code = RunMigrate(*flags); });
}

void AddKubeconfigUserCommand(CLI::App& app, int* exit_code) {
  auto* group = app.add_subcommand("kubeconfig", "Make kubeconfigs from this hub's data directory (offline)");
  group->require_subcommand(1);
  auto* cmd = group->add_subcommand(
      "user",
      "Print a kubeconfig whose user authenticates with a client certificate signed by the hub's CA "
      "(CN = user, O = groups, as Kubernetes reads them). Run on a hub machine as the hub's user; "
      "bind roles to the user or groups with RBAC (docs/ACCESS.md)");
  auto flags = std::make_shared<KubeconfigUserFlags>();
  cmd->add_option("--data-dir", flags->request.data_dir, "The hub's --data-dir (reads pki/ca.crt, pki/ca.key)")
      ->required();
  cmd->add_option("--client-name", flags->request.user, "The user name: the certificate's CommonName")->required();
  cmd->add_option("--org", flags->request.groups, "A group: one Organization each (repeatable)");
  cmd->add_option("--validity", flags->validity, "How long the certificate is valid (e.g. 12h, 30d)")
      ->capture_default_str();
  cmd->add_option("--server", flags->request.server_url,
                  "The hub URL written into the kubeconfig; default: the one in <data-dir>/admin.kubeconfig");
  cmd->add_option("--out", flags->out, "Write the kubeconfig to this file (mode 0600) instead of stdout");
  cmd->callback([flags, exit_code] { *exit_code = RunKubeconfigUser(*flags); });
}

}  // namespace berth::hub
