// Failover and failback with real processes (issue #7 acceptance): a berth-hub with short
// timings and three `berth-agent --backend sim` members on loopback (fleet
// tests/e2e/data/failover_fleet.yaml: fo-a is the cheapest, so it is preferred). A
// workspace runs on fo-a; fo-a's agent is SIGKILLed; its replicas must become Ready on
// another member while fo-a's Work stays as it was (make-before-break: the hub cannot tell a
// dead member from a partitioned one). The agent comes back with its state dir; after the
// failback hysteresis the replicas return to fo-a, and the other member's entry is removed
// only after fo-a reports them Ready — checked on the order of the Work watch's
// resourceVersions, not on clocks.
//
// Waits are polls with deadlines (≤ 60 s each) that print the hub's log tail on failure.
// The measured durations are printed for docs/FAILOVER.md, never asserted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "api/clock.h"
#include "api/rest_client.h"
#include "hub/pki.h"
#include "tests/support/hub_process.h"
#include "tests/support/watch_recorder.h"

namespace berth {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using testing::HubProcess;

constexpr char kApi[] = "/apis/berth.dev/v1alpha1/";
constexpr char kWsPath[] = "/apis/berth.dev/v1alpha1/namespaces/e2e/workspaces/phi";
constexpr char kWsKey[] = "e2e/phi";
constexpr int kReplicas = 2;
const std::vector<std::string> kMembers = {"fo-a", "fo-b", "fo-c"};

std::string BinDir() {
  const char* d = std::getenv("BERTH_BIN_DIR");
  return d ? d : "build/bin";
}

std::string SourceDir() {
  const char* d = std::getenv("BERTH_SOURCE_DIR");
  return d ? d : ".";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t n = 2500) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// A berth-agent child process; SIGKILLed on destruction and when the test process dies.
class AgentProcess {
 public:
  AgentProcess(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv_s = {BinDir() + "/berth-agent"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      FILE* f = std::fopen(log.c_str(), "a");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~AgentProcess() { Kill(); }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

std::string Condition(const json& obj, const std::string& type, std::string* reason = nullptr) {
  for (const auto& c : obj.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == type) {
      if (reason) *reason = c.value("reason", "");
      return c.value("status", "");
    }
  }
  return "";
}

// cluster → {replicas, readyReplicas} of the Workspace's status.placements.
std::map<std::string, std::pair<int, int>> Placements(const json& ws) {
  std::map<std::string, std::pair<int, int>> out;
  for (const auto& p : ws.value("/status/placements"_json_pointer, json::array())) {
    out[p.value("cluster", "")] = {p.value("replicas", 0), p.value("readyReplicas", 0)};
  }
  return out;
}

// The entry for our workspace in a Work's spec, or null.
json SpecEntry(const json& work) {
  for (const auto& e : work.value("/spec/workspaces"_json_pointer, json::array())) {
    const json md = e.value("/workspace/metadata"_json_pointer, json::object());
    if (md.value("namespace", "") + "/" + md.value("name", "") == kWsKey) return e;
  }
  return nullptr;
}

// True when the Work's agent reports our workspace Ready with every replica, for the Work's
// current placement generation.
bool ReportsReady(const json& work) {
  const json spec = SpecEntry(work);
  if (spec.is_null()) return false;
  const json observed = work.value("/status/observedPlacementGeneration"_json_pointer, json());
  const json wanted = work.value("/spec/placementGeneration"_json_pointer, json());
  if (!observed.is_number_integer() || !wanted.is_number_integer() ||
      observed.get<int64_t>() < wanted.get<int64_t>()) {
    return false;
  }
  for (const auto& w : work.value("/status/workspaces"_json_pointer, json::array())) {
    if (w.value("namespace", "") + "/" + w.value("name", "") == kWsKey) {
      return w.value("phase", "") == "Ready" &&
             w.value("readyReplicas", 0) >= spec.value("replicas", 1);
    }
  }
  return false;
}

int64_t Rv(const json& o) {
  return std::stoll(o.value("/metadata/resourceVersion"_json_pointer, std::string("0")));
}

class FailoverE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::HubProcessOptions o;
    // Unhealthy after 3 × 1 s without a renewal, failed over 3 s later, failback 6 s after
    // the member is back; replicas waiting for GPUs on a healthy member move after 3 s.
    o.extra_args = {"--heartbeat-period",    "1", "--missed-heartbeats",   "3",
                    "--failover-toleration", "3", "--failback-hysteresis", "6", "--drain-grace", "2",
                    "--capacity-pending-timeout", "3"};
    auto hub = HubProcess::Start(o);
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    hub_ = std::move(*hub);
    auto admin = hub_->NewClient();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(*admin);
    auto dir = testing::MakeTempDir("failover-e2e");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
    auto cfg = hub_->AdminConfig();
    ASSERT_TRUE(cfg.ok());
    std::ofstream(dir_ + "/ca.crt") << cfg->ca_pem;
    fleet_ = SourceDir() + "/tests/e2e/data/failover_fleet.yaml";
    ASSERT_TRUE(std::filesystem::exists(fleet_)) << fleet_;
  }
  void TearDown() override {
    agents_.clear();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Creates a bootstrap token as admin; returns "<id>.<secret>".
  std::string CreateToken(const std::string& id) {
    const std::string secret = "failover" + id + "0123456789";
    json token = {
        {"apiVersion", "berth.dev/v1alpha1"},
        {"kind", "BootstrapToken"},
        {"metadata", {{"name", id}}},
        {"spec",
         {{"secretHash", Sha256Hex(secret)},
          {"expiration", FormatRfc3339(RealClock::Instance().Now() + std::chrono::hours(1))}}}};
    auto r = admin_->Post(std::string(kApi) + "bootstraptokens", token);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return id + "." + secret;
  }

  // Starts (or restarts, without a token: the credential is in its state dir) a member's agent.
  void StartAgent(const std::string& member, const std::string& token) {
    std::vector<std::string> args = {
        "--hub",
        hub_->url(),
        "--hub-ca",
        dir_ + "/ca.crt",
        "--cluster-name",
        member,
        "--state-dir",
        dir_ + "/state-" + member,
        "--backend",
        "sim",
        "--fleet",
        fleet_,
        "--time-scale",
        "0.01",
        "--heartbeat-period",
        "0.5",
        "--resync-period",
        "0.2",
        "--admin-listen",
        "127.0.0.1:" + std::to_string(admin_ports_[member] = testing::PickFreeLoopbackPort())};
    if (!token.empty()) args.insert(args.end(), {"--join-token", token});
    agents_[member] = std::make_unique<AgentProcess>(args, dir_ + "/" + member + ".log");
  }

  json Get(const std::string& path) {
    auto r = admin_->Get(path);
    return r.ok() && r->is_object() ? *r : json::object();
  }
  json Workspace() { return Get(kWsPath); }
  json Work(const std::string& member) { return Get(std::string(kApi) + "works/" + member); }

  // What to print when a wait fails: the workspace, the Works, and the logs' tails.
  std::string Diagnostics() {
    std::string out = "\nworkspace status: " + Workspace().value("status", json::object()).dump();
    for (const auto& m : kMembers) {
      json w = Work(m);
      out += "\nwork " + m + ": spec " + w.value("spec", json()).dump() + " status " +
             w.value("status", json()).dump();
    }
    for (const auto& m : kMembers)
      out += "\n--- agent " + m + " log:\n" + Tail(ReadAll(dir_ + "/" + m + ".log"), 1200);
    out += "\n--- hub log:\n" + hub_->log_tail(3000);
    return out;
  }

  // Polls `done` every 50 ms for at most `timeout` (≤ 60 s everywhere in this suite).
  template <typename F>
  bool WaitFor(F&& done, std::chrono::milliseconds timeout = 60s) {
    const auto end = Steady::now() + timeout;
    while (Steady::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }

  std::unique_ptr<HubProcess> hub_;
  std::unique_ptr<RestClient> admin_;
  std::string dir_, fleet_;
  std::map<std::string, std::unique_ptr<AgentProcess>> agents_;
  std::map<std::string, int> admin_ports_;  // each agent's --admin-listen port

  // GET or POST on a member agent's admin endpoint (plain HTTP on loopback).
  StatusOr<json> AgentAdmin(const std::string& member, const std::string& method,
                            const std::string& path) {
    ClientConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(admin_ports_[member]);
    auto client = RestClient::Create(c);
    if (!client.ok()) return client.status();
    auto r = (*client)->Do(method, path, "", "", "application/json");
    if (!r.ok()) return r.status();
    if (r->status_code != 200) {
      return Status::Unavailable(method + " " + path + ": HTTP " + std::to_string(r->status_code) +
                                 " " + r->body);
    }
    return json::parse(r->body);
  }

  void StartFleetAndWaitHealthy() {
    for (const auto& m : kMembers) StartAgent(m, CreateToken("fo" + m.substr(3) + "tok"));
    ASSERT_TRUE(WaitFor([&] {
      for (const auto& m : kMembers) {
        if (Condition(Get(std::string(kApi) + "memberclusters/" + m), "Healthy") != "True")
          return false;
      }
      return true;
    })) << "the three members never became Healthy"
        << Diagnostics();
  }

  // A workspace of kReplicas phi-4-mini replicas that prefers fo-a (see the first test).
  void CreatePreferringFoA() {
    json ws = json::parse(R"({
      "apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
      "metadata": {"name": "phi", "namespace": "e2e"},
      "resource": {"gpuProducts": ["L4"]},
      "inference": {"preset": {"name": "phi-4-mini-instruct"}},
      "placement": {"replicas": 2, "policy": {"preferred": [
        {"weight": 100, "term": {"labelSelector": {"matchLabels": {"tier": "preferred"}}}}]}}})");
    auto ns = admin_->Post("/api/v1/namespaces", json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                     {"metadata", {{"name", "e2e"}}}});
    ASSERT_TRUE(ns.ok() || ns.status().code() == StatusCode::kAlreadyExists) << ns.status().ToString();
    auto created = admin_->Post("/apis/berth.dev/v1alpha1/namespaces/e2e/workspaces", ws);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const std::map<std::string, std::pair<int, int>> on_a = {{"fo-a", {kReplicas, kReplicas}}};
    ASSERT_TRUE(WaitFor([&] {
      json w = Workspace();
      return Placements(w) == on_a && Condition(w, "Available") == "True";
    })) << "the workspace never became Available on fo-a"
        << Diagnostics();
  }

  std::set<std::string> EventReasons() {
    std::set<std::string> reasons;
    auto events = admin_->Get("/api/v1/namespaces/e2e/events");
    EXPECT_TRUE(events.ok());
    if (!events.ok()) return reasons;
    for (const auto& e : events->value("items", json::array())) reasons.insert(e.value("reason", ""));
    return reasons;
  }
};

TEST_F(FailoverE2E, ReplicasFailOverToAnotherMemberAndFailBackWithoutDroppingReady) {
  ASSERT_NO_FATAL_FAILURE(StartFleetAndWaitHealthy());
  // A small model with two replicas. fo-a is the cheapest member with room for both, and
  // the policy prefers it: cost alone would not bring the replicas back, because the
  // failover warms fo-b's image and model cache while fo-a's simulated cluster restarts cold
  // (with default weights the warm-cache term then outweighs fo-a's lower price).
  ASSERT_NO_FATAL_FAILURE(CreatePreferringFoA());
  const std::map<std::string, std::pair<int, int>> on_a = {{"fo-a", {kReplicas, kReplicas}}};

  // From here on, every change to any Work, in resourceVersion order.
  auto works_list = admin_->Get(std::string(kApi) + "works");
  ASSERT_TRUE(works_list.ok());
  testing::WatchRecorder works(
      *admin_, std::string(kApi) + "works?watch=true&resourceVersion=" +
                   works_list->value("/metadata/resourceVersion"_json_pointer, std::string()));
  const json a_spec_before = Work("fo-a").value("spec", json());
  ASSERT_FALSE(SpecEntry(Work("fo-a")).is_null());

  // --- fo-a's agent dies (its simulated cluster with it).
  const auto t_kill = Steady::now();
  agents_["fo-a"]->Kill();
  std::string reason;
  ASSERT_TRUE(WaitFor([&] {
    return Condition(Get(std::string(kApi) + "memberclusters/fo-a"), "Healthy", &reason) == "False";
  })) << "fo-a was never marked Unhealthy"
      << Diagnostics();
  const auto t_unhealthy = Steady::now();
  EXPECT_EQ(reason, "LeaseExpired");

  std::string elsewhere;  // the member the replicas moved to
  ASSERT_TRUE(WaitFor([&] {
    json w = Workspace();
    auto p = Placements(w);
    if (p.size() != 1 || p.count("fo-a") ||
        p.begin()->second != std::make_pair(kReplicas, kReplicas))
      return false;
    if (Condition(w, "Available") != "True") return false;
    elsewhere = p.begin()->first;
    return ReportsReady(Work(elsewhere));
  })) << "the replicas never became Ready on another member"
      << Diagnostics();
  const auto t_ready_elsewhere = Steady::now();
  EXPECT_EQ(elsewhere, "fo-b") << "the cheaper of the two survivors";
  json failed = Workspace();
  EXPECT_EQ(failed.value("/status/failedOverFrom"_json_pointer, json()), json::array({"fo-a"}));

  // Make-before-break / fail static: the dead member's Work was not touched at all.
  EXPECT_EQ(Work("fo-a").value("spec", json()), a_spec_before)
      << "fo-a's Work changed while fo-a was down";
  for (const auto& e : works.changes()) {
    if (e["object"].value("/metadata/name"_json_pointer, std::string()) == "fo-a") {
      EXPECT_EQ(e["object"].value("spec", json()), a_spec_before)
          << "fo-a's Work spec was rewritten while fo-a was down (rv " << Rv(e["object"]) << ")";
    }
  }

  // --- fo-a's agent comes back with its state dir (its credential and last Work).
  const int64_t rv_return = [&] {
    auto l = admin_->Get(std::string(kApi) + "works");
    return l.ok() ? std::stoll(l->value("/metadata/resourceVersion"_json_pointer, std::string("0")))
                  : 0;
  }();
  const auto t_return = Steady::now();
  StartAgent("fo-a", "");
  ASSERT_TRUE(WaitFor([&] {
    json w = Workspace();
    return Placements(w) == on_a && Condition(w, "Available") == "True" &&
           w.value("/status/superseded"_json_pointer, json()).is_null() &&
           SpecEntry(Work(elsewhere)).is_null();
  })) << "the replicas never failed back to fo-a (hysteresis 6 s)"
      << Diagnostics();
  const auto t_failback = Steady::now();
  EXPECT_TRUE(ReportsReady(Work("fo-a"))) << Diagnostics();
  EXPECT_EQ(Condition(Workspace(), "Degraded"), "False") << Diagnostics();
  EXPECT_TRUE(Workspace().value("/status/failedOverFrom"_json_pointer, json()).is_null());

  // Order, after fo-a returned: the failback puts the entry back on fo-a (after the stale
  // one was dropped), fo-a reports it Ready, and only then does `elsewhere` lose its entry.
  ASSERT_TRUE(works.WaitFor(
      [&](const std::vector<json>& events) {
        for (const auto& e : events) {
          if (e["object"].value("/metadata/name"_json_pointer, std::string()) == elsewhere &&
              Rv(e["object"]) > rv_return && SpecEntry(e["object"]).is_null()) {
            return true;
          }
        }
        return false;
      },
      10s))
      << works.Describe();
  // The stale entry on fo-a serves again once fo-a is back, so it drains (kept `draining`)
  // and is dropped when the drain ends, unless the failback wants fo-a again first (the
  // entry then stays and stops draining). The failback's entry is the first one written
  // after that without `draining`: after the drop, or with a newer placement generation.
  const int64_t a_generation = a_spec_before.value("placementGeneration", int64_t{0});
  int64_t rv_a_dropped = 0, rv_a_draining = 0, rv_a_back = 0, rv_a_ready = 0, rv_other_removed = 0;
  for (const auto& e : works.changes()) {
    const json& w = e["object"];
    const std::string name = w.value("/metadata/name"_json_pointer, std::string());
    const int64_t rv = Rv(w);
    if (rv <= rv_return) continue;
    const bool carries = !SpecEntry(w).is_null();
    const bool draining = carries && SpecEntry(w).contains("draining");
    if (name == "fo-a") {
      if (!carries && !rv_a_dropped) rv_a_dropped = rv;
      if (draining && !rv_a_draining) rv_a_draining = rv;
      if (carries && !draining && !rv_a_back &&
          (rv_a_dropped ||
           w.value("/spec/placementGeneration"_json_pointer, int64_t{0}) > a_generation)) {
        rv_a_back = rv;
      }
      if (rv_a_back && !rv_a_ready && ReportsReady(w)) rv_a_ready = rv;
    }
    if (name == elsewhere && !carries && !rv_other_removed) rv_other_removed = rv;
  }
  std::ostringstream order;
  order << "fo-a entry draining at rv " << rv_a_draining << ", dropped at rv " << rv_a_dropped
        << ", back at rv " << rv_a_back
        << ", Ready at rv " << rv_a_ready << "; " << elsewhere << " entry removed at rv "
        << rv_other_removed << "\n"
        << works.Describe();
  EXPECT_TRUE(rv_a_dropped > 0 || rv_a_draining > 0)
      << "the stale entry on fo-a (replacements Ready elsewhere) was neither dropped nor drained\n"
      << order.str();
  ASSERT_GT(rv_a_back, 0) << order.str();
  ASSERT_GT(rv_a_ready, 0) << order.str();
  ASSERT_GT(rv_other_removed, 0) << order.str();
  EXPECT_LT(rv_a_ready, rv_other_removed)
      << "make-before-break: " << elsewhere << "'s entry went before fo-a's replicas were Ready\n"
      << order.str();

  // The events a user would search for.
  const auto reasons = EventReasons();
  EXPECT_TRUE(reasons.count("FailedOver"));
  EXPECT_TRUE(reasons.count("FailedBack"));

  auto secs = [](Steady::duration d) { return std::chrono::duration<double>(d).count(); };
  std::printf(
      "failover e2e (hub --heartbeat-period 1 --missed-heartbeats 3 --failover-toleration 3 "
      "--failback-hysteresis 6 --drain-grace 2; agents --heartbeat-period 0.5 --time-scale 0.01):\n"
      "  kill fo-a -> fo-a Unhealthy:                 %.2f s\n"
      "  kill fo-a -> %d replicas Ready on %s:        %.2f s\n"
      "  fo-a back -> failback complete (on fo-a, %s entry removed): %.2f s\n",
      secs(t_unhealthy - t_kill), kReplicas, elsewhere.c_str(), secs(t_ready_elsewhere - t_kill),
      elsewhere.c_str(), secs(t_failback - t_return));
  std::printf(
      "  order (Work resourceVersions): fo-a stale entry dropped %lld, failback entry %lld, Ready "
      "%lld; "
      "%s entry removed %lld\n",
      static_cast<long long>(rv_a_dropped), static_cast<long long>(rv_a_back),
      static_cast<long long>(rv_a_ready), elsewhere.c_str(),
      static_cast<long long>(rv_other_removed));
}

// The member stays healthy but its GPUs fail (sim fault gpus-lost): its agent reports the
// replicas Pending (GPUsLost). After the hub's --capacity-pending-timeout they are placed on
// another member; fo-a's entry stays until the replacements are Ready, and only then goes.
TEST_F(FailoverE2E, ReplicasStuckWithoutGpusMoveAfterTheCapacityTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartFleetAndWaitHealthy());
  ASSERT_NO_FATAL_FAILURE(CreatePreferringFoA());
  auto works_list = admin_->Get(std::string(kApi) + "works");
  ASSERT_TRUE(works_list.ok());
  testing::WatchRecorder works(
      *admin_, std::string(kApi) + "works?watch=true&resourceVersion=" +
                   works_list->value("/metadata/resourceVersion"_json_pointer, std::string()));

