#include "hub/shared_pki.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/kubeconfig.h"

namespace berth::hub {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kContext = "berth.hub.pki";  // authenticated with the sealed record

struct SharedPki {
  std::string ca_crt, ca_key, admin_token;
  int64_t mod_revision = 0;  // of the record it was read from
  bool stale_key = false;    // sealed with a key other than the key file's first
};

std::string Sealable(const SharedPki& p) {
  return json{{"caCrt", p.ca_crt}, {"caKey", p.ca_key}, {"adminToken", p.admin_token}}.dump();
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The record as etcd holds it, or nullopt when there is none.
StatusOr<std::optional<SharedPki>> Fetch(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher) {
  auto range = etcd.Range(key, "");
  if (!range.ok()) return range.status().WithContext("reading the shared PKI " + key);
  if (range->kvs.empty()) return std::optional<SharedPki>();
  auto plain = cipher.Open(range->kvs.front().value, kContext);
  if (!plain.ok()) {
    return Status::FailedPrecondition("the shared PKI " + key + " does not open with " + cipher.source() + " (" +
                                      plain.status().message() +
                                      "): every hub sharing this etcd prefix needs the same encryption key file");
  }
  try {
    const json j = json::parse(*plain);
    const EtcdKeyValue& kv = range->kvs.front();
    return std::optional<SharedPki>(SharedPki{j.at("caCrt").get<std::string>(), j.at("caKey").get<std::string>(),
                                              j.at("adminToken").get<std::string>(), kv.mod_revision,
                                              SecretCipher::KeyIdOf(kv.value) != cipher.primary_key_id()});
  } catch (const json::exception& e) {
    return Status::Internal("the shared PKI " + key + " is not what a hub wrote: " + e.what());
  }
}

// Installs the shared CA and admin token in <data_dir> (the token unless `keep_token`);
// EnsureHubPki then re-issues the serving certificate from the CA and writes
// admin.kubeconfig with this replica's URL.
Status Install(const SharedPki& shared, const HubPkiOptions& options, bool keep_token = false) {
  const fs::path pki_dir = fs::path(options.data_dir) / "pki";
  std::error_code ec;
  fs::create_directories(pki_dir, ec);
  if (ec) return Status::Internal("create " + pki_dir.string() + ": " + ec.message());
  fs::permissions(pki_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  const std::string local_ca = ReadText(pki_dir / "ca.crt");
  if (!local_ca.empty() && local_ca != shared.ca_crt) {
    spdlog::warn("replacing the CA in {} with the one the hubs share through etcd", pki_dir.string());
  }
  BERTH_RETURN_IF_ERROR(WriteFileAtomic((pki_dir / "ca.key").string(), shared.ca_key, 0600));
  BERTH_RETURN_IF_ERROR(WriteFileAtomic((pki_dir / "ca.crt").string(), shared.ca_crt, 0644));
  if (keep_token) return Status::Ok();
  BERTH_RETURN_IF_ERROR(
      WriteFileAtomic((pki_dir / "admin.token.sha256").string(), Sha256Hex(shared.admin_token) + "\n", 0600));
  const std::string url = options.admin_server_url.empty() ? "https://127.0.0.1:6443" : options.admin_server_url;
  return WriteKubeconfig((fs::path(options.data_dir) / "admin.kubeconfig").string(), options.cluster_name, url,
                         shared.ca_crt, "admin", shared.admin_token);
}

// Creates the record from this replica's PKI unless one exists; returns the record that
// holds now (ours or the winner's).
StatusOr<SharedPki> Publish(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher, const HubPki& pki) {
  auto kubeconfig = LoadKubeconfigFile(pki.admin_kubeconfig_path);
  if (!kubeconfig.ok()) return kubeconfig.status().WithContext("reading the admin token to share");
  SharedPki mine{pki.ca_pem, ReadText(pki.ca_key_path), kubeconfig->bearer_token};
  if (mine.ca_key.empty()) return Status::Internal("cannot read " + pki.ca_key_path);
  auto sealed = cipher.Seal(Sealable(mine), kContext);
  if (!sealed.ok()) return sealed.status();
  EtcdTxn txn;
  txn.compare.push_back({key, EtcdCompare::Target::kCreateRevision, 0, {}});
  txn.success.push_back({EtcdOp::Type::kPut, key, *sealed, 0});
  auto r = etcd.Txn(txn);
  if (!r.ok()) return r.status().WithContext("publishing the shared PKI " + key);
  if (r->succeeded) {
    spdlog::info("published this hub's CA and admin token to {} for the other replicas", key);
    return mine;
  }
  auto theirs = Fetch(etcd, key, cipher);
  if (!theirs.ok()) return theirs.status();
  if (!*theirs) return Status::Unavailable("the shared PKI " + key + " vanished while it was published; start again");
  return **theirs;
}

// Seals `p` and writes it over the record it was read from; false when another writer
// changed the record since.
StatusOr<bool> Rewrite(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher, const SharedPki& p,
                       const std::string& what) {
  auto sealed = cipher.Seal(Sealable(p), kContext);
  if (!sealed.ok()) return sealed.status();
  EtcdTxn txn;
  txn.compare.push_back({key, EtcdCompare::Target::kModRevision, p.mod_revision, {}});
  txn.success.push_back({EtcdOp::Type::kPut, key, *sealed, 0});
  auto r = etcd.Txn(txn);
  if (!r.ok()) return r.status().WithContext(what + " " + key);
  return r->succeeded;
}

// After a key rotation (a new first key in the key file), seals the record with the new key
// so that the old one can leave the key file, as Secrets are re-sealed. Another replica doing
// the same first is fine: the compare fails and its write stands.
Status ResealIfStale(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher, const SharedPki& p) {
  if (!p.stale_key) return Status::Ok();
  auto written = Rewrite(etcd, key, cipher, p, "re-sealing the shared PKI");
  if (!written.ok()) return written.status();
  if (*written) spdlog::info("re-sealed the shared PKI {} with key id {}", key, cipher.primary_key_id());
  return Status::Ok();
}

// An operator rotating the admin token deleted admin.kubeconfig on a replica that has run
// before (its pki/ca.crt is there); a new replica has neither and adopts the shared token.
bool RotationAsked(const HubPkiOptions& options) {
  const fs::path dir(options.data_dir);
  std::error_code ec;
  return fs::exists(dir / "pki" / "ca.crt", ec) && !fs::exists(dir / "admin.kubeconfig", ec);
}

// Replaces the record's admin token with the one EnsureHubPki just minted, unless another
// writer changed the record since it was read.
Status PublishRotatedToken(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher, SharedPki p,
                           const HubPki& pki) {
  auto kubeconfig = LoadKubeconfigFile(pki.admin_kubeconfig_path);
  if (!kubeconfig.ok()) return kubeconfig.status().WithContext("reading the new admin token");
  p.admin_token = kubeconfig->bearer_token;
  auto written = Rewrite(etcd, key, cipher, p, "publishing the rotated admin token to");
  if (!written.ok()) return written.status();
  if (!*written) return Status::Unavailable("the shared PKI " + key + " changed while the admin token was rotated");
  spdlog::warn("rotated the admin token for every hub on {}: restart the other replicas, which accept the old one "
               "until they start again", key);
  return Status::Ok();
}

}  // namespace

StatusOr<HubPki> EnsureSharedHubPki(EtcdClient& etcd, const std::string& key, const SecretCipher& cipher,
                                    const HubPkiOptions& options) {
  auto shared = Fetch(etcd, key, cipher);
  if (!shared.ok()) return shared.status();
  const bool rotate = *shared && RotationAsked(options);
  if (*shared) {
    BERTH_RETURN_IF_ERROR(Install(**shared, options, /*keep_token=*/rotate));
    BERTH_RETURN_IF_ERROR(ResealIfStale(etcd, key, cipher, **shared));
  }
  auto pki = EnsureHubPki(options);
  if (pki.ok() && rotate) {
    // ResealIfStale may have moved the record on: read it again for the compare, and make
    // sure nobody rotated the token meanwhile.
    Status published = [&]() -> Status {
      auto now = Fetch(etcd, key, cipher);
      if (!now.ok()) return now.status();
      if (!*now) return Status::Unavailable("the shared PKI " + key + " vanished during the rotation");
      if ((*now)->admin_token != (**shared).admin_token) {
        return Status::Unavailable("another replica rotated the admin token at the same time");
      }
      return PublishRotatedToken(etcd, key, cipher, **now, *pki);
    }();
    if (!published.ok()) {
      // Not published: the local token must not stand alone. Without admin.kubeconfig the
      // next start asks for the rotation again instead of quietly taking the old token.
      std::error_code ec;
      fs::remove(pki->admin_kubeconfig_path, ec);
      return published.WithContext("rotating the admin token (start this hub again to retry)");
    }
  }
  if (!pki.ok() || *shared) return pki;
  auto holding = Publish(etcd, key, cipher, *pki);
  if (!holding.ok()) return holding.status();
  if (holding->ca_crt == pki->ca_pem) return pki;
  spdlog::info("another hub published its PKI first: adopting it");
  BERTH_RETURN_IF_ERROR(Install(*holding, options));
  return EnsureHubPki(options);
}

}  // namespace berth::hub
