// Feeds the audit log (hub/audit_log.h) from the API server: every request whose RBAC verb
// mutates (create, update, patch, delete, deletecollection) gets one record with the code it
// was answered with, including 401 refusals on the header (user "" then: nobody was
// authenticated) and 403 refusals by RBAC. The record carries who (user and groups as RBAC saw
// them), the resource attributes parsed from the path, a request id (also sent back as the
// Audit-Id response header), the peer address and the User-Agent; never a body.
// Thread-safe. A failed append is logged and the reply still sent (best effort, as
// kube-apiserver's default audit backend).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "api/clock.h"
#include "hub/audit_log.h"
#include "hub/auth.h"
#include "hub/https_server.h"

namespace berth::hub {

class RequestAuditor {
 public:
  // `log` null: nothing is audited. Both must outlive the auditor and every exchange it wraps.
  RequestAuditor(AuditLog* log, Clock& clock);

  // The exchange to hand to the router: for a mutating request, its reply is recorded (once)
  // before it is sent; otherwise `ex` itself. `who` null: a path that needs no credential.
  std::shared_ptr<HttpExchange> Wrap(std::shared_ptr<HttpExchange> ex, const Identity* who);
  // A reply decided on the header alone (401, refused impersonation): recorded if mutating,
  // with the Audit-Id header added to `reply`.
  void RecordRefusal(const HttpRequest& request, HttpReply& reply);

  // The record of `request` by `who` (null: unauthenticated) without time and code, or
  // nullopt when its verb does not mutate. Public for tests.
  static std::optional<AuditRecord> RecordFor(const HttpRequest& request, const Identity* who);

  // Appends `record` with `code` and the clock's time; sets its request id.
  void Append(AuditRecord record, int code);
  std::string NextRequestId();

 private:
  AuditLog* const log_;
  Clock& clock_;
  const std::string id_prefix_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace berth::hub
