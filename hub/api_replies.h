// How the API server answers a request and counts it. JSON bodies are serialised with invalid
// UTF-8 replaced (a miss never becomes an exception); errors become Kubernetes Status bodies
// (hub/http_errors.h). Reply, ReplyError and Record count the request once, in
// berth_api_requests_total{verb,code} and berth_api_request_duration_seconds{verb} (from
// `start` until the reply is handed to the network); ReplyText counts nothing, so its caller
// records where it must. Thread-safe: replies are sent from I/O and store writer threads.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/kinds.h"
#include "api/status.h"
#include "hub/https_server.h"

namespace berth::hub {

// When the hub started handling a request: its header arrived.
using RequestStart = std::chrono::steady_clock::time_point;

class ApiReplies {
 public:
  // Registers the two request families in `metrics`, which must outlive this object.
  explicit ApiReplies(prometheus::Registry& metrics);

  // `warnings` become Kubernetes Warning headers (hub/warning_headers.h).
  void Reply(const std::shared_ptr<HttpExchange>& req, int code, const nlohmann::json& body,
             const std::string& verb, RequestStart start, const std::vector<std::string>& warnings = {});
  void ReplyText(const std::shared_ptr<HttpExchange>& req, int code, const std::string& body,
                 const std::string& content_type);
  // `kind`/`name` fill the Status details when known.
  void ReplyError(const std::shared_ptr<HttpExchange>& req, const Status& s,
                  const std::string& verb, RequestStart start, const api::KindInfo* kind = nullptr,
                  const std::string& name = "");
  // For the last line of defence: the reply may already have been sent.
  void ReplyErrorNoThrow(const std::shared_ptr<HttpExchange>& req, const Status& s,
                         const std::string& verb, RequestStart start);
  void Record(const std::string& verb, int code, RequestStart start);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

}  // namespace berth::hub
