#include "hub/etcd_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "api/base64.h"

namespace berth::hub {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using nlohmann::json;
using Millis = std::chrono::milliseconds;

struct Endpoint {
  std::string url;  // as configured, for messages
  bool tls = false;
  std::string host, port;
};

StatusOr<Endpoint> ParseEndpoint(const std::string& url) {
  Endpoint ep;
  ep.url = url;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    ep.tls = true;
    rest = url.substr(8);
  } else {
    return Status::BadRequest("etcd endpoint " + url + ": expected http://host:port or https://host:port");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string::npos) {
    return Status::BadRequest("etcd endpoint " + url + ": expected http://host:port or https://host:port");
  }
  ep.host = rest.substr(0, colon);
  ep.port = rest.substr(colon + 1);
  if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') {
    ep.host = ep.host.substr(1, ep.host.size() - 2);  // IPv6 literal
  }
  return ep;
}

// The gateway writes int64 fields as JSON strings; accept numbers too.
int64_t Int64(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

std::string Decode(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_string()) return {};
  return Base64Decode(it->get<std::string>()).value_or(std::string());
}

EtcdKeyValue ParseKeyValue(const json& kv) {
  EtcdKeyValue out;
  out.key = Decode(kv, "key");
  out.value = Decode(kv, "value");
  out.create_revision = Int64(kv, "create_revision");
  out.mod_revision = Int64(kv, "mod_revision");
  out.version = Int64(kv, "version");
  out.lease = Int64(kv, "lease");
  return out;
}

std::vector<EtcdKeyValue> ParseKvs(const json& range) {
  std::vector<EtcdKeyValue> out;
  if (auto it = range.find("kvs"); it != range.end() && it->is_array()) {
    for (const auto& kv : *it) out.push_back(ParseKeyValue(kv));
  }
  return out;
}

int64_t HeaderRevision(const json& body) {
  auto it = body.find("header");
  return it == body.end() ? 0 : Int64(*it, "revision");
}

// etcd's error body {"error", "message", "code" (a gRPC code)} as a Status.
Status EtcdError(const std::string& what, const json& body, unsigned http_status) {
  const std::string message = body.is_object() ? body.value("message", body.value("error", std::string())) : "";
  const int64_t code = body.is_object() ? Int64(body, "code") : 0;
  const std::string text = "etcd " + what + ": " + (message.empty() ? "HTTP " + std::to_string(http_status) : message);
  switch (code) {
    case 3:  // INVALID_ARGUMENT
      if (message.find("too large") != std::string::npos) return Status::TooLarge(text);
      return Status::BadRequest(text);
    case 4: return Status(StatusCode::kTimeout, text);   // DEADLINE_EXCEEDED
    case 5: return Status::NotFound(text);                // NOT_FOUND (lease)
    case 11: return Status::Gone(text);                   // OUT_OF_RANGE: compacted revision
    case 14: return Status::Unavailable(text);            // UNAVAILABLE (no leader, stopping)
    default: return Status::Internal(text);
  }
}

json CompareJson(const EtcdCompare& c) {
  json out = {{"key", Base64Encode(c.key)}, {"result", "EQUAL"}};
  switch (c.target) {
    case EtcdCompare::Target::kCreateRevision:
      out["target"] = "CREATE";
      out["create_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kModRevision:
      out["target"] = "MOD";
      out["mod_revision"] = std::to_string(c.number);
      break;
    case EtcdCompare::Target::kValue:
      out["target"] = "VALUE";
      out["value"] = Base64Encode(c.value);
      break;
    case EtcdCompare::Target::kLease:
      out["target"] = "LEASE";
      out["lease"] = std::to_string(c.number);
      break;
  }
  return out;
}

json OpJson(const EtcdOp& op) {
  switch (op.type) {
    case EtcdOp::Type::kPut: {
      json put = {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}};
      if (op.lease) put["lease"] = std::to_string(op.lease);
      return {{"request_put", put}};
    }
    case EtcdOp::Type::kDelete: return {{"request_delete_range", {{"key", Base64Encode(op.key)}}}};
    case EtcdOp::Type::kRange: return {{"request_range", {{"key", Base64Encode(op.key)}}}};
  }
  return json::object();
}

// One HTTP/1.1 connection to one endpoint, plain or TLS, driven synchronously: each call runs
// an asynchronous Beast operation on this connection's own io_context until it completes or
// its timeout closes the socket. Used by one thread at a time, except CloseFromAnyThread.
class Connection {
 public:
  Connection(Endpoint endpoint, ssl::context* tls) : endpoint_(std::move(endpoint)), tls_context_(tls) {}

  const Endpoint& endpoint() const { return endpoint_; }
  bool open() const { return tcp_ != nullptr; }

  Status Connect(Millis timeout) {
    Reset();
    error_code ec;
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(endpoint_.host, endpoint_.port, ec);
    if (ec) return Failed("resolve", ec);
    if (endpoint_.tls) {
      tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls_context_);
      // SNI, and the certificate must name the host we dialled.
      SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str());
      tls_->set_verify_callback(ssl::host_name_verification(endpoint_.host));
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
    }
    tcp_ = &(tls_ ? beast::get_lowest_layer(*tls_) : *plain_);
    tcp_->expires_after(timeout);
    ec = Run([&](auto handler) { tcp_->async_connect(results, [handler](error_code e, auto&&) { handler(e); }); });
    if (!ec && tls_) {
      tcp_->expires_after(timeout);
      ec = Run([&](auto handler) { tls_->async_handshake(ssl::stream_base::client, handler); });
    }
    if (ec) {
      Status s = Failed(tls_ ? "connect (TLS)" : "connect", ec);
      Reset();
      return s;
    }
    EnableKeepalive();
    return Status::Ok();
  }

  Status Write(const http::request<http::string_body>& req, Millis timeout) {
    tcp_->expires_after(timeout);
    error_code ec = WithStream([&](auto& s) {
      return Run([&](auto handler) { http::async_write(s, req, [handler](error_code e, size_t) { handler(e); }); });
    });
    return ec ? Failed("send", ec) : Status::Ok();
  }

  Status Read(http::response<http::string_body>* res, Millis timeout) {
    tcp_->expires_after(timeout);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    error_code ec = WithStream([&](auto& s) {
      return Run([&](auto handler) {
        http::async_read(s, buffer_, parser, [handler](error_code e, size_t) { handler(e); });
      });
    });
    if (ec) return Failed("read", ec);
    *res = parser.release();
    return Status::Ok();
  }

  // Streaming: the header, then body bytes as they come (appended to `out`). `*done` once
  // the response ended.
  Status ReadHeader(http::response_parser<http::buffer_body>& parser, Millis timeout) {
    tcp_->expires_after(timeout);
    error_code ec = WithStream([&](auto& s) {
      return Run([&](auto handler) {
        http::async_read_header(s, buffer_, parser, [handler](error_code e, size_t) { handler(e); });
      });
    });
    return ec ? Failed("read", ec) : Status::Ok();
  }

  // `timeout` 0: wait as long as the connection lives.
  Status ReadSome(http::response_parser<http::buffer_body>& parser, Millis timeout, std::string* out, bool* done) {
    char chunk[16384];
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    if (timeout.count() > 0) {
      tcp_->expires_after(timeout);
    } else {
      tcp_->expires_never();
    }
    error_code ec = WithStream([&](auto& s) {
      return Run([&](auto handler) {
        http::async_read_some(s, buffer_, parser, [handler](error_code e, size_t) { handler(e); });
      });
    });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Failed("read", ec);
    out->append(chunk, sizeof chunk - parser.get().body().size);
    *done = parser.is_done();
    return Status::Ok();
  }

  // Safe from any thread: the close runs on this connection's io_context, so a blocked
  // operation fails at once (or the next one does, if none is running).
  void CloseFromAnyThread() {
    net::post(ioc_, [this] {
      closed_ = true;
      if (tcp_) tcp_->socket().close();
    });
  }
  bool closed() const { return closed_; }

  void Reset() {
    tls_.reset();
    plain_.reset();
    tcp_ = nullptr;
    buffer_.clear();
  }

 private:
  // A peer that vanished without closing (power loss, partition) is noticed in ~10 s even
  // on a connection that waits indefinitely (a quiet watch).
  void EnableKeepalive() {
    const int fd = tcp_->socket().native_handle();
    const int on = 1, idle = 4, interval = 2, count = 3;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  }

  template <class F>
  error_code WithStream(F&& f) {
    if (tls_) return f(*tls_);
    return f(*plain_);
  }

  // Starts one asynchronous operation and runs this connection's io_context until it is done
  // (the stream's expiry closes the socket on timeout; CloseFromAnyThread's post runs too).
  template <class Start>
  error_code Run(Start&& start) {
    error_code result = net::error::would_block;
    start([&result](error_code ec) { result = ec; });
    ioc_.restart();
    while (result == net::error::would_block && ioc_.run_one() > 0) {
    }
    if (closed_) return net::error::operation_aborted;
    return result;
  }

  Status Failed(const char* what, const error_code& ec) const {
    return Status::Unavailable("etcd " + endpoint_.url + ": " + what + ": " + ec.message());
  }

  Endpoint endpoint_;
  ssl::context* tls_context_;
  net::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::tcp_stream* tcp_ = nullptr;
  beast::flat_buffer buffer_;
  std::atomic<bool> closed_{false};
};

