#include "hub/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

namespace berth::hub {

namespace {

constexpr size_t kMaxUserAgent = 256;

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

bool IsMutatingVerb(std::string_view verb) {
  return verb == "create" || verb == "update" || verb == "patch" || verb == "delete" || verb == "deletecollection";
}

std::string AuditLine(const AuditRecord& r) {
  nlohmann::ordered_json j = {
      {"time", FormatRfc3339Millis(r.time)},
      {"requestID", r.request_id},
      {"user", r.user},
      {"groups", r.groups},
      {"verb", r.verb},
      {"apiGroup", r.api_group},
      {"resource", r.resource},
      {"subresource", r.subresource},
      {"namespace", r.ns},
      {"name", r.name},
      {"code", r.code},
      {"sourceIP", r.source_ip},
      {"userAgent", r.user_agent.substr(0, kMaxUserAgent)},
  };
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(Options options, std::ostream* mirror) {
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), mirror));
  if (!log->options_.path.empty()) {
    std::lock_guard<std::mutex> lock(log->mu_);
    BERTH_RETURN_IF_ERROR(log->OpenFile());
  }
  return log;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::OpenFile() {
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::Internal("audit log " + options_.path + ": " + ErrnoText(errno));
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return Status::Ok();
}

Status AuditLog::Rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string& p = options_.path;
  if (options_.max_backups <= 0) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
      return Status::Internal("audit log rotation: remove " + p + ": " + ErrnoText(errno));
    }
    return OpenFile();
  }
  // Oldest first, so nothing is overwritten that is still to be moved.
  for (int i = options_.max_backups - 1; i >= 1; --i) {
    const std::string from = p + "." + std::to_string(i), to = p + "." + std::to_string(i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return Status::Internal("audit log rotation: rename " + from + ": " + ErrnoText(errno));
    }
  }
  if (::rename(p.c_str(), (p + ".1").c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("audit log rotation: rename " + p + ": " + ErrnoText(errno));
  }
  return OpenFile();
}

Status AuditLog::Append(const AuditRecord& record) {
  const std::string line = AuditLine(record) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (mirror_) *mirror_ << line << std::flush;
  if (options_.path.empty()) return Status::Ok();
  if (fd_ < 0) BERTH_RETURN_IF_ERROR(OpenFile());  // a failed rotation left it closed
  if (size_ > 0 && size_ + line.size() > options_.max_bytes) BERTH_RETURN_IF_ERROR(Rotate());
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal("audit log " + options_.path + ": write: " + ErrnoText(errno));
    done += static_cast<size_t>(n);
  }
  size_ += line.size();
  return Status::Ok();
}

}  // namespace berth::hub
