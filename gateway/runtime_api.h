// HAProxy's runtime API (the admin-level stats socket), one command per connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "api/status.h"

namespace berth::gateway {

// Sends runtime API commands. Implementations are thread-compatible.
class RuntimeApi {
 public:
  virtual ~RuntimeApi() = default;
  // Sends `command` (no newline) and returns HAProxy's whole answer. Unavailable when the
  // socket cannot be reached or the answer does not arrive within the timeout. An answer
  // that reports a refusal is still Ok here: see CommandSucceeded.
  virtual StatusOr<std::string> Run(std::string_view command) = 0;
};

// Connects to a unix socket for each command, writes it, reads until HAProxy closes.
class UnixSocketRuntimeApi final : public RuntimeApi {
 public:
  explicit UnixSocketRuntimeApi(std::string socket_path,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5));
  StatusOr<std::string> Run(std::string_view command) override;

 private:
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

// Whether HAProxy's answer to a state-changing command means it was applied: an empty
// answer, "New server registered.", "Server deleted." or an address/port change report.
// Everything else ("No such server.", "Only servers in maintenance mode can be deleted.",
// "Server still has connections attached to it…", parse errors) is a refusal.
bool CommandSucceeded(std::string_view answer);

}  // namespace berth::gateway