http::request<http::string_body> PostRequest(const Endpoint& ep, const std::string& path, std::string body) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, ep.host + ":" + ep.port);
  req.set(http::field::content_type, "application/json");
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

class GatewayWatchStream final : public EtcdWatchStream {
 public:
  GatewayWatchStream(std::unique_ptr<Connection> conn, Millis idle) : conn_(std::move(conn)), idle_(idle) {
    parser_.body_limit(boost::none);
  }

  Status Start(const json& create_request, Millis timeout) {
    auto req = PostRequest(conn_->endpoint(), "/v3/watch", create_request.dump());
    // gRPC metadata through the gateway: a member that loses its raft leader cancels the
    // watch instead of going silent while the cluster moves on without it.
    req.set("Grpc-Metadata-hasleader", "true");
    BERTH_RETURN_IF_ERROR(conn_->Write(req, timeout));
    BERTH_RETURN_IF_ERROR(conn_->ReadHeader(parser_, timeout));
    if (parser_.get().result() != http::status::ok) {
      return Status::Unavailable("etcd " + conn_->endpoint().url + ": watch: HTTP " +
                                 std::to_string(parser_.get().result_int()));
    }
    return Status::Ok();
  }

  Status Next(EtcdWatchResponse* response) override {
    // The gateway streams one JSON message per line.
    size_t eol;
    while ((eol = pending_.find('\n')) == std::string::npos) {
      if (ended_) return Status::Unavailable("etcd " + conn_->endpoint().url + ": the watch stream ended");
      BERTH_RETURN_IF_ERROR(conn_->ReadSome(parser_, idle_, &pending_, &ended_));
    }
    const std::string line = pending_.substr(0, eol);
    pending_.erase(0, eol + 1);
    json msg = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (msg.is_discarded() || !msg.is_object()) {
      return Status::Unavailable("etcd " + conn_->endpoint().url + ": watch: unreadable message");
    }
    if (!msg.contains("result")) return EtcdError("watch", msg.value("error", json::object()), 200);
    const json& r = msg["result"];
    *response = EtcdWatchResponse{};
    response->revision = HeaderRevision(r);
    response->created = r.value("created", false);
    response->canceled = r.value("canceled", false);
    response->compact_revision = Int64(r, "compact_revision");
    response->cancel_reason = r.value("cancel_reason", std::string());
    if (auto it = r.find("events"); it != r.end() && it->is_array()) {
      for (const auto& e : *it) {
        EtcdWatchEvent ev;
        ev.deleted = e.value("type", std::string()) == "DELETE";
        if (e.contains("kv")) ev.kv = ParseKeyValue(e["kv"]);
        if (e.contains("prev_kv")) ev.prev_kv = ParseKeyValue(e["prev_kv"]);
        response->events.push_back(std::move(ev));
      }
    }
    return Status::Ok();
  }

