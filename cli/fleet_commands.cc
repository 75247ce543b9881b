// `berthctl fleet up|down|status|restart`: a local development fleet (issue #9). `up` starts a
// berth-hub and one SIMULATED member cluster (berth-agent --backend sim) per cluster of a fleet
// file, joins them with single-use tokens, and waits until every member is Joined and Healthy;
// `down` stops them; `status` shows what runs; `restart` brings processes back (e.g. after
// killing an agent to watch failover). Files and pid handling: cli/local_fleet.h.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "api/clock.h"
#include "api/kinds.h"
#include "api/kubeconfig.h"
#include "api/rest_client.h"
#include "api/schema.h"
#include "cli/bootstrap_token.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"
#include "cli/local_fleet.h"
#include "hub/pki.h"
#include "placement/fleet_file.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr char kMemberClusters[] = "/apis/berth.dev/v1alpha1/memberclusters";
constexpr char kLeases[] = "/apis/berth.dev/v1alpha1/leases";
constexpr char kWorks[] = "/apis/berth.dev/v1alpha1/works";
constexpr auto kHubReadyTimeout = seconds(30);
constexpr int64_t kJoinTokenTtlSeconds = 600;

struct UpFlags {
  std::string fleet_file;
  std::string data_dir;
  std::string listen = "127.0.0.1:6443";
  double time_scale = 0.01;
  double failover_toleration = -1;  // < 0: the hub's default
  double failback_hysteresis = -1;
  double drain_grace = -1;
  // berth-gateway's client listener: "auto" = a free loopback port, "none" = no gateway.
  std::string gateway_listen = "auto";
  bool foreground = false;
  std::string bin_dir;
  int agent_port_base = 17100;
  std::string wait = "90s";
};

struct DownFlags {
  std::string data_dir;
  std::string timeout = "10s";
};

struct RestartFlags {
  std::string data_dir;
  std::vector<std::string> names;
  std::string timeout = "10s";
};

// ---------------------------------------------------------------- small helpers

void PrintError(const std::string& message) { std::cerr << "error: " << message << "\n"; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
}

// 0.01, 10, 2.5: as a flag value.
std::string Number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string BinaryOf(const std::string& name) {
  return name == "hub" ? "berth-hub" : "berth-agent";
}

// "exited with status 1" / "was killed by signal 9 (Killed)".
std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

// When `pid` is our child and has exited: reaps it and returns how it ended.
std::optional<std::string> ChildExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) return DescribeExit(status);
  return std::nullopt;
}

// SIGINT and SIGTERM are blocked for the whole command and taken with sigtimedwait, so a
// Ctrl-C during start-up stops what was started instead of leaving half a fleet behind.
// Blocked before any thread exists, so every thread inherits the mask.
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Sleeps up to `d`; returns the signal number when SIGINT/SIGTERM arrived, else 0.
int SleepOrSignal(milliseconds d) {
  sigset_t set = StopSignals();
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1000000};
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

// HOST:PORT with an IPv4 host (the local fleet lives on loopback).
StatusOr<std::pair<std::string, int>> ParseListen(const std::string& text) {
  const auto colon = text.rfind(':');
  const std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : text.substr(colon + 1);
  in_addr addr{};
  const bool port_ok = !port_text.empty() && port_text.size() <= 5 &&
                       port_text.find_first_not_of("0123456789") == std::string::npos;
  const int port = port_ok ? std::stoi(port_text) : 0;
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1 || port < 1 || port > 65535) {
    return Status::Invalid("--listen \"" + text +
                           "\": use IPV4:PORT with a port from 1 to 65535, e.g. 127.0.0.1:6443");
  }
  return std::make_pair(host, port);
}

// The directory holding berth-hub and berth-agent: --bin-dir, else beside berthctl.
StatusOr<std::string> ResolveBinDir(const std::string& flag) {
  std::string dir = flag;
  std::string where = "--bin-dir " + flag;
  if (dir.empty()) {
    std::error_code ec;
    dir = fs::read_symlink("/proc/self/exe", ec).parent_path().string();
    if (ec) return Status::Internal("cannot find berthctl's own path: " + ec.message());
    where = dir + " (beside berthctl; pass --bin-dir to use others)";
  }
  dir = fs::absolute(dir).lexically_normal().string();
  for (const char* binary : {"berth-hub", "berth-agent"}) {
    const std::string path = dir + "/" + binary;
    if (::access(path.c_str(), X_OK) != 0) {
      return Status::NotFound(std::string(binary) + " is not in " + where + ": build it (cmake " +
                              "--build build --target berth-hub berth-agent) or pass --bin-dir");
    }
  }
  return dir;
}

// ---------------------------------------------------------------- the hub and its members

// Waits for GET /readyz = 200 over TLS verified with the hub's CA.
Status WaitHubReady(const LocalFleet& fleet, const std::string& url, pid_t pid, bool* interrupted) {
  const auto deadline = SteadyClock::now() + kHubReadyTimeout;
  std::unique_ptr<RestClient> client;
  while (true) {
    if (auto exit = ChildExit(pid)) {
      return Status::Unavailable("berth-hub " + *exit + " while starting; " + fleet.LogPath("hub") +
                                 " ends with:\n" + fleet.LogTail("hub"));
    }
    if (!client && fs::exists(fleet.CaPath())) {
      ClientConfig config;
      config.server = url;
      config.ca_pem = ReadText(fleet.CaPath());
      config.timeout = seconds(2);
      if (auto c = RestClient::Create(config); c.ok()) client = std::move(*c);
    }
    if (client) {
      auto r = client->Do("GET", "/readyz", "", "");
      if (r.ok() && r->status_code == 200) return Status::Ok();
    }
    if (SteadyClock::now() >= deadline) {
      return Status::Unavailable("berth-hub did not answer " + url + "/readyz within " +
                                 std::to_string(kHubReadyTimeout.count()) + "s; " +
                                 fleet.LogPath("hub") + " ends with:\n" + fleet.LogTail("hub"));
    }
    if (SleepOrSignal(milliseconds(200)) != 0) {
      *interrupted = true;
      return Status::Unavailable("interrupted while waiting for berth-hub");
    }
  }
}

