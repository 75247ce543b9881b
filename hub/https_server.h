// The hub's HTTPS listener, on Boost.Beast: it decides how long a connection may take and
// how many bytes it may cost before the application sees a request. cpprestsdk's listener
// could enforce none of this (docs/API.md "Connection limits", docs/PERFORMANCE.md).
//
// Life of a connection:
//   accept (over max_connections: closed at once)
//   -> TLS handshake within handshake_timeout
//   -> request header within header_timeout of its first byte (idle_timeout before that
//      byte on a kept-alive connection); more than max_header_bytes or max_header_fields: 431
//   -> HeaderHandler decides on the header alone (authentication goes here): refuse (the
//      body is never read, the connection closes after the reply) or name a body limit
//   -> body within body_timeout, no more than the limit (413 from Content-Length, or while
//      a chunked body streams in)
//   -> the verdict's handler runs with the whole request; it replies on any thread
//   -> the reply (or each watch chunk) must be taken by the client within write_timeout.
// Streaming replies (watches) queue at most max_stream_backlog_bytes each and
// max_total_stream_backlog_bytes together; the stream over the line is cut.
//
// Handlers run on the server's I/O threads and must not block.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/status.h"

namespace prometheus {
class Registry;
}

namespace berth::hub {

// Defaults follow kube-apiserver and Go's net/http where they have one.
struct HttpsLimits {
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds header_timeout{30'000};  // first byte to last header byte
  std::chrono::milliseconds body_timeout{60'000};    // end of header to end of body
  std::chrono::milliseconds idle_timeout{90'000};    // between requests on one connection
  std::chrono::milliseconds write_timeout{60'000};   // one reply, or one watch chunk
  size_t max_header_bytes = 64 << 10;                // request line and header fields
  size_t max_header_fields = 128;
  size_t max_body_bytes = 3 << 20;                   // when the verdict names none
  size_t max_connections = 5'000;                  // ~70 KiB each when open (TLS buffers)
  size_t max_inflight_body_bytes = 128 << 20;        // all bodies being read or handled: 503 beyond
  size_t max_stream_backlog_bytes = 16 << 20;        // one stream's unsent bytes
  size_t max_total_stream_backlog_bytes = 256 << 20; // every stream's together
};

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: the kernel picks one (see HttpsServer::port)
  std::string cert_pem;
  std::string key_pem;
  // When set, clients may present a certificate; it must chain to this CA (else the
  // handshake fails), and HttpRequest::client_cert_pem carries it. Clients without one
  // still connect.
  std::string client_ca_pem;
  int io_threads = 0;  // 0: one per core, at least 2
  HttpsLimits limits;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // as sent: "GET"
  std::string target;  // "/apis/berth.dev/v1alpha1/workspaces?watch=true"
  std::string path;    // target up to '?', still percent-encoded
  std::string query;   // after '?', still percent-encoded
  HttpHeaders headers;
  std::string body;
  std::string peer;    // "127.0.0.1:53412"
  std::string client_cert_pem;  // the connection's verified client certificate, or ""

  // The first value of a header (names compare case-insensitively); "" when absent.
  std::string Header(std::string_view name) const;
};

struct HttpReply {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
  HttpHeaders headers;
};

// One request's reply handle; every method is safe on any thread. The first Reply or
// StartStream wins; later calls are ignored.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;
  virtual void Reply(HttpReply reply) = 0;
  // A chunked reply of unknown length. Write may be called before StartStream (the chunks
  // wait for the header); it returns false once the stream is cut (client gone, a backlog
  // limit, server stopping), after which nothing more is sent.
  virtual void StartStream(int code, std::string content_type, HttpHeaders headers) = 0;
  virtual bool Write(std::string chunk) = 0;
  virtual void EndStream() = 0;
  // True once the exchange can send nothing more (reply sent, stream ended or cut).
  virtual bool closed() const = 0;
};

// The application's decision on a request header, before any body byte is read.
struct HeaderVerdict {
  std::optional<HttpReply> refuse;  // sent at once; a pending body is never read
  size_t body_limit = 0;            // 0: HttpsLimits::max_body_bytes
  std::function<void(std::shared_ptr<HttpExchange>)> handle;  // with the whole body
};
using HeaderHandler = std::function<HeaderVerdict(const HttpRequest&)>;

class HttpsServer {
 public:
  // `metrics` (optional) receives the berth_http_* families.
  HttpsServer(HttpsServerOptions options, HeaderHandler on_header,
              prometheus::Registry* metrics = nullptr);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and starts the I/O threads. Unavailable if the address cannot be bound; Invalid
  // for a bad certificate or key.
  Status Start();
  // Stops accepting, closes every connection (streams are cut), joins the I/O threads.
  // Exchanges still held elsewhere become inert.
  void Stop();

  int port() const;
  size_t open_connections() const;

  struct Core;

 private:
  HttpsServerOptions options_;
  std::shared_ptr<Core> core_;
};

}  // namespace berth::hub
