#include "gateway/runtime_api.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::gateway {

UnixSocketRuntimeApi::UnixSocketRuntimeApi(std::string socket_path,
                                           std::chrono::milliseconds timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool WaitFor(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

StatusOr<std::string> UnixSocketRuntimeApi::Run(std::string_view command) {
  const std::string where = "runtime API " + socket_path_;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof addr.sun_path)
    return Status::Invalid(where + ": path too long");
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return Status::Unavailable(where + ": socket: " + std::strerror(errno));
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Unavailable(where + ": connect: " + std::strerror(errno));
  }
  std::string line = std::string(command) + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(s.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(where + ": send: " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[16384];
  for (;;) {
    if (!WaitFor(s.fd, POLLIN, timeout_))
      return Status::Unavailable(where + ": no answer to \"" + std::string(command) + "\"");
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(where + ": recv: " + std::strerror(errno));
    if (n == 0) break;
    answer.append(buf, static_cast<size_t>(n));
    if (answer.size() > (64u << 20)) return Status::TooLarge(where + ": answer over 64 MiB");
  }
  return answer;
}

bool CommandSucceeded(std::string_view answer) {
  auto first = answer.find_first_not_of(" \r\n");
  if (first == std::string_view::npos) return true;
  answer.remove_prefix(first);
  for (std::string_view ok :
       {"New server registered.", "Server deleted.", "IP changed from",
        "no need to change the addr", "port changed from", "IP and port changed"}) {
    if (answer.substr(0, ok.size()) == ok) return true;
  }
  return false;
}

}  // namespace berth::gateway
