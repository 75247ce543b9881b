#include "hub/rbac/client_cert_identity.h"

#include <openssl/bio.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace berth::rbac {

namespace {

std::string EntryText(X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// Every value of attribute `nid`, in certificate order.
std::vector<std::string> Values(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0; i = X509_NAME_get_index_by_NID(name, nid, i)) {
    out.push_back(EntryText(X509_NAME_get_entry(name, i)));
  }
  return out;
}

}  // namespace

StatusOr<UserInfo> UserFromCertificateSubject(const CertificateSubject& subject) {
  if (subject.common_name.empty()) {
    return Status::Unauthenticated("Unauthorized: the client certificate has no CommonName (CN = user name)");
  }
  UserInfo u{subject.common_name, subject.organizations};
  u.groups.push_back(kGroupAuthenticated);
  return u;
}

StatusOr<CertificateSubject> SubjectOfCertificatePem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!cert) return Status::BadRequest("the client certificate is not a PEM X.509 certificate");
  X509_NAME* name = X509_get_subject_name(cert.get());
  CertificateSubject out;
  // Kubernetes takes the CommonName Go's pkix.Name reports: the last CN attribute.
  std::vector<std::string> cns = Values(name, NID_commonName);
  if (!cns.empty()) out.common_name = cns.back();
  out.organizations = Values(name, NID_organizationName);
  return out;
}

}  // namespace berth::rbac
