#include "api/status.h"

namespace berth {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalid: return "Invalid";
    case StatusCode::kBadRequest: return "BadRequest";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kConflict: return "Conflict";
    case StatusCode::kUnauthenticated: return "Unauthorized";
    case StatusCode::kForbidden: return "Forbidden";
    case StatusCode::kGone: return "Gone";
    case StatusCode::kTooLarge: return "RequestEntityTooLarge";
    case StatusCode::kUnsupportedMedia: return "UnsupportedMediaType";
    case StatusCode::kMethodNotAllowed: return "MethodNotAllowed";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kUnavailable: return "ServiceUnavailable";
    case StatusCode::kTimeout: return "Timeout";
    case StatusCode::kInternal: return "InternalError";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = std::string(StatusCodeName(code_)) + ": " + message_;
  for (const auto& c : causes_) out += "; " + c.field + ": " + c.message;
  return out;
}

}  // namespace berth
