#include "hub/https_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "hub/tls_listener.h"

namespace berth::hub {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

namespace {

// Why a connection ended (label of berth_http_connections_closed_total).
enum class CloseReason {
  kClientClosed, kHandshakeFailed, kHandshakeTimeout, kIdleTimeout, kHeaderTimeout,
  kBodyTimeout, kWriteTimeout, kHeaderTooLarge, kBodyTooLarge, kBadRequest, kRefused,
  kOverConnectionLimit, kBodyBudget, kStreamBacklog, kServerStopping, kDone, kCount
};
constexpr const char* kCloseReasonNames[] = {
    "client_closed", "handshake_failed", "handshake_timeout", "idle_timeout", "header_timeout",
    "body_timeout", "write_timeout", "header_too_large", "body_too_large", "bad_request", "refused",
    "over_connection_limit", "body_budget", "stream_backlog", "server_stopping", "done"};
static_assert(std::size(kCloseReasonNames) == static_cast<size_t>(CloseReason::kCount));

class Session;

}  // namespace

// Shared by the server, its sessions (by raw pointer: the io_context's handlers own the
// sessions) and the exchanges (by shared_ptr: they may outlive the server).
struct HttpsServer::Core : std::enable_shared_from_this<HttpsServer::Core> {
  HttpsLimits limits;
  HeaderHandler on_header;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::atomic<size_t> inflight_body{0};
  std::atomic<size_t> stream_backlog{0};
  std::atomic<uint64_t> closed_by[static_cast<size_t>(CloseReason::kCount)] = {};
  prometheus::Gauge* open_gauge = nullptr;
  std::vector<prometheus::Counter*> closed_counters;

  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by sessions_mu

  ssl::context tls{ssl::context::tls_server};
  std::vector<std::thread> threads;
  // Last: destroyed first, while everything its pending handlers touch is still alive.
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;

  void Closed(CloseReason why) {
    const auto i = static_cast<size_t>(why);
    closed_by[i].fetch_add(1, std::memory_order_relaxed);
    if (!closed_counters.empty()) closed_counters[i]->Increment();
  }

  // Reserves body memory against the global budget; false when it is spent.
  bool ReserveBody(size_t n) {
    size_t cur = inflight_body.load();
    do {
      if (cur + n > limits.max_inflight_body_bytes) return false;
    } while (!inflight_body.compare_exchange_weak(cur, cur + n));
    return true;
  }
};

namespace {

using Core = HttpsServer::Core;

// The client's certificate in PEM when it sent one and it verified against the client CA;
// "" otherwise. (With a client CA configured, OpenSSL already fails the handshake for a
// certificate that does not verify; the result is checked again here all the same.)
std::string VerifiedClientCertificate(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : "";
}

class Exchange;

constexpr size_t kDrainChunk = 16 << 10;

// One TLS connection: reads requests one after another, writes each reply or stream.
// Every member function runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Core* core, tcp::socket socket)
      : core_(core), stream_(std::move(socket), core->tls) {
    error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true), ec);
  }
  ~Session();

  void Start() {
    {
      std::lock_guard<std::mutex> lock(core_->sessions_mu);
      core_->sessions[this] = weak_from_this();
    }
    beast::get_lowest_layer(stream_).expires_after(core_->limits.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](error_code ec) { self->OnHandshake(ec); });
  }

  // Cuts the connection (server stopping): pending operations complete with errors.
  void Abort();

  auto executor() { return stream_.get_executor(); }

  // Called through the strand by the exchange.
  void SendReply(const std::shared_ptr<Exchange>& ex, HttpReply reply);
  void SendStreamHeader(const std::shared_ptr<Exchange>& ex, int code, std::string content_type,
                        HttpHeaders headers);
  void Pump();

 private:
  void OnHandshake(error_code ec) {
    if (ec) {
      reason_ = ec == beast::error::timeout ? CloseReason::kHandshakeTimeout : CloseReason::kHandshakeFailed;
      return;
    }
    client_cert_pem_ = VerifiedClientCertificate(stream_.native_handle());
    ReadRequest(/*first=*/true);
  }

  void ReadRequest(bool first);
  void ReadHeader();
  void OnHeader(error_code ec);
  void ReadBody();
  void OnBody(error_code ec);
  // Replies and closes without reading whatever body is pending.
  void Refuse(CloseReason why, int code, std::string message, HttpHeaders extra = {});
  void Write(http::response<http::string_body> res, bool close);
  void OnWritten(error_code ec, bool close);
  void LingerClose();
  void DrainSome(size_t budget);
  void OnStreamWritten(error_code ec, size_t n);
  void EndOfExchange(bool keep_alive);
  CloseReason ReadFailure(error_code ec, CloseReason on_timeout);

  Core* core_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_;
  std::string client_cert_pem_;  // verified during the handshake; "" when none was sent
  CloseReason reason_ = CloseReason::kClientClosed;
  net::steady_timer::time_point header_deadline_;
  size_t reserved_body_ = 0;  // of Core::inflight_body, released when the exchange ends
  bool keep_alive_ = false;
  HttpRequest request_;
  std::function<void(std::shared_ptr<HttpExchange>)> handle_;

  std::shared_ptr<Exchange> exchange_;  // the request being answered
  std::optional<http::response<http::string_body>> reply_;
  std::optional<http::response<http::empty_body>> stream_header_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  bool streaming_ = false;   // header written: chunks may follow
  bool writing_ = false;     // a chunk write is in flight
  std::string out_;          // the chunk being written
  std::unique_ptr<char[]> drain_;  // only while lingering
};

