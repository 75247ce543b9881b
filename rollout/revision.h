// Revisions of a Workspace: a change to a model-affecting field (inference.*, resource.*,
// the driver/CUDA floor) makes a new revision; replica counts, placement and labels do not.
// A revision is a content hash plus a counter, kept in a bounded RevisionHistory that the hub
// persists in the Workspace's status.revisions.
// Pure: no I/O, no clock (times are passed in). Not thread-safe; values are cheap to copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "api/status.h"
#include "policies/placement_policy.h"

namespace berth::rollout {

using policies::DottedVersion;

// Annotations a Workspace may carry to raise the driver/CUDA floor of its revision (the
// image's requirement). They are part of the revision: changing one makes a new revision.
inline constexpr char kMinDriverAnnotation[] = "berth.dev/min-driver-version";
inline constexpr char kMinCudaAnnotation[] = "berth.dev/min-cuda-version";

// The subset of a Workspace object that defines what runs: `inference` (model, revision,
// image, parameters), `resource` (GPU shape) and the driver/CUDA annotations. Missing parts
// are omitted. Field order does not matter (nlohmann sorts keys).
nlohmann::json ModelAffectingFields(const nlohmann::json& workspace_object);

// 16 lowercase hex digits (FNV-1a 64 over the canonical JSON of ModelAffectingFields).
// Equal for two objects that differ only in placement, rollout, labels, status, metadata.
std::string ComputeRevisionHash(const nlohmann::json& workspace_object);

struct Revision {
  int64_t number = 0;  // 1, 2, 3, … (0 = none)
  std::string hash;
  std::string image;  // what a pre-pull fetches ("" = Berth's default vLLM image)
  std::string model;  // preset name or HF id
  // ModelAffectingFields of the Workspace at this revision: what a member renders when the
  // rollout asks it to run (or go back to) this revision. Persisted with the history.
  nlohmann::json template_fields = nlohmann::json::object();
  DottedVersion min_driver_version;  // from the annotation; empty = none
  DottedVersion min_cuda_version;
  Clock::TimePoint created{};
  bool good = false;           // a rollout of it completed
  std::string failure_reason;  // non-empty: it failed; not retried until the Workspace changes
  bool operator==(const Revision& o) const {
    return number == o.number && hash == o.hash && image == o.image && model == o.model &&
           template_fields == o.template_fields &&
           min_driver_version.Compare(o.min_driver_version) == 0 &&
           min_cuda_version.Compare(o.min_cuda_version) == 0 && created == o.created &&
           good == o.good && failure_reason == o.failure_reason;
  }
};

// Builds the revision a Workspace object asks for (number 0: RevisionHistory assigns it).
// Invalid naming the annotation when a driver/CUDA annotation is not a dotted version.
StatusOr<Revision> RevisionOf(const nlohmann::json& workspace_object, Clock::TimePoint now);

// The newest `limit` revisions, oldest first. The last good revision is never evicted while
// newer ones exist, so a rollback always has a target.
class RevisionHistory {
 public:
  explicit RevisionHistory(int limit = 10) : limit_(limit < 1 ? 1 : limit) {}

  // Makes `rev` the target. Same hash as the newest entry: no change, returns it. Same hash as
  // an older entry: that entry moves to the end with a new number (like Kubernetes
  // ControllerRevision), keeping good/failed marks. Otherwise a new entry numbered
  // newest+1. Evicts the oldest entries past the limit.
  const Revision& Record(const Revision& rev);

  const Revision* Target() const { return revisions_.empty() ? nullptr : &revisions_.back(); }
  const Revision* Find(int64_t number) const;
  const Revision* FindHash(const std::string& hash) const;
  // The newest revision marked good, or null.
  const Revision* LastGood() const;
  // The revision the fleet runs: the newest good one (same as LastGood; named for status).
  const Revision* Current() const { return LastGood(); }

  // Marks a completed rollout / a failed one. NotFound when the number is not in the history.
  Status MarkGood(int64_t number);
  Status MarkFailed(int64_t number, const std::string& reason);
  // Clears a failure mark so the same revision may be rolled out again (`rollout retry`).
  Status ClearFailure(int64_t number);

  const std::vector<Revision>& revisions() const { return revisions_; }
  int limit() const { return limit_; }
  void set_limit(int limit);

  // {"limit":10,"current":2,"target":3,"lastGood":2,"revisions":[{number,hash,image,…}]}
  nlohmann::json ToJson() const;
  // Invalid naming the field when `j` is not what ToJson writes.
  static StatusOr<RevisionHistory> FromJson(const nlohmann::json& j);

 private:
  void Evict();
  int limit_;
  std::vector<Revision> revisions_;
};

// Timestamps in status: RFC 3339 UTC, with milliseconds when non-zero so a round trip is exact.
std::string FormatTime(Clock::TimePoint t);
bool ParseTime(const nlohmann::json& j, Clock::TimePoint* out);

}  // namespace berth::rollout