  auto state = AgentAdmin("fo-a", "GET", "/state");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  const json nodes = state->value("/sim/nodes"_json_pointer, json::array());
  ASSERT_EQ(nodes.size(), 1u) << state->dump();
  const std::string node = nodes[0].value("name", "");
  const int units = nodes[0].value("units", 0);
  const auto t_fault = Steady::now();
  auto lost = AgentAdmin("fo-a", "POST", "/faults/gpus-lost?node=" + node + "&count=" + std::to_string(units));
  ASSERT_TRUE(lost.ok()) << lost.status().ToString();

  // The agent says why the replicas wait, and the hub starts the clock.
  std::string since;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& p : Workspace().value("/status/placements"_json_pointer, json::array())) {
      if (p.value("cluster", "") == "fo-a" && p.value("reason", "") == "GPUsLost") {
        since = p.value("capacityPendingSince", "");
      }
    }
    return !since.empty();
  })) << "fo-a's replicas were never reported Pending for GPUsLost with capacityPendingSince"
      << Diagnostics();
  EXPECT_EQ(Condition(Get(std::string(kApi) + "memberclusters/fo-a"), "Healthy"), "True")
      << "the member itself stays healthy: this is not a failover";

  ASSERT_TRUE(WaitFor([&] {
    json w = Workspace();
    auto p = Placements(w);
    return p == std::map<std::string, std::pair<int, int>>{{"fo-b", {kReplicas, kReplicas}}} &&
           Condition(w, "Available") == "True" && SpecEntry(Work("fo-a")).is_null();
  })) << "the replicas never moved to fo-b with fo-a's entry removed"
      << Diagnostics();
  const auto t_moved = Steady::now();
  EXPECT_TRUE(Workspace().value("/status/failedOverFrom"_json_pointer, json()).is_null())
      << "a capacity move is not a failover: nothing fails back";

  // Order: fo-b reports Ready before fo-a loses its entry (it kept it meanwhile).
  int64_t rv_b_ready = 0, rv_a_removed = 0;
  for (const auto& e : works.changes()) {
    const json& w = e["object"];
    const std::string name = w.value("/metadata/name"_json_pointer, std::string());
    if (name == "fo-b" && !rv_b_ready && ReportsReady(w)) rv_b_ready = Rv(w);
    if (name == "fo-a" && !rv_a_removed && SpecEntry(w).is_null()) rv_a_removed = Rv(w);
  }
  ASSERT_GT(rv_b_ready, 0) << works.Describe();
  ASSERT_GT(rv_a_removed, 0) << works.Describe();
  EXPECT_LT(rv_b_ready, rv_a_removed)
      << "make-before-break: fo-a's entry went before fo-b's replicas were Ready\n"
      << works.Describe();
  EXPECT_TRUE(EventReasons().count("Rescheduled"));

  std::printf(
      "capacity e2e (hub --capacity-pending-timeout 3): fo-a GPUs lost (since %s) -> %d replicas "
      "Ready on fo-b and fo-a's entry removed: %.2f s; Work rvs: fo-b Ready %lld, fo-a entry "
      "removed %lld\n",
      since.c_str(), kReplicas, std::chrono::duration<double>(t_moved - t_fault).count(),
      static_cast<long long>(rv_b_ready), static_cast<long long>(rv_a_removed));
}

}  // namespace
}  // namespace berth
