#include "hub/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "api/kubeconfig.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
void FreeGeneralNames(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, FreeGeneralNames>>;

constexpr auto kCaValidity = std::chrono::hours(24 * 3650);
constexpr auto kServerValidity = std::chrono::hours(24 * 365);
// Tolerates clients whose clocks run a little behind the hub's.
constexpr auto kBackdate = std::chrono::hours(1);

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status OpenSslFailure(const std::string& what) {
  return Status::Internal(what + ": " + OpenSslError());
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

StatusOr<PkeyPtr> GenerateKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("generate ECDSA P-256 key");
  return key;
}

std::string KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioToString(bio.get());
}

std::string CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioToString(bio.get());
}

X509Ptr CertFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr KeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Clock::time_point AsnTimeToTimePoint(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return Clock::time_point{};
  return Clock::from_time_t(timegm(&tm));
}

// One SAN in canonical form: IPs as inet_ntop prints them, DNS names lower-cased.
struct San {
  bool is_ip = false;
  std::string ip_bytes;  // 4 or 16 bytes when is_ip.
  std::string text;      // "IP:127.0.0.1" / "DNS:localhost"
  bool operator<(const San& o) const { return text < o.text; }
};

StatusOr<San> ParseSan(std::string raw) {
  if (raw.size() >= 2 && raw.front() == '[' && raw.back() == ']')
    raw = raw.substr(1, raw.size() - 2);
  San san;
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, raw.c_str(), buf) == 1) {
      san.is_ip = true;
      san.ip_bytes.assign(reinterpret_cast<char*>(buf), family == AF_INET ? 4 : 16);
      inet_ntop(family, buf, text, sizeof text);
      san.text = std::string("IP:") + text;
      return san;
    }
  }
  std::string lower;
  for (char c : raw) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool valid = !lower.empty() && lower.size() <= 253 && lower.front() != '.' && lower.back() != '.';
  for (size_t i = 0; valid && i < lower.size(); ++i) {
    const char c = lower[i];
    valid = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
            (c == '*' && i == 0 && lower.size() > 2 && lower[1] == '.');
  }
  if (!valid) {
    return Status::Invalid(
        "tls SAN \"" + raw + "\" is neither an IP address nor a DNS name",
        {{"extra_sans", "\"" + raw + "\": use an IPv4/IPv6 literal or a DNS name"}});
  }
  san.text = "DNS:" + lower;
  return san;
}

StatusOr<std::vector<San>> CanonicalSans(const std::vector<std::string>& raw) {
  std::set<San> set;
  for (const std::string& s : raw) {
    auto san = ParseSan(s);
    if (!san.ok()) return san.status();
    set.insert(*san);
  }
  return std::vector<San>(set.begin(), set.end());
}

std::vector<std::string> SansOfCert(X509* cert) {
  std::vector<std::string> out;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
      auto san = ParseSan(v);
      out.push_back(san.ok() ? san->text : "DNS:" + v);
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "?";
      const int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof text);
      }
      out.push_back(std::string("IP:") + text);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return OpenSslFailure(std::string("build extension ") + OBJ_nid2sn(nid));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : OpenSslFailure("add extension");
}

Status AddSans(X509* cert, const std::vector<San>& sans) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const San& san : sans) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (san.is_ip) {
      ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(ip, reinterpret_cast<const unsigned char*>(san.ip_bytes.data()),
                            static_cast<int>(san.ip_bytes.size()));
      GENERAL_NAME_set0_value(name, GEN_IPADD, ip);
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      const std::string host = san.text.substr(4);
      ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size()));
      GENERAL_NAME_set0_value(name, GEN_DNS, dns);
    }
    sk_GENERAL_NAME_push(names.get(), name);
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("add subjectAltName");
  }
  return Status::Ok();
}

