#include "hub/object_handlers.h"

#include <algorithm>
#include <vector>

#include "api/field_ownership.h"
#include "api/object.h"
#include "api/yaml_json.h"
#include "hub/discovery.h"
#include "hub/event_object.h"
#include "hub/namespace_admission.h"
#include "hub/httproute_export.h"
#include "hub/scale_subresource.h"

namespace berth::hub {

using nlohmann::json;
using Ex = std::shared_ptr<HttpExchange>;

namespace {

// fieldValidation as the Kubernetes API server reads it; absent means Strict (Kubernetes:
// Warn — see docs/API.md for why Berth refuses unknown fields unless asked not to).
StatusOr<FieldValidation> FieldValidationOf(const QueryParams& query) {
  const std::string v = query.Get("fieldValidation");
  if (v.empty() || v == "Strict") return FieldValidation::kStrict;
  if (v == "Warn") return FieldValidation::kWarn;
  if (v == "Ignore") return FieldValidation::kIgnore;
  return Status::BadRequest("fieldValidation: Unsupported value: \"" + v.substr(0, 64) +
                            "\": supported values: \"Ignore\", \"Strict\", \"Warn\"");
}

// A watch's sendInitialEvents and resourceVersionMatch, validated as Kubernetes does.
StatusOr<bool> InitialEventsOf(const QueryParams& query, bool bookmarks) {
  const std::string match = query.Get("resourceVersionMatch");
  if (!query.Has("sendInitialEvents")) {
    if (!match.empty()) {
      return Status::BadRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
    }
    return false;
  }
  auto send = query.Bool("sendInitialEvents");
  if (!send.ok()) return send.status();
  if (match != "NotOlderThan") {
    return Status::BadRequest(
        "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan");
  }
  if (!bookmarks) return Status::BadRequest("sendInitialEvents requires setting allowWatchBookmarks to true");
  return *send;
}

// A list's resourceVersion and resourceVersionMatch, read as Kubernetes reads them.
struct ListRevision {
  int64_t revision = 0;  // 0: any (the hub always serves its latest)
  bool exact = false;
};

StatusOr<ListRevision> ListRevisionOf(const QueryParams& query) {
  ListRevision out;
  auto rv = query.Int("resourceVersion");
  if (!rv.ok()) return rv.status();
  if (rv->value_or(0) < 0) return Status::BadRequest("resourceVersion: must not be negative");
  out.revision = rv->value_or(0);
  const std::string match = query.Get("resourceVersionMatch");
  if (!match.empty() && match != "NotOlderThan" && match != "Exact") {
    return Status::BadRequest("resourceVersionMatch: Unsupported value: \"" + match.substr(0, 64) +
                              "\": supported values: \"Exact\", \"NotOlderThan\"");
  }
  if (!match.empty() && !rv->has_value()) {
    return Status::BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided");
  }
  if (rv->has_value() && !query.Get("continue").empty()) {
    return Status::BadRequest("specifying resourceVersion is not allowed when using continue");
  }
  out.exact = match == "Exact";
  if (out.exact && out.revision == 0) {
    return Status::BadRequest("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
  }
  return out;
}

// The hub lists at its latest revision: that satisfies "any" and "not older than N" when the
// store has reached N, and "exactly N" only when N is the latest.
Status CheckListRevision(const ListRevision& wanted, int64_t served) {
  if (wanted.revision == 0) return Status::Ok();
  if (wanted.revision > served) {
    return Status(StatusCode::kTimeout, "Too large resource version: " + std::to_string(wanted.revision) +
                                            ", current resource version: " + std::to_string(served));
  }
  if (wanted.exact && wanted.revision != served) {
    return Status::Gone("too old resource version: " + std::to_string(wanted.revision) + " (" +
                        std::to_string(served) +
                        "): the hub serves exact reads only at its latest revision; list without "
                        "resourceVersionMatch=Exact");
  }
  return Status::Ok();
}

// What Berth does with a delete's propagationPolicy: Background is what it does anyway (the
// hub removes what a Workspace placed after the Workspace is gone); Foreground is served as
// Background, with a Warning; Orphan would leave replicas running that nothing manages, so it
// is refused for Workspaces and a Warning for other kinds (which have no dependents).
StatusOr<std::vector<std::string>> DeletePropagationWarnings(const api::KindInfo& kind, const json& policy) {
  if (policy.is_null() || policy == "Background") return std::vector<std::string>{};
  if (policy == "Foreground") {
    return std::vector<std::string>{"propagationPolicy Foreground is served as Background: the " + kind.kind +
                                    " is removed now; what it placed is drained and removed by the hub afterwards"};
  }
  if (policy == "Orphan") {
    if (kind.kind == "Workspace") {
      return Status::BadRequest(
          "propagationPolicy Orphan is not supported for Workspaces: the hub removes a deleted Workspace's "
          "replicas from every member cluster. To keep serving, leave the Workspace in place (set "
          "placement.replicas or a policy instead)");
    }
    return std::vector<std::string>{"propagationPolicy Orphan has no effect: a " + kind.kind +
                                    " has no dependents in Berth"};
  }
  return Status::BadRequest("propagationPolicy: Unsupported value: " + policy.dump().substr(0, 64) +
                            ": supported values: \"Orphan\", \"Background\", \"Foreground\"");
}

}  // namespace

ObjectHandlers::ObjectHandlers(ObjectApi& objects, Clock& clock, ApiReplies& replies,
                               WatchStreams& watches, std::chrono::seconds max_watch)
    : objects_(objects),
      clock_(clock),
      replies_(replies),
      watches_(watches),
      max_watch_(max_watch) {}

// GET .../workspaces/NAME/httproute: the endpoint map as a Gateway API HTTPRoute.
void ObjectHandlers::GetHttpRoute(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                                  const QueryParams& query, RequestStart start) {
  auto options = HttpRouteOptionsFrom(query.Get("gateway"), query.Get("gatewayNamespace"), query.Get("backendKind"),
                                      query.Get("port"));
  if (!options.ok()) return replies_.ReplyError(req, options.status(), "get", start, &kind, rp.name);
  auto got = objects_.store().Get({kind.storage_key(), rp.ns, rp.name});
  if (!got.ok()) return replies_.ReplyError(req, got.status(), "get", start, &kind, rp.name);
  return replies_.Reply(req, 200, HttpRouteFor(*got, *options), "get", start);
}

void ObjectHandlers::Get(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                         const QueryParams& query, RequestStart start) {
  if (rp.subresource == "scale") {
    auto got = objects_.store().Get({kind.storage_key(), rp.ns, rp.name});
    if (!got.ok()) return replies_.ReplyError(req, got.status(), "get", start, &kind, rp.name);
    return replies_.Reply(req, 200, ScaleOf(kind, *got), "get", start);
  }
  if (rp.subresource == "httproute") return GetHttpRoute(req, kind, rp, query, start);
  auto got = objects_.store().Get({kind.storage_key(), rp.ns, rp.name});
  if (got.status().code() != StatusCode::kNotFound) return ReplyGot(req, kind, rp, query, start, std::move(got));
  // Hub replicas on etcd: a create through another replica a moment ago must not be a 404
  // here (a GET is a consistent read, as in Kubernetes). One etcd round trip, on misses only,
  // answered on the store's sync thread; SqliteStore answers at once.
  objects_.store().SyncThen([this, req, &kind, rp, query, start, missed = std::move(got)](Status synced) mutable {
    if (synced.ok()) missed = objects_.store().Get({kind.storage_key(), rp.ns, rp.name});
    ReplyGot(req, kind, rp, query, start, std::move(missed));
  });
}

void ObjectHandlers::ReplyGot(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                              const QueryParams& query, RequestStart start, StatusOr<json> got) {
  if (got.ok() && kind.is_view()) {
    auto view = kind.to_view(*got);
    if (view) {
      got = std::move(*view);
    } else {
      got = Status::NotFound(kind.kind + " \"" + rp.name + "\" not found");
    }
  }
  if (!got.ok()) return replies_.ReplyError(req, got.status(), "get", start, &kind, rp.name);
  if (WantsTable(req->request().Header("Accept"))) {
    return replies_.Reply(req, 200,
                          ToTable(kind, {*got}, clock_.Now(), query.Get("includeObject"),
                                  got->at("metadata").value("resourceVersion", ""), ""),
                          "get", start);
  }
  replies_.Reply(req, 200, *got, "get", start);
}

void ObjectHandlers::ListOrWatch(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                                 const QueryParams& query, RequestStart start) {
  auto q = [&](const char* k) { return query.Get(k); };
  ListOptions lo;
  lo.ns = rp.ns;
  if (!q("labelSelector").empty()) {
    auto sel = api::LabelSelector::Parse(q("labelSelector"));
    if (!sel.ok()) return replies_.ReplyError(req, sel.status(), "list", start, &kind);
    lo.labels = std::move(*sel);
  }
  if (!q("fieldSelector").empty()) {
    auto sel = api::FieldSelector::Parse(q("fieldSelector"));
    if (!sel.ok()) return replies_.ReplyError(req, sel.status(), "list", start, &kind);
    if (Status s = sel->CheckSupported(kind.selectable_fields, kind.plural); !s.ok()) {
      return replies_.ReplyError(req, s, "list", start, &kind);
    }
    lo.fields = std::move(*sel);
  }
  auto watch = query.Bool("watch");
  if (!watch.ok()) return replies_.ReplyError(req, watch.status(), "list", start, &kind);
  if (*watch) return Watch(req, kind, lo, query, start);
  auto limit = query.Int("limit");
  if (!limit.ok()) return replies_.ReplyError(req, limit.status(), "list", start, &kind);
  if (*limit && **limit < 0) {
    return replies_.ReplyError(req, Status::BadRequest("limit: must not be negative"), "list",
                               start, &kind);
  }
  lo.limit = limit->value_or(0);
  lo.continue_token = q("continue");
  auto wanted = ListRevisionOf(query);
  if (!wanted.ok()) return replies_.ReplyError(req, wanted.status(), "list", start, &kind);
  auto list = objects_.store().List(kind.storage_key(), lo);
  if (!list.ok()) return replies_.ReplyError(req, list.status(), "list", start, &kind);
  if (Status s = CheckListRevision(*wanted, list->resource_version); !s.ok()) {
    return replies_.ReplyError(req, s, "list", start, &kind);
  }
  if (kind.is_view()) {
    std::vector<json> visible;
    for (auto& item : list->items) {
      if (auto v = kind.to_view(item)) visible.push_back(std::move(*v));
    }
    list->items = std::move(visible);
  }
  const std::string rv = std::to_string(list->resource_version);
  if (WantsTable(req->request().Header("Accept"))) {
    return replies_.Reply(
        req, 200,
        ToTable(kind, list->items, clock_.Now(), q("includeObject"), rv, list->continue_token),
        "list", start);
  }
  json meta = {{"resourceVersion", rv}};
  if (!list->continue_token.empty()) {
    meta["continue"] = list->continue_token;
    meta["remainingItemCount"] = list->remaining;
  }
  json out = {{"apiVersion", kind.api_version()},
              {"kind", kind.list_kind()},
              {"metadata", meta},
              {"items", std::move(list->items)}};
  replies_.Reply(req, 200, out, "list", start);
}

void ObjectHandlers::Watch(const Ex& req, const api::KindInfo& kind, const ListOptions& lo,
                           const QueryParams& query, RequestStart start) {
  WatchOptions wo;
  wo.resource = kind.storage_key();
  wo.ns = lo.ns;
  wo.labels = lo.labels;
  wo.fields = lo.fields;
  auto rv = query.Int("resourceVersion");
  if (!rv.ok()) return replies_.ReplyError(req, rv.status(), "watch", start, &kind);
  if (rv->value_or(0) < 0) {
    return replies_.ReplyError(req, Status::BadRequest("resourceVersion: must not be negative"),
                               "watch", start, &kind);
  }
  wo.from_revision = rv->value_or(0);
  auto timeout = max_watch_;
  auto timeout_seconds = query.Int("timeoutSeconds");
  if (!timeout_seconds.ok()) {
    return replies_.ReplyError(req, timeout_seconds.status(), "watch", start, &kind);
  }
  if (*timeout_seconds) {
    // Clamp before converting: a huge value must not overflow the duration.
    const int64_t cap = max_watch_.count();
    timeout = std::chrono::seconds(std::clamp<int64_t>(**timeout_seconds, 0, cap));
  }
  auto bookmarks = query.Bool("allowWatchBookmarks");
  if (!bookmarks.ok()) return replies_.ReplyError(req, bookmarks.status(), "watch", start, &kind);
  auto initial = InitialEventsOf(query, *bookmarks);
  if (!initial.ok()) return replies_.ReplyError(req, initial.status(), "watch", start, &kind);
  if (*initial) {
    // A streaming list: the current objects as ADDED (from the latest revision, which is
    // never older than the one asked for), the initial-events-end bookmark, then changes.
    wo.from_revision = 0;
    wo.initial_events_end = true;
  }
  if (Status s = watches_.Open(req, kind, wo, WantsTable(req->request().Header("Accept")),
                               query.Get("includeObject"), *bookmarks, timeout);
      !s.ok()) {
    // Kubernetes reports an expired version inside a 200 stream as an ERROR event; kubectl
    // and client-go understand both that and a plain 410, so answer plainly.
    return replies_.ReplyError(req, s, "watch", start, &kind);
  }
  // Events the store replays are already queued; the server sends them after the header.
  req->StartStream(200, "application/json", {{"Cache-Control", "no-cache, private"}});
  replies_.Record("watch", 200, start);
}

void ObjectHandlers::Write(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                           const QueryParams& query, RequestStart start, WriteAdmission admit) {
  const std::string& method = req->request().method;
  const std::string verb = method == methods::POST  ? "create"
                           : method == methods::PUT ? "update"
                                                    : "patch";
  const std::string content_type = req->request().Header("Content-Type");
  WriteOptions opts;
  opts.status = rp.subresource == "status";
  opts.admit = std::move(admit);
  auto dry_run = query.DryRun();
  if (!dry_run.ok()) return replies_.ReplyError(req, dry_run.status(), verb, start, &kind, rp.name);
  opts.dry_run = *dry_run;
  opts.field_manager = query.Get("fieldManager");
  if (opts.field_manager.size() > 128) {
    return replies_.ReplyError(req, Status::BadRequest("fieldManager: must have at most 128 characters"), verb,
                               start, &kind, rp.name);
  }
  // Server-side apply must name its manager; other writes are recorded under the client's
  // product, as Kubernetes derives it from the User-Agent.
  const bool apply = verb == "patch" && content_type.rfind("application/apply-patch+yaml", 0) == 0;
  if (opts.field_manager.empty() && !apply) {
    opts.field_manager = api::FieldManagerFromUserAgent(req->request().Header("User-Agent"));
  }
  auto force = query.Bool("force");
  if (!force.ok()) return replies_.ReplyError(req, force.status(), verb, start, &kind, rp.name);
  opts.force = *force;
  auto validation = FieldValidationOf(query);
  if (!validation.ok()) return replies_.ReplyError(req, validation.status(), verb, start, &kind, rp.name);
  opts.field_validation = *validation;
  opts.warnings = std::make_shared<std::vector<std::string>>();
  if (method == methods::POST && !rp.name.empty()) {
    return replies_.ReplyError(
        req,
        Status(StatusCode::kMethodNotAllowed, "POST goes to the collection, not to a named object"),
        verb, start, &kind, rp.name);
  }
  if (method != methods::POST && rp.name.empty()) {
    return replies_.ReplyError(
        req, Status(StatusCode::kMethodNotAllowed, method + " needs an object name in the path"),
        verb, start, &kind);
  }
  if (!kind.served()) {
    return replies_.ReplyError(req, Status(StatusCode::kMethodNotAllowed, kind.unserved_reason), verb,
                               start, &kind, rp.name);
  }
  if (rp.subresource == "scale") return WriteScale(req, kind, rp, opts, verb, start);
  const std::string& body = req->request().body;  // read and bounded by the server
  auto done = [this, req, &kind, verb, start, opts](int ok_code, std::string name) {
    return [this, req, &kind, verb, start, opts, name, ok_code](StatusOr<json> r) {
      if (!r.ok()) return replies_.ReplyError(req, r.status(), verb, start, &kind, name);
      std::vector<std::string> warnings = *opts.warnings;
      if (kind.warnings && !opts.status) {
        auto findings = kind.warnings(*r);
        if (!opts.dry_run && !findings.empty()) RecordWarningEvent(kind, *r, findings);
        for (auto& w : findings) warnings.push_back(std::move(w));
      }
      replies_.Reply(req, ok_code, *r, verb, start, warnings);
    };
  };
  if (verb == "patch") {
    auto type = PatchTypeFromContentType(content_type);
    if (!type.ok()) return replies_.ReplyError(req, type.status(), verb, start, &kind, rp.name);
    if (*type == PatchType::kStrategic && !kind.strategic_merge_patch) {
      return replies_.ReplyError(req,
                                 Status(StatusCode::kUnsupportedMedia,
                                        "strategic merge patch is not supported for Berth kinds: use "
                                        "--type=merge or --type=json"),
                                 verb, start, &kind, rp.name);
    }
    // Server-side apply creates a missing object: that is a create for the namespace.
    const bool creates = *type == PatchType::kApply &&
                         !objects_.store().Get({kind.storage_key(), rp.ns, rp.name}).ok();
    if (Status s = AdmitNamespaced(kind, rp.ns, rp.name, creates ? NamespacedWrite::kCreate : NamespacedWrite::kUpdate);
        !s.ok()) {
      return replies_.ReplyError(req, s, verb, start, &kind, rp.name);
    }
    if (body.size() > api::kMaxObjectBytes) {
      return replies_.ReplyError(
          req, Status::TooLarge("patch exceeds " + std::to_string(api::kMaxObjectBytes) + " bytes"),
          verb, start, &kind, rp.name);
    }
    return objects_.Patch(kind, rp.ns, rp.name, *type, body, opts, done(200, rp.name));
  }
  auto decoded = api::DecodeBody(body, content_type);
  if (!decoded.ok()) return replies_.ReplyError(req, decoded.status(), verb, start, &kind, rp.name);
  if (verb == "create") {
    const std::string name = api::NameOf(*decoded);
    std::string ns = rp.ns;
    if (ns.empty()) ns = api::NamespaceOf(*decoded).empty() ? kDefaultNamespace : api::NamespaceOf(*decoded);
    if (Status s = AdmitNamespaced(kind, ns, name, NamespacedWrite::kCreate); !s.ok()) {
      return replies_.ReplyError(req, s, verb, start, &kind, name);
    }
    return objects_.Create(kind, rp.ns, std::move(*decoded), opts, done(201, name));
  }
  if (Status s = AdmitNamespaced(kind, rp.ns, rp.name, NamespacedWrite::kUpdate); !s.ok()) {
    return replies_.ReplyError(req, s, verb, start, &kind, rp.name);
  }
  objects_.Update(kind, rp.ns, rp.name, std::move(*decoded), opts, done(200, rp.name));
}

void ObjectHandlers::WriteScale(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                                const WriteOptions& opts, const std::string& verb, RequestStart start) {
  const std::string& body = req->request().body;
  const std::string content_type = req->request().Header("Content-Type");
  auto fail = [&](const Status& s) { replies_.ReplyError(req, s, verb, start, &kind, rp.name); };
  ObjectApi::Change change;
  if (verb == "patch") {
    auto type = PatchTypeFromContentType(content_type);
    if (!type.ok()) return fail(type.status());
    if (*type == PatchType::kApply) {
      return fail(Status(StatusCode::kUnsupportedMedia,
                         "server-side apply is not served on /scale: use a merge or JSON patch (kubectl scale "
                         "does), or apply placement.replicas on the object"));
    }
    auto patch = api::ParseJson(body, "invalid patch");
    if (!patch.ok()) return fail(patch.status());
    change = [&kind, type = *type, patch = std::move(*patch)](const json& current) -> StatusOr<json> {
      json scale = ScaleOf(kind, current);
      try {
        if (type == PatchType::kJson) {
          scale = scale.patch(patch);
        } else {
          scale.merge_patch(patch);
        }
      } catch (const json::exception& e) {
        return Status::Invalid(std::string("the patch cannot be applied to the Scale: ") + e.what());
      }
      return WithScale(kind, current, scale);
    };
  } else if (verb == "update") {
    auto decoded = api::DecodeBody(body, content_type);
    if (!decoded.ok()) return fail(decoded.status());
    change = [&kind, scale = std::move(*decoded)](const json& current) { return WithScale(kind, current, scale); };
  } else {
    return fail(Status(StatusCode::kMethodNotAllowed, "/scale takes GET, PUT and PATCH"));
  }
  objects_.Modify(kind, rp.ns, rp.name, std::move(change), opts,
                  [this, req, &kind, verb, start, name = rp.name](StatusOr<json> r) {
                    if (!r.ok()) return replies_.ReplyError(req, r.status(), verb, start, &kind, name);
                    replies_.Reply(req, 200, ScaleOf(kind, *r), verb, start);
                  });
}

Status ObjectHandlers::AdmitNamespaced(const api::KindInfo& kind, const std::string& ns,
                                       const std::string& name, NamespacedWrite op) const {
  if (!kind.namespaced || ns.empty()) return Status::Ok();
  auto stored = objects_.store().Get({kNamespacesResource, "", ns});
  return AdmitNamespacedWrite(ns, stored.ok() ? &*stored : nullptr, op, kind.resource(), name);
}

void ObjectHandlers::RecordWarningEvent(const api::KindInfo& kind, const json& object,
                                        const std::vector<std::string>& findings) {
  const api::KindInfo* events = objects_.registry() ? objects_.registry()->ByKind("v1", "Event") : nullptr;
  if (!events) return;
  std::string message;
  for (const auto& f : findings) message += (message.empty() ? "" : "\n") + f;
  if (message.size() > 1024) message = message.substr(0, 1021) + "...";
  const char* reason = kind.kind == "Workspace" && kind.group == "kaito.sh" ? "KaitoFieldsConverted" : "SpecWarnings";
  json ev = EventObject(object, "Warning", reason, message, clock_.Now());
  ev["metadata"].erase("generateName");
  ev["metadata"]["name"] = api::NameOf(object) + ".warnings-g" + std::to_string(api::GenerationOf(object));
  const std::string ns = ev["metadata"]["namespace"];
  // Best effort; AlreadyExists means this generation's findings are already recorded.
  objects_.Create(*events, ns, std::move(ev), {}, [](StatusOr<json>) {});
}

void ObjectHandlers::Delete(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                            const QueryParams& query, RequestStart start) {
  if (rp.name.empty()) {
    return replies_.ReplyError(req,
                               Status(StatusCode::kMethodNotAllowed,
                                      "deleting a collection is not supported; delete objects by "
                                      "name or with kubectl delete -l"),
                               "delete", start);
  }
  if (!kind.served()) {
    return replies_.ReplyError(req, Status(StatusCode::kMethodNotAllowed, kind.unserved_reason),
                               "delete", start, &kind, rp.name);
  }
  if (kind.group.empty() && kind.resource() == kNamespacesResource) {
    if (Status s = AdmitNamespaceDelete(rp.name); !s.ok()) {
      return replies_.ReplyError(req, s, "delete", start, &kind, rp.name);
    }
  }
  auto query_dry_run = query.DryRun();
  if (!query_dry_run.ok()) {
    return replies_.ReplyError(req, query_dry_run.status(), "delete", start, &kind, rp.name);
  }
  std::string propagation = query.Get("propagationPolicy");
  if (propagation.empty()) {
    auto orphan = query.Bool("orphanDependents");
    if (!orphan.ok()) return replies_.ReplyError(req, orphan.status(), "delete", start, &kind, rp.name);
    if (*orphan) propagation = "Orphan";
  }
  DeleteWithOptions(req, kind, rp, *query_dry_run, propagation, start);
}

// Preconditions and dryRun may come in a DeleteOptions body.
void ObjectHandlers::DeleteWithOptions(const Ex& req, const api::KindInfo& kind_ref,
                                       const ResourcePath& rp, bool query_dry_run,
                                       const std::string& propagation_policy, RequestStart start) {
  const api::KindInfo* kind = &kind_ref;
  const std::string& bytes = req->request().body;
  DeleteOptions options;
  options.dry_run = query_dry_run;
  json propagation = propagation_policy.empty() ? json() : json(propagation_policy);
  try {
    if (!bytes.empty()) {
      auto parsed = api::ParseJson(bytes, "invalid DeleteOptions");
      if (!parsed.ok()) {
        return replies_.ReplyError(req, parsed.status(), "delete", start, kind, rp.name);
      }
      json opts = std::move(*parsed);
      if (!opts.is_object()) {
        return replies_.ReplyError(
            req, Status::BadRequest("invalid DeleteOptions: must be a JSON object"), "delete",
            start, kind, rp.name);
      }
      json pre = opts.value("preconditions", json::object());
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string()) {
        auto rv = ParseInt64(pre["resourceVersion"].get<std::string>(), "preconditions.resourceVersion");
        if (!rv.ok()) {
          return replies_.ReplyError(
              req, Status::BadRequest("invalid DeleteOptions: preconditions.resourceVersion must be a resourceVersion"),
              "delete", start, kind, rp.name);
        }
        options.precondition_rv = *rv;
      }
      if (pre.contains("uid") && pre["uid"].is_string()) {
        options.precondition_uid = pre["uid"].get<std::string>();
      }
      if (opts.contains("propagationPolicy")) propagation = opts["propagationPolicy"];
      if (opts.value("orphanDependents", json()).is_boolean() && opts["orphanDependents"].get<bool>()) {
        propagation = "Orphan";
      }
      auto body_dry_run = DryRunFromDeleteOptions(opts);
      if (!body_dry_run.ok()) {
        return replies_.ReplyError(req, body_dry_run.status(), "delete", start, kind, rp.name);
      }
      options.dry_run = options.dry_run || *body_dry_run;
    }
  } catch (const std::exception& e) {
    return replies_.ReplyError(
        req, Status::BadRequest(std::string("invalid DeleteOptions: ") + e.what()), "delete", start,
        kind, rp.name);
  }
  auto warnings = DeletePropagationWarnings(*kind, propagation);
  if (!warnings.ok()) return replies_.ReplyError(req, warnings.status(), "delete", start, kind, rp.name);
  objects_.Delete(*kind, rp.ns, rp.name, options,
                  [this, req, kind, name = rp.name, start, warnings = *warnings](StatusOr<json> r) {
                    if (!r.ok()) {
                      return replies_.ReplyError(req, r.status(), "delete", start, kind, name);
                    }
                    replies_.Reply(req, 200, *r, "delete", start, warnings);
                  });
}

}  // namespace berth::hub