  void Close() override { conn_->CloseFromAnyThread(); }

 private:
  std::unique_ptr<Connection> conn_;
  const Millis idle_;
  http::response_parser<http::buffer_body> parser_;
  std::string pending_;
  bool ended_ = false;
};

class GatewayClient final : public EtcdClient {
 public:
  GatewayClient(EtcdClientOptions options, std::vector<Endpoint> endpoints, std::unique_ptr<ssl::context> tls)
      : options_(std::move(options)), endpoints_(std::move(endpoints)), tls_(std::move(tls)) {}

  StatusOr<EtcdRangeResult> Range(const std::string& key, const std::string& range_end, int64_t revision,
                                  int64_t limit) override {
    json req = {{"key", Base64Encode(key)}};
    if (!range_end.empty()) req["range_end"] = Base64Encode(range_end);
    if (revision) req["revision"] = std::to_string(revision);
    if (limit) req["limit"] = std::to_string(limit);
    auto body = Post("/v3/kv/range", req, /*repeatable=*/true, "range");
    if (!body.ok()) return body.status();
    EtcdRangeResult out;
    out.kvs = ParseKvs(*body);
    out.revision = HeaderRevision(*body);
    out.more = body->value("more", false);
    return out;
  }

  StatusOr<Count> CountRange(const std::string& key, const std::string& range_end, int64_t modified_after) override {
    json req = {{"key", Base64Encode(key)}, {"count_only", true}};
    if (!range_end.empty()) req["range_end"] = Base64Encode(range_end);
    auto all = Post("/v3/kv/range", req, /*repeatable=*/true, "range");
    if (!all.ok()) return all.status();
    Count out;
    out.revision = HeaderRevision(*all);
    out.total = Int64(*all, "count");
    out.changed = out.total;
    if (modified_after > 0) {
      // etcd counts before it filters: ask for the keys themselves, at most one.
      json keys = {{"key", req["key"]}, {"keys_only", true}, {"limit", "1"},
                   {"revision", std::to_string(out.revision)},  // the same revision as the total
                   {"min_mod_revision", std::to_string(modified_after + 1)}};
      if (req.contains("range_end")) keys["range_end"] = req["range_end"];
      auto changed = Post("/v3/kv/range", keys, /*repeatable=*/true, "range");
      if (!changed.ok()) return changed.status();
      out.changed = static_cast<int64_t>(ParseKvs(*changed).size());
    }
    return out;
  }

