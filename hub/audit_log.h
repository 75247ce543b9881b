// The audit log (issue #26): one JSON line per mutating API request, saying who did what to
// which object and how it ended, for "who changed this?" after the fact.
//   {"time":"2026-01-01T00:00:00.123Z","requestID":"…","user":"alice","groups":[…],
//    "verb":"patch","apiGroup":"berth.dev","resource":"workspaces","subresource":"scale",
//    "namespace":"team-a","name":"chat","code":200,"sourceIP":"10.0.0.7","userAgent":"kubectl/…"}
// A record has no request or response body at all, so Secrets' data and minted tokens can
// never reach the log. The caller fills `time` from its Clock.
//
// AuditLog appends lines to a file (created 0600) and, when the file would pass max_bytes,
// rotates it first: audit.log → audit.log.1 → … → audit.log.<max_backups>, the oldest
// dropped. Optionally every line also goes to a stream (stdout). Thread-safe; a line is
// written with one write(2) on an O_APPEND descriptor, so lines never interleave. Lines are
// not fsynced: a crash may lose the last few.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "api/clock.h"
#include "api/status.h"

namespace berth::hub {

struct AuditRecord {
  Clock::TimePoint time;
  std::string request_id;
  std::string user;
  std::vector<std::string> groups;
  std::string verb;  // create update patch delete deletecollection
  std::string api_group;
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string name;
  int code = 0;  // the HTTP status answered
  std::string source_ip;
  std::string user_agent;  // cut to 256 bytes
};

// Whether requests with this RBAC verb are audited: create, update, patch, delete,
// deletecollection.
bool IsMutatingVerb(std::string_view verb);

// The record as one JSON line, without the newline. Bytes that are not UTF-8 (a user agent
// can carry anything) are replaced, never an error.
std::string AuditLine(const AuditRecord& record);

class AuditLog {
 public:
  struct Options {
    std::string path;  // empty: no file, only `mirror`
    uint64_t max_bytes = 100ull << 20;
    int max_backups = 5;  // 0: the file is truncated when full
  };

  // Opens (or creates, mode 0600) options.path for appending. `mirror` (e.g. &std::cout), when
  // not null, also receives every line and must outlive the log. Internal naming the file and
  // the OS error if it cannot be opened.
  static StatusOr<std::unique_ptr<AuditLog>> Open(Options options, std::ostream* mirror = nullptr);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one line, rotating first if needed. Internal on a write or rotation failure (the
  // caller decides whether an unaudited request may proceed).
  Status Append(const AuditRecord& record);

 private:
  AuditLog(Options options, std::ostream* mirror) : options_(std::move(options)), mirror_(mirror) {}
  Status OpenFile();
  Status Rotate();

  const Options options_;
  std::ostream* const mirror_;
  std::mutex mu_;
  int fd_ = -1;        // guarded by mu_
  uint64_t size_ = 0;  // guarded by mu_: bytes in the current file
};

}  // namespace berth::hub
