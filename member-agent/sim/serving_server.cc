#include "member-agent/sim/serving_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace berth::agent::sim {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using nlohmann::json;

namespace {

constexpr int64_t kDefaultMaxTokens = 16;  // vLLM's /v1/completions default
constexpr int64_t kMaxCompletionTokens = 1 << 20;
constexpr int64_t kMaxStreamChunks = 32;  // a long stream sends tokens in at most this many chunks

// One workspace's Service: what its sessions share with the server (by shared_ptr, so a
// session may outlive the listener that accepted it).
struct Endpoint {
  const std::string ns, workspace, cluster;
  std::mutex mu;
  // --- guarded by mu ---
  std::vector<std::string> model_names;
  WorkspaceServing serving;
  uint64_t next_id = 0;

  Endpoint(std::string n, std::string w, std::string c, double time_scale)
      : ns(std::move(n)), workspace(std::move(w)), cluster(std::move(c)), serving(time_scale) {}
};

std::string ErrorJson(const std::string& message, const char* type, int code) {
  return json{
      {"object", "error"}, {"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}
      .dump();
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string Head(int status, const char* content_type, bool keep_alive, const std::string* body,
                 const std::string& extra = "") {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                  "\r\nContent-Type: " + content_type + "\r\nX-Berth-Simulated: true\r\n" + extra;
  h += body ? "Content-Length: " + std::to_string(body->size()) + "\r\n"
            : std::string("Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
  if (!keep_alive) h += "Connection: close\r\n";
  return h + "\r\n";
}

std::string Chunk(const std::string& data) {
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// The prompt's size in bytes: "prompt" (string or strings) or the messages' contents.
size_t PromptBytes(const json& body) {
  size_t bytes = 0;
  auto add = [&](const json& v) {
    if (v.is_string()) bytes += v.get_ref<const std::string&>().size();
    if (v.is_array()) {
      for (const auto& part : v) {
        if (part.is_string()) bytes += part.get_ref<const std::string&>().size();
        if (part.is_object() && part.contains("text") && part["text"].is_string())
          bytes += part["text"].get_ref<const std::string&>().size();
      }
    }
  };
  if (auto p = body.find("prompt"); p != body.end()) add(*p);
  if (auto m = body.find("messages"); m != body.end() && m->is_array()) {
    for (const auto& msg : *m) {
      if (msg.is_object() && msg.contains("content")) add(msg["content"]);
    }
  }
  return bytes;
}

// What one accepted OpenAI request asks for; `error` set when it cannot be served.
struct Completion {
  bool chat = false, stream = false;
  std::string model;
  int64_t prompt_tokens = 1, completion_tokens = kDefaultMaxTokens;
};

std::optional<std::string> ParseCompletion(const std::string& text, bool chat, Completion* c) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return std::string("the request body is not a JSON object");
  c->chat = chat;
  auto model = body.find("model");
  if (model == body.end() || !model->is_string()) return std::string("\"model\" must be a string");
  c->model = model->get<std::string>();
  if (chat && !(body.contains("messages") && body["messages"].is_array()))
    return std::string("\"messages\" must be a list");
  if (!chat && !body.contains("prompt")) return std::string("\"prompt\" is required");
  c->stream = body.value("stream", json(false)).is_boolean() && body.value("stream", false);
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > kMaxCompletionTokens)
      return std::string("\"") + key + "\" must be an integer in [1, " +
             std::to_string(kMaxCompletionTokens) + "]";
    c->completion_tokens = it->get<int64_t>();
  }
  c->prompt_tokens = std::max<int64_t>(1, static_cast<int64_t>(PromptBytes(body) / 4));
  return std::nullopt;
}

class Session;

// One listening socket (accepts on the io thread) and the sessions it accepted.
struct Listener : std::enable_shared_from_this<Listener> {
  tcp::acceptor acceptor;
  std::shared_ptr<Endpoint> endpoint;
  const Clock* clock;
  size_t max_body_bytes;
  std::vector<std::weak_ptr<Session>> sessions;  // io thread only

  Listener(net::io_context& ioc, std::shared_ptr<Endpoint> ep, const Clock* c, size_t max_body)
      : acceptor(ioc), endpoint(std::move(ep)), clock(c), max_body_bytes(max_body) {}
  void Accept();
  void Close();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Endpoint> ep, const Clock* clock, size_t max_body)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        endpoint_(std::move(ep)),
        clock_(clock),
        max_body_(max_body) {}

  void Start() { Read(); }
  void Abort() {
    error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

 private:
  struct Event {
    ModelTime at;
    std::string bytes;
  };

  void Read() {
    parser_.emplace();
    parser_->body_limit(max_body_);
    parser_->header_limit(16 * 1024);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Send(413, "application/json",
                  ErrorJson("the request body is over " + std::to_string(max_body_) + " bytes",
                            "BadRequestError", 413));
    }
    if (ec) return Abort();  // closed by the client, or not HTTP
    keep_alive_ = parser_->get().keep_alive();
    Handle(parser_->get());
  }

  void Handle(const http::request<http::string_body>& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const bool get = req.method() == http::verb::get;
    const bool post = req.method() == http::verb::post;
    if (path == "/health" && get) return Health();
    if (path == "/metrics" && get) return Metrics();
    if (path == "/v1/models" && get) return Models();
    if ((path == "/v1/completions" || path == "/v1/chat/completions") && post)
      return Complete(req.body(), path == "/v1/chat/completions");
    const bool known = path == "/health" || path == "/metrics" || path == "/v1/models" ||
                       path == "/v1/completions" || path == "/v1/chat/completions";
    if (known) return Send(405, "application/json", R"({"detail":"Method Not Allowed"})");
    Send(404, "application/json", R"({"detail":"Not Found"})");
  }

  void Health() {
    int ready;
    {
      std::lock_guard<std::mutex> lock(endpoint_->mu);
      ready = endpoint_->serving.ready_replicas();
    }
    Send(ready > 0 ? 200 : 503, "text/plain", "");
  }

  void Metrics() {
    std::string text;
    {
      std::lock_guard<std::mutex> lock(endpoint_->mu);
      endpoint_->serving.Advance(clock_->Now());
      text = endpoint_->serving.MetricsText(
          endpoint_->model_names.empty() ? endpoint_->workspace : endpoint_->model_names[0]);
    }
    Send(200, "text/plain; version=0.0.4; charset=utf-8", text);
  }

  void Models() {
    json data = json::array();
    const int64_t created = Created();
    std::lock_guard<std::mutex> lock(endpoint_->mu);
    const auto& names = endpoint_->model_names;
    for (size_t i = 0; i < names.size(); ++i) {
      data.push_back({{"id", names[i]},
                      {"object", "model"},
                      {"created", created},
                      {"owned_by", "vllm"},
                      {"root", names[i]},
                      {"parent", i == 0 ? json(nullptr) : json(names[0])}});
    }
    Send(200, "application/json", json{{"object", "list"}, {"data", data}}.dump());
  }

  int64_t Created() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch())
        .count();
  }

