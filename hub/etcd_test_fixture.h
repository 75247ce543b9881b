// A gtest fixture with one real etcd member on loopback (hub/etcd_test_cluster.h) and a client
// of it; skipped when /usr/bin/etcd is missing. For the etcd client, election and shared-PKI
// tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hub/etcd_test_cluster.h"

namespace berth::hub {

class EtcdFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EtcdTestCluster::Available()) GTEST_SKIP() << "no " << EtcdTestCluster::kBinary;
    cluster_ = std::make_unique<EtcdTestCluster>(1);
    std::string why;
    ASSERT_TRUE(cluster_->Start(&why)) << why;
    client_ = NewEtcdClient(cluster_->ClientOptions()).value();
  }

  std::unique_ptr<EtcdTestCluster> cluster_;
  std::unique_ptr<EtcdClient> client_;
};

}  // namespace berth::hub
