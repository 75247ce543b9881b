// Test support: real etcd members (/usr/bin/etcd, Debian's etcd-server) on loopback ports
// with temporary data directories, for the etcd store's tests and benchmark. Header-only.
// Start() waits (bounded) until every member serves; the destructor SIGKILLs what is left
// and removes the directories.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "hub/etcd_client.h"

namespace berth::hub {

class EtcdTestCluster {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  // `extra_args`: more etcd flags for every member.
  explicit EtcdTestCluster(int members, std::vector<std::string> extra_args = {})
      : members_(members), extra_args_(std::move(extra_args)) {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-etcd-" + std::to_string(::getpid()) + "-" + std::to_string(++Counter()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < members; ++i) {
      client_ports_.push_back(FreePort());
      peer_ports_.push_back(FreePort());
    }
    pids_.assign(members, -1);
  }
  ~EtcdTestCluster() {
    for (int i = 0; i < members_; ++i) Kill(i);
    std::filesystem::remove_all(dir_);
  }

  static bool Available() { return ::access(kBinary, X_OK) == 0; }

  // Before Start: members serve https with `server_cert`/`server_key`, require client
  // certificates signed by `ca` (--client-cert-auth), and ClientOptions() presents
  // `client_cert`/`client_key` and trusts `ca`.
  void ServeTls(std::string ca, std::string server_cert, std::string server_key, std::string client_cert,
                std::string client_key) {
    tls_ = {std::move(ca), std::move(server_cert), std::move(server_key), std::move(client_cert), std::move(client_key)};
  }

  // Starts every member; false (with `why`) if one does not serve within `timeout`.
  bool Start(std::string* why, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    for (int i = 0; i < members_; ++i) Launch(i);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < members_; ++i) {
      EtcdClientOptions o = ClientOptions();
      o.endpoints = {ClientUrl(i)};
      o.request_timeout = std::chrono::milliseconds(500);
      auto client = NewEtcdClient(o);
      while (true) {
        if (client.ok() && (*client)->CurrentRevision().ok()) break;
        if (std::chrono::steady_clock::now() > deadline) {
          *why = "etcd member " + std::to_string(i) + " did not serve on " + ClientUrl(i) + "; see " +
                 (dir_ / ("m" + std::to_string(i) + ".log")).string();
          return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return true;
  }

  // Starts a killed member again on its data dir (and ports).
  void Restart(int i) {
    if (pids_[i] <= 0) Launch(i);
  }

  void Kill(int i) {
    if (pids_[i] <= 0) return;
    ::kill(pids_[i], SIGKILL);
    ::waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }

  std::string ClientUrl(int i) const {
    return (tls_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(client_ports_[i]);
  }
  std::vector<std::string> Endpoints() const {
    std::vector<std::string> out;
    for (int i = 0; i < members_; ++i) out.push_back(ClientUrl(i));
    return out;
  }
  EtcdClientOptions ClientOptions() const {
    EtcdClientOptions o;
    o.endpoints = Endpoints();
    if (!tls_.empty()) {
      o.ca_file = tls_[0];
      o.cert_file = tls_[3];
      o.key_file = tls_[4];
    }
    return o;
  }

 private:
  static int& Counter() {
    static int n = 0;
    return n;
  }

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  std::string PeerUrl(int i) const { return "http://127.0.0.1:" + std::to_string(peer_ports_[i]); }

  void Launch(int i) {
    std::string initial;
    for (int j = 0; j < members_; ++j) initial += (j ? "," : "") + ("m" + std::to_string(j)) + "=" + PeerUrl(j);
    const std::string name = "m" + std::to_string(i);
    std::vector<std::string> args = {kBinary,
                                     "--name=" + name,
                                     "--data-dir=" + (dir_ / name).string(),
                                     "--listen-client-urls=" + ClientUrl(i),
                                     "--advertise-client-urls=" + ClientUrl(i),
                                     "--listen-peer-urls=" + PeerUrl(i),
                                     "--initial-advertise-peer-urls=" + PeerUrl(i),
                                     "--initial-cluster=" + initial,
                                     "--initial-cluster-state=new",
                                     "--initial-cluster-token=" + dir_.filename().string(),
                                     "--log-level=warn"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    if (!tls_.empty()) {
      args.insert(args.end(), {"--cert-file=" + tls_[1], "--key-file=" + tls_[2], "--client-cert-auth",
                               "--trusted-ca-file=" + tls_[0]});
    }
    const std::string log = (dir_ / (name + ".log")).string();  // appended to across restarts
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Both streams to the log: an inherited stdout would keep the test's pipe open if the
      // test died before killing its members.
      if (!std::freopen(log.c_str(), "a", stderr) || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) ::_exit(126);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(kBinary, argv.data());
      ::_exit(127);
    }
    pids_[i] = pid;
  }

  const int members_;
  const std::vector<std::string> extra_args_;
  std::vector<std::string> tls_;  // ca, server cert, server key, client cert, client key
  std::filesystem::path dir_;
  std::vector<int> client_ports_, peer_ports_;
  std::vector<pid_t> pids_;
};

}  // namespace berth::hub
