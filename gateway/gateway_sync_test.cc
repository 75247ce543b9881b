// One sync pass against a fake runtime API: what is read, what is sent, what is ignored.
#include "gateway/gateway_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace berth::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kHeader =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
    "srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n";

// Answers the three reads from canned text; records every other command and answers it
// from `answers` (empty = accepted).
class FakeRuntimeApi : public RuntimeApi {
 public:
  StatusOr<std::string> Run(std::string_view command) override {
    std::string c(command);
    if (!reachable) return Status::Unavailable("connect: refused");
    if (c == "show servers state") return servers_state;
    if (c == "show servers conn") return servers_conn;
    if (c.rfind("show map ", 0) == 0) return map;
    sent.push_back(c);
    auto it = answers.find(c);
    return it == answers.end() ? std::string() : it->second;
  }
  bool reachable = true;
  std::string servers_state = kHeader;
  std::string servers_conn;
  std::string map;
  std::map<std::string, std::string> answers;
  std::vector<std::string> sent;
};

PlanOptions Options() {
  PlanOptions o;
  o.slots = {"berth_slot_000", "berth_slot_001"};
  o.map_file = "/s/models.map";
  return o;
}

StatusOr<std::string> Identity(const std::string& host) { return host; }

WorkspaceEndpoints Ws(const std::string& model, const std::string& url) {
  return {"ml", "w", {model}, {{"c1", url, EndpointState::kServing, 10, 1, 1, ""}}};
}

TEST(GatewaySync, ServersOutsideTheSlotsAreNeverTouched) {
  FakeRuntimeApi api;
  api.servers_state =
      std::string(kHeader) +
      "3 berth_catalog 1 catalog 127.0.0.1 2 0 1 1 5 1 0 0 0 0 0 0 - 8079 - 0 0 - - 0\n";
  GatewaySync sync(&api, Options(), Identity);
  SyncResult r = sync.Sync({});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_THAT(api.sent, IsEmpty());
}

TEST(GatewaySync, SendsThePlanAndCountsRefusals) {
  FakeRuntimeApi api;
  api.answers
      ["add server berth_slot_000/c1_ml_w 10.0.0.1:80 weight 10 check inter 2000ms fall 3 rise 2"
               " observe layer4 error-limit 1 on-error mark-down"] =
      "New server registered.\n";
  api.answers["enable health berth_slot_000/c1_ml_w"] = "No such server.\n";
  GatewaySync sync(&api, Options(), Identity);
  SyncResult r = sync.Sync({Ws("phi", "http://10.0.0.1")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.refused, 1);
  EXPECT_THAT(api.sent, ElementsAre("add server berth_slot_000/c1_ml_w 10.0.0.1:80 weight 10 check "
                                    "inter 2000ms fall 3 rise 2 observe layer4 error-limit 1 "
                                    "on-error mark-down",
                                    "enable health berth_slot_000/c1_ml_w",
                                    "enable server berth_slot_000/c1_ml_w",
                                    "add map /s/models.map phi berth_slot_000"));
  EXPECT_EQ(r.plan.model_backends.at("phi"), "berth_slot_000");
}

TEST(GatewaySync, UnreachableHaproxyIsAnErrorAndSendsNothing) {
  FakeRuntimeApi api;
  api.reachable = false;
  GatewaySync sync(&api, Options(), Identity);
  SyncResult r = sync.Sync({Ws("phi", "http://10.0.0.1")});
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(api.sent, IsEmpty());
}

TEST(GatewaySync, HaproxyWithoutOurMapIsAConfigurationError) {
  FakeRuntimeApi api;
  api.map = "Unknown map identifier. Please use #<id> or <file>.\n";
  GatewaySync sync(&api, Options(), Identity);
  SyncResult r = sync.Sync({});
  EXPECT_EQ(r.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status.message().find("berth-gateway config"), std::string::npos);
}

TEST(ResolveRoutes, NamesBecomeAddressesUnresolvableServersAreLeftOut) {
  auto build = BuildRouteTable(
      {Ws("phi", "http://gpu.example:8000"),
       {"ml",
        "x",
        {"phi"},
        {{"c2", "http://nowhere.invalid:1", EndpointState::kServing, 1, 1, 1, ""}}}});
  std::vector<std::string> problems;
  auto routes = ResolveRoutes(
      build.routes,
      [](const std::string& host) -> StatusOr<std::string> {
        if (host == "gpu.example") return std::string("10.9.9.9");
        return Status::Unavailable("resolve " + host + ": Name or service not known");
      },
      &problems);
  ASSERT_EQ(routes.at("phi").servers.size(), 1u);
  EXPECT_EQ(routes.at("phi").servers[0].host, "10.9.9.9");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("ml/x@c2"), std::string::npos);
}

TEST(ResolveHost, IpLiteralsAsTheyAre) {
  EXPECT_EQ(*ResolveHost("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(*ResolveHost("::1"), "::1");
}

TEST(EndpointsFileSource, PublishesTheFileAndItsChanges) {
  auto path = std::filesystem::temp_directory_path() /
              ("berth-gw-endpoints-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << "- metadata: {name: a, namespace: ml}\n  status: {servedModels: [m]}\n";
  WorkspaceFeed feed;
  {
    EndpointsFileSource source(path.string(), &feed, std::chrono::milliseconds(20));
    uint64_t v = feed.WaitForChange(0, std::chrono::seconds(10));
    ASSERT_EQ(v, 1u);
    EXPECT_EQ(feed.Latest().second.at(0).served_models, std::vector<std::string>{"m"});
    // A broken edit keeps the last good snapshot; the fixed file is published.
    std::ofstream(path) << "- metadata: {name: a\n";
    std::ofstream(path.string() + ".new") << "[]";
    std::filesystem::rename(path.string() + ".new", path);
    v = feed.WaitForChange(1, std::chrono::seconds(10));
    EXPECT_EQ(v, 2u);
    EXPECT_TRUE(feed.Latest().second.empty());
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace berth::gateway
