#include "tests/support/hub_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/bench_clients.h"

namespace berth::testing {
namespace fs = std::filesystem;
namespace {

using Steady = std::chrono::steady_clock;

// $BERTH_BIN_DIR, else beside the running executable (tests and benches live in build/bin),
// else build/bin under the working directory.
std::string DefaultBinary() {
  const char* bin_dir = std::getenv("BERTH_BIN_DIR");
  if (bin_dir && *bin_dir) return (fs::path(bin_dir) / "berth-hub").string();
  std::error_code ec;
  fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "berth-hub";
  if (!ec && fs::exists(beside, ec)) return beside.string();
  return "build/bin/berth-hub";
}

// Binds 127.0.0.1:port (0 = any) with SO_REUSEADDR, as the hub's acceptor does, and returns
// the bound port, or 0 when the bind fails.
int TryBindLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

}  // namespace

int PickFreeLoopbackPort() { return TryBindLoopback(0); }

StatusOr<std::string> MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = (fs::path(tmp && *tmp ? tmp : "/tmp") / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Status::Unavailable("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  return std::string(buf.data());
}

HubProcess::HubProcess(HubProcessOptions options) : options_(std::move(options)) {}

StatusOr<std::unique_ptr<HubProcess>> HubProcess::Start(HubProcessOptions options) {
  if (options.binary.empty()) options.binary = DefaultBinary();
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return Status::NotFound("berth-hub binary " + options.binary +
                            " is missing: build it (cmake --build build --target berth-hub) or "
                            "set BERTH_BIN_DIR");
  }
  std::unique_ptr<HubProcess> hub(new HubProcess(std::move(options)));
  auto work = MakeTempDir("berth-e2e");
  if (!work.ok()) return work.status();
  hub->work_dir_ = *work;
  hub->data_dir_ =
      hub->options_.data_dir.empty() ? (fs::path(*work) / "data").string() : hub->options_.data_dir;
  hub->log_path_ = (fs::path(*work) / "hub.log").string();
  hub->port_ = hub->options_.port ? hub->options_.port : PickFreeLoopbackPort();
  if (hub->port_ == 0) return Status::Unavailable("no free loopback port");
  BERTH_RETURN_IF_ERROR(hub->Spawn());
  return hub;
}

HubProcess::~HubProcess() {
  if (running()) (void)Terminate(std::chrono::seconds(5));
  if (!work_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }
}

std::string HubProcess::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::string HubProcess::kubeconfig_path() const {
  return (fs::path(data_dir_) / "admin.kubeconfig").string();
}

Status HubProcess::Spawn() {
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> args = {options_.binary, "--data-dir", data_dir_, "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  // ctest's *_etcd variants: tests/support/berth-hub-on-etcd runs the hub on its own etcd.
  if (const char* wrapper = std::getenv("BERTH_HUB_WRAPPER"); wrapper && *wrapper) args.insert(args.begin(), wrapper);
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The hub gets this process's environment minus PrepareBenchClients' trust override: it
  // is a client-side economy of the bench, not part of the hub under test.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    if (entry == std::string("SSL_CERT_FILE=") + kNoSystemTrust ||
        entry == std::string("SSL_CERT_DIR=") + kNoSystemTrust) {
      continue;
    }
    env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return Status::Unavailable("open " + log_path_ + ": " + std::strerror(errno));
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died between fork and prctl
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // The test process may block signals in its threads; the hub sets its own mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  Status ready = WaitReady();
  if (!ready.ok()) {
    Kill();
    return ready;
  }
  return Status::Ok();
}

Status HubProcess::WaitReady() {
  const auto deadline = Steady::now() + options_.ready_timeout;
  std::unique_ptr<RestClient> client;
  std::string last_error = "admin.kubeconfig not written yet";
  while (Steady::now() < deadline) {
    if (!running()) {
      return Status::Unavailable("berth-hub exited before it was ready (" + last_error +
                                 "); log:\n" + log_tail());
    }
    if (!client) {
      // The kubeconfig is written before the listener opens; on a restart it already exists.
      if (fs::exists(kubeconfig_path())) {
        auto config = AdminConfig();
        if (config.ok()) {
          config->timeout = std::chrono::milliseconds(2000);
          auto made = RestClient::Create(*config);
          if (made.ok())
            client = std::move(*made);
          else
            last_error = made.status().ToString();
        } else {
          last_error = config.status().ToString();
        }
      }
    }
    if (client) {
      auto resp = client->Do("GET", "/readyz", "", "", "text/plain");
      if (resp.ok() && resp->status_code == 200) return Status::Ok();
      last_error = resp.ok() ? "/readyz answered " + std::to_string(resp->status_code)
                             : resp.status().ToString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return Status::Unavailable("berth-hub not ready within " +
                             std::to_string(options_.ready_timeout.count()) + " ms (" + last_error +
                             "); log:\n" + log_tail());
}

bool HubProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool HubProcess::WaitExit(std::chrono::milliseconds timeout, int* code) {
  const auto deadline = Steady::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      *code = WIFEXITED(status)     ? WEXITSTATUS(status)
              : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                    : -1;
      pid_ = -1;
      return true;
    }
    if (r < 0) {
      *code = -1;
      pid_ = -1;
      return true;
    }
    if (Steady::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void HubProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

StatusOr<int> HubProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!running()) return Status::FailedPrecondition("berth-hub is not running");
  ::kill(pid_, SIGTERM);
  int code = 0;
  if (WaitExit(timeout, &code)) return code;
  Kill();
  return 128 + SIGKILL;
}

Status HubProcess::Restart() {
  Kill();
  // SO_REUSEADDR lets the hub rebind at once despite TIME_WAIT; only a real owner blocks it.
  if (TryBindLoopback(port_) != port_) {
    port_ = PickFreeLoopbackPort();
    if (port_ == 0) return Status::Unavailable("no free loopback port");
  }
  return Spawn();
}

StatusOr<ClientConfig> HubProcess::AdminConfig() const {
  auto config = LoadKubeconfigFile(kubeconfig_path());
  if (!config.ok()) return config.status();
  config->server = url();
  return config;
}

StatusOr<std::unique_ptr<RestClient>> HubProcess::NewClient() const {
  auto config = AdminConfig();
  if (!config.ok()) return config.status();
  return RestClient::Create(std::move(*config));
}

std::string HubProcess::log_tail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > max_bytes ? "..." + all.substr(all.size() - max_bytes) : all;
}

}  // namespace berth::testing
