#include "hub/encryption_key_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "hub/pki.h"

namespace berth::hub {

StatusOr<std::shared_ptr<const SecretCipher>> LoadEncryptionKeys(const std::string& flag_path,
                                                                 const std::string& data_dir) {
  const std::string path =
      flag_path.empty() ? (std::filesystem::path(data_dir) / "encryption.key").string() : flag_path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!flag_path.empty()) {
      return Status::NotFound("--encryption-key-file " + path + " does not exist: create it with "
                              "(umask 077; head -c 32 /dev/urandom | base64 > " + path +
                              "), or leave the flag out to have the hub keep a key in its data dir");
    }
    auto text = SecretCipher::NewKeyFileText();
    if (!text.ok()) return text.status();
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(path, *text, 0600));
    spdlog::info("created the Secret encryption key file {} (back it up with the store: without it "
                 "the store's Secrets cannot be read)", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read encryption key file " + path + ": check its permissions");
  std::ostringstream text;
  text << in.rdbuf();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("encryption key file {} is readable by others (mode {:o}): chmod 600 {}", path,
                 st.st_mode & 0777, path);
  }
  auto cipher = SecretCipher::FromKeyFile(text.str(), path);
  if (!cipher.ok()) return cipher.status();
  spdlog::info("Secrets are encrypted at rest with key id {} from {}", cipher->primary_key_id(), path);
  return std::shared_ptr<const SecretCipher>(std::make_shared<SecretCipher>(std::move(*cipher)));
}

}  // namespace berth::hub
