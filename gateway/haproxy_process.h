// An HAProxy berth-gateway runs as its child: foreground (-db), one process, so its pid is
// the one `show info` reports; it dies with berth-gateway (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "api/status.h"
#include "gateway/runtime_api.h"

namespace berth::gateway {

class HaproxyProcess {
 public:
  HaproxyProcess(std::string binary, std::string config_path, std::string log_path);
  ~HaproxyProcess();  // Stop()

  // Call from the thread that lives longest (main): the child's death signal is tied to it.
  // Checks the configuration (haproxy -c), starts the child and waits until `api` answers
  // (`show info`), at most `timeout`. Invalid with HAProxy's complaint for a bad
  // configuration; Unavailable if it exits or does not answer in time (log tail included).
  Status Start(RuntimeApi* api, std::chrono::milliseconds timeout);
  // True while the child runs; reaps it once it has exited.
  bool Running();
  // SIGTERM, then SIGKILL after 5 s. Idempotent.
  void Stop();
  pid_t pid() const { return pid_; }

 private:
  std::string LogTail() const;
  std::string binary_, config_path_, log_path_;
  pid_t pid_ = -1;
};

// The "Pid:" line of `show info`, or 0.
long PidFromShowInfo(const std::string& show_info);

}  // namespace berth::gateway