Status SetCommon(X509* cert, EVP_PKEY* key, const std::string& cn, Clock::time_point now,
                 Clock::duration validity, const std::vector<std::string>& organizations = {}) {
  X509_set_version(cert, 2);  // v3
  // 127 random bits, positive, as RFC 5280 asks for unpredictable serials.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpenSslFailure("random serial");
  serial[0] &= 0x7F;
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
  ASN1_TIME_set(X509_getm_notBefore(cert), Clock::to_time_t(now - kBackdate));
  ASN1_TIME_set(X509_getm_notAfter(cert), Clock::to_time_t(now + validity));
  X509_NAME* name = X509_get_subject_name(cert);
  // O before CN, as kubeadm writes client certificates; Kubernetes reads each O as a group.
  for (const auto& o : organizations) {
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.c_str()),
                                   -1, -1, 0) != 1) {
      return OpenSslFailure("subject O=" + o);
    }
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_pubkey(cert, key);
  return Status::Ok();
}

struct KeyPair {
  X509Ptr cert;
  PkeyPtr key;
};

StatusOr<KeyPair> MakeCa(const std::string& cn, Clock::time_point now,
                         std::chrono::hours validity) {
  auto key = GenerateKey();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  BERTH_RETURN_IF_ERROR(SetCommon(cert.get(), key->get(), cn, now, validity));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  BERTH_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_key_usage,
                                     "critical,digitalSignature,keyCertSign,cRLSign"));
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) == 0) return OpenSslFailure("sign CA");
  return KeyPair{std::move(cert), std::move(key).value()};
}

StatusOr<KeyPair> MakeLeaf(X509* ca, EVP_PKEY* ca_key, const std::string& cn,
                           const std::vector<San>& sans, bool server_auth, bool client_auth,
                           Clock::time_point now, Clock::duration validity,
                           const std::vector<std::string>& organizations = {}) {
  auto key = GenerateKey();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  BERTH_RETURN_IF_ERROR(SetCommon(cert.get(), key->get(), cn, now, validity, organizations));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE"));
  // ECDSA keys sign; keyEncipherment only applies to RSA key transport.
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), ca, NID_key_usage, "critical,digitalSignature"));
  std::string eku;
  if (server_auth) eku = "serverAuth";
  if (client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  if (!eku.empty())
    BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), ca, NID_ext_key_usage, eku.c_str()));
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), ca, NID_subject_key_identifier, "hash"));
  BERTH_RETURN_IF_ERROR(AddExtension(cert.get(), ca, NID_authority_key_identifier, "keyid:always"));
  if (!sans.empty()) BERTH_RETURN_IF_ERROR(AddSans(cert.get(), sans));
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) == 0) return OpenSslFailure("sign certificate");
  return KeyPair{std::move(cert), std::move(key).value()};
}

