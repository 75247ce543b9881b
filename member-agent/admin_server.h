// The agent's own small HTTP endpoint (plain HTTP, meant for loopback): /healthz,
// /metrics, /state and, for the sim backend, POST /faults/... . The routing lives in a
// plain function (Agent::HandleAdmin) so it is tested without sockets; this class only
// adapts cpprestsdk to it. cpprestsdk stays out of this header.
//
// Thread safety: the handler runs on cpprestsdk's pool threads and must not block.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "api/status.h"

namespace berth::agent {

struct AdminRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;    // "/faults/node-down"
  std::map<std::string, std::string> query;
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using AdminHandler = std::function<AdminResponse(const AdminRequest&)>;

class AdminServer {
 public:
  // Listens on `listen` ("127.0.0.1:PORT"). Invalid for a malformed address; Unavailable
  // when the port cannot be bound.
  static StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& listen,
                                                      AdminHandler handler);
  ~AdminServer();  // stops listening

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::agent
