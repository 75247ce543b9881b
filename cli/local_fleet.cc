#include "cli/local_fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "hub/pki.h"

namespace berth::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  // A zombie (exited, not reaped yet) counts as dead; reaping is left to the parent, which
  // may want the exit status.
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // /proc/PID/stat: "pid (comm) S ..." where comm may hold spaces and parentheses.
  const std::string stat = ReadWhole("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

Status CheckPortFree(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::Invalid(host + " is not an IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(std::string("socket: ") + std::strerror(errno));
  // SO_REUSEADDR as the servers set it: a port in TIME_WAIT is usable, a listening one not.
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return Status::Unavailable(host + ":" + std::to_string(port) + " is not free (" +
                               std::strerror(err) + ")");
  }
  return Status::Ok();
}

namespace {

// Binds 127.0.0.1:port (0: any) and returns the port bound, or -1.
int TryBind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  int bound = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// The lowest port the kernel hands out for port-0 binds (ip_local_port_range).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

}  // namespace

// A port chosen now is only used when the child binds it, a moment later. Ports from the
// kernel's ephemeral range could meanwhile go to any port-0 bind (an agent's admin listener
// took the gateway's metrics port once), so the port is drawn below that range.
StatusOr<int> PickFreePort() {
  const int high = std::min(EphemeralLow(), 65536) - 1;
  constexpr int kLow = 20000;
  if (high > kLow + 1000) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(kLow, high);
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (int port = TryBind(pick(rng)); port > 0) return port;
    }
  }
  const int port = TryBind(0);
  if (port < 0) return Status::Internal(std::string("pick a free port: ") + std::strerror(errno));
  return port;
}

LocalFleet::LocalFleet(const std::string& dir)
    : dir_(fs::absolute(fs::path(dir)).lexically_normal().string()) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
}

std::string LocalFleet::HubDir() const { return dir_ + "/hub"; }
std::string LocalFleet::KubeconfigPath() const { return dir_ + "/admin.kubeconfig"; }
std::string LocalFleet::CaPath() const { return HubDir() + "/pki/ca.crt"; }
std::string LocalFleet::AgentStateDir(const std::string& c) const { return dir_ + "/agents/" + c; }
std::string LocalFleet::GatewayDir() const { return dir_ + "/gateway"; }
std::string LocalFleet::AdminFile(const std::string& c) const {
  return AgentStateDir(c) + ".admin";
}
std::string LocalFleet::JoinTokenFile(const std::string& c) const {
  return AgentStateDir(c) + ".join-token";
}
std::string LocalFleet::LogsDir() const { return dir_ + "/logs"; }
std::string LocalFleet::PidsDir() const { return dir_ + "/pids"; }
std::string LocalFleet::LogPath(const std::string& name) const {
  return LogsDir() + "/" + name + ".log";
}
std::string LocalFleet::PidPath(const std::string& name) const {
  return PidsDir() + "/" + name + ".pid";
}
std::string LocalFleet::RecordPath() const { return dir_ + "/fleet.json"; }

Status LocalFleet::CreateLayout() const {
  for (const std::string& d : {dir_, LogsDir(), PidsDir(), dir_ + "/agents"}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return Status::Internal("create " + d + ": " + ec.message());
  }
  return Status::Ok();
}

Status LocalFleet::Lock() {
  if (lock_fd_ >= 0) return Status::Ok();
  const std::string path = dir_ + "/.lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Status::Internal("open " + path + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    return Status::FailedPrecondition("another `berthctl fleet` command is working on " + dir_ +
                                      " right now; wait for it to finish");
  }
  return Status::Ok();
}

void LocalFleet::Unlock() {
  if (lock_fd_ < 0) return;
  ::close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
}

std::vector<std::string> LocalFleet::PidFileNames() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(PidsDir(), ec)) {
    if (entry.path().extension() == ".pid") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    if ((a == "hub") != (b == "hub")) return b == "hub";
    return a < b;
  });
  return names;
}