// status of condition `type` in a MemberCluster: {status, "Reason: message"}.
std::pair<std::string, std::string> ConditionOf(const json& member, const std::string& type) {
  const json status = member.value("status", json::object());
  const json conditions =
      status.is_object() ? status.value("conditions", json::array()) : json::array();
  for (const auto& c : conditions) {
    if (!c.is_object()) continue;
    if (c.value("type", "") == type) {
      std::string why = c.value("reason", "");
      if (!c.value("message", "").empty())
        why += (why.empty() ? "" : ": ") + c.value("message", "");
      return {c.value("status", "Unknown"), why};
    }
  }
  return {"Unknown", "no " + type + " condition yet"};
}

StatusOr<std::map<std::string, json>> ListByName(RestClient& hub, const std::string& path) {
  auto list = hub.Get(path);
  if (!list.ok()) return list.status();
  std::map<std::string, json> by_name;
  for (const auto& item : list->value("items", json::array())) {
    by_name[item.value("metadata", json::object()).value("name", "")] = item;
  }
  return by_name;
}

// Members of `clusters` that are not ready, each with why. Ready: Joined=True and Healthy=True,
// a lease renewed at or after `since` (a restarted hub still shows the health its store held
// before), and the member's Work acknowledged by its agent (status.observedPlacementGeneration
// caught up): after that the agent writes its Work only when something changes, so workspaces
// applied next are placed on a settled fleet.
StatusOr<std::vector<std::string>> MembersNotHealthy(RestClient& hub,
                                                     const std::vector<std::string>& clusters,
                                                     Clock::TimePoint since) {
  auto members = ListByName(hub, kMemberClusters);
  if (!members.ok()) return members.status();
  auto leases = ListByName(hub, kLeases);
  if (!leases.ok()) return leases.status();
  auto works = ListByName(hub, kWorks);
  if (!works.ok()) return works.status();
  std::vector<std::string> not_ready;
  for (const auto& c : clusters) {
    auto it = members->find(c);
    if (it == members->end()) {
      not_ready.push_back(c + " (has not joined: no MemberCluster)");
      continue;
    }
    auto [joined, joined_why] = ConditionOf(it->second, "Joined");
    auto [healthy, healthy_why] = ConditionOf(it->second, "Healthy");
    Clock::TimePoint renewed{};
    const json lease = leases->count(c) ? (*leases)[c] : json::object();
    const json renew_time = api::JsonPathGet(lease, "spec.renewTime");
    const bool fresh = renew_time.is_string() &&
                       ParseRfc3339(renew_time.get<std::string>(), &renewed) && renewed >= since;
    if (joined != "True") {
      not_ready.push_back(c + " (Joined=" + joined + ", " + joined_why + ")");
    } else if (!fresh) {
      not_ready.push_back(c + " (no lease renewal since its agent started)");
    } else if (healthy != "True") {
      not_ready.push_back(c + " (Healthy=" + healthy + ", " + healthy_why + ")");
    } else {
      const json work = works->count(c) ? (*works)[c] : json::object();
      const json wanted = api::JsonPathGet(work, "spec.placementGeneration");
      const json seen = api::JsonPathGet(work, "status.observedPlacementGeneration");
      if (!wanted.is_number() || !seen.is_number() || seen.get<int64_t>() < wanted.get<int64_t>()) {
        not_ready.push_back(c + " (its agent has not acknowledged its Work yet)");
      }
    }
  }
  return not_ready;
}

// Waits until every cluster is Joined and Healthy with a fresh lease. Fails at once when a
// process of `pids` (the hub or an agent, our children) exits.
Status WaitMembersHealthy(const LocalFleet& fleet, RestClient& hub,
                          const std::map<std::string, pid_t>& pids,
                          const std::vector<std::string>& clusters, milliseconds timeout,
                          bool* interrupted) {
  const auto deadline = SteadyClock::now() + timeout;
  // RFC 3339 in the lease has millisecond precision: compare from the start of this second.
  const Clock::TimePoint since =
      std::chrono::floor<seconds>(RealClock::Instance().Now()) - seconds(1);
  std::vector<std::string> not_ready;
  std::string last_error;
  while (true) {
    for (const auto& [name, pid] : pids) {
      if (auto exit = ChildExit(pid)) {
        return Status::Unavailable((name == "hub" ? "berth-hub" : "berth-agent of " + name) + " " +
                                   *exit + " before every member was Healthy; " +
                                   fleet.LogPath(name) + " ends with:\n" + fleet.LogTail(name));
      }
    }
    auto pending = MembersNotHealthy(hub, clusters, since);
    if (pending.ok()) {
      if (pending->empty()) return Status::Ok();
      not_ready = *pending;
    } else {
      last_error = pending.status().message();
    }
    if (SteadyClock::now() >= deadline) {
      std::string message = "not every member is Joined and Healthy after " +
                            std::to_string(timeout.count() / 1000) + "s (--wait):";
      if (not_ready.empty()) message += " the hub did not answer (" + last_error + ")";
      for (const auto& m : not_ready) {
        message += "\n  " + m + "; log " + fleet.LogPath(m.substr(0, m.find(' ')));
      }
      return Status::Unavailable(message);
    }
    if (SleepOrSignal(milliseconds(500)) != 0) {
      *interrupted = true;
      return Status::Unavailable("interrupted while waiting for the members");
    }
  }
}

