#include "hub/api_replies.h"

#include "hub/http_errors.h"
#include "hub/warning_headers.h"

namespace berth::hub {

using nlohmann::json;
using Ex = std::shared_ptr<HttpExchange>;

ApiReplies::ApiReplies(prometheus::Registry& metrics)
    : requests_(prometheus::BuildCounter()
                    .Name("berth_api_requests_total")
                    .Help("API requests by verb and HTTP code")
                    .Register(metrics)),
      latency_(prometheus::BuildHistogram()
                   .Name("berth_api_request_duration_seconds")
                   .Help("API request latency until the response is handed to the network")
                   .Register(metrics)) {}

void ApiReplies::Record(const std::string& verb, int code, RequestStart start) {
  requests_.Add({{"verb", verb}, {"code", std::to_string(code)}}).Increment();
  latency_
      .Add({{"verb", verb}},
           prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1, 0.25, 0.5, 1, 2.5})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void ApiReplies::Reply(const Ex& req, int code, const json& body, const std::string& verb,
                       RequestStart start, const std::vector<std::string>& warnings) {
  // Inputs are checked for UTF-8; `replace` keeps a miss from turning into an exception.
  req->Reply({code, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace),
              WarningHeaders(warnings)});
  Record(verb, code, start);
}

void ApiReplies::ReplyText(const Ex& req, int code, const std::string& body,
                           const std::string& content_type) {
  req->Reply({code, content_type, body, {}});
}

void ApiReplies::ReplyError(const Ex& req, const Status& s, const std::string& verb,
                            RequestStart start, const api::KindInfo* kind,
                            const std::string& name) {
  auto [code, body] = StatusToHttp(s, kind, name);
  Reply(req, code, body, verb, start);
}

void ApiReplies::ReplyErrorNoThrow(const Ex& req, const Status& s, const std::string& verb,
                                   RequestStart start) {
  try {
    ReplyError(req, s, verb, start);
  } catch (...) {
  }
}

}  // namespace berth::hub