// The application's handle on one request. It keeps its session alive until the reply is
// handed over or the stream ends (a request being handled has no I/O pending that would).
class Exchange : public HttpExchange, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Core> core, std::shared_ptr<Session> session, HttpRequest request,
           size_t reserved_body)
      : core_(std::move(core)), request_(std::move(request)), reserved_body_(reserved_body),
        session_(std::move(session)) {}
  ~Exchange() override { ReleaseBody(); }

  const HttpRequest& request() const override { return request_; }

  void Reply(HttpReply reply) override {
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (mode_ != Mode::kNone || closed_) return;
      mode_ = Mode::kReply;
      session = std::move(session_);  // the posted handler holds it from here
    }
    ReleaseBody();
    if (!session) return;
    net::post(session->executor(), [session, self = shared_from_this(), r = std::move(reply)]() mutable {
      session->SendReply(self, std::move(r));
    });
  }

  void StartStream(int code, std::string content_type, HttpHeaders headers) override {
    std::shared_ptr<Session> session;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (mode_ != Mode::kNone || closed_) return;
      mode_ = Mode::kStream;
      session = session_;
    }
    ReleaseBody();
    if (!session) return;
    net::post(session->executor(), [session, self = shared_from_this(), code,
                                    ct = std::move(content_type), h = std::move(headers)]() mutable {
      session->SendStreamHeader(self, code, std::move(ct), std::move(h));
    });
  }

  bool Write(std::string chunk) override {
    if (chunk.empty()) return !closed();
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || mode_ == Mode::kReply) return false;
    const size_t n = chunk.size();
    if (pending_bytes_ + n > core_->limits.max_stream_backlog_bytes) {
      spdlog::warn("stream to {} cut: {} bytes unsent (limit {})", request_.peer, pending_bytes_ + n,
                   core_->limits.max_stream_backlog_bytes);
      return CutLocked(/*backlog=*/true);
    }
    if (core_->stream_backlog.fetch_add(n) + n > core_->limits.max_total_stream_backlog_bytes) {
      core_->stream_backlog.fetch_sub(n);
      spdlog::warn("stream to {} cut: all streams together hold more than {} unsent bytes", request_.peer,
                   core_->limits.max_total_stream_backlog_bytes);
      return CutLocked(/*backlog=*/true);
    }
    pending_bytes_ += n;
    queue_.push_back(std::move(chunk));
    if (!pump_scheduled_ && mode_ == Mode::kStream) SchedulePumpLocked();
    return true;
  }

  void EndStream() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || ending_) return;
    ending_ = true;
    if (!pump_scheduled_ && mode_ == Mode::kStream) SchedulePumpLocked();
  }

  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  // --- for the session, on its strand ---

  // Takes every queued chunk as one; sets *end when the stream should end after it.
  std::string TakeQueued(bool* end) {
    std::lock_guard<std::mutex> lock(mu_);
    pump_scheduled_ = false;
    std::string out;
    if (queue_.size() == 1) {
      out = std::move(queue_.front());
    } else {
      for (auto& c : queue_) out += c;
    }
    queue_.clear();
    *end = ending_ && out.empty();
    return out;
  }
  void Sent(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t m = std::min(n, pending_bytes_);  // a cut already returned the rest
    pending_bytes_ -= m;
    core_->stream_backlog.fetch_sub(m);
  }
  void HeaderSent() {
    std::lock_guard<std::mutex> lock(mu_);
    pump_scheduled_ = true;  // the session pumps right after
  }
  // The reply went out or the stream ended: nothing more can be sent.
  void MarkClosed() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    session_.reset();
  }
  // The stream is cut (client gone, limits, stop): drop what is queued.
  void Cut() {
    std::lock_guard<std::mutex> lock(mu_);
    CutLocked(false);
  }
  bool cut_for_backlog() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cut_for_backlog_;
  }

 private:
  enum class Mode { kNone, kReply, kStream };

  bool CutLocked(bool backlog) {
    if (closed_) return false;
    closed_ = true;
    cut_for_backlog_ = backlog;
    core_->stream_backlog.fetch_sub(pending_bytes_);
    pending_bytes_ = 0;
    queue_.clear();
    // Wake the session so it closes the connection (a cut stream cannot be resumed).
    if (auto s = std::move(session_)) net::post(s->executor(), [s] { s->Pump(); });
    return false;
  }

  void ReleaseBody() {
    size_t n = reserved_body_.exchange(0);
    if (n) core_->inflight_body.fetch_sub(n);
  }

  void SchedulePumpLocked() {
    pump_scheduled_ = true;
    if (session_) net::post(session_->executor(), [s = session_] { s->Pump(); });
  }

  std::shared_ptr<Core> core_;
  HttpRequest request_;
  std::atomic<size_t> reserved_body_;
  mutable std::mutex mu_;
  std::shared_ptr<Session> session_;  // guarded by mu_; released when the exchange ends
  Mode mode_ = Mode::kNone;        // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  bool ending_ = false;            // guarded by mu_
  bool pump_scheduled_ = false;    // guarded by mu_
  bool cut_for_backlog_ = false;   // guarded by mu_
  size_t pending_bytes_ = 0;       // guarded by mu_
  std::deque<std::string> queue_;  // guarded by mu_
};

