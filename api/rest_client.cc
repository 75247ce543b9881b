#include "api/rest_client.h"

#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

namespace berth {
namespace {

namespace http = web::http;
namespace client = web::http::client;
using nlohmann::json;

// How often a watch re-checks should_stop while the stream is silent.
constexpr auto kWatchPoll = std::chrono::milliseconds(200);
constexpr auto kWatchCancelGrace = std::chrono::seconds(2);

using X509List = std::vector<std::unique_ptr<X509, decltype(&X509_free)>>;

X509List ParseCerts(const std::string& pem) {
  X509List out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert, &X509_free);
  }
  ERR_clear_error();  // Reading stops on a "no start line" error by design.
  return out;
}

// Trust exactly the configured CA bundle: the context arrives with the system default
// paths loaded, so its store is replaced rather than added to.
void TrustOnly(SSL_CTX* ctx, const std::string& ca_pem) {
  X509_STORE* store = X509_STORE_new();
  for (auto& cert : ParseCerts(ca_pem)) X509_STORE_add_cert(store, cert.get());
  SSL_CTX_set_cert_store(ctx, store);  // Takes ownership, frees the old store.
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// cpprestsdk reports every failed handshake as "Error in SSL handshake". To tell an
// untrusted CA from a host-name mismatch, the certificate check is wrapped and its last
// failure kept per client (diagnostic only: with concurrent failures the text may belong
// to a sibling request, the code is right either way).
struct TlsDiagnosis {
  std::mutex mu;
  std::string last_failure;  // Guarded by mu.

  void Set(std::string why) {
    std::lock_guard<std::mutex> lock(mu);
    last_failure = std::move(why);
  }
  std::string Take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(last_failure, "");
  }
};

int VerifyAndRecord(X509_STORE_CTX* store_ctx, void* arg) {
  const int ok = X509_verify_cert(store_ctx);
  if (ok != 1) {
    const int err = X509_STORE_CTX_get_error(store_ctx);
    // The host-name check (asio's rfc2818 verify callback) fails without an error code
    // of its own, which OpenSSL 3 reports as "unspecified".
    static_cast<TlsDiagnosis*>(arg)->Set(
        err == X509_V_OK || err == X509_V_ERR_UNSPECIFIED
            ? "server certificate does not name this host (check the URL against its SANs)"
            : std::string("server certificate rejected: ") + X509_verify_cert_error_string(err) +
                  " (check ca_pem / certificate-authority)");
  }
  return ok;
}

// Transport errors carry the asio/OpenSSL reason in what(); keep it, it is the cause.
Status TransportError(std::string_view context, const std::exception& e) {
  return Status::Unavailable(std::string(context) + ": " + e.what());
}

// State shared between a Watch call and the cpprestsdk continuations that feed it. The
// continuations may outlive the call (a stopped read completes later), hence shared_ptr.
struct WatchState {
  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu:
  std::string data;             // Bytes received and not yet taken by the watcher.
  bool headers_ok = false;      // 2xx received; body streaming.
  bool finished = false;        // Server closed the stream cleanly.
  std::optional<Status> error;  // Non-2xx reply or transport failure.
  bool stopped = false;         // The watcher has returned: close the body on arrival.
  std::optional<concurrency::streams::streambuf<uint8_t>> body;  // Set once headers are in.

  // Ends the stream from this side by closing the response body both ways: the pending read
  // completes and the client's next write into the body fails, which makes cpprestsdk close
  // the connection. This replaces a cancellation token, whose registration cpprestsdk can
  // leave in a cycle with the body's close task (a leak LeakSanitizer reported at exit).
  void Stop() {
    std::optional<concurrency::streams::streambuf<uint8_t>> b;
    {
      std::lock_guard<std::mutex> lock(mu);
      stopped = true;
      b = body;
    }
    if (b) CloseBody(*b);
  }
  static void CloseBody(concurrency::streams::streambuf<uint8_t> b) {
    b.close(std::ios_base::in | std::ios_base::out).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
        // Closing an already broken stream: nothing left to do.
      }
    });
  }

  void Append(const uint8_t* p, size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    data.append(reinterpret_cast<const char*>(p), n);
    cv.notify_all();
  }
  void Finish() {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  }
  void Fail(Status s) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = std::move(s);
    cv.notify_all();
  }
};

