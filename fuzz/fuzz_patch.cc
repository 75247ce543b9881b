// Fuzz target: PATCH as the hub applies it (merge, JSON patch or server-side apply, by the
// first input byte) to a stored Workspace, as a dry run through ObjectApi: parsing,
// patching, strict validation and the Workspace's semantic checks, nothing stored.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "api/clock.h"
#include "api/yaml_json.h"
#include "hub/object_api.h"
#include "hub/sqlite_store.h"
#include "kinds/berth_kinds.h"

namespace {

struct Fixture {
  berth::api::KindRegistry registry;
  std::unique_ptr<berth::hub::Store> store;
  std::unique_ptr<berth::hub::ObjectApi> objects;
  berth::RealClock clock;
  const berth::api::KindInfo* workspace = nullptr;

  Fixture() {
    if (!berth::kinds::RegisterBerthKinds(registry).ok()) __builtin_trap();
    static char dir[] = "/tmp/berth-fuzz-patch-XXXXXX";
    if (!mkdtemp(dir)) __builtin_trap();
    std::atexit([] { std::filesystem::remove_all(dir); });  // libFuzzer exits through exit()
    berth::hub::SqliteStoreOptions options;
    options.path = std::string(dir) + "/berth.db";
    auto opened = berth::hub::OpenSqliteStore(options);
    if (!opened.ok()) __builtin_trap();
    store = std::move(*opened);
    objects = std::make_unique<berth::hub::ObjectApi>(*store, clock, &registry);
    workspace = registry.ByKind("berth.dev/v1alpha1", "Workspace");
    if (!workspace) __builtin_trap();
    auto seed = berth::api::YamlToJson(R"(
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat, namespace: ml, labels: {team: search}}
inference: {preset: {name: phi-4-mini-instruct}}
placement: {replicas: 2}
)");
    bool created = false;
    objects->Create(*workspace, "ml", *seed, {}, [&](berth::StatusOr<nlohmann::json> r) { created = r.ok(); });
    for (int i = 0; i < 500 && !created; ++i) usleep(1000);
    if (!created) __builtin_trap();
  }
};

Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Fixture& f = F();
  const auto type = data[0] % 3 == 0   ? berth::hub::PatchType::kMerge
                    : data[0] % 3 == 1 ? berth::hub::PatchType::kJson
                                       : berth::hub::PatchType::kApply;
  berth::hub::WriteOptions options;
  options.dry_run = true;
  options.field_manager = "fuzz";
  options.force = data[0] & 4;
  std::string patch(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Oracle: a patch is accepted or refused with a 4xx; an Internal error (an exception the
  // transform let escape, a schema without a matcher) is a finding.
  f.objects->Patch(*f.workspace, "ml", "chat", type, std::move(patch), options, [](berth::StatusOr<nlohmann::json> r) {
    if (!r.ok() && r.status().code() == berth::StatusCode::kInternal) {
      fprintf(stderr, "internal error: %s\n", r.status().ToString().c_str());
      __builtin_trap();
    }
  });
  return 0;
}
