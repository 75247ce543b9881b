// The member agent against a real hub: join (valid, reused, expired, unknown tokens),
// member isolation (403 on another member's objects), and three `berth-agent --backend
// sim` processes on loopback — a Work written as admin becomes Ready in its simulated
// cluster and its status reaches the hub; killing the hub for a while changes nothing in
// the members. Polls with deadlines; asserts no wall-clock durations.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "api/clock.h"
#include "api/rest_client.h"
#include "hub/pki.h"
#include "member-agent/hub_api.h"
#include "tests/support/hub_process.h"

namespace berth {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::HubProcess;

constexpr char kFleet[] = R"(
apiVersion: berth.dev/v1alpha1
kind: Fleet
clusters:
  - name: e2e-a
    region: westeurope
    zone: z1
    provider: onprem
    prices: {L4: 0.8}
    nodePools:
      - {name: l4, gpu: L4, gpusPerNode: 2, count: 2, driverVersion: "550.54.15", cudaVersion: "12.4"}
    sim: {imagePullMiBps: 100, defaultImageGiB: 10, weightLoadGiBps: 1}
  - name: e2e-b
    region: eastus
    provider: azure
    prices: {H100-80GB: 6.98}
    nodePools:
      - {name: h100, gpu: H100-80GB, gpusPerNode: 8, count: 1}
  - name: e2e-c
    region: westus2
    provider: gcp
    prices: {T4: 0.35}
    nodePools:
      - {name: t4, gpu: T4, gpusPerNode: 4, count: 2}
)";

std::string BinDir() {
  const char* d = std::getenv("BERTH_BIN_DIR");
  return d ? d : "build/bin";
}

