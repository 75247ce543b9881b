// The hub's PKI bootstrap (k3s style): on first start it mints a private CA, a serving
// certificate for the API server and an admin bearer token, and writes an admin kubeconfig;
// on later starts it reuses them. Library berth_pki (OpenSSL 3; no Boost/cpprestsdk here).
//
// Layout under <data_dir> (directories 0700, secrets 0600, every write atomic:
// temp file + fsync + rename + fsync of the directory):
//   pki/ca.crt  pki/ca.key            CA, ECDSA P-256, valid 10 years, never replaced
//   pki/server.crt  pki/server.key    serving cert, ECDSA P-256, valid 1 year
//   pki/admin.token.sha256            hex SHA-256 of the admin token (the token itself is
//                                     only in the kubeconfig)
//   admin.kubeconfig                  CA embedded, server URL, admin token
//
// Key type: ECDSA P-256. Key generation is ~1000x faster than RSA (tests mint many), the
// handshake is cheaper on 2 cores, certificates are small, and every client in play
// (OpenSSL/cpprestsdk, Go's crypto/tls in kubectl) supports it; k3s uses it too.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"

namespace berth {

struct HubPkiOptions {
  std::string data_dir;
  // Extra subject alternative names for the serving cert, besides 127.0.0.1, ::1 and
  // localhost. Each is an IPv4/IPv6 literal (brackets allowed) or a DNS name
  // (wildcard "*.example.com" allowed). Order and case do not matter.
  std::vector<std::string> extra_sans;
  // Written into admin.kubeconfig, e.g. "https://127.0.0.1:6443". If an existing kubeconfig
  // names another URL it is rewritten with the same token.
  std::string admin_server_url;
  std::string cluster_name = "berth";
  // "Now" for validity periods and the renewal decision. Unset = the system clock; the hub
  // passes its Clock's time, tests pass fixed instants.
  std::optional<std::chrono::system_clock::time_point> now;
  // Re-issue the serving cert when it expires within this window.
  std::chrono::hours renew_before{24 * 90};
};

struct HubPki {
  std::string pki_dir;
  std::string ca_cert_path, ca_key_path;
  std::string server_cert_path, server_key_path;
  std::string admin_token_hash_path;
  std::string admin_kubeconfig_path;
  std::string ca_pem;                    // CA certificate (what clients must trust).
  std::string server_cert_pem;           // Serving cert (leaf only; the CA is not a chain element).
  std::string server_key_pem;            // PKCS#8 PEM.
  std::string admin_token_sha256;        // Lower-case hex; compare with TokenMatchesHash.
  std::vector<std::string> server_sans;  // Normalised: "DNS:localhost", "IP:127.0.0.1", ...
  std::chrono::system_clock::time_point server_not_after;
  std::chrono::system_clock::time_point ca_not_after;
  bool created_ca = false;          // This call minted the CA (first start).
  bool issued_server_cert = false;  // This call (re-)issued the serving cert.
  bool issued_admin_token = false;  // This call minted a new admin token.
};

// Creates or reuses the hub PKI as described above. Re-issues the serving certificate
// (keeping the CA) when its SAN set differs from the configured one, when it expires within
// options.renew_before, or when it no longer verifies against the CA or its key. If
// admin.kubeconfig was deleted, a new admin token is minted (this is how to rotate it).
// Errors: Invalid for a bad SAN (names it); FailedPrecondition for a CA half missing or a
// CA key that does not match ca.crt (says how to recover); Internal for I/O failures
// (names the file and the errno text).
StatusOr<HubPki> EnsureHubPki(const HubPkiOptions& options);

// True when a certificate with these SANs (HubPki::server_sans form: "DNS:name", "IP:addr")
// verifies as `host`: an IP literal (brackets allowed) equal to an IP SAN, or a DNS name
// equal to a DNS SAN or matched by a wildcard SAN ("*.example.com" covers one label).
bool SansCoverHost(const std::vector<std::string>& sans, const std::string& host);

// `bytes` from the OS CSPRNG (RAND_bytes), encoded base64url without padding.
std::string RandomToken(size_t bytes = 32);
// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);
// Compares in time that depends only on the lengths, not on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// True when Sha256Hex(token) equals `sha256_hex` (constant time). How the hub verifies
// bearer tokens without storing them.
bool TokenMatchesHash(std::string_view token, std::string_view sha256_hex);

// Atomically writes a single-context kubeconfig (see api/kubeconfig.h RenderKubeconfig)
// with mode 0600. Usable for member/agent kubeconfigs too.
Status WriteKubeconfig(const std::string& path, const std::string& cluster_name,
                       const std::string& server_url, const std::string& ca_pem,
                       const std::string& user_name, const std::string& token);

// Atomically replaces `path` with `content` at `mode`: temp file in the same directory,
// fsync, rename, fsync of the directory.
Status WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode);

// Mints a certificate signed by the given CA, for tests and for issuing member client
// certificates later. `sans` as in HubPkiOptions::extra_sans; server_auth/client_auth set
// the extended key usage. Returns {cert_pem, key_pem}.
struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;
};
StatusOr<IssuedCert> IssueCert(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                               const std::string& common_name, const std::vector<std::string>& sans,
                               bool server_auth, bool client_auth,
                               std::chrono::system_clock::time_point now,
                               std::chrono::hours validity);
// A client certificate as Kubernetes' x509 authenticator reads it: CN = `user`, one O per
// group (in order), extended key usage clientAuth only, signed by the CA. Valid from an hour
// before `now` (clock skew) to now + validity. Invalid for an empty user or group, or bad CA
// PEMs.
StatusOr<IssuedCert> IssueClientCert(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                     const std::string& user, const std::vector<std::string>& groups,
                                     std::chrono::system_clock::time_point now,
                                     std::chrono::system_clock::duration validity);
// A fresh self-signed CA (tests use it for "wrong CA" cases).
StatusOr<IssuedCert> CreateCa(const std::string& common_name,
                              std::chrono::system_clock::time_point now,
                              std::chrono::hours validity);

}  // namespace berth
