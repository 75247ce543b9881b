// How a client reaches and authenticates to a Kubernetes-style API server (Berth's hub or
// a real cluster): the ClientConfig consumed by RestClient, loaded from a kubeconfig file
// or from the in-cluster service-account mount, and the inverse, rendering a kubeconfig.
//
// This header has no cpprestsdk or OpenSSL dependency; library berth_kubeconfig (yaml-cpp).
// All functions are pure or do only the file reads they name, and are thread-compatible.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/base64.h"
#include "api/status.h"

namespace berth {

struct ClientConfig {
  // Base URL, e.g. "https://127.0.0.1:6443". May carry a path prefix (API proxies).
  std::string server;
  // More base URLs of the same service (hub replicas). When the one in use cannot be
  // reached, a request moves on to the next, in order, and later requests stay there. Reads
  // and watches move on any transport failure; writes only when no connection was made
  // (refused, unreachable), so a write is never sent twice. Same CA and credentials.
  std::vector<std::string> fallback_servers;
  // Called (on the failing request's thread) when requests move from one server to the
  // next, e.g. to log it. May be empty.
  std::function<void(const std::string& from, const std::string& to)> on_server_switch;
  // PEM bundle the server certificate must chain to. When set it is the ONLY trust anchor
  // (the system store is not consulted). When empty the system default store is used.
  std::string ca_pem;
  // Bearer credential. If bearer_token_file is set, the file is re-read on every request
  // (service-account tokens rotate) and bearer_token is only the fallback if the read fails.
  std::string bearer_token;
  std::string bearer_token_file;
  // Client certificate (chain) and private key for mutual TLS, both PEM; both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Skips server certificate verification entirely. For throwaway dev clusters only.
  bool insecure_skip_tls_verify = false;
  // Per-request budget for unary calls. cpprestsdk applies it as an inactivity timeout.
  std::chrono::milliseconds timeout{30000};
  // A watch whose stream stays silent this long fails with Unavailable (the caller re-watches).
  std::chrono::milliseconds watch_idle_timeout{std::chrono::minutes(10)};
  std::string user_agent = "berth/0.1";
  // Namespace of the selected context (kubeconfig) or of the pod (in-cluster); may be empty.
  std::string default_namespace;
};

// Parses a kubeconfig document and resolves the selected context (`context`, or
// current-context when empty) into a ClientConfig. Relative file references
// (certificate-authority, client-certificate, client-key, tokenFile) resolve against
// `base_dir`, as kubectl resolves them against the kubeconfig's directory. Files referenced
// are read here. Errors are Invalid (or NotFound for a missing file) and name the field,
// e.g. "users[admin].user.client-key-data: not valid base64".
StatusOr<ClientConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                       const std::string& context = "");

// Reads `path` and calls ParseKubeconfig with its directory as base_dir.
StatusOr<ClientConfig> LoadKubeconfigFile(const std::string& path, const std::string& context = "");

// In-cluster configuration, as client-go's rest.InClusterConfig: server from
// KUBERNETES_SERVICE_HOST/PORT, token file, CA and namespace from the service-account mount.
struct InClusterOptions {
  // Prefix for /var/run/secrets/kubernetes.io/serviceaccount (tests point it at a temp dir).
  std::string root_dir;
  // Environment to consult instead of the process environment (tests); nullopt = getenv.
  std::optional<std::map<std::string, std::string>> env;
};
// FailedPrecondition when not running in a pod (env unset); NotFound naming the file when
// the token or CA is missing.
StatusOr<ClientConfig> LoadInClusterConfig(const InClusterOptions& options = {});

// Renders a single-cluster, single-user kubeconfig (k3s style): the CA embedded as
// certificate-authority-data, one context named after the cluster and selected as
// current-context, the user authenticating with `token`.
std::string RenderKubeconfig(const std::string& cluster_name, const std::string& server_url,
                             const std::string& ca_pem, const std::string& user_name,
                             const std::string& token);
// The same, the user authenticating with a client certificate and key (both PEM), embedded
// as client-certificate-data and client-key-data.
std::string RenderClientCertKubeconfig(const std::string& cluster_name, const std::string& server_url,
                                       const std::string& ca_pem, const std::string& user_name,
                                       const std::string& cert_pem, const std::string& key_pem);

}  // namespace berth
