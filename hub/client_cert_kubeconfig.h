// `berth-hub kubeconfig user`: a kubeconfig whose user authenticates with a client
// certificate signed by the hub's CA, made offline on a hub machine from its data directory
// (as `kubeadm kubeconfig user` does on a control-plane node). The hub authenticates such a
// certificate as CN = user, O = groups (hub/rbac/client_cert_identity.h); RBAC decides the
// rest. A certificate cannot be revoked before it expires (the hub keeps no list of them):
// give certificates short lives, or use `berthctl user create` tokens, which can be revoked.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "api/status.h"

namespace berth::hub {

struct ClientCertKubeconfigRequest {
  std::string data_dir;             // the hub's --data-dir: pki/ca.crt, pki/ca.key, admin.kubeconfig
  std::string user;                 // CN
  std::vector<std::string> groups;  // O, in order
  std::chrono::seconds validity{30 * 86400};
  std::string server_url;           // "": the one admin.kubeconfig names
  std::chrono::system_clock::time_point now;
};

struct ClientCertKubeconfig {
  std::string kubeconfig;  // YAML, the certificate and key embedded
  std::chrono::system_clock::time_point not_after;
};

// Invalid for an empty user or group, a user named system:member:* or the group berth:members
// (member agents authenticate with their join credential only); NotFound / Internal naming the
// file when the CA cannot be read (run it as the hub's user, on a hub machine).
StatusOr<ClientCertKubeconfig> MakeClientCertKubeconfig(const ClientCertKubeconfigRequest& request);

}  // namespace berth::hub
