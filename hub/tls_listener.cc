#include "hub/tls_listener.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/ssl.hpp>
#include <memory>

namespace berth {
namespace {

// Adds every certificate of a PEM bundle to the context's verify store and to the CA names
// sent in the CertificateRequest (clients such as Go's crypto/tls pick a certificate by
// them); returns how many.
int AddCertsToStore(SSL_CTX* ctx, const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    SSL_CTX_add_client_CA(ctx, cert);
    X509_free(cert);
  }
  ERR_clear_error();  // The loop ends on a "no start line" error by design.
  return added;
}

}  // namespace

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status ConfigureServerTls(boost::asio::ssl::context& ctx, const std::string& cert_pem,
                          const std::string& key_pem, const std::string& client_ca_pem) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use,
                  ec);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // Idle connections give their record buffers back (~34 KiB each): thousands of kept-alive
  // agents and watchers should not pin buffers they are not using.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // With client certificates verified, OpenSSL refuses to resume a session (it fails the
  // handshake) unless the context names one: the sessions it issues belong to this hub.
  static constexpr unsigned char kSessionContext[] = "berth-hub";
  SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext, sizeof kSessionContext - 1);
  // TLS 1.2 offers only forward-secret AEAD suites (no CBC, no SHA-1 MACs); TLS 1.3's are
  // all AEAD already.
  if (SSL_CTX_set_cipher_list(ctx.native_handle(), kTls12Ciphers) != 1) {
    return Status::Internal("tls: OpenSSL accepts none of the TLS 1.2 cipher suites");
  }
  ctx.use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec) return Status::Invalid("tls: serving certificate is not valid PEM: " + ec.message());
  ctx.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return Status::Invalid("tls: serving key is not valid PEM: " + ec.message());
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Status::Invalid("tls: serving key does not match the serving certificate");
  }
  if (!client_ca_pem.empty()) {
    if (AddCertsToStore(ctx.native_handle(), client_ca_pem) == 0) {
      return Status::Invalid("tls: client CA bundle holds no PEM certificate");
    }
    ctx.set_verify_mode(ssl::verify_peer, ec);
  }
  return Status::Ok();
}

StatusOr<SslContextCallback> MakeServerSslContextCallback(std::string cert_pem, std::string key_pem,
                                                          std::string client_ca_pem) {
  try {
    boost::asio::ssl::context scratch(boost::asio::ssl::context::tls_server);
    BERTH_RETURN_IF_ERROR(ConfigureServerTls(scratch, cert_pem, key_pem, client_ca_pem));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("tls: cannot create an SSL context: ") + e.what());
  }
  auto shared = std::make_shared<const std::array<std::string, 3>>(std::array<std::string, 3>{
      std::move(cert_pem), std::move(key_pem), std::move(client_ca_pem)});
  return SslContextCallback([shared](boost::asio::ssl::context& ctx) {
    // Already validated above; a failure here could only be resource exhaustion, and the
    // handshake then fails for that one connection rather than crashing the listener.
    (void)ConfigureServerTls(ctx, (*shared)[0], (*shared)[1], (*shared)[2]);
  });
}

}  // namespace berth
