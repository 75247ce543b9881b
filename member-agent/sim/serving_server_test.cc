#include "member-agent/sim/serving_server.h"

#include <gtest/gtest.h>

#include <string>

#include "member-agent/sim/loopback_http_testing.h"

namespace berth::agent::sim {
namespace {

using nlohmann::json;
using testing::Body;
using testing::Connect;
using testing::Exchange;
using testing::Get;
using testing::Post;
using testing::Status;

ReplicaSpec Replica(const std::string& pod) {
  ReplicaSpec s;
  s.pod = pod;
  s.gpu_product = "A100-80GB";
  s.gpu_memory_gib = 80;
  s.gpus = 1;
  s.weights_gib = 16;
  s.kv_bytes_per_token = 131072;
  return s;
}

class ServingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServingServer>(&clock_, ServingOptions{0.001, 0});
    Sync({Replica("llama-0")});
  }
  void Sync(std::vector<ReplicaSpec> ready) {
    server_->Sync({ServedWorkspace{"models", "llama", {"llama-8b", "sql-adapter"}, ready}});
    const std::string url = server_->Url("models", "llama");
    ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
    port_ = std::stoi(url.substr(17));
  }

  FakeClock clock_;
  std::unique_ptr<ServingServer> server_;
  int port_ = 0;
};

TEST_F(ServingServerTest, ModelsListsServedNameAndAdapters) {
  std::string r = Get(port_, "/v1/models");
  ASSERT_EQ(Status(r), 200) << r;
  EXPECT_NE(r.find("X-Berth-Simulated: true"), std::string::npos);
  json body = json::parse(Body(r));
  ASSERT_EQ(body["data"].size(), 2u);
  EXPECT_EQ(body["data"][0]["id"], "llama-8b");
  EXPECT_EQ(body["data"][1]["id"], "sql-adapter");
  EXPECT_EQ(body["data"][1]["parent"], "llama-8b");
}

TEST_F(ServingServerTest, CompletionHasOpenAiShapeAndSaysSimulated) {
  std::string r = Post(port_, "/v1/completions",
                       R"({"model": "llama-8b", "prompt": "0123456789abcdef", "max_tokens": 5})");
  ASSERT_EQ(Status(r), 200) << r;
  json body = json::parse(Body(r));
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "llama-8b");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 4);  // 16 bytes / 4
  EXPECT_EQ(body["usage"]["completion_tokens"], 5);
  EXPECT_EQ(body["usage"]["total_tokens"], 9);
  EXPECT_EQ(body["choices"][0]["text"].get<std::string>().rfind("[simulated]", 0), 0u);
  EXPECT_TRUE(body["id"].is_string());
  EXPECT_TRUE(body["created"].is_number());
}

TEST_F(ServingServerTest, TheFailingServingFaultAnswers500AndTheConnectionStaysUsable) {
  ReplicaSpec flaky = Replica("llama-0");
  flaky.failure_fraction = 1;
  Sync({flaky});
  for (const char* body : {R"({"model": "llama-8b", "prompt": "hi", "max_tokens": 5})",
                           R"({"model": "llama-8b", "prompt": "hi", "max_tokens": 5, "stream": true})"}) {
    std::string r = Post(port_, "/v1/completions", body);
    ASSERT_EQ(Status(r), 500) << r;
    json error = json::parse(Body(r));
    EXPECT_EQ(error["type"], "InternalServerError") << r;
    EXPECT_NE(error["message"].get<std::string>().find("failing-serving"), std::string::npos);
  }
  Sync({Replica("llama-0")});
  EXPECT_EQ(Status(Post(port_, "/v1/completions", R"({"model": "llama-8b", "prompt": "hi"})")), 200);
}

TEST_F(ServingServerTest, ChatAdapterAndDefaultMaxTokens) {
  std::string r =
      Post(port_, "/v1/chat/completions",
           R"({"model": "sql-adapter", "messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_EQ(Status(r), 200) << r;
  json body = json::parse(Body(r));
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["usage"]["completion_tokens"], 16);
  EXPECT_EQ(body["choices"][0]["message"]["content"].get<std::string>().rfind("[simulated]", 0),
            0u);
}

TEST_F(ServingServerTest, StreamSendsEventsThenDone) {
  std::string r = Post(port_, "/v1/chat/completions",
                       R"({"model": "llama-8b", "stream": true, "max_tokens": 8,
                           "messages": [{"role": "user", "content": "hello"}]})");
  ASSERT_EQ(Status(r), 200) << r;
  EXPECT_NE(r.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(r.find("data: {"), std::string::npos);
  EXPECT_NE(r.find("chat.completion.chunk"), std::string::npos);
  EXPECT_NE(r.find("[simulated]"), std::string::npos);
  EXPECT_NE(r.find("\"finish_reason\":\"length\""), std::string::npos);
  const auto done = r.find("data: [DONE]\n\n");
  ASSERT_NE(done, std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 5), "0\r\n\r\n");  // the last chunk ends the body
}