// Reads whatever is available (at least one byte, waiting for it) and re-arms itself
// until end of stream or error. Never blocks a pool thread.
void PumpBody(std::shared_ptr<WatchState> state, concurrency::streams::streambuf<uint8_t> body) {
  const size_t want = std::clamp<size_t>(body.in_avail(), 1, 64 * 1024);
  auto chunk = std::make_shared<std::vector<uint8_t>>(want);
  body.getn(chunk->data(), want).then([state, body, chunk](pplx::task<size_t> read) {
    size_t n = 0;
    try {
      n = read.get();
    } catch (const std::exception& e) {
      state->Fail(Status::Unavailable(std::string("watch stream broke: ") + e.what()));
      return;
    }
    if (n == 0) {
      state->Finish();
      return;
    }
    state->Append(chunk->data(), n);
    PumpBody(state, body);
  });
}

}  // namespace

Status StatusFromHttpError(int status_code, std::string_view body, std::string_view context) {
  std::string reason;
  std::string message;
  std::vector<FieldCause> causes;
  try {
    const json j = json::parse(body);
    if (j.is_object() && j.value("kind", "") == "Status") {
      reason = j.value("reason", "");
      message = j.value("message", "");
      if (j.contains("details") && j["details"].is_object() && j["details"].contains("causes") &&
          j["details"]["causes"].is_array()) {
        for (const json& c : j["details"]["causes"]) {
          if (!c.is_object()) continue;
          FieldCause cause;
          cause.field = c.value("field", "");
          cause.message = c.value("message", "");
          cause.reason = c.value("reason", cause.reason);
          causes.push_back(std::move(cause));
        }
      }
    }
  } catch (const json::exception&) {
    // Not a Status object (a proxy's HTML page, plain text): quote the start below.
  }
  if (message.empty()) {
    std::string snippet(body.substr(0, 200));
    message =
        "HTTP " + std::to_string(status_code) + (snippet.empty() ? "" : ": " + Trimmed(snippet));
  }
  if (!context.empty()) message = std::string(context) + ": " + message;
  switch (status_code) {
    case 400:
      return Status::BadRequest(message);
    case 401:
      return Status::Unauthenticated(message);
    case 403:
      return Status::Forbidden(message);
    case 404:
      return Status::NotFound(message);
    case 405:
      return Status(StatusCode::kMethodNotAllowed, message);
    case 409:
      return reason == "AlreadyExists" ? Status::AlreadyExists(message) : Status::Conflict(message);
    case 410:
      return Status::Gone(message);
    case 413:
      return Status::TooLarge(message);
    case 415:
      return Status(StatusCode::kUnsupportedMedia, message);
    case 422:
      return Status::Invalid(message, std::move(causes));
    case 429:
    case 502:
    case 503:
      return Status::Unavailable(message);
    case 504:
      return Status(StatusCode::kTimeout, message);
    default:
      if (status_code >= 500) return Status::Internal(message);
      return Status::BadRequest(message);
  }
}

// True when `e` says no connection was made, so the request never reached the server.
bool NeverConnected(const std::exception& e) {
  const auto* http = dynamic_cast<const http::http_exception*>(&e);
  if (!http) return false;
  const int code = http->error_code().value();
  return code == ECONNREFUSED || code == EHOSTUNREACH || code == ENETUNREACH || code == EADDRNOTAVAIL;
}

// A method that may be sent again after a transport failure.
bool Repeatable(std::string_view method) { return method == "GET" || method == "HEAD"; }

// Which of a client's server URLs requests go to; shared with the continuations of
// watches, which may outlive the client.
struct ServerRotation {
  std::vector<std::string> urls;   // config.server, then config.fallback_servers
  std::atomic<size_t> current{0};  // the server requests go to
  std::function<void(const std::string&, const std::string&)> on_switch;  // may be empty

  // After a failure on urls[failed]: the next one takes the requests, unless another
  // thread has moved on already.
  void MoveOn(size_t failed) {
    if (urls.size() < 2) return;
    size_t expected = failed;
    const size_t next = (failed + 1) % urls.size();
    if (current.compare_exchange_strong(expected, next) && on_switch) on_switch(urls[failed], urls[next]);
  }
};

