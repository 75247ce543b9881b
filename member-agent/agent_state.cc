#include "member-agent/agent_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth::agent {

namespace {

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": not found");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Internal("create " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // umask may have narrowed or an old file kept wider bits
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      return Status::Internal("write " + tmp + ": " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::Internal("sync " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal("rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

StatusOr<AgentStateDir> AgentStateDir::Open(const std::string& dir) {
  if (dir.empty()) return Status::Invalid("--state-dir: must name a directory");
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Internal("--state-dir " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Invalid("--state-dir " + dir + ": not a directory");
  }
  return AgentStateDir(dir);
}

StatusOr<std::string> AgentStateDir::LoadCredential() const {
  auto text = ReadFile(dir_ + "/credential");
  if (!text.ok()) return text.status();
  std::string credential = Trim(*text);
  if (credential.empty()) return Status::NotFound(dir_ + "/credential: empty");
  return credential;
}

Status AgentStateDir::StoreCredential(const std::string& credential) const {
  return WriteFileAtomic(dir_ + "/credential", credential + "\n", 0600);
}

std::optional<nlohmann::json> AgentStateDir::LoadAppliedWork() const {
  auto text = ReadFile(dir_ + "/work.json");
  if (!text.ok()) return std::nullopt;
  auto parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

Status AgentStateDir::StoreAppliedWork(const nlohmann::json& work) const {
  return WriteFileAtomic(dir_ + "/work.json", work.dump(), 0600);
}

}  // namespace berth::agent
