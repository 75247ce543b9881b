// Status and StatusOr<T>: recoverable errors travel as values across component
// boundaries (no exception crosses one). Codes follow Kubernetes API reasons so the
// hub maps them to HTTP in one place (hub/http_errors.h).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace berth {

enum class StatusCode {
  kOk = 0,
  kInvalid,            // 422: the object is malformed; causes name the fields.
  kBadRequest,         // 400: the request itself is malformed (bad JSON, bad query).
  kNotFound,           // 404
  kAlreadyExists,      // 409
  kConflict,           // 409: stale resourceVersion or concurrent change.
  kUnauthenticated,    // 401
  kForbidden,          // 403
  kGone,               // 410: watch resourceVersion compacted away.
  kTooLarge,           // 413
  kUnsupportedMedia,   // 415
  kMethodNotAllowed,   // 405
  kFailedPrecondition, // 422-like for immutable fields / state rules.
  kUnavailable,        // 503
  kTimeout,            // 504
  kInternal,           // 500
};

// One field-level cause of an Invalid error, e.g. {"spec.resource.gpuu", "unknown field"}.
struct FieldCause {
  std::string field;
  std::string message;
  std::string reason = "FieldValueInvalid";
  bool operator==(const FieldCause&) const = default;
};

// What an error is about when that is not the object the request named: a create in a
// missing namespace is `namespaces "ml" not found` with details {kind: namespaces, name: ml},
// as Kubernetes answers. `kind` is the resource (plural), as in Kubernetes' Status details.
struct StatusSubject {
  std::string group;
  std::string kind;
  std::string name;
  bool operator==(const StatusSubject&) const = default;
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string msg, std::vector<FieldCause> causes = {}) {
    Status s(StatusCode::kInvalid, std::move(msg));
    s.causes_ = std::move(causes);
    return s;
  }
  static Status BadRequest(std::string msg) { return {StatusCode::kBadRequest, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {StatusCode::kConflict, std::move(msg)}; }
  // A conflict whose causes name fields (server-side apply: reason FieldManagerConflict).
  static Status Conflict(std::string msg, std::vector<FieldCause> causes) {
    Status s(StatusCode::kConflict, std::move(msg));
    s.causes_ = std::move(causes);
    return s;
  }
  static Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
  static Status Forbidden(std::string msg) { return {StatusCode::kForbidden, std::move(msg)}; }
  static Status Gone(std::string msg) { return {StatusCode::kGone, std::move(msg)}; }
  static Status TooLarge(std::string msg) { return {StatusCode::kTooLarge, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldCause>& causes() const { return causes_; }
  const std::optional<StatusSubject>& subject() const { return subject_; }
  Status WithCauses(std::vector<FieldCause> causes) const {
    Status s = *this;
    s.causes_ = std::move(causes);
    return s;
  }
  Status WithSubject(StatusSubject subject) const {
    Status s = *this;
    s.subject_ = std::move(subject);
    return s;
  }

  // Prefixes the message with context, e.g. "decode workspace.yaml: ".
  Status WithContext(const std::string& context) const {
    Status s = *this;
    if (!s.ok()) s.message_ = context + ": " + s.message_;
    return s;
  }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<FieldCause> causes_;
  std::optional<StatusSubject> subject_;
};

const char* StatusCodeName(StatusCode code);

// Holds a T or a non-OK Status. Accessing value() of an error is a programming bug.
template <typename T>
class StatusOr {
 public:
  StatusOr(const T& value) : v_(value) {}                // NOLINT: implicit by design
  StatusOr(T&& value) : v_(std::move(value)) {}          // NOLINT
  StatusOr(Status status) : v_(std::move(status)) {      // NOLINT
    assert(!std::get<Status>(v_).ok() && "StatusOr built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

#define BERTH_RETURN_IF_ERROR(expr)      \
  do {                                   \
    ::berth::Status _st = (expr);        \
    if (!_st.ok()) return _st;           \
  } while (0)

}  // namespace berth