struct RestClient::Impl {
  ClientConfig config;
  struct Server {
    std::unique_ptr<client::http_client> unary;  // timeout = config.timeout
    std::unique_ptr<client::http_client> watch;  // timeout = config.watch_idle_timeout
  };
  std::vector<Server> servers;  // one per rotation->urls entry
  std::shared_ptr<ServerRotation> rotation = std::make_shared<ServerRotation>();
  std::shared_ptr<TlsDiagnosis> tls_diagnosis = std::make_shared<TlsDiagnosis>();

  Status Transport(std::string_view context, const std::exception& e) const {
    Status s = TransportError(context, e);
    const std::string why = tls_diagnosis->Take();
    if (!why.empty() && std::string_view(e.what()).find("SSL") != std::string_view::npos) {
      s = Status::Unavailable(s.message() + ": " + why);
    }
    return s;
  }

  std::string Token() const {
    if (!config.bearer_token_file.empty()) {
      std::ifstream in(config.bearer_token_file);
      std::ostringstream text;
      if (in && (text << in.rdbuf())) {
        std::string token = Trimmed(text.str());
        if (!token.empty()) return token;
      }
    }
    return config.bearer_token;
  }

  // Throws web::uri_exception for a path that is not a valid URI reference.
  http::http_request Build(std::string_view method, std::string_view path, std::string_view body,
                           std::string_view content_type, std::string_view accept) const {
    http::http_request req{std::string(method)};
    req.set_request_uri(web::uri(std::string(path)));
    const std::string token = Token();
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    req.headers().add("User-Agent", config.user_agent);
    if (!accept.empty()) req.headers().add("Accept", std::string(accept));
    if (!body.empty() || !content_type.empty()) {
      req.set_body(std::string(body), std::string(content_type));
    }
    return req;
  }
};

StatusOr<std::unique_ptr<RestClient>> RestClient::Create(ClientConfig config) {
  if (!config.ca_pem.empty() && ParseCerts(config.ca_pem).empty()) {
    return Status::Invalid("ca_pem: holds no PEM certificate",
                           {{"ca_pem", "not a PEM certificate"}});
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return Status::Invalid("client_cert_pem and client_key_pem: set both or neither",
                           {{"client_key_pem", "required with client_cert_pem"}});
  }
  if (!config.client_cert_pem.empty()) {
    auto certs = ParseCerts(config.client_cert_pem);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(config.client_key_pem.data(),
                        static_cast<int>(config.client_key_pem.size())),
        &BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    ERR_clear_error();
    if (certs.empty()) return Status::Invalid("client_cert_pem: holds no PEM certificate");
    if (!key) return Status::Invalid("client_key_pem: not a PEM private key");
    if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
      ERR_clear_error();
      return Status::Invalid("client_key_pem: does not match client_cert_pem");
    }
  }

  auto impl = std::make_unique<Impl>();
  auto make = [&config, diagnosis = impl->tls_diagnosis](const std::string& url, std::chrono::milliseconds timeout) {
    client::http_client_config http_config;
    http_config.set_timeout(timeout);
    // No proxy: the hub and agents talk directly; honouring a stray http_proxy would send
    // loopback and in-cluster traffic astray.
    http_config.set_proxy(web::web_proxy(web::web_proxy::disabled));
    http_config.set_validate_certificates(!config.insecure_skip_tls_verify);
    const std::string ca = config.ca_pem;
    const std::string cert = config.client_cert_pem;
    const std::string key = config.client_key_pem;
    const bool verify = !config.insecure_skip_tls_verify;
    // Runs per new connection on a cpprestsdk thread: must not throw. Inputs were
    // validated above, so the error_code overloads only guard against the impossible.
    http_config.set_ssl_context_callback(
        [ca, cert, key, verify, diagnosis](boost::asio::ssl::context& ctx) {
          SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
          if (verify) {
            SSL_CTX_set_cert_verify_callback(ctx.native_handle(), &VerifyAndRecord,
                                             diagnosis.get());
          }
          if (!ca.empty()) TrustOnly(ctx.native_handle(), ca);
          if (!cert.empty()) {
            boost::system::error_code ec;
            ctx.use_certificate_chain(boost::asio::buffer(cert), ec);
            ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem, ec);
          }
        });
    return std::make_unique<client::http_client>(web::uri(url), http_config);
  };

  std::vector<std::string> urls = {config.server};
  urls.insert(urls.end(), config.fallback_servers.begin(), config.fallback_servers.end());
  for (size_t i = 0; i < urls.size(); ++i) {
    const std::string field = i == 0 ? "server" : "fallback_servers[" + std::to_string(i - 1) + "]";
    if (urls[i].rfind("https://", 0) != 0 && urls[i].rfind("http://", 0) != 0) {
      return Status::Invalid(field + ": \"" + urls[i] + "\" must be an http(s) URL",
                             {{field, "must start with https:// or http://"}});
    }
    try {
      impl->servers.push_back({make(urls[i], config.timeout), make(urls[i], config.watch_idle_timeout)});
    } catch (const std::exception& e) {
      return Status::Invalid(field + ": \"" + urls[i] + "\" is not a valid URL: " + e.what(),
                             {{field, "not a valid URL"}});
    }
  }
  impl->rotation->urls = std::move(urls);
  impl->rotation->on_switch = config.on_server_switch;
  impl->config = std::move(config);
  return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

