#include "gateway/haproxy_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace berth::gateway {

HaproxyProcess::HaproxyProcess(std::string binary, std::string config_path, std::string log_path)
    : binary_(std::move(binary)),
      config_path_(std::move(config_path)),
      log_path_(std::move(log_path)) {}

HaproxyProcess::~HaproxyProcess() { Stop(); }

namespace {

// Runs argv with stdout and stderr appended to log_path; returns the child's pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path,
            bool die_with_parent) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return -1;
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The signal mask survives exec and
    // berth-gateway blocks SIGTERM/SIGINT (a thread waits for them): unblock for the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // The death signal follows the forking *thread*: Start runs on the main thread, which
    // lives as long as berth-gateway.
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log);
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string HaproxyProcess::LogTail() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

Status HaproxyProcess::Start(RuntimeApi* api, std::chrono::milliseconds timeout) {
  pid_t check = Spawn({binary_, "-c", "-f", config_path_}, log_path_, true);
  if (check < 0) return Status::Unavailable("cannot run " + binary_ + ": " + std::strerror(errno));
  if (int rc = WaitExit(check); rc != 0) {
    return Status::Invalid(binary_ + " -c -f " + config_path_ + " failed (exit " +
                           std::to_string(rc) + "):\n" + LogTail());
  }
  pid_ = Spawn({binary_, "-db", "-f", config_path_}, log_path_, true);
  if (pid_ < 0) return Status::Unavailable("cannot run " + binary_ + ": " + std::strerror(errno));
  const auto step = std::chrono::milliseconds(50);
  for (auto waited = std::chrono::milliseconds(0); waited < timeout; waited += step) {
    if (!Running()) return Status::Unavailable("haproxy exited at start:\n" + LogTail());
    auto info = api->Run("show info");
    if (info.ok() && PidFromShowInfo(*info) == pid_) return Status::Ok();
    std::this_thread::sleep_for(step);
  }
  Stop();
  return Status::Unavailable("haproxy did not answer on its runtime socket in time:\n" + LogTail());
}

bool HaproxyProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void HaproxyProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (!Running()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  WaitExit(pid_);
  pid_ = -1;
}

long PidFromShowInfo(const std::string& show_info) {
  std::istringstream in(show_info);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pid: ", 0) == 0) return std::strtol(line.c_str() + 5, nullptr, 10);
  }
  return 0;
}

}  // namespace berth::gateway