// Starts one agent; mints a join token first when its state dir holds no credential yet
// (a rerun of `fleet up` reuses the stored credential: no token).
StatusOr<pid_t> StartAgent(const LocalFleet& fleet, FleetProcess process, RestClient& hub,
                           bool die_with_parent, bool* used_token) {
  *used_token = !fs::exists(fleet.AgentStateDir(process.name) + "/credential");
  if (*used_token) {
    // Bound to this member's name, so the token can join as nothing else; no --rejoin: a
    // member whose agent still renews its lease is not taken over.
    BootstrapTokenSpec spec;
    spec.ttl_seconds = kJoinTokenTtlSeconds;
    spec.description = "berthctl fleet up: join of " + process.name;
    spec.cluster_name = process.name;
    auto token = CreateBootstrapToken(hub, spec);
    if (!token.ok()) return token.status().WithContext("create a join token for " + process.name);
    BERTH_RETURN_IF_ERROR(
        WriteFileAtomic(fleet.JoinTokenFile(process.name), token->token + "\n", 0600));
    process.argv.push_back("--join-token-file");
    process.argv.push_back(fleet.JoinTokenFile(process.name));
  }
  const std::string admin = process.endpoint.substr(process.endpoint.find("//") + 2);
  BERTH_RETURN_IF_ERROR(WriteFileAtomic(fleet.AdminFile(process.name), admin + "\n", 0644));
  return fleet.Start(process, die_with_parent);
}

// What the process tables call a process.
std::string ProcessLabel(const FleetProcess& p) {
  return p.is_hub() ? "berth-hub" : p.is_gateway() ? "berth-gateway" : p.name;
}