std::string ErrnoText(int err) { return std::strerror(err); }

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("read " + path + ": " + ErrnoText(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status EnsureDir(const std::string& dir, bool force_private) {
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    return Status::Internal("create directory " + dir + ": " + ec.message() +
                            "; check the --data-dir path and its permissions");
  }
  if ((force_private || !existed) && ::chmod(dir.c_str(), 0700) != 0) {
    return Status::Internal("chmod 0700 " + dir + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

// A key file that became group/world readable is tightened back; the hub owns it.
Status TightenMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0 &&
      ::chmod(path.c_str(), 0600) != 0) {
    return Status::Internal("chmod 0600 " + path + ": " + ErrnoText(errno) +
                            "; fix the file's ownership so the hub can protect it");
  }
  return Status::Ok();
}

std::string ToBase64Url(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

}  // namespace

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  // RAND_bytes failing means the CSPRNG is unusable: minting a weak credential instead
  // would be worse than stopping.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    std::abort();
  }
  return ToBase64Url(raw);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool TokenMatchesHash(std::string_view token, std::string_view sha256_hex) {
  return !token.empty() && ConstantTimeEquals(Sha256Hex(token), sha256_hex);
}

Status WriteFileAtomic(const std::string& path, std::string_view content, unsigned mode) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  auto fail = [&](const std::string& step) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::Internal(step + " " + path + ": " + ErrnoText(err) +
                            "; check free space and that the directory is writable");
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail("create");
  // open() honours the umask; the mode must be exact for secrets and readable certs alike.
  if (::fchmod(fd, mode) != 0) {
    ::close(fd);
    return fail("chmod");
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  if (::close(fd) != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  // The rename is only durable once the directory entry is.
  const std::string dir = fs::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status WriteKubeconfig(const std::string& path, const std::string& cluster_name,
                       const std::string& server_url, const std::string& ca_pem,
                       const std::string& user_name, const std::string& token) {
  return WriteFileAtomic(path, RenderKubeconfig(cluster_name, server_url, ca_pem, user_name, token),
                         0600);
}

StatusOr<IssuedCert> CreateCa(const std::string& common_name, Clock::time_point now,
                              std::chrono::hours validity) {
  auto ca = MakeCa(common_name, now, validity);
  if (!ca.ok()) return ca.status();
  return IssuedCert{CertToPem(ca->cert.get()), KeyToPem(ca->key.get())};
}

StatusOr<IssuedCert> IssueCert(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                               const std::string& common_name, const std::vector<std::string>& sans,
                               bool server_auth, bool client_auth, Clock::time_point now,
                               std::chrono::hours validity) {
  X509Ptr ca = CertFromPem(ca_cert_pem);
  PkeyPtr ca_key = KeyFromPem(ca_key_pem);
  if (!ca || !ca_key)
    return Status::Invalid("issue certificate: CA certificate or key is not valid PEM");
  auto canonical = CanonicalSans(sans);
  if (!canonical.ok()) return canonical.status();
  auto leaf = MakeLeaf(ca.get(), ca_key.get(), common_name, *canonical, server_auth, client_auth,
                       now, validity);
  if (!leaf.ok()) return leaf.status();
  return IssuedCert{CertToPem(leaf->cert.get()), KeyToPem(leaf->key.get())};
}

StatusOr<IssuedCert> IssueClientCert(const std::string& ca_cert_pem, const std::string& ca_key_pem,
                                     const std::string& user, const std::vector<std::string>& groups,
                                     Clock::time_point now, Clock::duration validity) {
  if (user.empty()) return Status::Invalid("client certificate: the user name (CN) is empty");
  for (const auto& g : groups) {
    if (g.empty()) return Status::Invalid("client certificate: a group (O) is empty");
  }
  X509Ptr ca = CertFromPem(ca_cert_pem);
  PkeyPtr ca_key = KeyFromPem(ca_key_pem);
  if (!ca || !ca_key)
    return Status::Invalid("issue certificate: CA certificate or key is not valid PEM");
  auto leaf = MakeLeaf(ca.get(), ca_key.get(), user, {}, /*server_auth=*/false, /*client_auth=*/true, now,
                       validity, groups);
  if (!leaf.ok()) return leaf.status();
  return IssuedCert{CertToPem(leaf->cert.get()), KeyToPem(leaf->key.get())};
}

bool SansCoverHost(const std::vector<std::string>& sans, const std::string& host) {
  auto want = ParseSan(host);
  if (!want.ok()) return false;
  const std::string name = want->text.substr(4);  // after "DNS:"
  for (const std::string& san : sans) {
    if (san == want->text) return true;
    // A wildcard covers exactly one leftmost label, never an IP (RFC 6125 6.4.3).
    if (!want->is_ip && san.rfind("DNS:*.", 0) == 0) {
      const std::string suffix = san.substr(5);  // ".example.com"
      const size_t dot = name.find('.');
      if (dot != std::string::npos && dot > 0 && name.substr(dot) == suffix) return true;
    }
  }
  return false;
}

namespace {

// The CA: created once, never replaced behind the operator's back.
Status EnsureCa(HubPki& pki, Clock::time_point now, X509Ptr& ca, PkeyPtr& ca_key) {
  const bool have_ca_cert = fs::exists(pki.ca_cert_path);
  const bool have_ca_key = fs::exists(pki.ca_key_path);
  const bool have_server_cert = fs::exists(pki.server_cert_path);
  // ca.crt is written last, so a key alone with no serving cert is an interrupted first start.
  if (have_ca_cert != have_ca_key && !(have_ca_key && !have_server_cert)) {
    const std::string& missing = have_ca_cert ? pki.ca_key_path : pki.ca_cert_path;
    return Status::FailedPrecondition(
        missing + " is missing while its partner exists: restore it from backup, or remove " +
        pki.pki_dir +
        " to create a new CA (admin.kubeconfig and every member must then be "
        "re-issued)");
  }
  if (have_ca_cert && have_ca_key) {
    auto cert_pem = ReadFile(pki.ca_cert_path);
    if (!cert_pem.ok()) return cert_pem.status();
    auto key_pem = ReadFile(pki.ca_key_path);
    if (!key_pem.ok()) return key_pem.status();
    ca = CertFromPem(*cert_pem);
    ca_key = KeyFromPem(*key_pem);
    if (!ca)
      return Status::FailedPrecondition(pki.ca_cert_path +
                                        " is not a PEM certificate: restore it from backup");
    if (!ca_key)
      return Status::FailedPrecondition(pki.ca_key_path +
                                        " is not a PEM private key: restore it from backup");
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
      ERR_clear_error();
      return Status::FailedPrecondition(pki.ca_key_path + " does not match " + pki.ca_cert_path +
                                        ": restore the matching pair from backup");
    }
    BERTH_RETURN_IF_ERROR(TightenMode(pki.ca_key_path));
    pki.ca_pem = *cert_pem;
  } else {
    auto made = MakeCa("berth-ca@" + std::to_string(Clock::to_time_t(now)), now, kCaValidity);
    if (!made.ok()) return made.status();
    ca = std::move(made->cert);
    ca_key = std::move(made->key);
    pki.ca_pem = CertToPem(ca.get());
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(pki.ca_key_path, KeyToPem(ca_key.get()), 0600));
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(pki.ca_cert_path, pki.ca_pem, 0644));
    pki.created_ca = true;
  }
  pki.ca_not_after = AsnTimeToTimePoint(X509_get0_notAfter(ca.get()));

  return Status::Ok();
}

// The serving certificate: reused only while it is still exactly what we would issue.
Status EnsureServingCert(HubPki& pki, const HubPkiOptions& options, const std::vector<San>& wanted, X509* ca,
                         EVP_PKEY* ca_key, Clock::time_point now) {
  const bool have_server_cert = fs::exists(pki.server_cert_path);
  bool reissue = true;
  if (have_server_cert && fs::exists(pki.server_key_path) && !pki.created_ca) {
    auto cert_pem = ReadFile(pki.server_cert_path);
    auto key_pem = ReadFile(pki.server_key_path);
    if (cert_pem.ok() && key_pem.ok()) {
      X509Ptr cert = CertFromPem(*cert_pem);
      PkeyPtr key = KeyFromPem(*key_pem);
      if (cert && key) {
        EVP_PKEY* ca_pub = X509_get0_pubkey(ca);
        const auto not_after = AsnTimeToTimePoint(X509_get0_notAfter(cert.get()));
        const auto not_before = AsnTimeToTimePoint(X509_get0_notBefore(cert.get()));
        reissue = X509_verify(cert.get(), ca_pub) != 1 ||
                  X509_check_private_key(cert.get(), key.get()) != 1 ||
                  SansOfCert(cert.get()) != pki.server_sans || not_before > now ||
                  not_after - now < options.renew_before;
        if (!reissue) {
          BERTH_RETURN_IF_ERROR(TightenMode(pki.server_key_path));
          pki.server_cert_pem = *cert_pem;
          pki.server_key_pem = *key_pem;
          pki.server_not_after = not_after;
        }
      }
    }
    ERR_clear_error();
  }
  if (reissue) {
    auto leaf = MakeLeaf(ca, ca_key, "berth-hub", wanted, /*server_auth=*/true,
                         /*client_auth=*/false, now, kServerValidity);
    if (!leaf.ok()) return leaf.status();
    pki.server_cert_pem = CertToPem(leaf->cert.get());
    pki.server_key_pem = KeyToPem(leaf->key.get());
    pki.server_not_after = AsnTimeToTimePoint(X509_get0_notAfter(leaf->cert.get()));
    // Key first: a crash in between leaves an old cert whose key check fails next start.
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(pki.server_key_path, pki.server_key_pem, 0600));
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(pki.server_cert_path, pki.server_cert_pem, 0644));
    pki.issued_server_cert = true;
  }

  return Status::Ok();
}

