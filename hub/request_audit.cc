#include "hub/request_audit.h"

#include <spdlog/spdlog.h>

#include "hub/api_routing.h"
#include "hub/pki.h"
#include "hub/rbac/rbac_rules.h"

namespace berth::hub {

namespace {

// Forwards everything to the real exchange; the first reply (or stream start) is audited.
class AuditedExchange final : public HttpExchange {
 public:
  AuditedExchange(std::shared_ptr<HttpExchange> inner, AuditRecord record, RequestAuditor& auditor)
      : inner_(std::move(inner)), record_(std::move(record)), auditor_(auditor) {}

  const HttpRequest& request() const override { return inner_->request(); }
  void Reply(HttpReply reply) override {
    if (!audited_.exchange(true)) {
      reply.headers.emplace_back("Audit-Id", record_.request_id);
      auditor_.Append(record_, reply.code);
    }
    inner_->Reply(std::move(reply));
  }
  void StartStream(int code, std::string content_type, HttpHeaders headers) override {
    if (!audited_.exchange(true)) {
      headers.emplace_back("Audit-Id", record_.request_id);
      auditor_.Append(record_, code);
    }
    inner_->StartStream(code, std::move(content_type), std::move(headers));
  }
  bool Write(std::string chunk) override { return inner_->Write(std::move(chunk)); }
  void EndStream() override { inner_->EndStream(); }
  bool closed() const override { return inner_->closed(); }

 private:
  std::shared_ptr<HttpExchange> inner_;
  AuditRecord record_;
  RequestAuditor& auditor_;
  std::atomic<bool> audited_{false};
};

}  // namespace

RequestAuditor::RequestAuditor(AuditLog* log, Clock& clock)
    : log_(log), clock_(clock), id_prefix_(Sha256Hex(RandomToken(16)).substr(0, 8)) {}

std::string RequestAuditor::NextRequestId() {
  return id_prefix_ + "-" + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed));
}

std::optional<AuditRecord> RequestAuditor::RecordFor(const HttpRequest& request, const Identity* who) {
  const auto rp = ParseResourcePath(SplitPath(NormalizePath(request.path)));
  AuditRecord r;
  r.verb = rbac::VerbFor(request.method, rp && !rp->name.empty(), /*watch=*/false);
  if (!IsMutatingVerb(r.verb)) return std::nullopt;
  if (rp) {
    r.api_group = rp->group;
    r.resource = rp->plural;
    r.subresource = rp->subresource;
    r.ns = rp->ns;
    r.name = rp->name;
    // A Namespace object is in itself, as RBAC sees it.
    if (rp->group.empty() && rp->plural == "namespaces" && rp->ns.empty()) r.ns = rp->name;
  }
  if (who) {
    const rbac::UserInfo user = UserOf(*who);
    r.user = user.user;
    r.groups = user.groups;
  }
  r.source_ip = request.peer.substr(0, request.peer.rfind(':'));
  r.user_agent = request.Header("User-Agent");
  return r;
}

std::shared_ptr<HttpExchange> RequestAuditor::Wrap(std::shared_ptr<HttpExchange> ex, const Identity* who) {
  if (!log_) return ex;
  auto record = RecordFor(ex->request(), who);
  if (!record) return ex;
  record->request_id = NextRequestId();
  return std::make_shared<AuditedExchange>(std::move(ex), std::move(*record), *this);
}

void RequestAuditor::RecordRefusal(const HttpRequest& request, HttpReply& reply) {
  if (!log_) return;
  auto record = RecordFor(request, nullptr);
  if (!record) return;
  record->request_id = NextRequestId();
  reply.headers.emplace_back("Audit-Id", record->request_id);
  Append(std::move(*record), reply.code);
}

void RequestAuditor::Append(AuditRecord record, int code) {
  if (!log_) return;
  record.time = clock_.Now();
  record.code = code;
  if (Status s = log_->Append(record); !s.ok()) {
    spdlog::warn("audit log: {} (request {} by \"{}\" answered {} unaudited)", s.message(), record.request_id,
                 record.user, code);
  }
}

}  // namespace berth::hub
