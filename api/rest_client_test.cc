// RestClient against a real cpprestsdk HTTPS listener on 127.0.0.1, with certificates from
// the hub PKI. Every wait is bounded; handlers never block the listener's pool.
#include "api/rest_client.h"

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "hub/pki.h"
#include "hub/tls_listener.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;
using ByteBuffer = concurrency::streams::producer_consumer_buffer<uint8_t>;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // Upper bound for anything that should happen "soon".

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct RecordedRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string authorization;
  std::string content_type;
  std::string body;
};

struct CannedReply {
  int status = 200;
  std::string body;
};

// An HTTPS listener that records every request and answers from canned replies, from
// streams the test feeds (watch), or echoes the request as JSON at /echo.
class TestServer {
 public:
  explicit TestServer(SslContextCallback tls) {
    for (int attempt = 0; attempt < 5 && !listener_; ++attempt) {
      const int port = FreeLoopbackPort();
      url_ = "https://127.0.0.1:" + std::to_string(port);
      http_listener_config config;
      config.set_ssl_context_callback(tls);
      auto listener = std::make_unique<http_listener>(web::uri(url_), config);
      listener->support([this](http_request req) { Handle(req); });
      try {
        listener->open().wait();
        listener_ = std::move(listener);
      } catch (const std::exception&) {
        // Port taken between probe and bind: try another.
      }
    }
  }
  // cpprestsdk's listener closes each connection's socket from the closing thread while a
  // pool thread may be starting the connection's next read on it, which crashes in asio
  // (a SEGV in epoll_reactor::start_op, seen once in CI under ASan). So the listener is
  // closed only after every reply has been written and the connections have settled into
  // their idle read.
  ~TestServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [path, buf] : streams_) buf.close(std::ios_base::out).wait();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kWait, [&] { return replies_in_flight_ == 0; });
    }
    std::this_thread::sleep_for(200ms);
    if (listener_) listener_->close().wait();
  }
  bool ok() const { return listener_ != nullptr; }
  const std::string& url() const { return url_; }

  void Reply(const std::string& path, int status, std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    canned_[path] = CannedReply{status, std::move(body)};
  }
  // Requests to `path` get a 200 chunked response whose body the test writes with Send.
  void Stream(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.emplace(path, ByteBuffer());
  }
  void Send(const std::string& path, const std::string& bytes) {
    ByteBuffer buf = StreamBuffer(path);
    buf.putn_nocopy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).wait();
    buf.sync().wait();  // Lets the listener's pending chunk read complete now.
  }
  void EndStream(const std::string& path) { StreamBuffer(path).close(std::ios_base::out).wait(); }

  bool WaitForRequests(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return requests_.size() >= n; });
  }
  std::vector<RecordedRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  ByteBuffer StreamBuffer(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_.at(path);
  }

  void Handle(http_request req) {
    RecordedRequest rec;
    rec.method = req.method();
    rec.path = req.relative_uri().path();
    rec.query = req.relative_uri().query();
    auto header = [&](const char* name) {
      auto it = req.headers().find(name);
      return it == req.headers().end() ? std::string() : it->second;
    };
    rec.authorization = header("Authorization");
    rec.content_type = header("Content-Type");
    // Continuation, not .get(): a blocked handler would starve the listener pool.
    req.extract_vector().then(
        [this, req, rec](pplx::task<std::vector<unsigned char>> body) mutable {
          try {
            const auto bytes = body.get();
            rec.body.assign(bytes.begin(), bytes.end());
          } catch (const std::exception&) {
          }
          http_response resp(404);
          {
            std::lock_guard<std::mutex> lock(mu_);
            requests_.push_back(rec);
            cv_.notify_all();
            if (auto s = streams_.find(rec.path); s != streams_.end()) {
              resp.set_status_code(200);
              resp.set_body(concurrency::streams::istream(s->second), "application/json");
            } else if (auto c = canned_.find(rec.path); c != canned_.end()) {
              resp.set_status_code(c->second.status);
              if (!c->second.body.empty()) resp.set_body(c->second.body, "application/json");
            } else if (rec.path == "/echo") {
              resp.set_status_code(201);
              resp.set_body(json{{"method", rec.method},
                                 {"query", rec.query},
                                 {"authorization", rec.authorization},
                                 {"contentType", rec.content_type},
                                 {"body", rec.body}}
                                .dump(),
                            "application/json");
            }
          }
          {
            std::lock_guard<std::mutex> lock(mu_);
            ++replies_in_flight_;
          }
          req.reply(resp).then([this](pplx::task<void> t) {
            try {
              t.get();
            } catch (const std::exception&) {
              // Client went away; nothing to do.
            }
            std::lock_guard<std::mutex> lock(mu_);
            --replies_in_flight_;
            cv_.notify_all();
          });
        });
  }

  std::string url_;
  std::unique_ptr<http_listener> listener_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::vector<RecordedRequest> requests_;
  std::map<std::string, CannedReply> canned_;
  std::map<std::string, ByteBuffer> streams_;
  int replies_in_flight_ = 0;
};

class RestClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-rest-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    HubPkiOptions options;
    options.data_dir = dir_;
    auto pki = EnsureHubPki(options);
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = *pki;
    auto tls = MakeServerSslContextCallback(pki_.server_cert_pem, pki_.server_key_pem);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    server_ = std::make_unique<TestServer>(*tls);
    ASSERT_TRUE(server_->ok());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  ClientConfig Config() const {
    ClientConfig c;
    c.server = server_->url();
    c.ca_pem = pki_.ca_pem;
    c.bearer_token = "secret-token";
    c.timeout = 5s;
    return c;
  }
  std::unique_ptr<RestClient> Client(ClientConfig c) {
    auto client = RestClient::Create(std::move(c));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::string ReadCaKey() const {
    std::ifstream in(pki_.ca_key_path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  std::string dir_;
  HubPki pki_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(RestClientTest, SendsBearerTokenAndContentTypes) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  server_->Reply("/thing", 200, R"({"kind":"Thing","n":1})");
  auto got = client->Get("/thing?labelSelector=a%3Db");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["n"], 1);

  auto posted = client->Post("/echo", json{{"a", 1}});
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  EXPECT_EQ((*posted)["authorization"], "Bearer secret-token");
  EXPECT_EQ((*posted)["method"], "POST");
  EXPECT_EQ((*posted)["contentType"], "application/json");
  EXPECT_EQ(json::parse((*posted)["body"].get<std::string>()), (json{{"a", 1}}));

  auto put = client->Put("/echo", json{{"b", 2}});
  ASSERT_TRUE(put.ok());
  EXPECT_EQ((*put)["method"], "PUT");

  for (std::string_view type : {kMergePatch, kJsonPatch}) {
    auto patched = client->Patch("/echo", R"({"c":3})", type);
    ASSERT_TRUE(patched.ok()) << patched.status().ToString();
    EXPECT_EQ((*patched)["method"], "PATCH");
    EXPECT_EQ((*patched)["contentType"], std::string(type));
    EXPECT_EQ((*patched)["body"], R"({"c":3})");
  }

  auto applied = client->Apply("/echo", "kind: Thing\n", "berth agent", /*force=*/true);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["contentType"], std::string(kApplyPatch));
  EXPECT_EQ((*applied)["query"], "fieldManager=berth%20agent&force=true");
  EXPECT_EQ((*applied)["body"], "kind: Thing\n");

  auto deleted = client->Delete("/echo", json{{"propagationPolicy", "Foreground"}});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)["method"], "DELETE");
  EXPECT_EQ((*deleted)["contentType"], "application/json");

  ASSERT_TRUE(server_->WaitForRequests(1));
  const RecordedRequest first = server_->requests().front();
  EXPECT_EQ(first.method, "GET");
  EXPECT_EQ(first.path, "/thing");
  EXPECT_EQ(first.query, "labelSelector=a%3Db");
  EXPECT_EQ(first.authorization, "Bearer secret-token");
  EXPECT_EQ(first.content_type, "");
}

