// A real `berth-hub` process for end-to-end tests and whole-process benchmarks: started on a
// free loopback port with a temporary data dir, waited on until /readyz answers over
// verified HTTPS, and stoppable the hard way (SIGKILL) or the polite way (SIGTERM), then
// restartable on the same data dir. Library berth_test_support.
//
//   auto hub = HubProcess::Start();          // ASSERT_TRUE(hub.ok()) << hub.status()
//   auto client = (*hub)->NewClient();       // admin credential, hub CA as the only anchor
//   (*hub)->Kill();                          // SIGKILL, reaped
//   (*hub)->Restart();                       // same data dir, same port when it is free
//
// The binary is $BERTH_BIN_DIR/berth-hub (berth_test sets BERTH_BIN_DIR), else the one
// beside the running executable, unless the options name another. The child gets PR_SET_PDEATHSIG=SIGKILL, so a crashed test never leaves a
// hub behind. Its stdout/stderr go to <work dir>/hub.log (kept across restarts, appended);
// log_tail() returns the end of it for failure messages.
//
// Thread safety: none; drive one HubProcess from one thread. The RestClients it hands out
// are independent and thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/kubeconfig.h"
#include "api/rest_client.h"
#include "api/status.h"

namespace berth::testing {

struct HubProcessOptions {
  // Path of the berth-hub binary; empty: found as described above.
  std::string binary;
  // Data dir to use (kept at destruction); empty: a fresh one under a temporary work dir
  // that the destructor removes.
  std::string data_dir;
  // Loopback port to listen on; 0: pick a free one.
  int port = 0;
  // Extra flags, e.g. {"--log-level", "warn"}.
  std::vector<std::string> extra_args;
  // How long Start/Restart wait for /readyz before giving up (and killing the child).
  std::chrono::milliseconds ready_timeout{20000};
};

class HubProcess {
 public:
  // Spawns the hub and waits until it is ready. Errors: NotFound when the binary is
  // missing; Unavailable with the log tail when the child exits or never gets ready.
  static StatusOr<std::unique_ptr<HubProcess>> Start(HubProcessOptions options = {});

  // SIGTERM, then SIGKILL if it has not exited within 5 s; removes an owned temp dir.
  ~HubProcess();
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;

  // SIGKILL and reap: the crash a power cut or OOM kill would cause. No-op when not running.
  void Kill();
  // SIGTERM and wait up to `timeout` for exit, then SIGKILL. Returns the exit code (or
  // 128+signal when it had to be killed); FailedPrecondition when not running.
  StatusOr<int> Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Starts the binary again on the same data dir (killing a running child first). Keeps the
  // port when it can be bound again, otherwise moves to a new free one (url() changes).
  Status Restart();

  // True while the child runs (reaps it if it has exited on its own).
  bool running();
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const;
  const std::string& data_dir() const { return data_dir_; }
  std::string kubeconfig_path() const;

  // The admin kubeconfig (CA + token) with the server pointed at url().
  StatusOr<ClientConfig> AdminConfig() const;
  // A new RestClient from AdminConfig().
  StatusOr<std::unique_ptr<RestClient>> NewClient() const;

  // The last `max_bytes` of the hub's log, for failure messages.
  std::string log_tail(size_t max_bytes = 4000) const;

 private:
  explicit HubProcess(HubProcessOptions options);
  Status Spawn();
  Status WaitReady();
  // Waits for the child to exit within `timeout`; true (and sets *code) when it did.
  bool WaitExit(std::chrono::milliseconds timeout, int* code);

  HubProcessOptions options_;
  std::string work_dir_;  // owned temporary dir (empty when the caller gave data_dir)
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A loopback TCP port that was free a moment ago (bound to 127.0.0.1:0 and released).
int PickFreeLoopbackPort();

// Creates a fresh directory under $TMPDIR (or /tmp) named <prefix>-XXXXXX.
StatusOr<std::string> MakeTempDir(const std::string& prefix);

}  // namespace berth::testing
