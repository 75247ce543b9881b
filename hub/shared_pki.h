// The PKI hub replicas share through etcd (issue #22): one CA and one admin token, so any
// replica answers any agent, kubectl or berthctl. Each replica keeps its own serving
// certificate (its own SANs), issued from the shared CA by EnsureHubPki.
//
// The shared record is one etcd key outside the object prefix (`<prefix>.hub/pki`) holding
// {ca.crt, ca.key, admin token}, sealed with the hub's encryption key (every replica needs
// the same key file, as for Secrets). It never appears in the API.
//
// EnsureSharedHubPki, at start:
//   1. If the record exists, writes its CA and admin token into <data_dir> (a different
//      local CA is replaced, and said so; the serving certificate is re-issued from the
//      shared CA). A record sealed with an older key of the key file is sealed again with
//      its first key, so the old key can be dropped after a rotation.
//      Exception: a replica that has run before (pki/ca.crt exists) without admin.kubeconfig
//      was asked to rotate the admin token (docs/OPERATIONS.md): it keeps the shared CA but
//      not the shared token, EnsureHubPki mints a new one, and the record gets it
//      (compare-and-swap). Other replicas take it at their next start.
//   2. Runs EnsureHubPki.
//   3. If there was no record, publishes this replica's CA and admin token with a
//      create-if-absent transaction. If another replica published first, adopts its record
//      (step 1) and runs EnsureHubPki again.
#pragma once

#include <memory>
#include <string>

#include "api/status.h"
#include "hub/etcd_client.h"
#include "hub/pki.h"
#include "hub/secret_encryption.h"

namespace berth::hub {

StatusOr<HubPki> EnsureSharedHubPki(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher,
                                    const HubPkiOptions& options);

}  // namespace berth::hub
