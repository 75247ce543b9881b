// Test fixture: an in-process hub store with every Berth kind registered (a temp dir, the
// SQLite store, ObjectApi) and a FakeClock. Shared by the controller and membership tests;
// derived fixtures call StoreFixture::SetUp()/TearDown() around their own.
//
// With BERTH_TEST_STORE=etcd (ctest's *_etcd variants) the store is an EtcdStore instead: one
// real etcd member per test process (/usr/bin/etcd, started on first use), each test under a
// prefix of its own.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>

#include "api/object.h"
#include "hub/etcd_store.h"
#include "hub/etcd_test_cluster.h"
#include "hub/object_api.h"
#include "hub/sqlite_store.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(kinds::RegisterBerthKinds(registry_).ok());
    if (OnEtcd()) {
      EtcdTestCluster* etcd = SharedEtcd();
      ASSERT_NE(etcd, nullptr) << "BERTH_TEST_STORE=etcd but etcd did not start";
      EtcdStoreOptions o;
      o.client = etcd->ClientOptions();
      o.prefix = "/t" + std::to_string(++PrefixCounter());
      auto store = OpenEtcdStore(o);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      store_ = std::move(*store);
    } else {
      SqliteStoreOptions o;
      o.path = (dir_ / "berth.db").string();
      store_ = OpenSqliteStore(o).value();
    }
    objects_ = std::make_unique<ObjectApi>(*store_, clock_, &registry_);
  }
  static bool OnEtcd() {
    const char* store = std::getenv("BERTH_TEST_STORE");
    return store && std::string(store) == "etcd";
  }
  static EtcdTestCluster* SharedEtcd() {
    static std::unique_ptr<EtcdTestCluster> cluster = [] {
      auto c = std::make_unique<EtcdTestCluster>(1);
      std::string why;
      if (!EtcdTestCluster::Available() || !c->Start(&why)) c.reset();
      return c;
    }();
    return cluster.get();
  }
  static int& PrefixCounter() {
    static int n = 0;
    return n;
  }
  void TearDown() override {
    objects_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  const api::KindInfo& Kind(const char* kind, const char* api_version = api::kApiVersion) {
    return *registry_.ByKind(api_version, kind);
  }
  // Runs an asynchronous ObjectApi call and waits for its callback.
  StatusOr<nlohmann::json> Wait(const std::function<void(ObjectCallback)>& call) {
    std::promise<StatusOr<nlohmann::json>> p;
    call([&](StatusOr<nlohmann::json> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  api::KindRegistry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ObjectApi> objects_;
};

}  // namespace berth::hub