// The admin token: the kubeconfig holds it, the hub keeps only its hash.
Status EnsureAdminToken(HubPki& pki, const HubPkiOptions& options) {
  std::string token;
  std::optional<ClientConfig> existing;
  if (fs::exists(pki.admin_kubeconfig_path)) {
    auto parsed = LoadKubeconfigFile(pki.admin_kubeconfig_path);
    if (parsed.ok()) existing = std::move(parsed).value();
  }
  auto stored_hash = ReadFile(pki.admin_token_hash_path);
  std::string hash = stored_hash.ok() ? *stored_hash : "";
  while (!hash.empty() && std::isspace(static_cast<unsigned char>(hash.back()))) hash.pop_back();
  if (existing && TokenMatchesHash(existing->bearer_token, hash)) {
    token = existing->bearer_token;
    BERTH_RETURN_IF_ERROR(TightenMode(pki.admin_token_hash_path));
    BERTH_RETURN_IF_ERROR(TightenMode(pki.admin_kubeconfig_path));
  } else {
    token = RandomToken(32);
    hash = Sha256Hex(token);
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(pki.admin_token_hash_path, hash + "\n", 0600));
    pki.issued_admin_token = true;
    existing.reset();
  }
  pki.admin_token_sha256 = hash;
  const std::string server_url = !options.admin_server_url.empty() ? options.admin_server_url
                                 : existing                        ? existing->server
                                                                   : "https://127.0.0.1:6443";
  if (!existing || existing->server != server_url || existing->ca_pem != pki.ca_pem) {
    BERTH_RETURN_IF_ERROR(WriteKubeconfig(pki.admin_kubeconfig_path, options.cluster_name,
                                          server_url, pki.ca_pem, "admin", token));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<HubPki> EnsureHubPki(const HubPkiOptions& options) {
  if (options.data_dir.empty()) {
    return Status::Invalid("data_dir: required", {{"data_dir", "set --data-dir"}});
  }
  const Clock::time_point now = options.now.value_or(Clock::now());
  std::vector<std::string> wanted_raw = {"127.0.0.1", "::1", "localhost"};
  wanted_raw.insert(wanted_raw.end(), options.extra_sans.begin(), options.extra_sans.end());
  auto wanted = CanonicalSans(wanted_raw);
  if (!wanted.ok()) return wanted.status();

  HubPki pki;
  pki.pki_dir = (fs::path(options.data_dir) / "pki").string();
  pki.ca_cert_path = pki.pki_dir + "/ca.crt";
  pki.ca_key_path = pki.pki_dir + "/ca.key";
  pki.server_cert_path = pki.pki_dir + "/server.crt";
  pki.server_key_path = pki.pki_dir + "/server.key";
  pki.admin_token_hash_path = pki.pki_dir + "/admin.token.sha256";
  pki.admin_kubeconfig_path = (fs::path(options.data_dir) / "admin.kubeconfig").string();
  for (const San& s : *wanted) pki.server_sans.push_back(s.text);

  BERTH_RETURN_IF_ERROR(EnsureDir(options.data_dir, /*force_private=*/false));
  BERTH_RETURN_IF_ERROR(EnsureDir(pki.pki_dir, /*force_private=*/true));

  X509Ptr ca;
  PkeyPtr ca_key;
  BERTH_RETURN_IF_ERROR(EnsureCa(pki, now, ca, ca_key));
  BERTH_RETURN_IF_ERROR(EnsureServingCert(pki, options, *wanted, ca.get(), ca_key.get(), now));
  BERTH_RETURN_IF_ERROR(EnsureAdminToken(pki, options));
  return pki;
}

}  // namespace berth