bool AcceptsConnections(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Starts berth-gateway (it starts HAProxy) and waits until HAProxy takes connections.
StatusOr<pid_t> StartGateway(const LocalFleet& fleet, const FleetProcess& process, bool die_with_parent,
                             bool* interrupted) {
  std::error_code ec;
  fs::create_directories(fleet.GatewayDir(), ec);
  auto pid = fleet.Start(process, die_with_parent);
  if (!pid.ok()) return pid;
  const std::string listen = process.endpoint.substr(process.endpoint.find("//") + 2);
  for (int i = 0; i < 60; ++i) {  // 30 s
    if (AcceptsConnections(listen)) return pid;
    if (!ProcessAlive(*pid)) break;
    if (SleepOrSignal(milliseconds(500)) != 0) {
      *interrupted = true;
      return Status::Unavailable("interrupted while waiting for berth-gateway");
    }
  }
  return Status::Unavailable("berth-gateway did not start serving on " + listen + "; its log " +
                             fleet.LogPath("gateway") + " ends:\n" + fleet.LogTail("gateway"));
}

StatusOr<std::unique_ptr<RestClient>> AdminClient(const LocalFleet& fleet, milliseconds timeout) {
  auto config = LoadKubeconfigFile(fleet.KubeconfigPath());
  if (!config.ok()) return config.status().WithContext(fleet.KubeconfigPath());
  config->timeout = timeout;
  return RestClient::Create(std::move(*config));
}

void RemoveJoinTokenFiles(const LocalFleet& fleet, const std::vector<std::string>& clusters) {
  for (const auto& c : clusters) {
    std::error_code ec;
    fs::remove(fleet.JoinTokenFile(c), ec);
  }
}

void PrintStopResults(const LocalFleet& fleet,
                      const std::vector<std::pair<std::string, StopResult>>& results,
                      const std::map<std::string, pid_t>& pids, milliseconds timeout,
                      std::ostream& out) {
  for (const auto& [name, result] : results) {
    auto pid = pids.count(name) ? " (pid " + std::to_string(pids.at(name)) + ")" : std::string();
    const std::string what = name == "hub" ? "berth-hub" : "berth-agent of " + name;
    switch (result) {
      case StopResult::kTerminated:
        out << "stopped " << what << pid << "\n";
        break;
      case StopResult::kKilled:
        out << "killed " << what << pid << ": still running " << timeout.count() / 1000
            << "s after SIGTERM\n";
        break;
      case StopResult::kNotRunning:
        out << what << " was not running" << pid << "; removed its pid file\n";
        break;
    }
  }
}

// Stops `names` (pid file names), agents first and then the hub: agents stopped after the hub
// would log a burst of hub-unreachable retries. Prints one line per process to `out`.
void StopAndReport(const LocalFleet& fleet, const std::vector<std::string>& names,
                   milliseconds timeout, std::ostream& out) {
  std::map<std::string, pid_t> pids;
  std::vector<std::string> agents, hub;
  for (const auto& n : names) {
    if (auto p = fleet.RecordedPid(n)) pids[n] = *p;
    (n == "hub" ? hub : agents).push_back(n);
  }
  for (const auto* group : {&agents, &hub}) {
    if (!group->empty())
      PrintStopResults(fleet, fleet.StopAll(*group, timeout), pids, timeout, out);
  }
}

// ---------------------------------------------------------------- fleet up

void PrintSummary(const LocalFleet& fleet, const FleetRecord& record,
                  const std::map<std::string, pid_t>& pids, bool foreground) {
  const size_t members = std::count_if(record.processes.begin(), record.processes.end(),
                                       [](const FleetProcess& p) { return p.is_agent(); });
  std::cout << "\nFleet up: berth-hub and " << members << " SIMULATED member cluster"
            << (members == 1 ? "" : "s")
            << " (berth-agent --backend sim, no real GPUs), every member Joined and Healthy.\n\n";
  std::vector<std::vector<std::string>> rows = {{"PROCESS", "PID", "ENDPOINT", "LOG"}};
  for (const auto& p : record.processes) {
    rows.push_back({ProcessLabel(p), std::to_string(pids.at(p.name)), p.endpoint, fleet.LogPath(p.name)});
  }
  PrintTable(rows, "  ");
  std::string first_admin, first_cluster, gateway_url;
  for (const auto& p : record.processes) {
    if (p.is_agent() && first_cluster.empty()) {
      first_cluster = p.name;
      first_admin = p.endpoint;
    }
    if (p.is_gateway()) gateway_url = p.endpoint;
  }
  std::cout
      << "\n  kubeconfig   " << fleet.KubeconfigPath() << "   (admin; verifies the hub with "
      << fleet.CaPath() << ")\n"
      << "  pid files    " << fleet.PidsDir() << "/\n"
      << "  agent state  " << fleet.dir() << "/agents/<cluster>/ (member credentials: a "
      << "rerun of fleet up rejoins without tokens)\n\n"
      << "Next:\n"
      << "  export KUBECONFIG=" << fleet.KubeconfigPath() << "\n"
      << "  kubectl get memberclusters                 # mc: region, GPUs free/total, health\n"
      << "  kubectl apply -f examples/workspaces/phi-4-mini.yaml\n"
      << "  kubectl get workspaces -A -o wide          # ws: where replicas run, ready/desired\n";
  if (!gateway_url.empty()) {
    std::cout << "  curl " << gateway_url << "/v1/models                # berth-gateway: one OpenAI endpoint "
              << "for every model the fleet serves (docs/GATEWAY.md)\n";
  }
  if (!first_admin.empty()) {
    std::cout << "  curl -X POST " << first_admin << "/faults/unreachable   # " << first_cluster
              << " stops heartbeating: watch failover\n"
              << "  kill -9 $(cat " << fleet.PidPath(first_cluster) << ")   # or kill its agent; "
              << "bring it back: berthctl fleet restart --data-dir " << fleet.dir() << " "
              << first_cluster << "\n";
  }
  std::cout << "  berthctl fleet status --data-dir " << fleet.dir() << "\n";
  if (foreground) {
    std::cout
        << "\nRunning in the foreground: Ctrl-C (or SIGTERM) stops every process of the fleet.\n";
  } else {
    std::cout << "  berthctl fleet down --data-dir " << fleet.dir() << "\n";
  }
  std::cout.flush();
}

// --foreground: reports processes that exit, stops the fleet on SIGINT/SIGTERM.
int RunForeground(LocalFleet& fleet, const std::map<std::string, pid_t>& pids,
                  milliseconds stop_timeout) {
  std::map<pid_t, std::string> names;
  for (const auto& [name, pid] : pids) names[pid] = name;
  while (true) {
    const int sig = SleepOrSignal(seconds(1));
    if (sig != 0) {
      std::cout << "\n" << strsignal(sig) << ": stopping the fleet\n";
      if (!fleet.Lock().ok()) std::cout << "(another fleet command is running; stopping anyway)\n";
      StopAndReport(fleet, fleet.PidFileNames(), stop_timeout, std::cout);
      return 0;
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      const std::string name = names.count(pid) ? names[pid] : "process " + std::to_string(pid);
      std::cerr << (name == "hub" ? "berth-hub" : "berth-agent of " + name) << " (pid " << pid
                << ") " << DescribeExit(status) << "; log " << fleet.LogPath(name) << "\n";
    }
    bool any_running = false;
    for (const auto& n : fleet.PidFileNames()) any_running = any_running || fleet.RunningPid(n);
    if (!any_running) {
      std::cout << "every process of the fleet has stopped; exiting\n";
      return 0;
    }
  }
}

// Exit code for a Status from a step of `fleet up`: 2 for bad input (a flag), 1 otherwise.
int ExitCodeOf(const Status& s) { return s.code() == StatusCode::kInvalid ? 2 : 1; }

// The cluster names of a fleet file, in file order, checked to be usable member names.
StatusOr<std::vector<std::string>> ReadFleetClusters(const std::string& flag_value,
                                                     const std::string& path) {
  const std::string text = ReadText(path);
  if (text.empty())
    return Status::NotFound("--fleet " + flag_value + ": cannot read it (or it is empty)");
  auto snapshot = placement::ParseFleetYaml(text);
  if (!snapshot.ok()) {
    std::string message = "--fleet " + flag_value + ": " + snapshot.status().message();
    for (const auto& c : snapshot.status().causes()) {
      const std::string cause = c.field + ": " + c.message;
      if (message.find(cause) == std::string::npos) message += "\n  " + cause;
    }
    return Status::Invalid(message);
  }
  std::vector<std::string> clusters;
  for (const auto& c : snapshot->clusters) {
    if (std::string why = api::CheckDns1123Label(c.name); !why.empty()) {
      return Status::Invalid("--fleet " + flag_value + ": cluster \"" + c.name +
                             "\" cannot be a member name: " + why);
    }
    if (c.name == "hub") {
      return Status::Invalid("--fleet " + flag_value +
                             ": a cluster named \"hub\" would share the hub's log and pid files; "
                             "rename it");
    }
    clusters.push_back(c.name);
  }
  if (clusters.empty()) return Status::Invalid("--fleet " + flag_value + ": no clusters");
  return clusters;
}

// One fleet per data dir: two hubs on one store would corrupt it, two agents with one
// credential would fight over the same Work. Stale pid files (process gone) are removed.
Status RefuseRunningFleet(const LocalFleet& fleet) {
  std::string running;
  std::vector<std::string> stale;
  for (const auto& name : fleet.PidFileNames()) {
    if (auto pid = fleet.RunningPid(name)) {
      running += (running.empty() ? "" : ", ") + BinaryOf(name) +
                 (name == "hub" ? "" : " " + name) + " (pid " + std::to_string(*pid) + ")";
    } else {
      stale.push_back(name);
    }
  }
  if (!running.empty()) {
    return Status::FailedPrecondition(fleet.dir() + " already runs a fleet: " + running +
                                      ". Stop it first with `berthctl fleet down --data-dir " +
                                      fleet.dir() + "`, or use another --data-dir");
  }
  for (const auto& name : stale) {
    std::error_code ec;
    fs::remove(fleet.PidPath(name), ec);
    std::cout << "removed stale pid file " << fleet.PidPath(name) << " (its process is gone)\n";
  }
  return Status::Ok();
}

// Admin ports for the agents: base, base+1, ... (each checked free), or free ones for base 0.
// Checked before anything starts, rather than leave an agent that cannot listen.
StatusOr<std::vector<int>> AgentAdminPorts(int base, const std::vector<std::string>& clusters,
                                           int hub_port) {
  std::vector<int> ports;
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (base == 0) {
      auto p = PickFreePort();
      if (!p.ok()) return p.status();
      ports.push_back(*p);
      continue;
    }
    const int p = base + static_cast<int>(i);
    if (p == hub_port) {
      return Status::Invalid("--agent-port-base " + std::to_string(base) + ": port " +
                             std::to_string(p) + " is the hub's --listen port");
    }
    if (auto s = CheckPortFree("127.0.0.1", p); !s.ok()) {
      return Status::Unavailable(
          "--agent-port-base " + std::to_string(base) + ": the admin endpoint of " + clusters[i] +
          " would be " + s.message() + "; pass another --agent-port-base, or 0 to pick free ports");
    }
    ports.push_back(p);
  }
  return ports;
}

