// How EtcdStore (and `berth-hub migrate`, which seeds a prefix) turns objects into etcd values
// and back. Internal to hub/etcd_store.cc and hub/etcd_migration.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/status.h"
#include "hub/etcd_client.h"
#include "hub/secret_encryption.h"

namespace berth::hub {

// The stored form: the object's JSON without its resourceVersion (etcd's mod_revision is the
// truth), sealed with the SecretCipher for encrypted resources.
class EtcdValueCodec {
 public:
  EtcdValueCodec(std::set<std::string> encrypted, std::shared_ptr<const SecretCipher> cipher)
      : encrypted_(std::move(encrypted)), cipher_(std::move(cipher)) {}

  // resourceVersion = mod_revision + offset (a store migrated from SQLite continues its
  // revisions; 0 otherwise). Set once at open, before any other thread reads.
  void set_offset(int64_t offset) { offset_ = offset; }
  int64_t offset() const { return offset_; }

  StatusOr<std::string> Encode(const std::string& resource, const nlohmann::json& object) const {
    nlohmann::json stored = object;
    if (auto m = stored.find("metadata"); m != stored.end() && m->is_object()) m->erase("resourceVersion");
    if (!encrypted_.count(resource)) return stored.dump();
    return cipher_->Seal(stored.dump(), resource);
  }

  // Errors name the key (and, for a sealed value, the key id), never the content.
  StatusOr<nlohmann::json> Decode(const std::string& resource, const EtcdKeyValue& kv) const {
    std::string plain;
    const bool sealed = SecretCipher::IsSealed(kv.value);
    if (sealed) {
      if (!cipher_) {
        return Status::Unavailable("etcd key " + kv.key +
                                   " is encrypted, but the hub has no encryption key: pass --encryption-key-file");
      }
      auto opened = cipher_->Open(kv.value, resource);
      if (!opened.ok()) return opened.status().WithContext("etcd key " + kv.key);
      plain = std::move(*opened);
    }
    // Values of an encrypted resource stored before encryption was on are read as they are.
    nlohmann::json obj = nlohmann::json::parse(sealed ? plain : kv.value, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded() || !obj.is_object()) {
      return Status::Internal("etcd key " + kv.key + " does not hold a JSON object");
    }
    obj["metadata"]["resourceVersion"] = std::to_string(kv.mod_revision + offset_);
    return obj;
  }

  // Whether the value should be sealed again with the first key: stored in plain text for an
  // encrypted resource, or sealed with an older key.
  bool Stale(const std::string& resource, const EtcdKeyValue& kv) const {
    if (!encrypted_.count(resource)) return false;
    return !SecretCipher::IsSealed(kv.value) || SecretCipher::KeyIdOf(kv.value) != cipher_->primary_key_id();
  }

 private:
  const std::set<std::string> encrypted_;
  const std::shared_ptr<const SecretCipher> cipher_;
  int64_t offset_ = 0;
};

}  // namespace berth::hub