  void Complete(const std::string& body, bool chat) {
    Completion c;
    if (auto error = ParseCompletion(body, chat, &c))
      return Send(400, "application/json", ErrorJson(*error, "BadRequestError", 400));
    std::optional<RequestTimes> times;
    uint64_t id = 0;
    bool known_model = false;
    const ModelTime now = clock_->Now();
    {
      std::lock_guard<std::mutex> lock(endpoint_->mu);
      const auto& names = endpoint_->model_names;
      known_model = std::find(names.begin(), names.end(), c.model) != names.end();
      if (known_model) {
        times = endpoint_->serving.Admit(now, c.prompt_tokens, c.completion_tokens);
        id = ++endpoint_->next_id;
      }
    }
    if (!known_model) {
      return Send(404, "application/json",
                  ErrorJson("The model `" + c.model + "` does not exist.", "NotFoundError", 404));
    }
    if (!times) {
      return Send(503, "application/json",
                  ErrorJson("no Ready replica of " + endpoint_->ns + "/" + endpoint_->workspace,
                            "ServiceUnavailableError", 503));
    }
    if (times->failed) {
      return Send(500, "application/json",
                  ErrorJson("simulated failure of replica " + times->pod + " (the sim's failing-serving fault)",
                            "InternalServerError", 500));
    }
    const std::string rid = (chat ? "chatcmpl-sim-" : "cmpl-sim-") + std::to_string(id);
    if (c.stream) return Stream(c, *times, rid);
    const std::string text =
        "[simulated] " + std::to_string(c.completion_tokens) + " tokens from replica " + times->pod;
    json choice = {{"index", 0}, {"finish_reason", "length"}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else {
      choice["text"] = text;
      choice["logprobs"] = nullptr;
    }
    json reply = {{"id", rid},
                  {"object", chat ? "chat.completion" : "text_completion"},
                  {"created", Created()},
                  {"model", c.model},
                  {"choices", json::array({choice})},
                  {"usage",
                   {{"prompt_tokens", c.prompt_tokens},
                    {"completion_tokens", c.completion_tokens},
                    {"total_tokens", c.prompt_tokens + c.completion_tokens}}}};
    events_.clear();
    const std::string body_text = reply.dump();
    events_.push_back(
        {times->done, Head(200, "application/json", keep_alive_, &body_text, Who(*times)) + body_text});
    WriteEvent(0);
  }

  // Server-sent events: a chunk at the first token, the rest spread to completion.
  void Stream(const Completion& c, const RequestTimes& t, const std::string& rid) {
    const int64_t created = Created();
    auto chunk = [&](const std::string& text, bool last) {
      json choice = {{"index", 0}, {"finish_reason", last ? json("length") : json(nullptr)}};
      if (c.chat) {
        choice["delta"] = {{"role", "assistant"}, {"content", text}};
      } else {
        choice["text"] = text;
        choice["logprobs"] = nullptr;
      }
      json j = {{"id", rid},
                {"object", c.chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", c.model},
                {"choices", json::array({choice})}};
      if (last) {
        j["usage"] = {{"prompt_tokens", c.prompt_tokens},
                      {"completion_tokens", c.completion_tokens},
                      {"total_tokens", c.prompt_tokens + c.completion_tokens}};
      }
      return Chunk("data: " + j.dump() + "\n\n");
    };
    events_.clear();
    events_.push_back({t.first_token, Head(200, "text/event-stream", keep_alive_, nullptr, Who(t)) +
                                          chunk("[simulated]", c.completion_tokens == 1)});
    const int64_t rest = c.completion_tokens - 1;
    const int64_t chunks = std::min(rest, kMaxStreamChunks);
    for (int64_t i = 1; i <= chunks; ++i) {
      const int64_t tokens = rest * i / chunks - rest * (i - 1) / chunks;
      std::string text;
      for (int64_t k = 0; k < tokens && k < 64; ++k) text += " token";
      const ModelTime at = t.first_token + (t.done - t.first_token) * i / chunks;
      events_.push_back({at, chunk(text, i == chunks)});
    }
    events_.back().bytes += Chunk("data: [DONE]\n\n") + "0\r\n\r\n";
    WriteEvent(0);
  }

  // The headers naming the cluster, pod and revision that answer.
  std::string Who(const RequestTimes& t) const {
    return "X-Berth-Cluster: " + endpoint_->cluster + "\r\nX-Berth-Pod: " + t.pod +
           "\r\nX-Berth-Revision: " + t.revision + "\r\n";
  }

  void Send(int status, const char* content_type, const std::string& body) {
    events_.clear();
    events_.push_back({ModelTime{}, Head(status, content_type, keep_alive_, &body) + body});
    WriteEvent(0);
  }

  // Writes events_[i] once the clock reaches its time, then the next; then reads again.
  void WriteEvent(size_t i) {
    if (i == events_.size()) {
      if (!keep_alive_) {
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      return Read();
    }
    const auto wait = events_[i].at - ModelTime(clock_->Now());
    auto write = [self = shared_from_this(), i] {
      net::async_write(self->socket_, net::buffer(self->events_[i].bytes),
                       [self, i](error_code ec, size_t) {
                         if (ec) return self->Abort();
                         self->WriteEvent(i + 1);
                       });
    };
    if (wait <= ModelTime::duration::zero()) return write();
    timer_.expires_after(wait);
    timer_.async_wait([write, self = shared_from_this()](error_code ec) {
      if (ec) return self->Abort();
      write();
    });
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Endpoint> endpoint_;
  const Clock* clock_;
  const size_t max_body_;
  bool keep_alive_ = true;
  std::vector<Event> events_;  // the reply being written
};

void Listener::Accept() {
  acceptor.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(std::move(socket), self->endpoint, self->clock,
                                               self->max_body_bytes);
      std::erase_if(self->sessions, [](const auto& w) { return w.expired(); });
      self->sessions.push_back(session);
      session->Start();
    }
    self->Accept();
  });
}

void Listener::Close() {
  error_code ignored;
  acceptor.close(ignored);
  for (auto& weak : sessions) {
    if (auto s = weak.lock()) s->Abort();
  }
  sessions.clear();
}

}  // namespace

