// Who a client certificate signed by the hub's CA authenticates, as Kubernetes' x509
// authenticator reads it: the subject's CommonName is the user, each Organization (in
// certificate order) a group, plus "system:authenticated". A certificate without a
// CommonName authenticates nobody. Verifying the chain against the CA is the TLS layer's job
// (hub/tls_listener.h); these functions only read an already verified certificate. Pure.
//
// Note: as in Kubernetes, O=system:masters makes the holder a superuser; the hub's CA must
// only sign such certificates on purpose.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/status.h"
#include "hub/rbac/user_info.h"

namespace berth::rbac {

struct CertificateSubject {
  std::string common_name;
  std::vector<std::string> organizations;
};

// Unauthenticated if the CommonName is empty.
StatusOr<UserInfo> UserFromCertificateSubject(const CertificateSubject& subject);

// The subject of a PEM certificate (the first one in `pem`); BadRequest if it does not parse.
StatusOr<CertificateSubject> SubjectOfCertificatePem(std::string_view pem);

}  // namespace berth::rbac