const ClientConfig& RestClient::config() const { return impl_->config; }

StatusOr<HttpResponse> RestClient::Do(std::string_view method, std::string_view path,
                                      std::string_view body, std::string_view content_type,
                                      std::string_view accept) {
  const std::string context = std::string(method) + " " + std::string(path);
  Status failure;
  for (size_t attempt = 0; attempt < impl_->servers.size(); ++attempt) {
    const size_t index = impl_->rotation->current.load();
    http::http_request req;  // a sent request cannot be sent again: one per attempt
    try {
      req = impl_->Build(method, path, body, content_type, accept);
    } catch (const std::exception& e) {
      return Status::BadRequest(context + ": not a valid request path (percent-encode the query): " + e.what());
    }
    try {
      http::http_response resp = impl_->servers[index].unary->request(req).get();
      HttpResponse out;
      out.status_code = resp.status_code();
      for (const auto& [name, value] : resp.headers()) out.headers[Lower(name)] = value;
      const std::vector<unsigned char> bytes = resp.extract_vector().get();
      out.body.assign(bytes.begin(), bytes.end());
      return out;
    } catch (const std::exception& e) {
      failure = impl_->Transport(context, e);
      if (!Repeatable(method) && !NeverConnected(e)) return failure;
      impl_->rotation->MoveOn(index);
    }
  }
  return failure;
}

StatusOr<json> RestClient::DoJson(std::string_view method, std::string_view path,
                                  std::string_view body, std::string_view content_type) {
  auto resp = Do(method, path, body, content_type);
  if (!resp.ok()) return resp.status();
  const std::string context = std::string(method) + " " + std::string(path);
  if (resp->status_code < 200 || resp->status_code >= 300) {
    return StatusFromHttpError(resp->status_code, resp->body, context);
  }
  if (Trimmed(resp->body).empty()) return json();
  try {
    return json::parse(resp->body);
  } catch (const json::exception& e) {
    return Status::Internal(context + ": response is not JSON: " + e.what());
  }
}

StatusOr<json> RestClient::Get(std::string_view path) { return DoJson("GET", path, "", ""); }

StatusOr<json> RestClient::Post(std::string_view path, const json& body) {
  return DoJson("POST", path, body.dump(), "application/json");
}

StatusOr<json> RestClient::Put(std::string_view path, const json& body) {
  return DoJson("PUT", path, body.dump(), "application/json");
}

StatusOr<json> RestClient::Patch(std::string_view path, std::string_view body,
                                 std::string_view content_type) {
  return DoJson("PATCH", path, body, content_type);
}

StatusOr<json> RestClient::Apply(std::string_view path, std::string_view body,
                                 std::string_view field_manager, bool force) {
  std::string full(path);
  full += full.find('?') == std::string::npos ? '?' : '&';
  full += "fieldManager=" + web::uri::encode_data_string(std::string(field_manager));
  if (force) full += "&force=true";
  return DoJson("PATCH", full, body, kApplyPatch);
}

StatusOr<json> RestClient::Delete(std::string_view path, const json& body) {
  if (body.is_null()) return DoJson("DELETE", path, "", "");
  return DoJson("DELETE", path, body.dump(), "application/json");
}

