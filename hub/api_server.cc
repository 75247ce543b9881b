#include "hub/api_server.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "hub/api_authorization.h"
#include "hub/api_replies.h"
#include "hub/api_routing.h"
#include "hub/https_server.h"
#include "hub/object_handlers.h"
#include "hub/request_audit.h"
#include "hub/watch_streams.h"

namespace berth::hub {

namespace {

// Like kube-apiserver's MaxRequestBodyBytes; the decoded object must still fit kMaxObjectBytes.
constexpr size_t kMaxRequestBodyBytes = 3 << 20;

}  // namespace

// Wires the server together: authentication on the header (hub/api_authorization.h), then
// routing (hub/api_routing.h) to the object handlers (hub/object_handlers.h) and the watch
// streams (hub/watch_streams.h). Owns the metrics registry they count in.
class ApiServer::Impl {
 public:
  Impl(ApiServerOptions options, const api::KindRegistry& registry, ObjectApi& objects,
       TokenAuthenticator& auth, Clock& clock, Membership* membership)
      : options_(std::move(options)),
        objects_(objects),
        auth_(auth),
        membership_(membership),
        metrics_(std::make_shared<prometheus::Registry>()),
        replies_(*metrics_),
        watches_gauge_(prometheus::BuildGauge()
                           .Name("berth_api_watches")
                           .Help("Open watch streams")
                           .Register(*metrics_)
                           .Add({})),
        revision_(prometheus::BuildGauge()
                      .Name("berth_store_revision")
                      .Help("Latest committed store revision")
                      .Register(*metrics_)
                      .Add({})),
        auditor_(options_.audit_log, clock),
        watches_(objects.store(), clock, options_.keepalive_interval, watches_gauge_),
        handlers_(objects, clock, replies_, watches_, options_.max_watch),
        router_(registry, replies_, handlers_, membership, running_,
                [this] { return MetricsText(); }, options_.rbac_policy) {}

  Status Start() {
    HttpsServerOptions server_options;
    server_options.host = options_.host;
    server_options.port = options_.port;
    server_options.cert_pem = options_.cert_pem;
    server_options.key_pem = options_.key_pem;
    server_options.client_ca_pem = options_.client_ca_pem;
    server_options.io_threads = options_.io_threads;
    server_options.limits = options_.limits;
    server_options.limits.max_body_bytes = kMaxRequestBodyBytes;
    server_options.limits.max_stream_backlog_bytes = options_.max_watch_backlog_bytes;
    server_ = std::make_unique<HttpsServer>(
        std::move(server_options), [this](const HttpRequest& r) { return OnHeader(r); },
        metrics_.get());
    if (Status s = server_->Start(); !s.ok()) {
      server_.reset();
      return s.code() == StatusCode::kInvalid ? s.WithContext("serving certificate") : s;
    }
    running_ = true;
    watches_.Start();
    spdlog::info("API server listening on https://{}:{}", options_.host, server_->port());
    return Status::Ok();
  }

  void Stop() {
    if (!running_.exchange(false)) return;
    watches_.Stop();
    server_->Stop();
  }

  std::string MetricsText() const {
    revision_.Set(static_cast<double>(objects_.store().CurrentRevision()));
    prometheus::TextSerializer serializer;
    return serializer.Serialize(metrics_->Collect());
  }

 private:
  HeaderVerdict OnHeader(const HttpRequest& r) {
    HeaderVerdict v = AuthenticateHeader(
        r, auth_, membership_ != nullptr, replies_,
        [this](const std::shared_ptr<HttpExchange>& ex, const Identity* who, RequestStart start) {
          router_.Dispatch(auditor_.Wrap(ex, who), who, start);
        });
    if (v.refuse) auditor_.RecordRefusal(r, *v.refuse);
    return v;
  }

  ApiServerOptions options_;
  ObjectApi& objects_;
  TokenAuthenticator& auth_;
  Membership* membership_;
  std::atomic<bool> running_{false};  // answers /readyz

  // Declared before the parts that count in it, so it outlives them.
  std::shared_ptr<prometheus::Registry> metrics_;
  ApiReplies replies_;
  prometheus::Gauge& watches_gauge_;
  prometheus::Gauge& revision_;

  RequestAuditor auditor_;
  WatchStreams watches_;
  ObjectHandlers handlers_;
  ApiRouter router_;
  std::unique_ptr<HttpsServer> server_;
};

ApiServer::ApiServer(ApiServerOptions options, const api::KindRegistry& registry,
                     ObjectApi& objects, TokenAuthenticator& auth, Clock& clock,
                     Membership* membership)
    : impl_(
          std::make_unique<Impl>(std::move(options), registry, objects, auth, clock, membership)) {}
ApiServer::~ApiServer() { impl_->Stop(); }
Status ApiServer::Start() { return impl_->Start(); }
void ApiServer::Stop() { impl_->Stop(); }
std::string ApiServer::MetricsText() const { return impl_->MetricsText(); }

}  // namespace berth::hub