TEST_F(RestClientTest, EmptySuccessBodyIsNullJson) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  server_->Reply("/gone", 204, "");
  auto resp = client->Delete("/gone");
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_TRUE(resp->is_null());
}

TEST_F(RestClientTest, TokenFileIsReReadPerRequest) {
  const std::string token_path = dir_ + "/token";
  std::ofstream(token_path) << "first\n";
  ClientConfig config = Config();
  config.bearer_token = "fallback";
  config.bearer_token_file = token_path;
  auto client = Client(config);
  ASSERT_TRUE(client);
  auto one = client->Post("/echo", json::object());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)["authorization"], "Bearer first");
  std::ofstream(token_path) << "second\n";
  auto two = client->Post("/echo", json::object());
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)["authorization"], "Bearer second");
}

TEST_F(RestClientTest, KubernetesStatusBodiesMapToCodesAndCauses) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  server_->Reply("/missing", 404,
                 R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound",)"
                 R"("code":404,"message":"workspaces \"llama\" not found"})");
  server_->Reply(
      "/invalid", 422,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,)"
      R"("message":"Workspace \"x\" is invalid","details":{"causes":[)"
      R"({"reason":"FieldValueRequired","message":"Required value","field":"spec.model"},)"
      R"({"reason":"FieldValueInvalid","message":"must be > 0","field":"spec.replicas"}]}})");
  server_->Reply("/exists", 409,
                 R"({"kind":"Status","reason":"AlreadyExists","code":409,"message":"exists"})");
  server_->Reply("/stale", 409,
                 R"({"kind":"Status","reason":"Conflict","code":409,"message":"stale"})");

  auto missing = client->Get("/missing");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("workspaces \"llama\" not found"), std::string::npos);
  EXPECT_NE(missing.status().message().find("GET /missing"), std::string::npos);

  auto invalid = client->Post("/invalid", json::object());
  ASSERT_EQ(invalid.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(invalid.status().causes(),
            (std::vector<FieldCause>{{"spec.model", "Required value", "FieldValueRequired"},
                                     {"spec.replicas", "must be > 0", "FieldValueInvalid"}}));
  EXPECT_EQ(client->Post("/exists", json::object()).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(client->Put("/stale", json::object()).status().code(), StatusCode::kConflict);
}

TEST(StatusFromHttpError, MapsEveryKubernetesCode) {
  const std::vector<std::pair<int, StatusCode>> cases = {
      {400, StatusCode::kBadRequest},
      {401, StatusCode::kUnauthenticated},
      {403, StatusCode::kForbidden},
      {404, StatusCode::kNotFound},
      {405, StatusCode::kMethodNotAllowed},
      {409, StatusCode::kConflict},
      {410, StatusCode::kGone},
      {413, StatusCode::kTooLarge},
      {415, StatusCode::kUnsupportedMedia},
      {422, StatusCode::kInvalid},
      {429, StatusCode::kUnavailable},
      {500, StatusCode::kInternal},
      {502, StatusCode::kUnavailable},
      {503, StatusCode::kUnavailable},
      {504, StatusCode::kTimeout},
  };
  for (const auto& [http, code] : cases) {
    const std::string body =
        R"({"kind":"Status","code":)" + std::to_string(http) + R"(,"message":"m"})";
    EXPECT_EQ(StatusFromHttpError(http, body).code(), code) << http;
  }
  EXPECT_EQ(StatusFromHttpError(409, R"({"kind":"Status","reason":"AlreadyExists"})").code(),
            StatusCode::kAlreadyExists);
  // A non-Status body (a proxy's page) still classifies and is quoted.
  Status html = StatusFromHttpError(502, "<html>bad gateway</html>", "GET /x");
  EXPECT_EQ(html.code(), StatusCode::kUnavailable);
  EXPECT_EQ(html.message(), "GET /x: HTTP 502: <html>bad gateway</html>");
}

TEST_F(RestClientTest, WrongCaFailsTheHandshake) {
  auto other_ca = CreateCa("other-ca", std::chrono::system_clock::now(), std::chrono::hours(24));
  ASSERT_TRUE(other_ca.ok());
  ClientConfig config = Config();
  config.ca_pem = other_ca->cert_pem;
  auto client = Client(config);
  ASSERT_TRUE(client);
  server_->Reply("/thing", 200, "{}");
  auto got = client->Get("/thing");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(server_->requests().empty());  // Nothing got past TLS.
  EXPECT_NE(got.status().message().find("unable to get local issuer certificate"),
            std::string::npos)
      << got.status().ToString();

  // Insecure mode skips verification entirely (dev clusters only).
  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  auto insecure = Client(config);
  ASSERT_TRUE(insecure);
  EXPECT_TRUE(insecure->Get("/thing").ok());
}

TEST_F(RestClientTest, HostnameMustMatchAnIpSan) {
  // Same CA, but a serving cert without the 127.0.0.1 SAN: chain verifies, name does not.
  auto wrong_name = IssueCert(pki_.ca_pem, ReadCaKey(), "elsewhere", {"elsewhere.example"}, true,
                              false, std::chrono::system_clock::now(), std::chrono::hours(24));
  ASSERT_TRUE(wrong_name.ok());
  auto tls = MakeServerSslContextCallback(wrong_name->cert_pem, wrong_name->key_pem);
  ASSERT_TRUE(tls.ok());
  TestServer other(*tls);
  ASSERT_TRUE(other.ok());
  other.Reply("/thing", 200, "{}");
  ClientConfig config = Config();
  config.server = other.url();
  auto client = Client(config);
  ASSERT_TRUE(client);
  auto got = client->Get("/thing");
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_TRUE(other.requests().empty());
  EXPECT_NE(got.status().message().find("does not name this host"), std::string::npos)
      << got.status().ToString();

  // The PKI's own serving cert (IP SAN 127.0.0.1) passes with the same client settings.
  server_->Reply("/thing", 200, "{}");
  auto ok = Client(Config())->Get("/thing");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST_F(RestClientTest, ClientCertificateIsPresentedForMutualTls) {
  auto client_cert = IssueCert(pki_.ca_pem, ReadCaKey(), "member-east", {}, false, true,
                               std::chrono::system_clock::now(), std::chrono::hours(24));
  ASSERT_TRUE(client_cert.ok());
  const std::string cert = pki_.server_cert_pem, key = pki_.server_key_pem, ca = pki_.ca_pem;
  // A server that insists on a client certificate chaining to the CA.
  SslContextCallback strict = [cert, key, ca](boost::asio::ssl::context& ctx) {
    (void)ConfigureServerTls(ctx, cert, key, ca);
    ctx.set_verify_mode(boost::asio::ssl::verify_peer |
                        boost::asio::ssl::verify_fail_if_no_peer_cert);
  };
  TestServer mtls(strict);
  ASSERT_TRUE(mtls.ok());
  mtls.Reply("/thing", 200, R"({"ok":true})");
  ClientConfig config = Config();
  config.server = mtls.url();
  EXPECT_EQ(Client(config)->Get("/thing").status().code(), StatusCode::kUnavailable);
  config.client_cert_pem = client_cert->cert_pem;
  config.client_key_pem = client_cert->key_pem;
  auto got = Client(config)->Get("/thing");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["ok"], true);
}

TEST_F(RestClientTest, CreateRejectsBadConfigNamingTheField) {
  ClientConfig c = Config();
  c.server = "ftp://x";
  EXPECT_NE(RestClient::Create(c).status().message().find("server"), std::string::npos);
  c = Config();
  c.ca_pem = "not a pem";
  EXPECT_NE(RestClient::Create(c).status().message().find("ca_pem"), std::string::npos);
  c = Config();
  c.client_cert_pem = pki_.server_cert_pem;
  EXPECT_NE(RestClient::Create(c).status().message().find("client_key_pem"), std::string::npos);
  c.client_key_pem = ReadCaKey();  // Not the cert's key.
  EXPECT_EQ(RestClient::Create(c).status().code(), StatusCode::kInvalid);
}

TEST_F(RestClientTest, NetworkErrorIsUnavailable) {
  ClientConfig config = Config();
  config.server = "https://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  auto got = Client(config)->Get("/thing");
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(got.status().message().empty());
}

// Hub replicas: a server that refuses connections is skipped for reads and for writes
// (a refused write never reached it), later requests stay on the one that answered, and a
// bad fallback URL is refused naming its field.
TEST_F(RestClientTest, FallbackServersTakeOverWhenTheFirstIsDown) {
  ClientConfig config = Config();
  config.fallback_servers = {config.server};
  config.server = "https://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  std::vector<std::string> switches;
  config.on_server_switch = [&](const std::string& from, const std::string& to) { switches.push_back(from + ">" + to); };
  auto client = Client(config);
  ASSERT_TRUE(client);
  server_->Reply("/thing", 200, R"({"n":1})");
  auto got = client->Get("/thing");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["n"], 1);
  auto posted = client->Post("/echo", json{{"a", 1}});
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  EXPECT_EQ((*posted)["method"], "POST");
  const size_t before = server_->requests().size();
  ASSERT_TRUE(client->Get("/thing").ok());
  EXPECT_EQ(server_->requests().size(), before + 1);
  ASSERT_EQ(switches.size(), 1u) << "one move, then the client stays";
  EXPECT_EQ(switches[0], config.server + ">" + config.fallback_servers[0]);

  ClientConfig bad = Config();
  bad.fallback_servers = {"ftp://nowhere"};
  auto refused = RestClient::Create(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("fallback_servers[0]"), std::string::npos) << refused.status().message();
}