// Where berth-gateway listens (fleet up --gateway-listen): clients, its /v1/models catalog
// behind HAProxy, HAProxy's Prometheus frontend.
struct GatewayListeners {
  std::string listen, catalog, metrics;  // HOST:PORT each
};

// nullopt with a note when no gateway is wanted (--gateway-listen none) or possible
// (berth-gateway or haproxy missing); an error for a bad or busy --gateway-listen.
StatusOr<std::optional<GatewayListeners>> PlanGateway(const std::string& flag, const std::string& bin_dir,
                                                      std::string* note) {
  if (flag == "none") return std::optional<GatewayListeners>();
  if (!fs::exists(bin_dir + "/berth-gateway") || !fs::exists("/usr/sbin/haproxy")) {
    *note = "no gateway: " + std::string(fs::exists("/usr/sbin/haproxy") ? bin_dir + "/berth-gateway" : "haproxy") +
            " is not installed (scripts/install-deps.sh installs haproxy)";
    return std::optional<GatewayListeners>();
  }
  GatewayListeners g;
  if (flag == "auto") {
    auto port = PickFreePort();
    if (!port.ok()) return port.status();
    g.listen = "127.0.0.1:" + std::to_string(*port);
  } else {
    auto listen = ParseListen(flag);
    if (!listen.ok()) return Status::Invalid("--gateway-listen: " + listen.status().message());
    if (auto s = CheckPortFree(listen->first, listen->second); !s.ok()) {
      return Status::Unavailable("--gateway-listen: " + s.message());
    }
    g.listen = flag;
  }
  auto catalog = PickFreePort();
  auto metrics = PickFreePort();
  if (!catalog.ok()) return catalog.status();
  if (!metrics.ok()) return metrics.status();
  g.catalog = "127.0.0.1:" + std::to_string(*catalog);
  g.metrics = "127.0.0.1:" + std::to_string(*metrics);
  return std::optional<GatewayListeners>(g);
}

// The command line of every process (what fleet.json records): the hub first, then one
// agent per cluster. Agents get --join-token-file only when started (StartAgent).
FleetRecord PlanFleet(const UpFlags& f, const LocalFleet& fleet, const std::string& bin_dir,
                      const std::string& fleet_file, const std::vector<std::string>& clusters,
                      const std::vector<int>& admin_ports, const std::string& hub_host,
                      int hub_port, const std::optional<GatewayListeners>& gateway) {
  FleetRecord record;
  record.fleet_file = fleet_file;
  record.hub_url = "https://" + (hub_host == "0.0.0.0" ? std::string("127.0.0.1") : hub_host) +
                   ":" + std::to_string(hub_port);
  FleetProcess hub{"hub",
                   {bin_dir + "/berth-hub", "--data-dir", fleet.HubDir(), "--listen", f.listen,
                    "--region-latencies", fleet_file},  // plan reads them from the same file
                   record.hub_url};
  if (f.failover_toleration >= 0) {
    hub.argv.insert(hub.argv.end(), {"--failover-toleration", Number(f.failover_toleration)});
  }
  if (f.failback_hysteresis >= 0) {
    hub.argv.insert(hub.argv.end(), {"--failback-hysteresis", Number(f.failback_hysteresis)});
  }
  if (f.drain_grace >= 0) hub.argv.insert(hub.argv.end(), {"--drain-grace", Number(f.drain_grace)});
  record.processes.push_back(hub);
  for (size_t i = 0; i < clusters.size(); ++i) {
    const std::string admin = "127.0.0.1:" + std::to_string(admin_ports[i]);
    record.processes.push_back(
        {clusters[i],
         {bin_dir + "/berth-agent", "--hub", record.hub_url, "--hub-ca", fleet.CaPath(),
          "--cluster-name", clusters[i], "--state-dir", fleet.AgentStateDir(clusters[i]),
          "--backend", "sim", "--fleet", fleet_file, "--time-scale", Number(f.time_scale),
          "--admin-listen", admin},
         "http://" + admin});
  }
  if (gateway) {
    record.processes.push_back(
        {"gateway",
         {bin_dir + "/berth-gateway", "--kubeconfig", fleet.KubeconfigPath(), "--state-dir", fleet.GatewayDir(),
          "--listen", gateway->listen, "--catalog-listen", gateway->catalog, "--metrics-listen", gateway->metrics},
         "http://" + gateway->listen});
  }
  return record;
}