namespace {

// A watch's reply has its headers: a 2xx body streams into `state` (PumpBody), anything
// else fails the watch with the server's Status; an unreachable server moves the rotation on.
void OnWatchResponse(const std::shared_ptr<WatchState>& state, const std::string& context,
                     TlsDiagnosis& diagnosis, ServerRotation& rotation, size_t index,
                     pplx::task<http::http_response> task) {
  http::http_response resp;
  try {
    resp = task.get();
  } catch (const std::exception& e) {
    rotation.MoveOn(index);
    Status s = TransportError(context, e);
    const std::string why = diagnosis.Take();
    if (!why.empty()) s = Status::Unavailable(s.message() + ": " + why);
    state->Fail(s);
    return;
  }
  const int code = resp.status_code();
  if (code >= 200 && code < 300) {
    bool stopped = false;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->headers_ok = true;
      state->body = resp.body().streambuf();
      stopped = state->stopped;
    }
    if (stopped) {
      WatchState::CloseBody(resp.body().streambuf());
      state->Fail(Status::Unavailable("watch stopped before its stream began"));
      return;
    }
    PumpBody(state, resp.body().streambuf());
    return;
  }
  resp.extract_vector().then([state, context, code](pplx::task<std::vector<unsigned char>> t) {
    std::string body;
    try {
      const auto bytes = t.get();
      body.assign(bytes.begin(), bytes.end());
    } catch (const std::exception&) {
      // The status code alone still classifies the error.
    }
    state->Fail(StatusFromHttpError(code, body, context));
  });
}

}  // namespace

Status RestClient::Watch(std::string_view path, const std::function<void(const json&)>& on_event,
                         const std::function<bool()>& should_stop) {
  const std::string context = "WATCH " + std::string(path);
  http::http_request req;
  try {
    req = impl_->Build("GET", path, "", "", "application/json");
  } catch (const std::exception& e) {
    return Status::BadRequest(context + ": not a valid request path: " + e.what());
  }

  auto state = std::make_shared<WatchState>();
  // Headers arrive first; the body keeps streaming into the response's producer/consumer
  // buffer, which PumpBody drains as bytes land. Every continuation is task-based so no
  // exception goes unobserved.
  // A watch that cannot reach its server fails; the server after it takes the caller's
  // next watch (every watcher re-watches on Unavailable).
  const size_t index = impl_->rotation->current.load();
  impl_->servers[index].watch->request(req).then([state, context, diagnosis = impl_->tls_diagnosis,
                                                  rotation = impl_->rotation,
                                                  index](pplx::task<http::http_response> task) {
    OnWatchResponse(state, context, *diagnosis, *rotation, index, std::move(task));
  });

  std::string pending;
  auto deliver_lines = [&](bool flush_tail) -> Status {
    size_t start = 0;
    while (start < pending.size()) {
      const size_t nl = pending.find('\n', start);
      if (nl == std::string::npos && !flush_tail) break;
      const size_t end = nl == std::string::npos ? pending.size() : nl;
      const std::string line = Trimmed(pending.substr(start, end - start));
      if (!line.empty()) {
        if (should_stop()) break;
        json event;
        try {
          event = json::parse(line);
        } catch (const json::exception& e) {
          return Status::BadRequest(context + ": watch line is not JSON: " + e.what());
        }
        on_event(event);
      }
      start = nl == std::string::npos ? pending.size() : nl + 1;
    }
    pending.erase(0, start);
    return Status::Ok();
  };

  Status result;
  while (true) {
    std::string fresh;
    bool finished = false;
    std::optional<Status> error;
    {
      std::unique_lock<std::mutex> lock(state->mu);
      state->cv.wait_for(lock, kWatchPoll, [&] {
        return !state->data.empty() || state->finished || state->error.has_value();
      });
      fresh.swap(state->data);
      finished = state->finished;
      error = state->error;
    }
    pending += fresh;
    Status delivered = deliver_lines(finished);
    if (!delivered.ok()) {
      result = delivered;
      break;
    }
    if (should_stop()) break;
    if (error) {
      result = *error;
      break;
    }
    if (finished) break;
  }
  // Closes the stream if it is still open, then waits (bounded) for the body pump to see
  // it: a caller that exits right after returning (berthctl rollout status -w) would
  // otherwise leave cpprestsdk's read and close tasks half-run.
  state->Stop();
  {
    std::unique_lock<std::mutex> lock(state->mu);
    state->cv.wait_for(lock, kWatchCancelGrace,
                       [&] { return state->finished || state->error.has_value(); });
  }
  return result;
}

}  // namespace berth