// Every server down: the error is the last one's, Unavailable.
TEST_F(RestClientTest, AllServersDownIsUnavailable) {
  ClientConfig config = Config();
  config.server = "https://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  config.fallback_servers = {"https://127.0.0.1:" + std::to_string(FreeLoopbackPort())};
  auto got = Client(config)->Post("/thing", json::object());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
}

// The event-by-event contract: the server writes event 1 and waits until the client has
// delivered it before writing event 2, so a client that buffered until end of stream
// would never see event 1 here.
TEST_F(RestClientTest, WatchDeliversEachEventBeforeTheStreamEnds) {
  server_->Stream("/watch");
  auto client = Client(Config());
  ASSERT_TRUE(client);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> events;
  auto watch = std::async(std::launch::async, [&] {
    return client->Watch(
        "/watch?watch=true&resourceVersion=5",
        [&](const json& e) {
          std::lock_guard<std::mutex> lock(mu);
          events.push_back(e);
          cv.notify_all();
        },
        [] { return false; });
  });
  auto wait_events = [&](size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, kWait, [&] { return events.size() >= n; });
  };
  ASSERT_TRUE(server_->WaitForRequests(1));
  server_->Send("/watch", R"({"type":"ADDED","object":{"n":1}})"
                          "\n");
  ASSERT_TRUE(wait_events(1));
  // An event split across chunks is assembled, not parsed half-way.
  server_->Send("/watch", R"({"type":"MODIFIED",)");
  server_->Send("/watch", R"("object":{"n":2}})"
                          "\n"
                          R"({"type":"BOOKMARK","object":{}})"
                          "\n");
  ASSERT_TRUE(wait_events(3));
  server_->EndStream("/watch");
  ASSERT_EQ(watch.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(watch.get().ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["object"]["n"], 2);
  EXPECT_EQ(events[2]["type"], "BOOKMARK");
  const RecordedRequest req = server_->requests().front();
  EXPECT_EQ(req.query, "watch=true&resourceVersion=5");
  EXPECT_EQ(req.authorization, "Bearer secret-token");
}

TEST_F(RestClientTest, ShouldStopEndsAWatchOnASilentStream) {
  server_->Stream("/silent");
  auto client = Client(Config());
  ASSERT_TRUE(client);
  std::atomic<bool> stop{false};
  std::atomic<int> events{0};
  auto watch = std::async(std::launch::async, [&] {
    return client->Watch(
        "/silent?watch=true", [&](const json&) { ++events; }, [&] { return stop.load(); });
  });
  ASSERT_TRUE(server_->WaitForRequests(1));
  // The stream stays open and silent; the watch must still be running.
  EXPECT_EQ(watch.wait_for(500ms), std::future_status::timeout);
  stop = true;
  ASSERT_EQ(watch.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(watch.get().ok());
  EXPECT_EQ(events.load(), 0);
}

// A watcher that has what it wanted stops on the event that gave it (berthctl rollout
// status -w): the call returns although the server keeps the stream open.
TEST_F(RestClientTest, ShouldStopRightAfterAnEventEndsAnOpenWatch) {
  server_->Stream("/open");
  auto client = Client(Config());
  ASSERT_TRUE(client);
  std::atomic<bool> done{false};
  auto watch = std::async(std::launch::async, [&] {
    return client->Watch(
        "/open?watch=true", [&](const json& e) { done = e.value("type", "") == "MODIFIED"; },
        [&] { return done.load(); });
  });
  ASSERT_TRUE(server_->WaitForRequests(1));
  server_->Send("/open", R"({"type":"MODIFIED","object":{"n":1}})"
                         "\n");
  ASSERT_EQ(watch.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(watch.get().ok());
  EXPECT_TRUE(done.load());
}

// watch_idle_timeout measures silence, not the stream's age: steady events keep a watch
// alive past it, and only a silent stretch longer than it fails the watch (Unavailable, so
// the caller re-watches).
TEST_F(RestClientTest, WatchIdleTimeoutCountsSilenceNotStreamAge) {
  server_->Stream("/slow");
  ClientConfig config = Config();
  config.watch_idle_timeout = 2s;
  auto client = Client(config);
  ASSERT_TRUE(client);
  std::atomic<int> events{0};
  auto watch = std::async(std::launch::async, [&] {
    return client->Watch(
        "/slow?watch=true", [&](const json&) { ++events; }, [] { return false; });
  });
  ASSERT_TRUE(server_->WaitForRequests(1));
  for (int i = 0; i < 8; ++i) {  // 2.4 s of traffic, one event per 300 ms.
    server_->Send("/slow", R"({"type":"BOOKMARK","object":{}})"
                           "\n");
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(watch.wait_for(0ms), std::future_status::timeout) << "watch ended during traffic";
  ASSERT_EQ(watch.wait_for(kWait), std::future_status::ready);  // Silence from here on.
  const Status result = watch.get();
  EXPECT_EQ(result.code(), StatusCode::kUnavailable) << result.ToString();
  EXPECT_EQ(events.load(), 8);
}

TEST_F(RestClientTest, WatchReportsGoneAndBadLines) {
  server_->Reply(
      "/expired", 410,
      R"({"kind":"Status","reason":"Expired","code":410,"message":"too old resource version"})");
  server_->Stream("/garbage");
  auto client = Client(Config());
  ASSERT_TRUE(client);
  Status gone = client->Watch(
      "/expired?watch=true&resourceVersion=1", [](const json&) {}, [] { return false; });
  EXPECT_EQ(gone.code(), StatusCode::kGone);
  EXPECT_NE(gone.message().find("too old resource version"), std::string::npos);

  auto watch = std::async(std::launch::async, [&] {
    return client->Watch(
        "/garbage?watch=true", [](const json&) {}, [] { return false; });
  });
  ASSERT_TRUE(server_->WaitForRequests(2));
  server_->Send("/garbage", "this is not json\n");
  ASSERT_EQ(watch.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(watch.get().code(), StatusCode::kBadRequest);
}

}  // namespace
}  // namespace berth