int RunUp(const UpFlags& f) {
  // Block the stop signals before anything starts a thread (RestClient does).
  sigset_t stop = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // Everything that can be checked is checked before a process starts.
  auto listen = ParseListen(f.listen);
  if (!listen.ok()) return PrintError(listen.status().message()), 2;
  const auto [host, port] = *listen;
  auto wait_seconds = ParseDurationSeconds(f.wait);
  if (!wait_seconds.ok()) return PrintError("--wait: " + wait_seconds.status().message()), 2;
  if (f.agent_port_base != 0 && (f.agent_port_base < 1024 || f.agent_port_base > 65000)) {
    return PrintError("--agent-port-base " + std::to_string(f.agent_port_base) +
                      ": use a port from 1024 to 65000, or 0 to pick free ports"),
           2;
  }
  auto bin_dir = ResolveBinDir(f.bin_dir);
  if (!bin_dir.ok()) return PrintError(bin_dir.status().message()), 1;
  const std::string fleet_file = fs::absolute(f.fleet_file).lexically_normal().string();
  auto clusters = ReadFleetClusters(f.fleet_file, fleet_file);
  if (!clusters.ok()) return PrintError(clusters.status().message()), 1;

  LocalFleet fleet(f.data_dir);
  if (auto s = fleet.CreateLayout(); !s.ok()) return PrintError(s.message()), 1;
  if (auto s = fleet.Lock(); !s.ok()) return PrintError(s.message()), 1;
  if (auto s = RefuseRunningFleet(fleet); !s.ok()) return PrintError(s.message()), 1;
  if (auto s = CheckPortFree(host, port); !s.ok()) {
    return PrintError("--listen: " + s.message() +
                      ": another hub or fleet may be running there; pass --listen " + host +
                      ":PORT"),
           1;
  }
  auto admin_ports = AgentAdminPorts(f.agent_port_base, *clusters, port);
  if (!admin_ports.ok())
    return PrintError(admin_ports.status().message()), ExitCodeOf(admin_ports.status());
  std::string gateway_note;
  auto gateway = PlanGateway(f.gateway_listen, *bin_dir, &gateway_note);
  if (!gateway.ok()) return PrintError(gateway.status().message()), ExitCodeOf(gateway.status());
  const FleetRecord record =
      PlanFleet(f, fleet, *bin_dir, fleet_file, *clusters, *admin_ports, host, port, *gateway);
  if (auto s = fleet.WriteRecord(record); !s.ok()) return PrintError(s.message()), 1;

  // From here on a failure stops what this command started.
  std::vector<std::string> started;
  std::map<std::string, pid_t> pids;
  bool interrupted = false;
  auto fail = [&](const std::string& message) {
    std::cout.flush();
    PrintError(message);
    if (!started.empty()) {
      std::cerr << (interrupted ? "interrupted: " : "")
                << "stopping the processes this command started:\n";
      StopAndReport(fleet, started, seconds(10), std::cerr);
    }
    RemoveJoinTokenFiles(fleet, *clusters);
    std::cerr << "logs: " << fleet.LogsDir() << "/\n";
    return interrupted ? 130 : 1;
  };

  const FleetProcess& hub_process = record.processes.front();
  std::cout << "Starting berth-hub on " << record.hub_url << " (store and PKI in " << fleet.HubDir()
            << ", log " << fleet.LogPath("hub") << ")\n";
  std::cout.flush();
  auto hub_pid = fleet.Start(hub_process, f.foreground);
  if (!hub_pid.ok()) return fail(hub_pid.status().message());
  started.push_back("hub");
  pids["hub"] = *hub_pid;
  if (auto s = WaitHubReady(fleet, record.hub_url, *hub_pid, &interrupted); !s.ok()) {
    return fail(s.message());
  }
  // DIR/admin.kubeconfig points at the hub's own (the hub rewrites it when the URL changes or
  // the admin token is rotated), so it is never stale.
  std::error_code ec;
  fs::remove(fleet.KubeconfigPath(), ec);
  fs::create_symlink("hub/admin.kubeconfig", fleet.KubeconfigPath(), ec);
  if (ec) return fail("link " + fleet.KubeconfigPath() + ": " + ec.message());
  auto hub = AdminClient(fleet, seconds(10));
  if (!hub.ok()) return fail(hub.status().message());

  std::cout << "Starting " << clusters->size() << " SIMULATED member clusters from " << f.fleet_file
            << " (berth-agent --backend sim, time scale " << Number(f.time_scale) << ")\n";
  for (size_t i = 1; i < record.processes.size(); ++i) {
    const FleetProcess& p = record.processes[i];
    if (!p.is_agent()) continue;
    bool used_token = false;
    auto pid = StartAgent(fleet, p, **hub, f.foreground, &used_token);
    if (!pid.ok()) return fail(pid.status().message());
    started.push_back(p.name);
    pids[p.name] = *pid;
    std::cout << "  " << p.name << ": pid " << *pid << ", admin " << p.endpoint << ", "
              << (used_token ? "joins with a single-use token (--join-token-file)"
                             : "rejoins with its stored credential")
              << "\n";
  }
  std::cout << "Waiting up to " << *wait_seconds << "s for every member to be Joined and Healthy\n";
  std::cout.flush();
  if (auto s =
          WaitMembersHealthy(fleet, **hub, pids, *clusters, seconds(*wait_seconds), &interrupted);
      !s.ok()) {
    return fail(s.message());
  }
  RemoveJoinTokenFiles(fleet, *clusters);  // spent: each agent holds its credential now
  if (!gateway_note.empty()) std::cout << gateway_note << "\n";
  for (const auto& p : record.processes) {
    if (!p.is_gateway()) continue;
    auto pid = StartGateway(fleet, p, f.foreground, &interrupted);
    if (!pid.ok()) return fail(pid.status().message());
    started.push_back(p.name);
    pids[p.name] = *pid;
  }
  fleet.Unlock();
  PrintSummary(fleet, record, pids, f.foreground);
  if (!f.foreground) return 0;
  return RunForeground(fleet, pids, seconds(10));
}

