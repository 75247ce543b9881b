// What a request on an object or a collection does, once routing has found its kind
// (hub/api_routing.h) and authorisation has let it through (hub/api_authorization.h):
//   Get          GET of a named object (a Table when the Accept header asks for one)
//   ListOrWatch  GET of a collection: label and field selectors, limit/continue paging,
//                Tables; watch=true opens a watch (resourceVersion, timeoutSeconds capped at
//                max_watch, allowWatchBookmarks) kept by WatchStreams
//   Write        POST (create, 201), PUT (update), PATCH (merge, JSON, apply), also on
//                /status; dryRun, fieldManager, force
//                /scale (an autoscaling/v1 Scale) for kinds that have one: GET, PUT, PATCH
//   Delete       DELETE of a named object; preconditions and dryRun may come in a
//                DeleteOptions body (a collection cannot be deleted: 405)
// Writes of namespaced objects pass the namespace's admission first (hub/namespace_admission.h:
// 404 for a missing namespace, 403 for a create in a terminating one). Kinds Berth does not
// store (KindInfo::unserved_reason) read as empty collections; writes to them are a 405.
// Each answers exactly once through ApiReplies (the verb it counts is the one named above, in
// lower case, or "watch"), from the calling thread or, for writes, from the store's writer
// thread once the result is durable. None blocks. Kind views are served through their
// storage kind.
#pragma once

#include <chrono>
#include <memory>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/api_replies.h"
#include "hub/api_routing.h"
#include "hub/https_server.h"
#include "hub/namespace_admission.h"
#include "hub/object_api.h"
#include "hub/query_params.h"
#include "hub/watch_streams.h"

namespace berth::hub {

class ObjectHandlers {
 public:
  // The references must outlive this object.
  ObjectHandlers(ObjectApi& objects, Clock& clock, ApiReplies& replies, WatchStreams& watches,
                 std::chrono::seconds max_watch);

  void Get(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
           const ResourcePath& rp, const QueryParams& query, RequestStart start);
  void GetHttpRoute(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
                    const ResourcePath& rp, const QueryParams& query, RequestStart start);
  void ListOrWatch(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
                   const ResourcePath& rp, const QueryParams& query, RequestStart start);
  // `admit` (may be empty) is WriteOptions::admit: the router's RBAC escalation checks.
  void Write(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
             const ResourcePath& rp, const QueryParams& query, RequestStart start,
             WriteAdmission admit = {});
  void Delete(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
              const ResourcePath& rp, const QueryParams& query, RequestStart start);

 private:
  void Watch(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
             const ListOptions& lo, const QueryParams& query, RequestStart start);
  // Replies to a GET with `got` (the stored object or why not), in the view and format asked for.
  void ReplyGot(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind, const ResourcePath& rp,
                const QueryParams& query, RequestStart start, StatusOr<nlohmann::json> got);
  // PUT or PATCH (merge or JSON) of a kind's /scale: the Scale is computed from the stored
  // object, changed, and its spec.replicas written back, in one store transaction.
  void WriteScale(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
                  const ResourcePath& rp, const WriteOptions& opts, const std::string& verb,
                  RequestStart start);
  // Namespace admission of a write to `kind` in `ns` (OK for cluster-scoped kinds).
  Status AdmitNamespaced(const api::KindInfo& kind, const std::string& ns, const std::string& name,
                         NamespacedWrite op) const;
  // Preconditions, dryRun and propagationPolicy may also come in a DeleteOptions body
  // (`propagation_policy` is the query's, "" when absent).
  void DeleteWithOptions(const std::shared_ptr<HttpExchange>& req, const api::KindInfo& kind,
                         const ResourcePath& rp, bool query_dry_run, const std::string& propagation_policy,
                         RequestStart start);

  // A kind's findings on a stored write (KindInfo::warnings) as one Warning Event on the
  // object, once per generation (a fixed Event name: re-applying the same spec adds none).
  void RecordWarningEvent(const api::KindInfo& kind, const nlohmann::json& object,
                          const std::vector<std::string>& findings);

  ObjectApi& objects_;
  Clock& clock_;
  ApiReplies& replies_;
  WatchStreams& watches_;
  const std::chrono::seconds max_watch_;
};

}  // namespace berth::hub