struct ServingServer::Impl {
  struct Entry {
    std::shared_ptr<Endpoint> endpoint;
    std::shared_ptr<Listener> listener;  // null while closed
    uint16_t port = 0;
  };

  const Clock* clock;
  const ServingOptions options;
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;

  mutable std::mutex mu;
  // --- guarded by mu ---
  std::map<std::string, Entry> entries;   // "<ns>/<workspace>"
  std::map<std::string, uint16_t> ports;  // kept after a workspace goes: it gets it back
  bool unreachable = false;

  Impl(const Clock* c, ServingOptions o) : clock(c), options(o) {
    thread = std::thread([this] { ioc.run(); });
  }

  // Runs `fn` on the io thread and waits for it (acceptors are touched only there).
  template <typename Fn>
  void OnIo(Fn fn) {
    std::promise<void> done;
    net::post(ioc, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  uint16_t PortFor(const std::string& key) {
    if (auto it = ports.find(key); it != ports.end()) return it->second;
    if (options.base_port <= 0) return 0;
    return static_cast<uint16_t>(options.base_port + static_cast<int>(ports.size()));
  }

  void Open(const std::string& key, Entry& e) {
    auto listener = std::make_shared<Listener>(ioc, e.endpoint, clock, options.max_body_bytes);
    uint16_t want = PortFor(key);
    uint16_t bound = 0;
    error_code ec;
    OnIo([&] {
      for (uint16_t port : {want, uint16_t{0}}) {
        error_code ignored;
        listener->acceptor.close(ignored);
        ec = {};
        listener->acceptor.open(tcp::v4(), ec);
        if (!ec) listener->acceptor.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec) listener->acceptor.bind({net::ip::address_v4::loopback(), port}, ec);
        if (!ec) listener->acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (!ec || port == 0) break;
      }
      if (ec) return;
      bound = listener->acceptor.local_endpoint(ec).port();
      listener->Accept();
    });
    if (ec) {
      spdlog::error("sim serving: cannot listen for {}: {}", key, ec.message());
      return;
    }
    if (want != 0 && bound != want)
      spdlog::warn("sim serving: port {} taken, {} listens on an ephemeral port", want, key);
    e.port = bound;
    ports[key] = e.port;
    e.listener = std::move(listener);
  }

  void Close(Entry& e) {
    if (!e.listener) return;
    auto listener = std::move(e.listener);
    OnIo([&] { listener->Close(); });
  }
};

ServingServer::ServingServer(const Clock* clock, ServingOptions options)
    : impl_(std::make_unique<Impl>(clock, options)) {}

ServingServer::~ServingServer() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& [key, e] : impl_->entries) impl_->Close(e);
  }
  impl_->work.reset();
  impl_->ioc.stop();
  impl_->thread.join();
}

void ServingServer::Sync(const std::vector<ServedWorkspace>& workspaces) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::set<std::string> seen;
  for (const ServedWorkspace& w : workspaces) {
    const std::string key = w.ns + "/" + w.workspace;
    seen.insert(key);
    auto it = impl_->entries.find(key);
    if (it == impl_->entries.end()) {
      Impl::Entry e;
      e.endpoint = std::make_shared<Endpoint>(w.ns, w.workspace, impl_->options.cluster,
                                                 impl_->options.time_scale);
      it = impl_->entries.emplace(key, std::move(e)).first;
      if (!impl_->unreachable) impl_->Open(key, it->second);
    }
    std::lock_guard<std::mutex> ep_lock(it->second.endpoint->mu);
    it->second.endpoint->model_names = w.model_names;
    it->second.endpoint->serving.SetReplicas(w.ready);
  }
  for (auto it = impl_->entries.begin(); it != impl_->entries.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    impl_->Close(it->second);
    it = impl_->entries.erase(it);
  }
}

void ServingServer::SetUnreachable(bool unreachable) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->unreachable == unreachable) return;
  impl_->unreachable = unreachable;
  for (auto& [key, e] : impl_->entries) {
    if (unreachable) {
      impl_->Close(e);
    } else {
      impl_->Open(key, e);
    }
  }
}

std::string ServingServer::Url(const std::string& ns, const std::string& workspace) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->entries.find(ns + "/" + workspace);
  if (it == impl_->entries.end() || it->second.port == 0) return "";
  return "http://127.0.0.1:" + std::to_string(it->second.port);
}

std::optional<ServingSignals> ServingServer::Signals(const std::string& ns,
                                                     const std::string& workspace) {
  std::shared_ptr<Endpoint> ep;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->entries.find(ns + "/" + workspace);
    if (it == impl_->entries.end()) return std::nullopt;
    ep = it->second.endpoint;
  }
  std::lock_guard<std::mutex> lock(ep->mu);
  return ep->serving.Signals(impl_->clock->Now());
}

std::string ServingServer::MetricsText(const std::string& ns, const std::string& workspace) {
  std::shared_ptr<Endpoint> ep;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->entries.find(ns + "/" + workspace);
    if (it == impl_->entries.end()) return "";
    ep = it->second.endpoint;
  }
  std::lock_guard<std::mutex> lock(ep->mu);
  ep->serving.Advance(impl_->clock->Now());
  return ep->serving.MetricsText(ep->model_names.empty() ? workspace : ep->model_names[0]);
}

json ServingServer::Describe() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  json out = json::array();
  for (const auto& [key, e] : impl_->entries) {
    std::lock_guard<std::mutex> ep_lock(e.endpoint->mu);
    out.push_back({{"namespace", e.endpoint->ns},
                   {"workspace", e.endpoint->workspace},
                   {"url", e.port ? "http://127.0.0.1:" + std::to_string(e.port) : ""},
                   {"listening", e.listener != nullptr},
                   {"models", e.endpoint->model_names},
                   {"readyReplicas", e.endpoint->serving.ready_replicas()}});
  }
  return out;
}

}  // namespace berth::agent::sim