// ---------------------------------------------------------------- fleet down / status / restart

int RunDown(const DownFlags& f) {
  auto timeout = ParseDurationSeconds(f.timeout);
  if (!timeout.ok()) return PrintError("--timeout: " + timeout.status().message()), 2;
  LocalFleet fleet(f.data_dir);
  if (!fs::is_directory(fleet.dir())) {
    return PrintError("--data-dir " + fleet.dir() + " does not exist: nothing to stop"), 1;
  }
  if (auto s = fleet.Lock(); !s.ok()) return PrintError(s.message()), 1;
  const auto names = fleet.PidFileNames();
  if (names.empty()) {
    std::cout << "no fleet processes recorded in " << fleet.PidsDir() << "/: nothing to stop\n";
    return 0;
  }
  StopAndReport(fleet, names, seconds(*timeout), std::cout);
  RemoveJoinTokenFiles(fleet, names);
  std::cout << "fleet in " << fleet.dir() << " is down; its state (hub store, member credentials, "
            << "logs) is kept: `berthctl fleet up --data-dir " << fleet.dir()
            << " --fleet FILE` starts it again\n";
  return 0;
}

int RunStatus(const std::string& data_dir) {
  LocalFleet fleet(data_dir);
  if (!fs::is_directory(fleet.dir())) {
    return PrintError("--data-dir " + fleet.dir() +
                      " does not exist (start a fleet with `berthctl fleet up`)"),
           1;
  }
  auto record = fleet.ReadRecord();
  std::vector<FleetProcess> processes;
  if (record.ok()) {
    processes = record->processes;
  } else {
    for (const auto& n : fleet.PidFileNames()) processes.push_back({n, {}, ""});
    if (processes.empty()) return PrintError(record.status().message()), 1;
  }
  // Member health from the hub, when it answers.
  std::map<std::string, std::string> health;
  bool hub_answers = false;
  if (fleet.RunningPid("hub")) {
    if (auto hub = AdminClient(fleet, seconds(3)); hub.ok()) {
      if (auto list = (*hub)->Get(kMemberClusters); list.ok()) {
        hub_answers = true;
        for (const auto& item : list->value("items", json::array())) {
          auto [status, why] = ConditionOf(item, "Healthy");
          health[item.value("metadata", json::object()).value("name", "")] =
              status == "True" ? "Healthy" : "Healthy=" + status;
        }
      }
    }
  }
  std::vector<std::vector<std::string>> rows = {
      {"PROCESS", "PID", "STATE", "MEMBER", "ENDPOINT", "LOG"}};
  int not_running = 0;
  for (const auto& p : processes) {
    auto pid = fleet.RunningPid(p.name);
    auto recorded = fleet.RecordedPid(p.name);
    std::string state = pid ? "running" : recorded ? "dead" : "stopped";
    if (!pid) ++not_running;
    std::string member = "-";
    if (p.is_gateway()) {
      member = "-";
    } else if (!p.is_hub()) {
      member = !hub_answers ? "?" : health.count(p.name) ? health[p.name] : "not joined";
    } else {
      member = hub_answers ? "(API answers)" : pid ? "(API not answering)" : "-";
    }
    rows.push_back({ProcessLabel(p), recorded ? std::to_string(*recorded) : "-",
                    state, member, p.endpoint, fleet.LogPath(p.name)});
  }
  std::cout << "fleet in " << fleet.dir()
            << (record.ok() ? " (from " + record->fleet_file + ")" : "") << "\n";
  PrintTable(rows, "");
  std::cout << "kubeconfig: " << fleet.KubeconfigPath() << "\n";
  if (not_running > 0) {
    std::cout << not_running << " of " << processes.size() << " processes not running; "
              << "`berthctl fleet restart --data-dir " << fleet.dir()
              << " NAME` starts one again, `berthctl fleet up` the whole fleet\n";
    return 3;
  }
  return 0;
}

