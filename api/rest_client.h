// A synchronous client for Kubernetes-style REST APIs: Berth's hub and real Kubernetes
// API servers. Library berth_client (cpprestsdk inside; this header pulls in neither
// cpprestsdk nor Boost).
//
// Errors: a non-2xx response becomes a Status by StatusFromHttpError (Kubernetes `Status`
// bodies keep their reason, message and field causes); a transport failure (refused
// connection, TLS verification failure, timeout) becomes Unavailable naming the cause.
//
// Thread safety: a RestClient is safe to use from many threads at once; calls share one
// connection pool. Every call blocks the calling thread until the response (or the watch)
// ends, so never call it from a cpprestsdk pool thread (an http_listener handler or a
// .then() continuation): that can starve the pool the call itself needs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/kubeconfig.h"
#include "api/status.h"

namespace berth {

inline constexpr std::string_view kMergePatch = "application/merge-patch+json";
inline constexpr std::string_view kJsonPatch = "application/json-patch+json";
inline constexpr std::string_view kStrategicMergePatch = "application/strategic-merge-patch+json";
inline constexpr std::string_view kApplyPatch = "application/apply-patch+yaml";

struct HttpResponse {
  int status_code = 0;
  std::map<std::string, std::string> headers;  // Names lower-cased.
  std::string body;
};

// Maps an HTTP error to a Status: 400 BadRequest, 401 Unauthenticated, 403 Forbidden,
// 404 NotFound, 405 MethodNotAllowed, 409 AlreadyExists (reason "AlreadyExists") or
// Conflict, 410 Gone, 413 TooLarge, 415 UnsupportedMedia, 422 Invalid with
// details.causes as FieldCauses, 429/502/503 Unavailable, 504 Timeout, other 5xx
// Internal. The message is the Status object's message (or the body's start) prefixed
// with `context` (e.g. "GET /apis/...").
Status StatusFromHttpError(int status_code, std::string_view body, std::string_view context = "");

class RestClient {
 public:
  // Validates the URL and PEMs up front (Invalid naming the field); connects lazily.
  static StatusOr<std::unique_ptr<RestClient>> Create(ClientConfig config);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // `path` is absolute from the server URL's root (after any path prefix in it) and may
  // carry a query: "/apis/berth.dev/v1/namespaces/default/workspaces?labelSelector=a%3Db".
  // Responses with an empty body (204) yield a null json.
  StatusOr<nlohmann::json> Get(std::string_view path);
  StatusOr<nlohmann::json> Post(std::string_view path, const nlohmann::json& body);
  StatusOr<nlohmann::json> Put(std::string_view path, const nlohmann::json& body);
  // `content_type` is one of the k*Patch constants; `body` is sent verbatim.
  StatusOr<nlohmann::json> Patch(std::string_view path, std::string_view body,
                                 std::string_view content_type);
  // Server-side apply: PATCH with kApplyPatch and ?fieldManager=...&force=... appended.
  // `body` may be YAML or JSON (JSON is YAML).
  StatusOr<nlohmann::json> Apply(std::string_view path, std::string_view body,
                                 std::string_view field_manager, bool force);
  // `body` (e.g. DeleteOptions) is sent only when not null.
  StatusOr<nlohmann::json> Delete(std::string_view path,
                                  const nlohmann::json& body = nlohmann::json());

  // The general form: any method, raw body, the Accept header of your choice (e.g. the
  // Table form kubectl asks for). Returns every response, 2xx or not; only transport
  // failures are errors.
  StatusOr<HttpResponse> Do(std::string_view method, std::string_view path, std::string_view body,
                            std::string_view content_type,
                            std::string_view accept = "application/json");

  // Streams a watch (`path` should carry ?watch=true[&resourceVersion=N]). Calls
  // on_event(event) on the calling thread for each newline-delimited JSON object as soon
  // as its line has arrived. Returns:
  //   Ok           - the server ended the stream, or should_stop() returned true (it is
  //                  polled at least every 200 ms, also while the stream is silent);
  //   error Status - non-2xx reply (410 Gone → kGone: re-list), a line that is not JSON
  //                  (BadRequest), a transport failure or watch_idle_timeout of silence
  //                  (Unavailable). An event of type ERROR is passed to on_event as is.
  Status Watch(std::string_view path, const std::function<void(const nlohmann::json&)>& on_event,
               const std::function<bool()>& should_stop);

  const ClientConfig& config() const;

 private:
  struct Impl;
  explicit RestClient(std::unique_ptr<Impl> impl);
  StatusOr<nlohmann::json> DoJson(std::string_view method, std::string_view path,
                                  std::string_view body, std::string_view content_type);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth
