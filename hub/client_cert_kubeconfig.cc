#include "hub/client_cert_kubeconfig.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api/kubeconfig.h"
#include "hub/pki.h"
#include "hub/rbac/user_info.h"

namespace berth::hub {

namespace {

StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string hint = err == EACCES ? " (run this as the hub's user)" : " (is --data-dir the hub's?)";
    if (err == ENOENT) return Status::NotFound(path + ": no such file" + hint);
    return Status::Internal(path + ": " + std::strerror(err) + hint);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status CheckSubject(const ClientCertKubeconfigRequest& r) {
  if (r.user.empty()) return Status::Invalid("--client-name: the user name (CN) must not be empty");
  if (r.user.rfind("system:member:", 0) == 0) {
    return Status::Invalid("--client-name " + r.user +
                           ": member agents authenticate with their join credential, not a client certificate");
  }
  for (const auto& g : r.groups) {
    if (g.empty()) return Status::Invalid("--org: a group (O) must not be empty");
    if (g == rbac::kGroupMembers) {
      return Status::Invalid(std::string("--org ") + g + ": that group is for member agents only");
    }
  }
  if (r.validity <= std::chrono::seconds::zero()) return Status::Invalid("--validity must be positive");
  return Status::Ok();
}

}  // namespace

StatusOr<ClientCertKubeconfig> MakeClientCertKubeconfig(const ClientCertKubeconfigRequest& r) {
  BERTH_RETURN_IF_ERROR(CheckSubject(r));
  auto ca_cert = ReadWhole(r.data_dir + "/pki/ca.crt");
  if (!ca_cert.ok()) return ca_cert.status();
  auto ca_key = ReadWhole(r.data_dir + "/pki/ca.key");
  if (!ca_key.ok()) return ca_key.status();
  std::string server = r.server_url;
  if (server.empty()) {
    auto admin = LoadKubeconfigFile(r.data_dir + "/admin.kubeconfig");
    if (!admin.ok()) return admin.status().WithContext("the server URL (or pass --server)");
    server = admin->server;
  }
  auto issued = IssueClientCert(*ca_cert, *ca_key, r.user, r.groups, r.now, r.validity);
  if (!issued.ok()) return issued.status();
  return ClientCertKubeconfig{
      RenderClientCertKubeconfig("berth", server, *ca_cert, r.user, issued->cert_pem, issued->key_pem),
      r.now + r.validity};
}

}  // namespace berth::hub
