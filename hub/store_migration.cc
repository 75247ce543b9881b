#include "hub/store_migration.h"

#include <sys/stat.h>

#include <filesystem>

#include <fmt/format.h>

#include "api/object.h"
#include "hub/encryption_key_file.h"
#include "hub/etcd_client.h"
#include "hub/hub_store.h"
#include "hub/store_seed.h"

namespace berth::hub {

namespace {

using nlohmann::json;

std::string Describe(const HubOptions& o) {
  return o.store == "etcd" ? "etcd " + o.etcd_prefix + "/" : (std::filesystem::path(o.data_dir) / "berth.db").string();
}

// Refuses while a hub holds the etcd prefix's leader key: its later writes would be lost.
Status CheckNoHubOn(const HubOptions& o) {
  auto client = NewEtcdClient(o.etcd);
  if (!client.ok()) return client.status();
  const std::string key = o.etcd_prefix + ".hub/leader";
  auto held = (*client)->Range(key, "", 0, 1);
  if (!held.ok()) return held.status().WithContext("read " + key);
  if (!held->kvs.empty()) {
    return Status::FailedPrecondition("a hub leads " + o.etcd_prefix + " (" + key + " = " + held->kvs.front().value +
                                      "): stop every hub on the prefix first");
  }
  return Status::Ok();
}

// The key file must exist: with no flag, the hub would create a new one in the data dir,
// and a new key opens none of the source's sealed objects.
Status CheckKeyFile(const HubOptions& o) {
  const std::string path =
      o.encryption_key_file.empty() ? (std::filesystem::path(o.data_dir) / "encryption.key").string() : o.encryption_key_file;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FailedPrecondition("encryption key file " + path +
                                      " does not exist: pass --encryption-key-file with the hubs' key file");
  }
  return Status::Ok();
}

json WithoutVersion(json object) {
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) m->erase("resourceVersion");
  return object;
}

// Reads the target back: every object equal to the source's, versions kept (SQLite) or past
// the source's revision (etcd), and watches resuming where the source's could.
StatusOr<std::string> Verify(Store& target, const StoreSeed& seed, const std::vector<std::string>& resources,
                             bool versions_kept) {
  size_t checked = 0;
  for (const auto& resource : resources) {
    auto listed = target.List(resource, {});
    if (!listed.ok()) return listed.status();
    const auto it = seed.objects.find(resource);
    const size_t want = it == seed.objects.end() ? 0 : it->second.size();
    if (listed->items.size() != want) {
      return Status::Internal(fmt::format("verify: {} holds {} objects, the source {}", resource,
                                          listed->items.size(), want));
    }
    for (const auto& item : listed->items) {
      const auto found = it->second.find({api::NamespaceOf(item), api::NameOf(item)});
      if (found == it->second.end()) {
        return Status::Internal("verify: " + resource + " " + api::NamespaceOf(item) + "/" + api::NameOf(item) +
                                " is not in the source");
      }
      const json& source = found->second;
      const int64_t rv = api::ResourceVersionOf(item);
      const bool version_ok = versions_kept ? rv == api::ResourceVersionOf(source) : rv > seed.revision;
      if (!version_ok || WithoutVersion(item) != WithoutVersion(source)) {
        return Status::Internal("verify: " + resource + " " + api::NamespaceOf(item) + "/" + api::NameOf(item) +
                                " differs from the source (resourceVersion " + std::to_string(rv) + ")");
      }
      ++checked;
    }
  }
  return fmt::format("verified: {} objects read back equal; revision {}, watches resume from resourceVersion {} on",
                     checked, target.CurrentRevision(), target.CompactedRevision());
}

}  // namespace

StatusOr<std::vector<std::string>> MigrateStore(const HubOptions& from, HubOptions to) {
  if (from.store == to.store && (from.store == "sqlite" ? from.data_dir == to.data_dir
                                                        : from.etcd_prefix == to.etcd_prefix &&
                                                              from.etcd.endpoints == to.etcd.endpoints)) {
    return Status::BadRequest("the source and the target are the same store");
  }
  if (to.encryption_key_file.empty()) {
    to.encryption_key_file = from.encryption_key_file.empty()
                                 ? (std::filesystem::path(from.data_dir) / "encryption.key").string()
                                 : from.encryption_key_file;
  }
  BERTH_RETURN_IF_ERROR(CheckKeyFile(from));
  for (const HubOptions* o : std::initializer_list<const HubOptions*>{&from, &to}) {
    if (o->store == "etcd") BERTH_RETURN_IF_ERROR(CheckNoHubOn(*o));
  }
  auto keys = LoadEncryptionKeys(from.encryption_key_file, from.data_dir);
  if (!keys.ok()) return keys.status();
  api::KindRegistry registry;
  BERTH_RETURN_IF_ERROR(RegisterHubKinds(registry));
  std::vector<std::string> resources;
  for (const auto* kind : registry.All()) resources.push_back(kind->resource());

  std::vector<std::string> lines;
  StoreSeed seed;
  {
    auto source = OpenHubStore(from, registry, *keys);
    if (!source.ok()) return source.status().WithContext("open the source " + Describe(from));
    // An etcd store may open at an earlier revision (a migrated prefix's end) and catch up.
    if (Status synced = (*source)->Sync(); !synced.ok()) return synced.WithContext("read the source to its end");
    auto exported = ExportStore(**source, resources);
    if (!exported.ok()) return exported.status();
    seed = std::move(*exported);
  }
  lines.push_back(fmt::format("read {}: {} objects, revision {}, {} history events (watches could resume from {})",
                              Describe(from), seed.object_count(), seed.revision, seed.history.size(),
                              seed.compacted));
  if (to.store == "sqlite") std::filesystem::create_directories(to.data_dir);
  auto wrote = SeedHubStore(to, registry, *keys, seed);
  if (!wrote.ok()) return wrote.status().WithContext("write " + Describe(to));
  lines.push_back(*wrote);
  auto target = OpenHubStore(to, registry, *keys);
  if (!target.ok()) return target.status().WithContext("open the target " + Describe(to));
  auto verified = Verify(**target, seed, resources, to.store == "sqlite");
  if (!verified.ok()) return verified.status();
  lines.push_back(*verified);
  return lines;
}

}  // namespace berth::hub