void Session::Abort() {
  reason_ = CloseReason::kServerStopping;
  if (exchange_) exchange_->Cut();  // releases the exchange's hold on this session
  exchange_.reset();
  beast::get_lowest_layer(stream_).close();
}

Session::~Session() {
  if (exchange_) exchange_->Cut();
  if (reserved_body_) core_->inflight_body.fetch_sub(reserved_body_);
  core_->Closed(reason_);
  {
    std::lock_guard<std::mutex> lock(core_->sessions_mu);
    core_->sessions.erase(this);
  }
  core_->connections.fetch_sub(1);
  if (core_->open_gauge) core_->open_gauge->Decrement();
}

http::response<http::string_body> ToResponse(HttpReply reply) {
  http::response<http::string_body> res{static_cast<http::status>(reply.code), 11};
  res.set(http::field::content_type, reply.content_type);
  for (auto& [k, v] : reply.headers) res.insert(k, v);
  res.body() = std::move(reply.body);
  return res;
}

// A malformed message (answered 400), as opposed to a connection that ended or timed out.
bool IsParseError(error_code ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

CloseReason Session::ReadFailure(error_code ec, CloseReason on_timeout) {
  if (reason_ != CloseReason::kClientClosed) return reason_;  // we closed it, and said why
  if (ec == beast::error::timeout) return on_timeout;
  return CloseReason::kClientClosed;
}

void Session::ReadRequest(bool first) {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(core_->limits.max_header_bytes));
  // The body limit is set once the header is judged: an unauthenticated request must get
  // its 401, not a 413, and a join its own limit.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  request_ = HttpRequest{};
  request_.peer = peer_;
  request_.client_cert_pem = client_cert_pem_;
  if (first || buffer_.size() > 0) {
    header_deadline_ = net::steady_timer::clock_type::now() + core_->limits.header_timeout;
    return ReadHeader();
  }
  // Kept alive: wait idle_timeout for the next request's first bytes, then the header
  // deadline runs from there (a slow header cannot borrow the idle allowance).
  beast::get_lowest_layer(stream_).expires_after(core_->limits.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, size_t n) {
    if (ec) {
      self->reason_ = self->ReadFailure(ec, CloseReason::kIdleTimeout);
      return;
    }
    self->buffer_.commit(n);
    self->header_deadline_ = net::steady_timer::clock_type::now() + self->core_->limits.header_timeout;
    self->ReadHeader();
  });
}

void Session::ReadHeader() {
  beast::get_lowest_layer(stream_).expires_at(header_deadline_);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(error_code ec) {
  if (ec == http::error::header_limit) {
    return Refuse(CloseReason::kHeaderTooLarge, 431,
                  "request header exceeds " + std::to_string(core_->limits.max_header_bytes) + " bytes");
  }
  if (ec) {
    if (IsParseError(ec)) return Refuse(CloseReason::kBadRequest, 400, "malformed HTTP request: " + ec.message());
    reason_ = ReadFailure(ec, CloseReason::kHeaderTimeout);
    return;
  }
  const auto& h = parser_->get();
  size_t fields = 0;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (++fields > core_->limits.max_header_fields) {
      return Refuse(CloseReason::kHeaderTooLarge, 431,
                    "request has more than " + std::to_string(core_->limits.max_header_fields) + " header fields");
    }
    request_.headers.emplace_back(std::string(it->name_string()), std::string(it->value()));
  }
  request_.method = std::string(h.method_string());
  request_.target = std::string(h.target());
  const size_t q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
  keep_alive_ = parser_->keep_alive();

  HeaderVerdict verdict;
  try {
    verdict = core_->on_header(request_);
  } catch (const std::exception& e) {
    spdlog::error("header handler error: {}", e.what());
    return Refuse(CloseReason::kBadRequest, 500, "internal error");
  }
  if (verdict.refuse) {
    // Nothing unread: the connection can serve the next request. A body pending: it is never
    // read, so the connection closes after the reply.
    const bool body_pending = !parser_->is_done();
    if (body_pending) reason_ = CloseReason::kRefused;
    return Write(ToResponse(std::move(*verdict.refuse)), body_pending || !keep_alive_);
  }
  const size_t limit = verdict.body_limit ? verdict.body_limit : core_->limits.max_body_bytes;
  handle_ = std::move(verdict.handle);
  const auto length = parser_->content_length();
  if (length && *length > limit) {
    return Refuse(CloseReason::kBodyTooLarge, 413,
                  "request body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                      std::to_string(limit) + " bytes");
  }
  const size_t reserve = length ? static_cast<size_t>(*length) : (parser_->chunked() ? limit : 0);
  if (reserve && !core_->ReserveBody(reserve)) {
    return Refuse(CloseReason::kBodyBudget, 503, "the hub is reading too many request bodies at once; retry",
                  {{"Retry-After", "1"}});
  }
  reserved_body_ = reserve;
  parser_->body_limit(limit);
  if (!parser_->is_done() && beast::iequals(h[http::field::expect], "100-continue")) {
    auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    beast::get_lowest_layer(stream_).expires_after(core_->limits.write_timeout);
    return http::async_write(stream_, *cont, [self = shared_from_this(), cont](error_code ec, size_t) {
      if (ec) {
        self->reason_ = self->ReadFailure(ec, CloseReason::kWriteTimeout);
        return;
      }
      self->ReadBody();
    });
  }
  ReadBody();
}

void Session::ReadBody() {
  beast::get_lowest_layer(stream_).expires_after(core_->limits.body_timeout);
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
}

void Session::OnBody(error_code ec) {
  if (ec == http::error::body_limit) {
    return Refuse(CloseReason::kBodyTooLarge, 413,
                  "request body exceeds the limit of " + std::to_string(parser_->get().body().size()) + " bytes");
  }
  if (ec) {
    if (IsParseError(ec)) return Refuse(CloseReason::kBadRequest, 400, "malformed HTTP request body: " + ec.message());
    reason_ = ReadFailure(ec, CloseReason::kBodyTimeout);
    return;
  }
  beast::get_lowest_layer(stream_).expires_never();
  request_.body = std::move(parser_->get().body());
  if (buffer_.capacity() > (64 << 10)) buffer_.shrink_to_fit();  // a large body's buffer is not kept
  exchange_ = std::make_shared<Exchange>(core_->shared_from_this(), shared_from_this(), std::move(request_),
                                         std::exchange(reserved_body_, 0));
  auto handle = std::move(handle_);
  try {
    handle(exchange_);
  } catch (const std::exception& e) {
    spdlog::error("request handler error: {}", e.what());
    exchange_->Reply({500, "application/json", R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"internal error","reason":"InternalError","code":500})", {}});
  }
}

void Session::Refuse(CloseReason why, int code, std::string message, HttpHeaders extra) {
  reason_ = why;
  std::string body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) body += c;
  }
  body += "\",\"reason\":\"" + std::string(code == 431 ? "RequestHeaderFieldsTooLarge"
                                            : code == 413 ? "RequestEntityTooLarge"
                                            : code == 503 ? "ServiceUnavailable"
                                            : code == 500 ? "InternalError"
                                                          : "BadRequest") +
          "\",\"code\":" + std::to_string(code) + "}";
  Write(ToResponse({code, "application/json", std::move(body), std::move(extra)}), true);
}

