// What the agent keeps on disk in --state-dir, so a restart needs neither the join token
// nor the hub:
//   credential   the member credential from the join (mode 0600)
//   work.json    the last Work the agent applied (fencing: its placementGeneration is the
//                highest applied; fail static: reconcile it again while the hub is away)
// Writes are atomic (temp file + fsync + rename). Thread-compatible.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/status.h"

namespace berth::agent {

class AgentStateDir {
 public:
  // Creates the directory (0700) when missing.
  static StatusOr<AgentStateDir> Open(const std::string& dir);

  // NotFound when no credential was stored yet.
  StatusOr<std::string> LoadCredential() const;
  // Stores with mode 0600.
  Status StoreCredential(const std::string& credential) const;

  // The last applied Work, or nullopt.
  std::optional<nlohmann::json> LoadAppliedWork() const;
  Status StoreAppliedWork(const nlohmann::json& work) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit AgentStateDir(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Writes `content` to `path` atomically with permissions `mode`.
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode);

}  // namespace berth::agent