std::optional<pid_t> LocalFleet::RecordedPid(const std::string& name) const {
  std::ifstream in(PidPath(name));
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

std::string LocalFleet::ExpectedBinary(const std::string& name) const {
  return name == "hub" ? "berth-hub" : name == "gateway" ? "berth-gateway" : "berth-agent";
}

bool LocalFleet::Matches(pid_t pid, const std::string& name) const {
  const std::string cmdline = ReadWhole("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  std::string cur;
  for (char c : cmdline) {
    if (c == '\0') {
      argv.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (argv.empty() || fs::path(argv[0]).filename() != ExpectedBinary(name)) return false;
  return std::any_of(argv.begin() + 1, argv.end(), [this](const std::string& a) {
    return a == dir_ || a.rfind(dir_ + "/", 0) == 0;
  });
}

std::optional<pid_t> LocalFleet::RunningPid(const std::string& name) const {
  auto pid = RecordedPid(name);
  if (!pid || !ProcessAlive(*pid) || !Matches(*pid, name)) return std::nullopt;
  return pid;
}

StatusOr<pid_t> LocalFleet::Start(const FleetProcess& process, bool die_with_parent) const {
  // Everything the child needs is prepared before fork: after it only async-signal-safe
  // calls are allowed (berthctl has cpprestsdk threads by now).
  std::vector<char*> argv;
  for (const auto& a : process.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string log = LogPath(process.name);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::Unavailable("open " + log + ": " + std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];  // exec failure: the child writes errno here; EOF means exec succeeded
  if (null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return Status::Internal(std::string("pipe: ") + std::strerror(err));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // berthctl blocks SIGINT/SIGTERM
    ::signal(SIGPIPE, SIG_DFL);
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    }
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // Sockets berthctl opened to the hub must not live on in the children.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execv(argv[0], argv.data());
    const int err = errno;
    (void)!::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return Status::Internal(std::string("fork: ") + std::strerror(fork_errno));
  }
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    return Status::Unavailable("cannot run " + process.argv[0] + ": " + std::strerror(exec_errno));
  }
  BERTH_RETURN_IF_ERROR(WriteFileAtomic(PidPath(process.name), std::to_string(pid) + "\n", 0644));
  return pid;
}

std::vector<std::pair<std::string, StopResult>> LocalFleet::StopAll(
    const std::vector<std::string>& names, std::chrono::milliseconds timeout) const {
  std::vector<std::pair<std::string, StopResult>> results;
  std::vector<std::pair<std::string, pid_t>> signalled;
  for (const auto& name : names) {
    if (auto pid = RunningPid(name)) {
      ::kill(*pid, SIGTERM);
      signalled.emplace_back(name, *pid);
    } else {
      results.emplace_back(name, StopResult::kNotRunning);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const bool any_alive = std::any_of(signalled.begin(), signalled.end(),
                                       [](const auto& p) { return ProcessAlive(p.second); });
    if (!any_alive || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& [name, pid] : signalled) {
    StopResult result = StopResult::kTerminated;
    if (ProcessAlive(pid)) {
      ::kill(pid, SIGKILL);
      // SIGKILL cannot be ignored; the kernel needs a moment to tear the process down.
      for (int i = 0; i < 100 && ProcessAlive(pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      result = StopResult::kKilled;
    }
    results.emplace_back(name, result);
  }
  for (const auto& name : names) {
    std::error_code ec;
    fs::remove(PidPath(name), ec);
  }
  // Report in the order asked for.
  std::stable_sort(results.begin(), results.end(), [&names](const auto& a, const auto& b) {
    return std::find(names.begin(), names.end(), a.first) <
           std::find(names.begin(), names.end(), b.first);
  });
  return results;
}

Status LocalFleet::WriteRecord(const FleetRecord& record) const {
  json processes = json::array();
  for (const auto& p : record.processes) {
    processes.push_back({{"name", p.name}, {"argv", p.argv}, {"endpoint", p.endpoint}});
  }
  json doc = {
      {"fleetFile", record.fleet_file}, {"hubUrl", record.hub_url}, {"processes", processes}};
  return WriteFileAtomic(RecordPath(), doc.dump(2) + "\n", 0644);
}

StatusOr<FleetRecord> LocalFleet::ReadRecord() const {
  const std::string text = ReadWhole(RecordPath());
  if (text.empty()) {
    return Status::NotFound(RecordPath() + " is missing: " + dir_ +
                            " was not set up by `berthctl fleet up`");
  }
  try {
    json doc = json::parse(text);
    FleetRecord record;
    record.fleet_file = doc.at("fleetFile").get<std::string>();
    record.hub_url = doc.at("hubUrl").get<std::string>();
    for (const auto& p : doc.at("processes")) {
      record.processes.push_back({p.at("name").get<std::string>(),
                                  p.at("argv").get<std::vector<std::string>>(),
                                  p.value("endpoint", "")});
    }
    return record;
  } catch (const json::exception& e) {
    return Status::Invalid(RecordPath() + " is damaged (" + e.what() +
                           "); run `berthctl fleet up` again to rewrite it");
  }
}

std::string LocalFleet::LogTail(const std::string& name, int lines) const {
  std::ifstream in(LogPath(name));
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "    | " + l + "\n";
  return out.empty() ? "    | (the log is empty)\n" : out;
}

}  // namespace berth::cli
