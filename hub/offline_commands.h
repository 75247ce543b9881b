// berth-hub's offline subcommands: they work on a hub's data directory (or store) on a hub
// machine and exit, without serving. `berth-hub --help` lists them.
#pragma once

namespace CLI {
class App;
}

namespace berth::hub {

// `berth-hub kubeconfig user --data-dir DIR --client-name NAME [--org GROUP]... [--validity D]
// [--server URL] [--out FILE]` (hub/client_cert_kubeconfig.h). Its exit code goes to
// *exit_code when it runs.
void AddKubeconfigUserCommand(CLI::App& app, int* exit_code);

// `berth-hub migrate --from sqlite|etcd --to etcd|sqlite --data-dir DIR --etcd-endpoints URLS
// [--etcd-prefix P] [--etcd-ca/--etcd-cert/--etcd-key F] [--encryption-key-file F]`
// (hub/store_migration.h).
void AddMigrateCommand(CLI::App& app, int* exit_code);

}  // namespace berth::hub