void Session::SendReply(const std::shared_ptr<Exchange>& ex, HttpReply reply) {
  if (ex != exchange_) return;
  Write(ToResponse(std::move(reply)), !keep_alive_);
}

void Session::Write(http::response<http::string_body> res, bool close) {
  res.keep_alive(!close);
  res.prepare_payload();
  reply_.emplace(std::move(res));
  beast::get_lowest_layer(stream_).expires_after(core_->limits.write_timeout);
  http::async_write(stream_, *reply_, [self = shared_from_this(), close](error_code ec, size_t) {
    self->OnWritten(ec, close);
  });
}

void Session::OnWritten(error_code ec, bool close) {
  reply_.reset();
  if (exchange_) exchange_->MarkClosed();
  exchange_.reset();
  if (ec) {
    reason_ = ReadFailure(ec, CloseReason::kWriteTimeout);
    return;
  }
  if (close) return LingerClose();
  ReadRequest(false);
}

// Sends FIN after the reply, then reads and drops what the client still sends (a body we
// refused to read) for a bounded time and size, so that the client sees the reply rather
// than a reset.
void Session::LingerClose() {
  if (reason_ == CloseReason::kClientClosed) reason_ = CloseReason::kDone;
  error_code ec;
  beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return;
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
  drain_ = std::make_unique<char[]>(kDrainChunk);
  DrainSome(256 << 10);
}

void Session::DrainSome(size_t budget) {
  beast::get_lowest_layer(stream_).async_read_some(
      net::buffer(drain_.get(), kDrainChunk), [self = shared_from_this(), budget](error_code ec, size_t n) {
        if (ec || n >= budget) return;
        self->DrainSome(budget - n);
      });
}

void Session::SendStreamHeader(const std::shared_ptr<Exchange>& ex, int code, std::string content_type,
                               HttpHeaders headers) {
  if (ex != exchange_) return;
  stream_header_.emplace(static_cast<http::status>(code), 11);
  stream_header_->set(http::field::content_type, content_type);
  for (auto& [k, v] : headers) stream_header_->insert(k, v);
  stream_header_->chunked(true);
  stream_header_->keep_alive(keep_alive_);
  stream_serializer_.emplace(*stream_header_);
  beast::get_lowest_layer(stream_).expires_after(core_->limits.write_timeout);
  http::async_write_header(stream_, *stream_serializer_, [self = shared_from_this()](error_code ec, size_t) {
    if (ec) {
      self->reason_ = self->ReadFailure(ec, CloseReason::kWriteTimeout);
      return;
    }
    if (!self->exchange_) return;  // aborted meanwhile
    self->streaming_ = true;
    self->exchange_->HeaderSent();
    self->Pump();
  });
}

void Session::Pump() {
  if (!exchange_ || !streaming_) return;
  if (exchange_->closed()) {
    // Cut (backlog, stop): the client cannot resume this response; end the connection,
    // which also cancels a write the client is not taking.
    if (exchange_->cut_for_backlog()) reason_ = CloseReason::kStreamBacklog;
    beast::get_lowest_layer(stream_).close();
    return;
  }
  if (writing_) return;
  bool end = false;
  out_ = exchange_->TakeQueued(&end);
  if (end) {
    writing_ = true;
    beast::get_lowest_layer(stream_).expires_after(core_->limits.write_timeout);
    return net::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](error_code ec, size_t) {
      self->writing_ = false;
      self->streaming_ = false;
      if (self->exchange_) self->exchange_->MarkClosed();
      self->exchange_.reset();
      self->stream_serializer_.reset();
      self->stream_header_.reset();
      if (ec) {
        self->reason_ = self->ReadFailure(ec, CloseReason::kWriteTimeout);
        return;
      }
      if (!self->keep_alive_) return self->LingerClose();
      self->ReadRequest(false);
    });
  }
  if (out_.empty()) return;
  writing_ = true;
  beast::get_lowest_layer(stream_).expires_after(core_->limits.write_timeout);
  net::async_write(stream_, http::make_chunk(net::buffer(out_)),
                   [self = shared_from_this()](error_code ec, size_t) { self->OnStreamWritten(ec, self->out_.size()); });
}

