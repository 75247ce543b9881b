// A local development fleet (`berthctl fleet up|down|status|restart`): one berth-hub and one
// simulated berth-agent per cluster of a fleet file, run as processes on this machine with
// every piece of state under one data dir:
//
//   DIR/hub/                   the hub's data dir (berth.db, pki/, admin.kubeconfig)
//   DIR/admin.kubeconfig       symlink to hub/admin.kubeconfig
//   DIR/agents/NAME/           an agent's state dir (member credential, work.json)
//   DIR/agents/NAME.admin      that agent's admin endpoint, HOST:PORT
//   DIR/agents/NAME.join-token a single-use token, only until the agent has joined
//   DIR/gateway/               berth-gateway's state dir (haproxy.cfg, models.map, socket)
//   DIR/logs/hub.log, DIR/logs/NAME.log, DIR/logs/gateway.log
//   DIR/pids/hub.pid, DIR/pids/NAME.pid, DIR/pids/gateway.pid
//   DIR/fleet.json             how each process was started (status and restart read it)
//
// A pid file is trusted only while its process is alive, not a zombie, and runs the expected
// binary with an argument inside DIR (/proc/PID/cmdline), so a pid reused after a reboot is
// never signalled. Linux only. Not thread-safe: one berthctl command drives one LocalFleet.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/status.h"

namespace berth::cli {

// One process of the fleet: "hub" or a cluster name.
struct FleetProcess {
  std::string name;
  std::vector<std::string> argv;  // argv[0] is the binary's absolute path
  std::string endpoint;           // hub: its https URL; agent: http://HOST:PORT (admin)
  bool is_hub() const { return name == "hub"; }
  bool is_gateway() const { return name == "gateway"; }  // berth-gateway (and its HAProxy)
  bool is_agent() const { return !is_hub() && !is_gateway(); }
};

// What fleet.json records.
struct FleetRecord {
  std::string fleet_file;  // absolute
  std::string hub_url;
  // hub first, then clusters in fleet-file order, then "gateway" when one is run
  std::vector<FleetProcess> processes;
};

// How a stop went, for the message to the user.
enum class StopResult { kNotRunning, kTerminated, kKilled };

class LocalFleet {
 public:
  // `dir` is made absolute; nothing is created.
  explicit LocalFleet(const std::string& dir);

  const std::string& dir() const { return dir_; }
  std::string HubDir() const;
  std::string KubeconfigPath() const;  // DIR/admin.kubeconfig
  std::string CaPath() const;          // DIR/hub/pki/ca.crt
  std::string AgentStateDir(const std::string& cluster) const;
  std::string GatewayDir() const;  // DIR/gateway
  std::string AdminFile(const std::string& cluster) const;
  std::string JoinTokenFile(const std::string& cluster) const;
  std::string LogPath(const std::string& name) const;
  std::string PidPath(const std::string& name) const;
  std::string LogsDir() const;
  std::string PidsDir() const;
  std::string RecordPath() const;

  // Creates DIR, DIR/logs, DIR/pids, DIR/agents. Internal naming the path on failure.
  Status CreateLayout() const;
  // Takes an exclusive lock on DIR/.lock for this process's lifetime (or until Unlock):
  // FailedPrecondition when another berthctl fleet command holds it.
  Status Lock();
  void Unlock();

  // Names with a pid file, sorted with "hub" last (stop order: agents, then the hub).
  std::vector<std::string> PidFileNames() const;
  // The pid in NAME.pid when that process runs (see the header comment), else nullopt.
  std::optional<pid_t> RunningPid(const std::string& name) const;
  // The pid written in NAME.pid, running or not; nullopt without a readable file.
  std::optional<pid_t> RecordedPid(const std::string& name) const;

  // Starts argv with stdin from /dev/null and stdout+stderr appended to LogPath(name), in a
  // new session (setsid) so a terminal's Ctrl-C or hang-up does not reach it; writes
  // NAME.pid. With die_with_parent the child gets SIGTERM when this process dies (fleet up
  // --foreground). Errors: Unavailable naming the binary and the errno text when the log
  // cannot be opened or exec fails (the child then never ran).
  StatusOr<pid_t> Start(const FleetProcess& process, bool die_with_parent) const;

  // Stops the running processes among `names`: SIGTERM to all at once, then SIGKILL to those
  // still alive after `timeout`; removes every NAME.pid. Results in the order of `names`.
  std::vector<std::pair<std::string, StopResult>> StopAll(const std::vector<std::string>& names,
                                                          std::chrono::milliseconds timeout) const;

  // fleet.json.
  Status WriteRecord(const FleetRecord& record) const;
  StatusOr<FleetRecord> ReadRecord() const;

  // The last `lines` lines of NAME's log, indented, for error messages.
  std::string LogTail(const std::string& name, int lines = 8) const;

 private:
  std::string ExpectedBinary(const std::string& name) const;
  bool Matches(pid_t pid, const std::string& name) const;

  std::string dir_;
  int lock_fd_ = -1;
};

// True when pid is alive and not a zombie.
bool ProcessAlive(pid_t pid);

// Binds HOST:PORT for a moment: Unavailable ("address in use") when something listens there.
Status CheckPortFree(const std::string& host, int port);
// A loopback port that was free a moment ago.
StatusOr<int> PickFreePort();

}  // namespace berth::cli
