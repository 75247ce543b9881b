#include "hub/api_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <set>
#include <thread>

#include "api/object.h"
#include "api/yaml_json.h"
#include "hub/discovery.h"
#include "hub/http_errors.h"
#include "hub/https_server.h"
#include "hub/query_params.h"

namespace berth::hub {

using nlohmann::json;
using Ex = std::shared_ptr<HttpExchange>;

namespace methods {
constexpr std::string_view GET = "GET", POST = "POST", PUT = "PUT", PATCH = "PATCH", DEL = "DELETE";
}

namespace {

// /apis/<g>/<v>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]
struct ResourcePath {
  std::string group, version, ns, plural, name, subresource;
};

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(PercentDecode(path.substr(i, j - i), /*plus_is_space=*/false));
    i = j + 1;
  }
  return parts;
}

std::optional<ResourcePath> ParseResourcePath(const std::vector<std::string>& p) {
  ResourcePath r;
  size_t i;
  if (p.size() >= 4 && p[0] == "apis") {
    r.group = p[1];
    r.version = p[2];
    i = 3;
  } else if (p.size() >= 3 && p[0] == "api") {
    r.version = p[1];  // the core group has no name
    i = 2;
  } else {
    return std::nullopt;
  }
  if (p[i] == "namespaces" && p.size() >= i + 3) {
    r.ns = p[i + 1];
    i += 2;
  }
  r.plural = p[i++];
  if (i < p.size()) r.name = p[i++];
  if (i < p.size()) r.subresource = p[i++];
  if (i < p.size()) return std::nullopt;
  return r;
}

std::string Header(const Ex& ex, std::string_view name) { return ex->request().Header(name); }

// "/apis/" is "/apis", as the Kubernetes API server (and the Python client) have it.
std::string NormalizePath(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The largest join request: a cluster name, a few strings, labels and taints.
constexpr size_t kMaxJoinBodyBytes = 64 << 10;
// Like kube-apiserver's MaxRequestBodyBytes; the decoded object must still fit kMaxObjectBytes.
constexpr size_t kMaxRequestBodyBytes = 3 << 20;

// One client's watch stream over a streaming exchange (whose server bounds its backlog).
class WatchStream {
 public:
  WatchStream(Ex ex, const api::KindInfo* kind, bool table, std::string include_object, bool bookmarks)
      : ex_(std::move(ex)), kind_(kind), table_(table), include_object_(std::move(include_object)),
        bookmarks_(bookmarks) {}

  // Non-blocking: queues the event; false once the stream is cut (client gone, too far behind).
  bool Send(const std::string& type, const json& object, Clock::TimePoint now) {
    json wire = object;
    if (table_ && type != "BOOKMARK" && type != "ERROR") {
      wire = ToTable(*kind_, {object}, now, include_object_.empty() ? "Object" : include_object_,
                     "", "");
      wire.erase("metadata");
      wire["metadata"] = {{"resourceVersion", object["metadata"].value("resourceVersion", "")}};
    }
    return ex_->Write(json{{"type", type}, {"object", wire}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }

  bool KeepAlive(int64_t revision) {
    if (bookmarks_) {
      json bm = {{"kind", kind_->kind}, {"apiVersion", kind_->api_version()},
                 {"metadata", {{"resourceVersion", std::to_string(revision)}}}};
      return ex_->Write(json{{"type", "BOOKMARK"}, {"object", bm}}.dump() + "\n");
    }
    return ex_->Write("\n");  // whitespace between JSON objects: lets us notice a dead client
  }

  void Close() { ex_->EndStream(); }
  bool closed() const { return ex_->closed(); }

  uint64_t watch_id = 0;
  Clock::TimePoint deadline;
  Clock::TimePoint next_keepalive;

 private:
  Ex ex_;
  const api::KindInfo* kind_;
  bool table_;
  std::string include_object_;
  bool bookmarks_;
};

}  // namespace

class ApiServer::Impl {
 public:
  Impl(ApiServerOptions options, const api::KindRegistry& registry, ObjectApi& objects,
       TokenAuthenticator& auth, Clock& clock, Membership* membership)
      : options_(std::move(options)), registry_(registry), objects_(objects), auth_(auth),
        clock_(clock), membership_(membership), metrics_(std::make_shared<prometheus::Registry>()),
        requests_(prometheus::BuildCounter()
                      .Name("berth_api_requests_total")
                      .Help("API requests by verb and HTTP code")
                      .Register(*metrics_)),
        latency_(prometheus::BuildHistogram()
                     .Name("berth_api_request_duration_seconds")
                     .Help("API request latency until the response is handed to the network")
                     .Register(*metrics_)),
        watches_(prometheus::BuildGauge()
                     .Name("berth_api_watches")
                     .Help("Open watch streams")
                     .Register(*metrics_)
                     .Add({})),
        revision_(prometheus::BuildGauge()
                      .Name("berth_store_revision")
                      .Help("Latest committed store revision")
                      .Register(*metrics_)
                      .Add({})) {}

  Status Start() {
    HttpsServerOptions server_options;
    server_options.host = options_.host;
    server_options.port = options_.port;
    server_options.cert_pem = options_.cert_pem;
    server_options.key_pem = options_.key_pem;
    server_options.io_threads = options_.io_threads;
    server_options.limits = options_.limits;
    server_options.limits.max_body_bytes = kMaxRequestBodyBytes;
    server_options.limits.max_stream_backlog_bytes = options_.max_watch_backlog_bytes;
    server_ = std::make_unique<HttpsServer>(
        std::move(server_options), [this](const HttpRequest& r) { return OnHeader(r); }, metrics_.get());
    if (Status s = server_->Start(); !s.ok()) {
      server_.reset();
      return s.code() == StatusCode::kInvalid ? s.WithContext("serving certificate") : s;
    }
    running_ = true;
    ticker_ = std::thread([this] { TickerLoop(); });
    spdlog::info("API server listening on https://{}:{}", options_.host, server_->port());
    return Status::Ok();
  }

  void Stop() {
    if (!running_.exchange(false)) return;
    {
      std::lock_guard<std::mutex> lock(ticker_mu_);
      ticker_cv_.notify_all();
    }
    if (ticker_.joinable()) ticker_.join();
    std::set<std::shared_ptr<WatchStream>> streams;
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      streams.swap(streams_);
    }
    for (auto& s : streams) {
      objects_.store().Unwatch(s->watch_id);
      s->Close();
    }
    server_->Stop();
  }

  std::string MetricsText() const {
    revision_.Set(static_cast<double>(objects_.store().CurrentRevision()));
    prometheus::TextSerializer serializer;
    return serializer.Serialize(metrics_->Collect());
  }

 private:
  using Clk = std::chrono::steady_clock;

  void Record(const std::string& verb, int code, Clk::time_point start) {
    requests_.Add({{"verb", verb}, {"code", std::to_string(code)}}).Increment();
    latency_
        .Add({{"verb", verb}},
             prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05, 0.1, 0.25, 0.5, 1, 2.5})
        .Observe(std::chrono::duration<double>(Clk::now() - start).count());
  }

  void Reply(const Ex& req, int code, const json& body, const std::string& verb,
             Clk::time_point start) {
    // Inputs are checked for UTF-8; `replace` keeps a miss from turning into an exception.
    req->Reply({code, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}});
    Record(verb, code, start);
  }

  void ReplyText(const Ex& req, int code, const std::string& body, const std::string& content_type) {
    req->Reply({code, content_type, body, {}});
  }

  void ReplyError(const Ex& req, const Status& s, const std::string& verb,
                  Clk::time_point start, const api::KindInfo* kind = nullptr,
                  const std::string& name = "") {
    auto [code, body] = StatusToHttp(s, kind, name);
    Reply(req, code, body, verb, start);
  }

  static bool IsUnauthenticatedPath(const std::string& path) {
    return path == "/healthz" || path == "/livez" || path == "/readyz";
  }
  bool IsJoinPath(const std::string& path) const {
    return membership_ && path == "/apis/berth.dev/v1alpha1/join";
  }

  // Runs on the header alone, before any body byte is read: a request without a valid
  // credential costs the hub one token lookup, never its body.
  HeaderVerdict OnHeader(const HttpRequest& r) {
    const auto start = Clk::now();
    const std::string path = NormalizePath(r.path);
    HeaderVerdict v;
    if (IsUnauthenticatedPath(path) || IsJoinPath(path)) {
      // A join is authenticated by its bootstrap token, checked with the body.
      if (IsJoinPath(path)) v.body_limit = kMaxJoinBodyBytes;
      v.handle = [this, start](Ex ex) { Dispatch(ex, nullptr, start); };
      return v;
    }
    auto who = auth_.Authenticate(r.Header("Authorization"));
    if (!who.ok()) {
      auto [code, body] = StatusToHttp(who.status(), nullptr, "");
      Record("auth", code, start);
      v.refuse = HttpReply{code, "application/json", body.dump(), {}};
      return v;
    }
    v.handle = [this, start, id = std::move(*who)](Ex ex) { Dispatch(ex, &id, start); };
    return v;
  }

  void Dispatch(const Ex& req, const Identity* id, Clk::time_point start) {
    try {
      Route(req, id, start);
    } catch (const std::exception& e) {
      spdlog::error("handler error: {}", e.what());
      ReplyErrorNoThrow(req, Status::Internal(std::string("internal error: ") + e.what()), "unknown", start);
    } catch (...) {
      spdlog::error("handler error: non-standard exception");
      ReplyErrorNoThrow(req, Status::Internal("internal error"), "unknown", start);
    }
  }

  void Route(const Ex& req, const Identity* who, Clk::time_point start) {
    const std::string path = NormalizePath(req->request().path);
    const auto parts = SplitPath(path);
    const auto query = QueryParams::Parse(req->request().query);
    const std::string& method = req->request().method;
    // Names and values end up in JSON replies, which must be UTF-8.
    if (!std::all_of(parts.begin(), parts.end(), [](const std::string& p) { return api::IsValidUtf8(p); }) ||
        !query.AllUtf8()) {
      return ReplyError(req, Status::BadRequest("the request path or a query parameter is not valid UTF-8"),
                        "unknown", start);
    }

    if (path == "/healthz" || path == "/livez") return ReplyText(req, 200, "ok", "text/plain");
    if (path == "/readyz") {
      return ReplyText(req, running_ ? 200 : 503, running_ ? "ok" : "starting", "text/plain");
    }

    if (IsJoinPath(path)) {
      if (method != methods::POST) {
        return ReplyError(req, Status(StatusCode::kMethodNotAllowed, "join takes POST"), "join", start);
      }
      auto body = api::ParseJson(req->request().body, "invalid join request");
      if (!body.ok()) return ReplyError(req, body.status(), "join", start);
      return membership_->Join(Header(req, "Authorization"), *body, [this, req, start](StatusOr<json> r) {
        if (!r.ok()) return ReplyError(req, r.status(), "join", start);
        Reply(req, 200, *r, "join", start);
      });
    }
    if (!who) return ReplyError(req, Status::Unauthenticated("no credential"), "auth", start);
    const Identity& id = *who;

    if (method == methods::GET) {
      if (path == "/version") return Reply(req, 200, VersionInfo(), "discovery", start);
      if (path == "/metrics") {
        // Operators' view of the hub: members have no business reading it.
        if (!id.admin) {
          return ReplyError(req, Status::Forbidden("/metrics is forbidden: user \"" + id.user + "\" is not an admin"), "metrics", start);
        }
        ReplyText(req, 200, MetricsText(), "text/plain; version=0.0.4");
        return Record("metrics", 200, start);
      }
      if (path == "/api") return Reply(req, 200, ApiVersions(), "discovery", start);
      if (parts.size() == 2 && parts[0] == "api") {
        json l = ApiResourceList(registry_, "", parts[1]);
        if (l.is_null()) return ReplyError(req, Status::NotFound("no API " + parts[1]), "discovery", start);
        return Reply(req, 200, l, "discovery", start);
      }
      if (parts.size() == 4 && parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "api") {
        json doc = OpenApiV3Group(registry_, "", parts[3]);
        if (doc.is_null()) return ReplyError(req, Status::NotFound("no OpenAPI document for " + parts[3]), "openapi", start);
        return Reply(req, 200, doc, "openapi", start);
      }
      if (path == "/apis") return Reply(req, 200, ApiGroupList(registry_), "discovery", start);
      if (parts.size() == 2 && parts[0] == "apis") {
        json g = ApiGroup(registry_, parts[1]);
        if (g.is_null()) return ReplyError(req, Status::NotFound("no API group " + parts[1]), "discovery", start);
        return Reply(req, 200, g, "discovery", start);
      }
      if (parts.size() == 3 && parts[0] == "apis") {
        json l = ApiResourceList(registry_, parts[1], parts[2]);
        if (l.is_null()) return ReplyError(req, Status::NotFound("no API " + parts[1] + "/" + parts[2]), "discovery", start);
        return Reply(req, 200, l, "discovery", start);
      }
      if (path == "/openapi/v3") return Reply(req, 200, OpenApiV3Root(registry_), "openapi", start);
      if (parts.size() == 5 && parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "apis") {
        json doc = OpenApiV3Group(registry_, parts[3], parts[4]);
        if (doc.is_null()) return ReplyError(req, Status::NotFound("no OpenAPI document for " + parts[3] + "/" + parts[4]), "openapi", start);
        return Reply(req, 200, doc, "openapi", start);
      }
    }

    auto rp = ParseResourcePath(parts);
    if (!rp) return ReplyError(req, Status::NotFound("the server could not find the requested resource " + path), "unknown", start);
    const api::KindInfo* kind = registry_.ByResource(rp->group, rp->version, rp->plural);
    if (!kind) {
      return ReplyError(req, Status::NotFound("the server could not find the requested resource (" +
                                              rp->plural + "." + rp->group + "/" + rp->version + ")"),
                        "unknown", start);
    }
    if (!rp->subresource.empty() && (rp->subresource != "status" || !kind->has_status)) {
      return ReplyError(req, Status::NotFound(kind->kind + " has no subresource " + rp->subresource), "unknown", start);
    }
    if (!kind->namespaced && !rp->ns.empty()) {
      return ReplyError(req, Status::NotFound(kind->kind + " is cluster-scoped; drop the namespace from the path"), "unknown", start);
    }
    if (Status s = Authorize(id, *kind, *rp, method, query); !s.ok()) return ReplyError(req, s, "auth", start, kind, rp->name);

    if (method == methods::GET) {
      if (rp->name.empty()) return ListOrWatch(req, *kind, *rp, query, start);
      auto got = objects_.store().Get({kind->storage_key(), rp->ns, rp->name});
      if (got.ok() && kind->is_view()) {
        auto view = kind->to_view(*got);
        if (view) {
          got = std::move(*view);
        } else {
          got = Status::NotFound(kind->kind + " \"" + rp->name + "\" not found");
        }
      }
      if (!got.ok()) return ReplyError(req, got.status(), "get", start, kind, rp->name);
      if (WantsTable(Header(req, "Accept"))) {
        return Reply(req, 200, ToTable(*kind, {*got}, clock_.Now(), query.Get("includeObject"), got->at("metadata").value("resourceVersion", ""), ""), "get", start);
      }
      return Reply(req, 200, *got, "get", start);
    }
    if (method == methods::POST || method == methods::PUT || method == methods::PATCH) {
      return WithBody(req, *kind, *rp, query, start);
    }
    if (method == methods::DEL) {
      if (rp->name.empty()) return ReplyError(req, Status(StatusCode::kMethodNotAllowed, "deleting a collection is not supported; delete objects by name or with kubectl delete -l"), "delete", start);
      auto query_dry_run = query.DryRun();
      if (!query_dry_run.ok()) return ReplyError(req, query_dry_run.status(), "delete", start, kind, rp->name);
      // Preconditions and dryRun may come in a DeleteOptions body; read it without blocking.
      return Delete(req, *kind, *rp, *query_dry_run, start);
    }
    ReplyError(req, Status(StatusCode::kMethodNotAllowed, "method " + method + " is not allowed here"), "unknown", start);
  }

  // Preconditions and dryRun may come in a DeleteOptions body.
  void Delete(const Ex& req, const api::KindInfo& kind_ref, const ResourcePath& rp, bool query_dry_run,
              Clk::time_point start) {
    const api::KindInfo* kind = &kind_ref;
    const std::string& bytes = req->request().body;
    DeleteOptions options;
    options.dry_run = query_dry_run;
    try {
      if (!bytes.empty()) {
        auto parsed = api::ParseJson(bytes, "invalid DeleteOptions");
        if (!parsed.ok()) return ReplyError(req, parsed.status(), "delete", start, kind, rp.name);
        json opts = std::move(*parsed);
        if (!opts.is_object()) {
          return ReplyError(req, Status::BadRequest("invalid DeleteOptions: must be a JSON object"), "delete", start, kind, rp.name);
        }
        json pre = opts.value("preconditions", json::object());
        if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string()) {
          options.precondition_rv = std::stoll(pre["resourceVersion"].get<std::string>());
        }
        if (pre.contains("uid") && pre["uid"].is_string()) options.precondition_uid = pre["uid"].get<std::string>();
        auto body_dry_run = DryRunFromDeleteOptions(opts);
        if (!body_dry_run.ok()) return ReplyError(req, body_dry_run.status(), "delete", start, kind, rp.name);
        options.dry_run = options.dry_run || *body_dry_run;
      }
    } catch (const std::exception& e) {
      return ReplyError(req, Status::BadRequest(std::string("invalid DeleteOptions: ") + e.what()), "delete", start, kind, rp.name);
    }
    objects_.Delete(*kind, rp.ns, rp.name, options, [this, req, kind, name = rp.name, start](StatusOr<json> r) {
      if (!r.ok()) return ReplyError(req, r.status(), "delete", start, kind, name);
      Reply(req, 200, *r, "delete", start);
    });
  }

  // Admin: everything. A member credential (see docs/API.md) reaches only its own
  // MemberCluster (read, write status), Lease (read, write) and Work (read, watch with a
  // metadata.name field selector, write status).
  Status Authorize(const Identity& id, const api::KindInfo& kind, const ResourcePath& rp,
                   const std::string& method, const QueryParams& query) {
    if (id.admin) return Status::Ok();
    const bool read = method == methods::GET;
    const bool write = method == methods::PUT || method == methods::PATCH;
    const bool own = !id.member_cluster.empty() && rp.name == id.member_cluster;
    const bool status = rp.subresource == "status";
    bool allowed = false;
    if (kind.kind == "Work") {
      if (read && rp.name.empty()) {
        if (query.Has("fieldSelector")) {
          auto sel = api::FieldSelector::Parse(query.Get("fieldSelector"));
          allowed = sel.ok() && sel->ExactName() == id.member_cluster;
        }
      } else {
        allowed = own && (read || (write && status));
      }
    } else if (kind.kind == "MemberCluster") {
      allowed = own && (read || (write && status));
    } else if (kind.kind == "Lease") {
      allowed = own && (read || write);
    }
    if (allowed) return Status::Ok();
    return Status::Forbidden(kind.plural + (rp.name.empty() ? "" : " \"" + rp.name + "\"") +
                             " is forbidden: user \"" + id.user + "\" cannot " + method +
                             (status ? " its status" : " it") +
                             "; member credentials reach only their own cluster's MemberCluster, "
                             "Lease and Work");
  }

  void WithBody(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                const QueryParams& query, Clk::time_point start) {
    const std::string& method = req->request().method;
    const std::string verb = method == methods::POST ? "create" : method == methods::PUT ? "update" : "patch";
    const std::string content_type = Header(req, "Content-Type");
    WriteOptions opts;
    opts.status = rp.subresource == "status";
    auto dry_run = query.DryRun();
    if (!dry_run.ok()) return ReplyError(req, dry_run.status(), verb, start, &kind, rp.name);
    opts.dry_run = *dry_run;
    opts.field_manager = query.Get("fieldManager");
    auto force = query.Bool("force");
    if (!force.ok()) return ReplyError(req, force.status(), verb, start, &kind, rp.name);
    opts.force = *force;
    if (method == methods::POST && !rp.name.empty()) {
      return ReplyError(req, Status(StatusCode::kMethodNotAllowed, "POST goes to the collection, not to a named object"), verb, start, &kind, rp.name);
    }
    if (method != methods::POST && rp.name.empty()) {
      return ReplyError(req, Status(StatusCode::kMethodNotAllowed, method + " needs an object name in the path"), verb, start, &kind);
    }
    const std::string& body = req->request().body;  // read and bounded by the server
    auto done = [this, req, &kind, verb, start, name = rp.name](int ok_code) {
      return [this, req, &kind, verb, start, name, ok_code](StatusOr<json> r) {
        if (!r.ok()) return ReplyError(req, r.status(), verb, start, &kind, name);
        Reply(req, ok_code, *r, verb, start);
      };
    };
    if (verb == "patch") {
      auto type = PatchTypeFromContentType(content_type);
      if (!type.ok()) return ReplyError(req, type.status(), verb, start, &kind, rp.name);
      if (body.size() > api::kMaxObjectBytes) {
        return ReplyError(req, Status::TooLarge("patch exceeds " + std::to_string(api::kMaxObjectBytes) + " bytes"), verb, start, &kind, rp.name);
      }
      return objects_.Patch(kind, rp.ns, rp.name, *type, body, opts, done(200));
    }
    auto decoded = api::DecodeBody(body, content_type);
    if (!decoded.ok()) return ReplyError(req, decoded.status(), verb, start, &kind, rp.name);
    if (verb == "create") {
      const std::string name = api::NameOf(*decoded);
      return objects_.Create(kind, rp.ns, std::move(*decoded), opts,
                             [this, req, &kind, start, name](StatusOr<json> r) {
                               if (!r.ok()) return ReplyError(req, r.status(), "create", start, &kind, name);
                               Reply(req, 201, *r, "create", start);
                             });
    }
    objects_.Update(kind, rp.ns, rp.name, std::move(*decoded), opts, done(200));
  }

  // For the last line of defence: the reply may already have been sent.
  void ReplyErrorNoThrow(const Ex& req, const Status& s, const std::string& verb, Clk::time_point start) {
    try {
      ReplyError(req, s, verb, start);
    } catch (...) {
    }
  }

  void ListOrWatch(const Ex& req, const api::KindInfo& kind, const ResourcePath& rp,
                   const QueryParams& query, Clk::time_point start) {
    auto q = [&](const char* k) { return query.Get(k); };
    ListOptions lo;
    lo.ns = rp.ns;
    if (!q("labelSelector").empty()) {
      auto sel = api::LabelSelector::Parse(q("labelSelector"));
      if (!sel.ok()) return ReplyError(req, sel.status(), "list", start, &kind);
      lo.labels = std::move(*sel);
    }
    if (!q("fieldSelector").empty()) {
      auto sel = api::FieldSelector::Parse(q("fieldSelector"));
      if (!sel.ok()) return ReplyError(req, sel.status(), "list", start, &kind);
      if (Status s = sel->CheckSupported(kind.selectable_fields, kind.plural); !s.ok()) {
        return ReplyError(req, s, "list", start, &kind);
      }
      lo.fields = std::move(*sel);
    }
    auto watch = query.Bool("watch");
    if (!watch.ok()) return ReplyError(req, watch.status(), "list", start, &kind);
    if (*watch) return Watch(req, kind, lo, query, start);
    auto limit = query.Int("limit");
    if (!limit.ok()) return ReplyError(req, limit.status(), "list", start, &kind);
    if (*limit && **limit < 0) {
      return ReplyError(req, Status::BadRequest("limit: must not be negative"), "list", start, &kind);
    }
    lo.limit = limit->value_or(0);
    lo.continue_token = q("continue");
    auto list = objects_.store().List(kind.storage_key(), lo);
    if (!list.ok()) return ReplyError(req, list.status(), "list", start, &kind);
    if (kind.is_view()) {
      std::vector<json> visible;
      for (auto& item : list->items) {
        if (auto v = kind.to_view(item)) visible.push_back(std::move(*v));
      }
      list->items = std::move(visible);
    }
    const std::string rv = std::to_string(list->resource_version);
    if (WantsTable(Header(req, "Accept"))) {
      return Reply(req, 200, ToTable(kind, list->items, clock_.Now(), q("includeObject"), rv, list->continue_token), "list", start);
    }
    json meta = {{"resourceVersion", rv}};
    if (!list->continue_token.empty()) {
      meta["continue"] = list->continue_token;
      meta["remainingItemCount"] = list->remaining;
    }
    json out = {{"apiVersion", kind.api_version()}, {"kind", kind.list_kind()}, {"metadata", meta},
                {"items", std::move(list->items)}};
    Reply(req, 200, out, "list", start);
  }

  void Watch(const Ex& req, const api::KindInfo& kind, const ListOptions& lo,
             const QueryParams& query, Clk::time_point start) {
    auto q = [&](const char* k) { return query.Get(k); };
    WatchOptions wo;
    wo.resource = kind.storage_key();
    wo.ns = lo.ns;
    wo.labels = lo.labels;
    wo.fields = lo.fields;
    auto rv = query.Int("resourceVersion");
    if (!rv.ok()) return ReplyError(req, rv.status(), "watch", start, &kind);
    if (rv->value_or(0) < 0) {
      return ReplyError(req, Status::BadRequest("resourceVersion: must not be negative"), "watch", start, &kind);
    }
    wo.from_revision = rv->value_or(0);
    auto timeout = options_.max_watch;
    auto timeout_seconds = query.Int("timeoutSeconds");
    if (!timeout_seconds.ok()) return ReplyError(req, timeout_seconds.status(), "watch", start, &kind);
    if (*timeout_seconds) {
      // Clamp before converting: a huge value must not overflow the duration.
      const int64_t cap = options_.max_watch.count();
      timeout = std::chrono::seconds(std::clamp<int64_t>(**timeout_seconds, 0, cap));
    }
    auto bookmarks = query.Bool("allowWatchBookmarks");
    if (!bookmarks.ok()) return ReplyError(req, bookmarks.status(), "watch", start, &kind);
    auto stream = std::make_shared<WatchStream>(req, &kind, WantsTable(Header(req, "Accept")),
                                                q("includeObject"), *bookmarks);
    const auto now = clock_.Now();
    stream->deadline = now + std::chrono::duration_cast<Clock::Duration>(timeout);
    stream->next_keepalive = now + std::chrono::duration_cast<Clock::Duration>(options_.keepalive_interval);
    std::weak_ptr<WatchStream> weak = stream;
    Clock* clock = &clock_;
    const api::KindInfo* view = kind.is_view() ? &kind : nullptr;
    auto id = objects_.store().Watch(wo, [weak, clock, view](const WatchEvent& e) {
      auto s = weak.lock();
      if (!s) return false;
      if (view) {
        auto v = view->to_view(e.object);
        if (!v) return true;  // not an object of this view
        return s->Send(EventTypeName(e.type), *v, clock->Now());
      }
      return s->Send(EventTypeName(e.type), e.object, clock->Now());
    });
    if (!id.ok()) {
      // Kubernetes reports an expired version inside a 200 stream as an ERROR event; kubectl
      // and client-go understand both that and a plain 410, so answer plainly.
      return ReplyError(req, id.status(), "watch", start, &kind);
    }
    stream->watch_id = *id;
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      streams_.insert(stream);
    }
    watches_.Increment();
    // Events the store replays are already queued; the server sends them after the header.
    req->StartStream(200, "application/json", {{"Cache-Control", "no-cache, private"}});
    Record("watch", 200, start);
  }

  void EndWatch(const std::shared_ptr<WatchStream>& stream) {
    size_t erased;
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      erased = streams_.erase(stream);
    }
    objects_.store().Unwatch(stream->watch_id);
    stream->Close();
    if (erased) watches_.Decrement();
  }

  void TickerLoop() {
    while (running_) {
      {
        std::unique_lock<std::mutex> lock(ticker_mu_);
        ticker_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return !running_; });
      }
      if (!running_) return;
      std::vector<std::shared_ptr<WatchStream>> streams;
      {
        std::lock_guard<std::mutex> lock(streams_mu_);
        streams.assign(streams_.begin(), streams_.end());
      }
      const auto now = clock_.Now();
      const int64_t revision = objects_.store().CurrentRevision();
      for (auto& s : streams) {
        if (s->closed() || now >= s->deadline) {
          EndWatch(s);
          continue;
        }
        if (now >= s->next_keepalive) {
          s->next_keepalive = now + std::chrono::duration_cast<Clock::Duration>(options_.keepalive_interval);
          if (!s->KeepAlive(revision)) EndWatch(s);
        }
      }
    }
  }

  ApiServerOptions options_;
  const api::KindRegistry& registry_;
  ObjectApi& objects_;
  TokenAuthenticator& auth_;
  Clock& clock_;
  Membership* membership_;
  std::unique_ptr<HttpsServer> server_;
  std::atomic<bool> running_{false};

  std::mutex streams_mu_;
  std::set<std::shared_ptr<WatchStream>> streams_;  // guarded by streams_mu_

  std::mutex ticker_mu_;
  std::condition_variable ticker_cv_;
  std::thread ticker_;

  std::shared_ptr<prometheus::Registry> metrics_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge& watches_;
  prometheus::Gauge& revision_;
};

ApiServer::ApiServer(ApiServerOptions options, const api::KindRegistry& registry, ObjectApi& objects,
                     TokenAuthenticator& auth, Clock& clock, Membership* membership)
    : impl_(std::make_unique<Impl>(std::move(options), registry, objects, auth, clock, membership)) {}
ApiServer::~ApiServer() { impl_->Stop(); }
Status ApiServer::Start() { return impl_->Start(); }
void ApiServer::Stop() { impl_->Stop(); }
std::string ApiServer::MetricsText() const { return impl_->MetricsText(); }

}  // namespace berth::hub