  StatusOr<EtcdTxnResult> Txn(const EtcdTxn& txn) override {
    json req = {{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
    for (const auto& c : txn.compare) req["compare"].push_back(CompareJson(c));
    for (const auto& op : txn.success) req["success"].push_back(OpJson(op));
    for (const auto& op : txn.failure) req["failure"].push_back(OpJson(op));
    bool writes = false;
    for (const auto* branch : {&txn.success, &txn.failure}) {
      for (const auto& op : *branch) writes = writes || op.type != EtcdOp::Type::kRange;
    }
    auto body = Post("/v3/kv/txn", req, /*repeatable=*/!writes, "txn");
    if (!body.ok()) return body.status();
    EtcdTxnResult out;
    out.succeeded = body->value("succeeded", false);
    out.revision = HeaderRevision(*body);
    if (auto it = body->find("responses"); it != body->end() && it->is_array()) {
      for (const auto& r : *it) {
        if (auto range = r.find("response_range"); range != r.end()) out.ranges.push_back(ParseKvs(*range));
      }
    }
    return out;
  }

  StatusOr<int64_t> DeleteRange(const std::string& key, const std::string& range_end) override {
    json req = {{"key", Base64Encode(key)}};
    if (!range_end.empty()) req["range_end"] = Base64Encode(range_end);
    auto body = Post("/v3/kv/deleterange", req, /*repeatable=*/false, "delete");
    if (!body.ok()) return body.status();
    return Int64(*body, "deleted");
  }

  Status Compact(int64_t revision) override {
    auto body = Post("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}},
                     /*repeatable=*/true, "compaction");
    return body.ok() ? Status::Ok() : body.status();
  }

  StatusOr<int64_t> CurrentRevision() override {
    auto body = Post("/v3/maintenance/status", json::object(), /*repeatable=*/true, "status");
    if (!body.ok()) return body.status();
    return HeaderRevision(*body);
  }

  StatusOr<int64_t> GrantLease(int64_t ttl_seconds) override {
    auto body = Post("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}}, /*repeatable=*/false, "lease grant");
    if (!body.ok()) return body.status();
    return Int64(*body, "ID");
  }

  StatusOr<int64_t> KeepAlive(int64_t lease) override {
    // A streaming RPC: the gateway sends our one request, answers it and ends the stream.
    auto body = Post("/v3/lease/keepalive", {{"ID", std::to_string(lease)}}, /*repeatable=*/true, "lease keepalive");
    if (!body.ok()) return body.status();
    const json& r = body->contains("result") ? (*body)["result"] : *body;
    const int64_t ttl = Int64(r, "TTL");
    if (ttl <= 0) return Status::NotFound("etcd lease " + std::to_string(lease) + " expired");
    return ttl;
  }

  Status RevokeLease(int64_t lease) override {
    auto body = Post("/v3/lease/revoke", {{"ID", std::to_string(lease)}}, /*repeatable=*/true, "lease revoke");
    return body.ok() ? Status::Ok() : body.status();
  }

  StatusOr<std::unique_ptr<EtcdWatchStream>> Watch(const std::string& key, const std::string& range_end,
                                                   int64_t start_revision, bool prev_kv) override {
    json create = {{"key", Base64Encode(key)}};
    if (!range_end.empty()) create["range_end"] = Base64Encode(range_end);
    if (start_revision) create["start_revision"] = std::to_string(start_revision);
    if (prev_kv) create["prev_kv"] = true;
    create["progress_notify"] = true;
    const json req = {{"create_request", create}};
    size_t first;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = current_;
    }
    Status last = Status::Unavailable("etcd: no endpoints");
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      const size_t index = (first + i) % endpoints_.size();
      auto conn = std::make_unique<Connection>(endpoints_[index], tls_.get());
      last = conn->Connect(options_.request_timeout);
      if (!last.ok()) continue;
      auto stream = std::make_unique<GatewayWatchStream>(std::move(conn), options_.watch_idle_timeout);
      last = stream->Start(req, options_.request_timeout);
      if (last.ok()) return std::unique_ptr<EtcdWatchStream>(std::move(stream));
    }
    return last;
  }

 private:
  // Sends one request; tries the endpoints in turn from the one in use. A request that is
  // not `repeatable` is not sent twice once it may have reached etcd.
  StatusOr<json> Post(const std::string& path, const json& request, bool repeatable, const char* what) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string payload = request.dump();
    Status last = Status::Unavailable("etcd: no endpoints");
    for (size_t attempt = 0; attempt < endpoints_.size() + 1; ++attempt) {
      if (!conn_ || !conn_->open()) {
        if (conn_) current_ = (current_ + 1) % endpoints_.size();  // the one in use failed
        conn_ = std::make_unique<Connection>(endpoints_[current_], tls_.get());
        last = conn_->Connect(options_.request_timeout);
        if (!last.ok()) {
          conn_->Reset();
          continue;
        }
      }
      http::response<http::string_body> res;
      last = conn_->Write(PostRequest(conn_->endpoint(), path, payload), options_.request_timeout);
      if (last.ok()) last = conn_->Read(&res, options_.request_timeout);
      if (!last.ok()) {
        conn_->Reset();
        if (!repeatable) {
          return Status::Unavailable(last.message() + " (" + what + " sent: its outcome is unknown)");
        }
        continue;
      }
      if (!res.keep_alive()) conn_->Reset();
      json body = json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
      if (res.result() != http::status::ok || body.is_discarded() || body.contains("error")) {
        Status s = EtcdError(what, body, res.result_int());
        // A member without a leader (partitioned, or its peers just died) cannot serve:
        // another may. Only safe to retry when the request cannot have been applied twice.
        if (s.code() == StatusCode::kUnavailable && repeatable) {
          conn_->Reset();
          last = s;
          continue;
        }
        return s;
      }
      return body;
    }
    return last;
  }

  const EtcdClientOptions options_;
  const std::vector<Endpoint> endpoints_;
  const std::unique_ptr<ssl::context> tls_;
  std::mutex mu_;
  size_t current_ = 0;                // guarded by mu_: the endpoint in use
  std::unique_ptr<Connection> conn_;  // guarded by mu_
};

StatusOr<std::unique_ptr<ssl::context>> TlsContext(const EtcdClientOptions& o) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  error_code ec;
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (o.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(o.ca_file, ec);
  }
  if (ec) return Status::BadRequest("etcd CA " + (o.ca_file.empty() ? "(system)" : o.ca_file) + ": " + ec.message());
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Status::BadRequest("etcd client TLS: pass both a certificate and its key, or neither");
  }
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file, ec);
    if (ec) return Status::BadRequest("etcd client certificate " + o.cert_file + ": " + ec.message());
    ctx->use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) return Status::BadRequest("etcd client key " + o.key_file + ": " + ec.message());
  }
  return ctx;
}

}  // namespace

std::string EtcdPrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // etcd: every key
}

StatusOr<EtcdClaim> EtcdClient::CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease) {
  EtcdTxn txn;
  txn.compare.push_back({key, EtcdCompare::Target::kCreateRevision, 0, {}});
  txn.success.push_back({EtcdOp::Type::kPut, key, value, lease});
  txn.success.push_back({EtcdOp::Type::kRange, key, {}, 0});
  txn.failure.push_back({EtcdOp::Type::kRange, key, {}, 0});
  auto r = Txn(txn);
  if (!r.ok()) return r.status();
  EtcdClaim claim;
  claim.acquired = r->succeeded;
  if (r->ranges.empty() || r->ranges.back().empty()) {
    return Status::Unavailable("etcd: " + key + " vanished while it was claimed (its lease expired?)");
  }
  claim.holder = r->ranges.back().front();
  return claim;
}

StatusOr<bool> EtcdClient::StillOwns(const std::string& key, int64_t lease) {
  EtcdTxn txn;
  // A missing key's lease is 0, which no granted lease id is.
  txn.compare.push_back({key, EtcdCompare::Target::kLease, lease, {}});
  auto r = Txn(txn);
  if (!r.ok()) return r.status();
  return r->succeeded;
}

StatusOr<std::unique_ptr<EtcdClient>> NewEtcdClient(const EtcdClientOptions& options) {
  if (options.endpoints.empty()) return Status::BadRequest("etcd: no endpoints: pass at least one URL");
  std::vector<Endpoint> endpoints;
  bool any_tls = false;
  for (const auto& url : options.endpoints) {
    auto ep = ParseEndpoint(url);
    if (!ep.ok()) return ep.status();
    any_tls = any_tls || ep->tls;
    endpoints.push_back(std::move(*ep));
  }
  std::unique_ptr<ssl::context> tls;
  if (any_tls) {
    auto ctx = TlsContext(options);
    if (!ctx.ok()) return ctx.status();
    tls = std::move(*ctx);
  } else if (!options.ca_file.empty() || !options.cert_file.empty()) {
    return Status::BadRequest("etcd: TLS files given but no https:// endpoint");
  }
  return std::unique_ptr<EtcdClient>(std::make_unique<GatewayClient>(options, std::move(endpoints), std::move(tls)));
}

}  // namespace berth::hub
