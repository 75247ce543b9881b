#include "hub/request_audit.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace berth::hub {
namespace {

using nlohmann::json;

HttpRequest Request(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.peer = "10.0.0.7:53412";
  r.headers = {{"User-Agent", "kubectl/v1.32.4"}};
  return r;
}

// Records what the server would have sent.
class RecordingExchange : public HttpExchange {
 public:
  explicit RecordingExchange(HttpRequest r) : request_(std::move(r)) {}
  const HttpRequest& request() const override { return request_; }
  void Reply(HttpReply reply) override { replies.push_back(std::move(reply)); }
  void StartStream(int, std::string, HttpHeaders) override {}
  bool Write(std::string) override { return false; }
  void EndStream() override {}
  bool closed() const override { return !replies.empty(); }
  std::vector<HttpReply> replies;

 private:
  HttpRequest request_;
};

const Identity kAlice{"alice", false, "", {"search"}};

TEST(RequestAuditTest, AMutatingRequestIsRecordedWithItsResourceAndUser) {
  auto r = RequestAuditor::RecordFor(
      Request("PATCH", "/apis/berth.dev/v1alpha1/namespaces/team-a/workspaces/chat/scale"), &kAlice);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->verb, "patch");
  EXPECT_EQ(r->api_group, "berth.dev");
  EXPECT_EQ(r->resource, "workspaces");
  EXPECT_EQ(r->subresource, "scale");
  EXPECT_EQ(r->ns, "team-a");
  EXPECT_EQ(r->name, "chat");
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->groups, (std::vector<std::string>{"search", "system:authenticated"}));
  EXPECT_EQ(r->source_ip, "10.0.0.7");
  EXPECT_EQ(r->user_agent, "kubectl/v1.32.4");
}

TEST(RequestAuditTest, ReadsAreNotRecorded_DeletesOfANamespaceAreInIt) {
  EXPECT_FALSE(RequestAuditor::RecordFor(Request("GET", "/apis/berth.dev/v1alpha1/workspaces"), &kAlice));
  EXPECT_FALSE(RequestAuditor::RecordFor(Request("GET", "/metrics"), &kAlice));
  auto del = RequestAuditor::RecordFor(Request("DELETE", "/api/v1/namespaces/team-b"), &kAlice);
  ASSERT_TRUE(del.has_value());
  EXPECT_EQ(del->verb, "delete");
  EXPECT_EQ(del->ns, "team-b");
  auto all = RequestAuditor::RecordFor(Request("DELETE", "/api/v1/namespaces/team-b/configmaps"), &kAlice);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->verb, "deletecollection");
}

class RequestAuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-request-audit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = AuditLog::Open({dir_ + "/audit.log", 1 << 20, 1}).value();
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<json> Lines() {
    std::ifstream in(dir_ + "/audit.log");
    std::vector<json> out;
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(RequestAuditLogTest, TheAnsweredCodeIsRecordedOnceAndTheReplyCarriesTheAuditId) {
  RequestAuditor auditor(log_.get(), clock_);
  auto inner = std::make_shared<RecordingExchange>(
      Request("POST", "/apis/berth.dev/v1alpha1/namespaces/team-b/workspaces"));
  auto ex = auditor.Wrap(inner, &kAlice);
  ex->Reply(HttpReply{403, "application/json", "{}", {}});
  ex->Reply(HttpReply{500, "application/json", "{}", {}});  // a second reply is not a second request
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["code"], 403);
  EXPECT_EQ(lines[0]["user"], "alice");
  EXPECT_EQ(lines[0]["verb"], "create");
  EXPECT_EQ(lines[0]["namespace"], "team-b");
  ASSERT_FALSE(inner->replies.empty());
  const auto& headers = inner->replies[0].headers;
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].first, "Audit-Id");
  EXPECT_EQ(headers[0].second, lines[0]["requestID"]);
}

TEST_F(RequestAuditLogTest, ReadsPassUnwrapped_RefusalsOnTheHeaderAreRecordedWithoutAUser) {
  RequestAuditor auditor(log_.get(), clock_);
  auto inner = std::make_shared<RecordingExchange>(Request("GET", "/apis/berth.dev/v1alpha1/workspaces"));
  EXPECT_EQ(auditor.Wrap(inner, &kAlice), inner);
  HttpReply refused{401, "application/json", "{}", {}};
  auditor.RecordRefusal(Request("DELETE", "/apis/berth.dev/v1alpha1/namespaces/a/workspaces/x"), refused);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["code"], 401);
  EXPECT_EQ(lines[0]["user"], "");
  EXPECT_EQ(lines[0]["name"], "x");
  EXPECT_EQ(refused.headers.size(), 1u);
}

}  // namespace
}  // namespace berth::hub
