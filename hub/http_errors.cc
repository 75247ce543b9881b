#include "hub/http_errors.h"

namespace berth::hub {

using nlohmann::json;

std::pair<int, json> StatusToHttp(const Status& s, const api::KindInfo* kind, const std::string& name) {
  int code = 500;
  std::string reason = "InternalError";
  switch (s.code()) {
    case StatusCode::kOk: code = 200; reason = ""; break;
    case StatusCode::kInvalid: code = 422; reason = "Invalid"; break;
    case StatusCode::kFailedPrecondition: code = 422; reason = "Invalid"; break;
    case StatusCode::kBadRequest: code = 400; reason = "BadRequest"; break;
    case StatusCode::kNotFound: code = 404; reason = "NotFound"; break;
    case StatusCode::kAlreadyExists: code = 409; reason = "AlreadyExists"; break;
    case StatusCode::kConflict: code = 409; reason = "Conflict"; break;
    case StatusCode::kUnauthenticated: code = 401; reason = "Unauthorized"; break;
    case StatusCode::kForbidden: code = 403; reason = "Forbidden"; break;
    case StatusCode::kGone: code = 410; reason = "Expired"; break;
    case StatusCode::kTooLarge: code = 413; reason = "RequestEntityTooLarge"; break;
    case StatusCode::kUnsupportedMedia: code = 415; reason = "UnsupportedMediaType"; break;
    case StatusCode::kMethodNotAllowed: code = 405; reason = "MethodNotAllowed"; break;
    case StatusCode::kUnavailable: code = 503; reason = "ServiceUnavailable"; break;
    case StatusCode::kTimeout: code = 504; reason = "Timeout"; break;
    case StatusCode::kInternal: code = 500; reason = "InternalError"; break;
  }
  json details = json::object();
  if (const auto& subject = s.subject()) {
    if (!subject->name.empty()) details["name"] = subject->name;
    details["group"] = subject->group;
    details["kind"] = subject->kind;
  } else {
    if (!name.empty()) details["name"] = name;
    if (kind) {
      details["group"] = kind->group;
      details["kind"] = kind->kind;
    }
  }
  if (!s.causes().empty()) {
    json causes = json::array();
    for (const auto& c : s.causes()) {
      causes.push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
    }
    details["causes"] = causes;
  }
  json body = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
               {"status", "Failure"}, {"message", s.message()}, {"reason", reason},
               {"code", code}};
  if (!details.empty()) body["details"] = details;
  return {code, body};
}

}  // namespace berth::hub