template <typename F>
bool WaitFor(F&& condition, std::chrono::milliseconds timeout = 60s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

// A berth-agent child process; killed (SIGKILL) on destruction and with the test process.
class AgentProcess {
 public:
  AgentProcess(std::vector<std::string> args, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) {
        dup2(fileno(f), 1);
        dup2(fileno(f), 2);
      }
      std::vector<char*> argv;
      std::string bin = BinDir() + "/berth-agent";
      argv.push_back(bin.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~AgentProcess() { Kill(); }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  // Exit code once the process ended on its own within `timeout`, else -1.
  int WaitExit(std::chrono::milliseconds timeout) {
    int code = -1;
    WaitFor(
        [&] {
          int st = 0;
          if (waitpid(pid_, &st, WNOHANG) == pid_) {
            code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
            pid_ = -1;
            return true;
          }
          return false;
        },
        timeout);
    return code;
  }

 private:
  pid_t pid_ = -1;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AgentE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto hub = HubProcess::Start(berth::testing::ApiOnly());
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    hub_ = std::move(*hub);
    auto admin = hub_->NewClient();
    ASSERT_TRUE(admin.ok());
    admin_ = std::move(*admin);
    auto cfg = hub_->AdminConfig();
    ASSERT_TRUE(cfg.ok());
    hub_config_ = *cfg;
    hub_config_.bearer_token.clear();
    auto dir = testing::MakeTempDir("agent-e2e");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
    std::ofstream(dir_ + "/ca.crt") << hub_config_.ca_pem;
    std::ofstream(dir_ + "/fleet.yaml") << kFleet;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Creates a bootstrap token as admin; returns "<id>.<secret>".
  std::string CreateToken(const std::string& id, Clock::Duration ttl) {
    std::string secret = "s3cret" + id + "0123456789";
    json token = {{"apiVersion", "berth.dev/v1alpha1"},
                  {"kind", "BootstrapToken"},
                  {"metadata", {{"name", id}}},
                  {"spec",
                   {{"secretHash", Sha256Hex(secret)},
                    {"expiration", FormatRfc3339(RealClock::Instance().Now() + ttl)}}}};
    auto r = admin_->Post("/apis/berth.dev/v1alpha1/bootstraptokens", token);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return id + "." + secret;
  }

  std::unique_ptr<RestClient> MemberClient(const std::string& credential) {
    ClientConfig c = hub_config_;
    c.bearer_token = credential;
    auto client = RestClient::Create(c);
    EXPECT_TRUE(client.ok());
    return std::move(*client);
  }

  std::vector<std::string> AgentArgs(const std::string& cluster, const std::string& token,
                                     int admin_port) {
    return {"--hub",
            hub_->url(),
            "--hub-ca",
            dir_ + "/ca.crt",
            "--join-token",
            token,
            "--cluster-name",
            cluster,
            "--state-dir",
            dir_ + "/state-" + cluster,
            "--backend",
            "sim",
            "--fleet",
            dir_ + "/fleet.yaml",
            "--time-scale",
            "0.01",
            "--heartbeat-period",
            "0.5",
            "--resync-period",
            "0.2",
            "--admin-listen",
            "127.0.0.1:" + std::to_string(admin_port)};
  }

  std::unique_ptr<HubProcess> hub_;
  std::unique_ptr<RestClient> admin_;
  ClientConfig hub_config_;
  std::string dir_;
};

TEST_F(AgentE2E, JoinAcceptsAValidTokenOnceAndRefusesExpiredOrUnknownOnes) {
  agent::JoinRequest req{"join-a", "sim", {{"env", "test"}}, "westeurope", "z1", "onprem"};
  std::string good = CreateToken("tokena", 1h);
  auto credential = agent::JoinHub(hub_config_, good, req);
  ASSERT_TRUE(credential.ok()) << credential.status().ToString();
  EXPECT_FALSE(credential->empty());

  auto reused = agent::JoinHub(hub_config_, good, {"join-b", "sim", {}, "", "", ""});
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(reused.status().message().find("already used"), std::string::npos)
      << reused.status().ToString();

  std::string expired = CreateToken("tokenx", -1min);
  auto late = agent::JoinHub(hub_config_, expired, {"join-c", "sim", {}, "", "", ""});
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("expired"), std::string::npos) << late.status().ToString();

  auto unknown =
      agent::JoinHub(hub_config_, "nosuch.secretsecretsecret", {"join-d", "sim", {}, "", "", ""});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown"), std::string::npos)
      << unknown.status().ToString();

  // The MemberCluster carries what the agent sent.
  auto mc = admin_->Get(agent::HubPath("memberclusters", "join-a"));
  ASSERT_TRUE(mc.ok());
  EXPECT_EQ((*mc)["spec"]["region"], "westeurope");

  // The binary says why it cannot start with a spent token, and exits non-zero.
  auto args = AgentArgs("join-e", good, testing::PickFreeLoopbackPort());
  args.insert(args.end(), {"--fleet-cluster", "e2e-a"});
  AgentProcess agent(args, dir_ + "/join-e.log");
  EXPECT_NE(agent.WaitExit(30s), 0);
  EXPECT_NE(ReadAll(dir_ + "/join-e.log").find("already used"), std::string::npos)
      << ReadAll(dir_ + "/join-e.log");
}

TEST_F(AgentE2E, AMemberCannotReadOrWriteAnotherMembersObjects) {
  auto a =
      agent::JoinHub(hub_config_, CreateToken("tokenm1", 1h), {"member-a", "sim", {}, "", "", ""});
  auto b =
      agent::JoinHub(hub_config_, CreateToken("tokenm2", 1h), {"member-b", "sim", {}, "", "", ""});
  ASSERT_TRUE(a.ok() && b.ok());
  json work = {
      {"apiVersion", "berth.dev/v1alpha1"},
      {"kind", "Work"},
      {"metadata", {{"name", "member-b"}}},
      {"spec",
       {{"cluster", "member-b"}, {"placementGeneration", 1}, {"workspaces", json::array()}}}};
  ASSERT_TRUE(admin_->Post(agent::HubPath("works"), work).ok());

  auto as_a = agent::RestHubApi::Create([&] {
    auto c = hub_config_;
    c.bearer_token = *a;
    return c;
  }());
  ASSERT_TRUE(as_a.ok());
  // Own objects: allowed.
  EXPECT_TRUE((*as_a)->RenewLease("member-a", "a", "2026-01-01T00:00:00.000Z", 15).ok());
  EXPECT_TRUE((*as_a)->PatchMemberStatus("member-a", {{"gpus", {{"total", 0}, {"free", 0}}}}).ok());
  // Another member's: 403 for read and write.
  auto client = MemberClient(*a);
  EXPECT_EQ(client->Get(agent::HubPath("works", "member-b")).status().code(),
            StatusCode::kForbidden);
  EXPECT_EQ(client->Get(agent::HubPath("memberclusters", "member-b")).status().code(),
            StatusCode::kForbidden);
  EXPECT_EQ((*as_a)->ListWork("member-b").status().code(), StatusCode::kForbidden);
  EXPECT_EQ((*as_a)->PatchWorkStatus("member-b", {{"workspaces", json::array()}}).code(),
            StatusCode::kForbidden);
  EXPECT_EQ((*as_a)->RenewLease("member-b", "a", "2026-01-01T00:00:00.000Z", 15).code(),
            StatusCode::kForbidden);
  EXPECT_EQ((*as_a)->PatchMemberStatus("member-b", {{"gpus", {{"total", 1}}}}).code(),
            StatusCode::kForbidden);
}

TEST_F(AgentE2E, ThreeSimAgentsRunAWorkAndSurviveAHubOutage) {
  const std::vector<std::string> clusters = {"e2e-a", "e2e-b", "e2e-c"};
  std::vector<int> ports;
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (size_t i = 0; i < clusters.size(); ++i) {
    ports.push_back(testing::PickFreeLoopbackPort());
    agents.push_back(std::make_unique<AgentProcess>(
        AgentArgs(clusters[i], CreateToken("tok" + std::to_string(i) + "e2e", 1h), ports[i]),
        dir_ + "/" + clusters[i] + ".log"));
  }
  for (const auto& c : clusters) {
    bool reported = WaitFor([&] {
      auto mc = admin_->Get(agent::HubPath("memberclusters", c));
      return mc.ok() && mc->value("/status/simulated"_json_pointer, false) &&
             mc->value("/status/gpus/total"_json_pointer, 0) > 0;
    });
    ASSERT_TRUE(reported) << c << " never reported inventory:\n"
                          << ReadAll(dir_ + "/" + c + ".log");
  }
  auto lease = admin_->Get(agent::HubPath("leases", "e2e-a"));
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->value("/spec/renewTime"_json_pointer, std::string()).empty());

  // The admin writes a Work for e2e-a itself: this hub runs without controllers
  // (--no-controllers), so the test alone decides what each member runs.
  json ws = {
      {"apiVersion", "berth.dev/v1alpha1"},
      {"kind", "Workspace"},
      {"metadata", {{"name", "phi"}, {"namespace", "models"}, {"uid", "u1"}, {"generation", 1}}},
      {"resource", {{"gpuProducts", {"L4"}}}},
      {"inference", {{"preset", {{"name", "phi-4-mini-instruct"}, {"revision", "main"}}}}},
      {"placement", {{"replicas", 2}}}};
  json work = {{"apiVersion", "berth.dev/v1alpha1"},
               {"kind", "Work"},
               {"metadata", {{"name", "e2e-a"}}},
               {"spec",
                {{"cluster", "e2e-a"},
                 {"placementGeneration", 1},
                 {"workspaces",
                  {{{"workspace", ws},
                    {"replicas", 2},
                    {"revision", 1},
                    {"gpu",
                     {{"product", "L4"},
                      {"gfdProduct", "NVIDIA-L4"},
                      {"memoryGiB", 24},
                      {"gpusPerNode", 2},
                      {"migProfile", ""}}}}}}}}};
  ASSERT_TRUE(admin_->Post(agent::HubPath("works"), work).ok());
  json status;
  bool ready = WaitFor([&] {
    auto w = admin_->Get(agent::HubPath("works", "e2e-a"));
    if (!w.ok()) return false;
    status = w->value("status", json::object());
    auto wss = status.value("workspaces", json::array());
    return !wss.empty() && wss[0].value("phase", "") == "Ready";
  });
  ASSERT_TRUE(ready) << status.dump() << "\n" << ReadAll(dir_ + "/e2e-a.log");
  EXPECT_EQ(status["observedPlacementGeneration"], 1);
  EXPECT_EQ(status["workspaces"][0]["readyReplicas"], 2);
  EXPECT_EQ(status["conditions"][0]["type"], "Applied");
  EXPECT_EQ(status["conditions"][0]["status"], "True");

  // The agent's own endpoint: healthy, metrics, and the simulated pods.
  ClientConfig local;
  local.server = "http://127.0.0.1:" + std::to_string(ports[0]);
  auto agent_client = RestClient::Create(local);
  ASSERT_TRUE(agent_client.ok());
  auto health = (*agent_client)->Do("GET", "/healthz", "", "", "text/plain");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status_code, 200);
  auto state_before = (*agent_client)->Get("/state");
  ASSERT_TRUE(state_before.ok());
  EXPECT_EQ((*state_before)["simulated"], true);
  auto metrics_before = (*agent_client)->Do("GET", "/metrics", "", "", "text/plain");
  ASSERT_TRUE(metrics_before.ok());
  EXPECT_NE(metrics_before->body.find("berth_agent_backend_deletes_total{cluster=\"e2e-a\"} 0"),
            std::string::npos)
      << metrics_before->body;

  // Kill the hub for a while: the members keep running exactly as they are.
  hub_->Kill();
  std::this_thread::sleep_for(3s);  // several heartbeat periods and resyncs
  auto state_during = (*agent_client)->Get("/state");
  ASSERT_TRUE(state_during.ok());
  EXPECT_EQ((*state_during)["hubReachable"], false);
  EXPECT_EQ((*state_during)["sim"]["pods"], (*state_before)["sim"]["pods"]);
  auto metrics_during = (*agent_client)->Do("GET", "/metrics", "", "", "text/plain");
  EXPECT_NE(metrics_during->body.find("berth_agent_backend_deletes_total{cluster=\"e2e-a\"} 0"),
            std::string::npos)
      << metrics_during->body;

  const std::string url_before = hub_->url();
  ASSERT_TRUE(hub_->Restart().ok());
  auto admin = hub_->NewClient();
  ASSERT_TRUE(admin.ok());
  admin_ = std::move(*admin);
  // Heartbeats resume (possibly on a new port the agents do not know: only check when kept).
  if (hub_->url() == url_before) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto s = (*agent_client)->Get("/state");
          return s.ok() && s->value("hubReachable", false);
        },
        30s))
        << ReadAll(dir_ + "/e2e-a.log");
  }
  auto after = admin_->Get(agent::HubPath("works", "e2e-a"));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["status"]["workspaces"][0]["phase"], "Ready");
  auto state_after = (*agent_client)->Get("/state");
  EXPECT_EQ((*state_after)["sim"]["pods"], (*state_before)["sim"]["pods"]);
}

}  // namespace
}  // namespace berth