int RunRestart(const RestartFlags& f) {
  auto timeout = ParseDurationSeconds(f.timeout);
  if (!timeout.ok()) return PrintError("--timeout: " + timeout.status().message()), 2;
  LocalFleet fleet(f.data_dir);
  auto record = fleet.ReadRecord();
  if (!record.ok()) return PrintError(record.status().message()), 1;
  std::map<std::string, FleetProcess> by_name;
  std::string known;
  for (const auto& p : record->processes) {
    by_name[p.name] = p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  for (const auto& n : f.names) {
    if (!by_name.count(n)) {
      return PrintError("no process \"" + n + "\" in the fleet of " + fleet.dir() + " (it has " +
                        known + ")"),
             2;
    }
  }
  if (auto s = fleet.Lock(); !s.ok()) return PrintError(s.message()), 1;
  for (const auto& n : f.names) {
    const FleetProcess& p = by_name[n];
    if (fleet.RunningPid(n)) StopAndReport(fleet, {n}, seconds(*timeout), std::cout);
    StatusOr<pid_t> pid = Status::Internal("not started");
    bool interrupted = false;
    if (p.is_hub()) {
      pid = fleet.Start(p, false);
      if (pid.ok()) {
        if (auto s = WaitHubReady(fleet, record->hub_url, *pid, &interrupted); !s.ok()) pid = s;
      }
    } else if (p.is_gateway()) {
      pid = StartGateway(fleet, p, false, &interrupted);
    } else {
      if (!fleet.RunningPid("hub")) {
        std::cerr << "warning: berth-hub is not running; " << n << " will retry until it is\n";
      }
      auto hub = AdminClient(fleet, seconds(10));
      if (!hub.ok()) return PrintError(hub.status().message()), 1;
      bool used_token = false;
      pid = StartAgent(fleet, p, **hub, false, &used_token);
    }
    if (!pid.ok()) return PrintError("restart " + n + ": " + pid.status().message()), 1;
    std::cout << "started " << (p.is_agent() ? "berth-agent of " + n : ProcessLabel(p)) << " (pid "
              << *pid << "), log " << fleet.LogPath(n) << "\n";
  }
  return 0;
}

CommandRegistrar kRegister([](CLI::App& root) {
  auto* fleet = root.add_subcommand(
      "fleet",
      "Run a local development fleet: berth-hub plus one SIMULATED member cluster per "
      "cluster of a fleet file (docs/FLEET.md)");
  fleet->require_subcommand(1);

  auto up_flags = std::make_shared<UpFlags>();
  auto* up = fleet->add_subcommand(
      "up",
      "Start berth-hub and one berth-agent --backend sim per cluster of --fleet, join them, "
      "wait until every member is Joined and Healthy, and print where everything is");
  up->add_option("--fleet", up_flags->fleet_file,
                 "Fleet file (docs/FLEET.md), e.g. examples/fleet.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  up->add_option("--data-dir", up_flags->data_dir,
                 "Directory for everything: hub/ (store, PKI), agents/<cluster>/, logs/, pids/, "
                 "admin.kubeconfig. Reused by a later `fleet up` (same store, no new tokens)")
      ->required();
  up->add_option("--listen", up_flags->listen, "IPV4:PORT the hub serves HTTPS on")
      ->capture_default_str();
  up->add_option("--time-scale", up_flags->time_scale,
                 "Simulated image pulls and weight loads take this fraction of real time "
                 "(0.01 = 100x faster; 1 = as long as on a real cluster)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0));
  up->add_option(
        "--failover-toleration", up_flags->failover_toleration,
        "Hub: seconds a member may be Unhealthy before its replicas move (default: the hub's, 30)")
      ->check(CLI::Range(0.0, 86400.0));
  up->add_option("--failback-hysteresis", up_flags->failback_hysteresis,
                 "Hub: seconds a recovered member must stay healthy before replicas move back "
                 "(default: the hub's, 300)")
      ->check(CLI::Range(0.0, 86400.0));
  up->add_option("--drain-grace", up_flags->drain_grace,
                 "Hub: seconds an endpoint drains before a planned removal of its replicas "
                 "(default: the hub's, 30)")
      ->check(CLI::Range(0.0, 3600.0));
  up->add_option("--gateway-listen", up_flags->gateway_listen,
                 "berth-gateway's OpenAI endpoint for every model (HAProxy, docs/GATEWAY.md): "
                 "IPV4:PORT, auto (a free loopback port) or none")
      ->capture_default_str();
  up->add_option("--agent-port-base", up_flags->agent_port_base,
                 "First agent admin port (/healthz, /metrics, /state, POST /faults/...); cluster i "
                 "gets BASE+i on 127.0.0.1. 0 picks free ports")
      ->capture_default_str();
  up->add_option("--wait", up_flags->wait,
                 "How long to wait for every member to be Joined and Healthy (e.g. 90s, 5m)")
      ->capture_default_str();
  up->add_option("--bin-dir", up_flags->bin_dir,
                 "Directory with berth-hub and berth-agent (default: the one holding berthctl)");
  up->add_flag("--foreground", up_flags->foreground,
               "Stay attached and stop the whole fleet on Ctrl-C/SIGTERM (default: leave it "
               "running, detached, and return)");
  up->footer(
      "Refuses a --data-dir whose fleet still runs (`berthctl fleet down` first). Exit 0 when "
      "every member is Healthy; on any failure it stops what it started and says which member "
      "failed and where its log is.");
  up->callback([up_flags] {
    if (int rc = RunUp(*up_flags); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto down_flags = std::make_shared<DownFlags>();
  auto* down = fleet->add_subcommand(
      "down",
      "Stop the fleet of --data-dir (agents, then the hub): SIGTERM, then SIGKILL after "
      "--timeout. State and logs are kept");
  down->add_option("--data-dir", down_flags->data_dir, "The --data-dir given to `fleet up`")
      ->required();
  down->add_option("--timeout", down_flags->timeout, "Wait this long after SIGTERM before SIGKILL")
      ->capture_default_str();
  down->callback([down_flags] {
    if (int rc = RunDown(*down_flags); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto status_dir = std::make_shared<std::string>();
  auto* status = fleet->add_subcommand(
      "status",
      "Show each process of the fleet (running/dead), its pid, endpoint, log, and the "
      "member's health at the hub. Exit 0 when all run, 3 when some do not");
  status->add_option("--data-dir", *status_dir, "The --data-dir given to `fleet up`")->required();
  status->callback([status_dir] {
    if (int rc = RunStatus(*status_dir); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto restart_flags = std::make_shared<RestartFlags>();
  auto* restart = fleet->add_subcommand(
      "restart",
      "Stop (if running) and start again processes of the fleet with the arguments "
      "`fleet up` gave them, e.g. an agent you killed to watch failover");
  restart->add_option("--data-dir", restart_flags->data_dir, "The --data-dir given to `fleet up`")
      ->required();
  restart->add_option("names", restart_flags->names, "\"hub\" and/or cluster names")->required();
  restart
      ->add_option("--timeout", restart_flags->timeout,
                   "Wait this long after SIGTERM before SIGKILL")
      ->capture_default_str();
  restart->callback([restart_flags] {
    if (int rc = RunRestart(*restart_flags); rc != 0) throw CLI::RuntimeError(rc);
  });
});

}  // namespace
}  // namespace berth::cli
