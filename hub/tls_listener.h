// TLS for the hub's cpprestsdk HTTPS listener, built from the PKI's PEMs
// (hub/pki.h HubPki::server_cert_pem / server_key_pem). Library berth_hub_tls.
//
// Usage in the API server:
//   auto tls = MakeServerSslContextCallback(pki.server_cert_pem, pki.server_key_pem);
//   if (!tls.ok()) return tls.status();      // bad PEMs are caught at startup, not per connection
//   web::http::experimental::listener::http_listener_config cfg;
//   cfg.set_ssl_context_callback(*tls);
//   http_listener listener("https://127.0.0.1:6443", cfg);
//
// Only a forward declaration of boost::asio::ssl::context is needed here, so this header
// stays cheap; the .cc includes Boost.Asio.
#pragma once

#include <functional>
#include <string>

#include "api/status.h"

namespace boost::asio::ssl {
class context;
}

namespace berth {

using SslContextCallback = std::function<void(boost::asio::ssl::context&)>;

// Loads the serving chain and key into `ctx`, allows TLS 1.2+ only. When client_ca_pem is
// set, client certificates are requested and, if presented, must chain to it (clients
// without one still connect and authenticate with a bearer token). Invalid for bad PEMs
// or a key that does not match the certificate.
Status ConfigureServerTls(boost::asio::ssl::context& ctx, const std::string& cert_pem,
                          const std::string& key_pem, const std::string& client_ca_pem = "");

// Checks the PEMs once (on a scratch context) and returns a callback for
// http_listener_config::set_ssl_context_callback that applies ConfigureServerTls to each
// connection's context. The callback never throws; it is safe on any thread.
StatusOr<SslContextCallback> MakeServerSslContextCallback(std::string cert_pem, std::string key_pem,
                                                          std::string client_ca_pem = "");

}  // namespace berth