TEST_F(ServingServerTest, UnknownModelIs404WithVllmError) {
  std::string r = Post(port_, "/v1/completions", R"({"model": "gpt-9", "prompt": "x"})");
  ASSERT_EQ(Status(r), 404) << r;
  json body = json::parse(Body(r));
  EXPECT_EQ(body["object"], "error");
  EXPECT_EQ(body["type"], "NotFoundError");
  EXPECT_EQ(body["code"], 404);
  EXPECT_NE(body["message"].get<std::string>().find("gpt-9"), std::string::npos);
}

TEST_F(ServingServerTest, BadJsonAndBadFieldsAre400) {
  EXPECT_EQ(Status(Post(port_, "/v1/completions", "{not json")), 400);
  EXPECT_EQ(Status(Post(port_, "/v1/completions", R"({"prompt": "x"})")), 400);
  EXPECT_EQ(Status(Post(port_, "/v1/completions",
                        R"({"model": "llama-8b", "prompt": "x", "max_tokens": -3})")),
            400);
  EXPECT_EQ(Status(Post(port_, "/v1/chat/completions", R"({"model": "llama-8b"})")), 400);
  std::string r = Post(port_, "/v1/completions", "[1,2]");
  EXPECT_EQ(json::parse(Body(r))["type"], "BadRequestError");
}

TEST_F(ServingServerTest, OversizedBodyIs413AndUnknownPathIs404) {
  std::string r = Exchange(port_,
                           "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
                           "\r\n{\"model\"");
  EXPECT_EQ(Status(r), 413) << r;
  EXPECT_EQ(Status(Get(port_, "/nope")), 404);
  EXPECT_EQ(Status(Get(port_, "/v1/completions")), 405);
  // Garbage instead of HTTP closes the connection; the server still serves afterwards.
  Exchange(port_, "\x01\x02 garbage\r\n\r\n");
  EXPECT_EQ(Status(Get(port_, "/health")), 200);
}

TEST_F(ServingServerTest, NoReadyReplicaIs503AndHealthFollowsReadiness) {
  EXPECT_EQ(Status(Get(port_, "/health")), 200);
  Sync({});
  EXPECT_EQ(Status(Get(port_, "/health")), 503);
  std::string r = Post(port_, "/v1/completions", R"({"model": "llama-8b", "prompt": "x"})");
  EXPECT_EQ(Status(r), 503) << r;
  Sync({Replica("llama-1")});
  EXPECT_EQ(Status(Get(port_, "/health")), 200);
}

TEST_F(ServingServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string r = Exchange(
      port_, get + get + "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t count = 0;
  for (size_t p = r.find("HTTP/1.1 200"); p != std::string::npos; p = r.find("HTTP/1.1 200", p + 1))
    ++count;
  EXPECT_EQ(count, 3u) << r;
}

TEST_F(ServingServerTest, MetricsCountCompletedRequestsWithVllmNames) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Status(Post(port_, "/v1/completions",
                          R"({"model": "llama-8b", "prompt": "abcd", "max_tokens": 2})")),
              200);
  }
  clock_.Advance(std::chrono::seconds(10));
  std::string r = Get(port_, "/metrics");
  ASSERT_EQ(Status(r), 200);
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc",
        "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket",
        "vllm:time_per_output_token_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total"}) {
    EXPECT_NE(r.find(name), std::string::npos) << name;
  }
  EXPECT_NE(r.find("vllm:request_success_total{model_name=\"llama-8b\",pod=\"llama-0\"} 3\n"),
            std::string::npos)
      << r;
  auto signals = server_->Signals("models", "llama");
  ASSERT_TRUE(signals.has_value());
  EXPECT_NEAR(signals->requests_per_second, 3 / 30.0, 1e-9);
  EXPECT_EQ(signals->ready_endpoints, 1);
  EXPECT_EQ(signals->capacity, 224);
}

TEST_F(ServingServerTest, UnreachableRefusesThenReopensOnTheSamePort) {
  const int port = port_;
  server_->SetUnreachable(true);
  EXPECT_EQ(Connect(port), -1);
  server_->SetUnreachable(false);
  EXPECT_EQ(server_->Url("models", "llama"), "http://127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(Status(Get(port, "/health")), 200);
}

TEST_F(ServingServerTest, DeletedWorkspaceClosesItsListener) {
  const int port = port_;
  server_->Sync({});
  EXPECT_EQ(server_->Url("models", "llama"), "");
  EXPECT_FALSE(server_->Signals("models", "llama").has_value());
  EXPECT_EQ(Connect(port), -1);
}

// A free loopback port (bound, read, released): the base port below is then very likely free.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ServingServerPortsTest, BasePortGivesTheFirstWorkspaceBaseAndKeepsItWhenItComesBack) {
  FakeClock clock;
  const int base = FreePort();
  ServingServer server(&clock, ServingOptions{0.0, base});
  const ServedWorkspace ws{"models", "a", {"a"}, {Replica("a-0")}};
  server.Sync({ws});
  EXPECT_EQ(server.Url("models", "a"), "http://127.0.0.1:" + std::to_string(base));
  server.Sync({});
  server.Sync({ws});  // deleted and created again: the same port
  EXPECT_EQ(server.Url("models", "a"), "http://127.0.0.1:" + std::to_string(base));
  EXPECT_EQ(Status(Get(base, "/health")), 200);
}

}  // namespace
}  // namespace berth::agent::sim