void Session::OnStreamWritten(error_code ec, size_t n) {
  writing_ = false;
  out_.clear();
  if (!exchange_) return;  // aborted meanwhile
  exchange_->Sent(n);
  if (ec) {
    reason_ = ReadFailure(ec, CloseReason::kWriteTimeout);
    exchange_->Cut();
    return;
  }
  Pump();
}

void Accept(Core* core);

void OnAccept(Core* core, error_code ec, tcp::socket socket) {
  if (core->stopping || !core->acceptor || !core->acceptor->is_open()) return;
  if (ec) {
    // Out of descriptors or similar: back off instead of spinning on the error.
    spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
    core->accept_retry->expires_after(std::chrono::milliseconds(100));
    core->accept_retry->async_wait([core](error_code e) {
      if (!e) Accept(core);
    });
    return;
  }
  if (core->connections.load() >= core->limits.max_connections) {
    error_code ignored;
    socket.close(ignored);
    core->Closed(CloseReason::kOverConnectionLimit);
  } else {
    core->connections.fetch_add(1);
    if (core->open_gauge) core->open_gauge->Increment();
    std::make_shared<Session>(core, std::move(socket))->Start();
  }
  Accept(core);
}

void Accept(Core* core) {
  core->acceptor->async_accept(net::make_strand(core->ioc), [core](error_code ec, tcp::socket socket) {
    OnAccept(core, ec, std::move(socket));
  });
}

}  // namespace

HttpsServer::HttpsServer(HttpsServerOptions options, HeaderHandler on_header, prometheus::Registry* metrics)
    : options_(std::move(options)), core_(std::make_shared<Core>()) {
  core_->limits = options_.limits;
  core_->on_header = std::move(on_header);
  if (metrics) {
    core_->open_gauge = &prometheus::BuildGauge()
                             .Name("berth_http_connections")
                             .Help("Open HTTPS connections")
                             .Register(*metrics)
                             .Add({});
    auto& closed = prometheus::BuildCounter()
                       .Name("berth_http_connections_closed_total")
                       .Help("HTTPS connections closed, by reason (timeouts, limits, client, done)")
                       .Register(*metrics);
    for (const char* name : kCloseReasonNames) core_->closed_counters.push_back(&closed.Add({{"reason", name}}));
  }
}

HttpsServer::~HttpsServer() { Stop(); }

Status HttpsServer::Start() {
  BERTH_RETURN_IF_ERROR(
      ConfigureServerTls(core_->tls, options_.cert_pem, options_.key_pem, options_.client_ca_pem));
  error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) return Status::Invalid("listen address \"" + options_.host + "\" is not an IP address");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  auto& acceptor = core_->acceptor.emplace(net::make_strand(core_->ioc));
  core_->accept_retry.emplace(acceptor.get_executor());
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("listen on " + where + ": " + ec.message() +
                               ": is the port in use, or the address not local?");
  }
  Core* core = core_.get();
  net::post(acceptor.get_executor(), [core] { Accept(core); });
  const int n = options_.io_threads > 0 ? options_.io_threads
                                        : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    core_->threads.emplace_back([core] {
      for (;;) {
        try {
          core->ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("HTTPS I/O thread: {}", e.what());  // keep serving
        }
      }
    });
  }
  return Status::Ok();
}

void HttpsServer::Stop() {
  if (core_->stopping.exchange(true)) return;
  if (core_->threads.empty()) return;
  Core* core = core_.get();
  net::post(core->acceptor->get_executor(), [core] {
    error_code ec;
    core->acceptor->close(ec);
    core->accept_retry->cancel();
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(core->sessions_mu);
    for (auto& [p, w] : core->sessions) {
      if (auto s = w.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) net::post(s->executor(), [s] { s->Abort(); });
  sessions.clear();
  for (int i = 0; i < 200 && core->connections.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  core->ioc.stop();
  for (auto& t : core->threads) t.join();
  core->threads.clear();
}

int HttpsServer::port() const {
  error_code ec;
  if (!core_->acceptor) return 0;
  auto ep = core_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

size_t HttpsServer::open_connections() const { return core_->connections.load(); }

}  // namespace berth::hub
