// `berthctl plan` end to end on the shipped example fleet: runs the real binary.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

struct Run {
  int rc = -1;
  std::string out;
};

Run Berthctl(const std::string& args) {
  const char* bin = std::getenv("BERTH_BIN_DIR");
  std::string cmd = std::string(bin ? bin : "build/bin") + "/berthctl " + args + " 2>&1";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.rc = pclose(p);
  return r;
}

TEST(PlanCli, JsonOnExampleFleetPlacesEveryReplicaWithinPolicy) {
  auto r = Berthctl("plan --fleet examples/fleet.yaml -f examples/placement/workspaces.yaml -o json --explain");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["unplaced"].empty()) << j["unplaced"].dump();
  std::map<std::string, int> replicas;
  double total = 0;
  for (const auto& p : j["placements"]) {
    replicas[p["workspace"]] += p["replicas"].get<int>();
    total += p["costPerHour"].get<double>();
    if (p["workspace"] == "ml/mistral-eu") {
      // eu-only: westeurope, and the on-prem Frankfurt cluster's CUDA 11.4 is too old.
      EXPECT_EQ(p["cluster"], "aks-westeurope");
    }
    if (p["workspace"] == "ml/phi-canary") {
      EXPECT_EQ(p["cluster"], "aks-eastus-canary");
    }
    if (p["workspace"] == "ml/llama-70b") {
      EXPECT_NE(p["cluster"], "onprem-frankfurt");  // driver 470 < 535
    }
  }
  EXPECT_EQ(replicas["ml/llama-8b-chat"], 4);
  EXPECT_EQ(replicas["ml/mistral-eu"], 2);
  EXPECT_EQ(replicas["ml/llama-70b"], 2);
  EXPECT_EQ(replicas["ml/phi-canary"], 1);
  EXPECT_NEAR(j["totalCostPerHour"].get<double>(), total, 0.05);
  ASSERT_EQ(j["explanations"].size(), 4u);
}

TEST(PlanCli, TableIsTheDefault) {
  auto r = Berthctl("plan --fleet examples/fleet.yaml -f examples/placement/workspaces.yaml");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("WORKSPACE"), std::string::npos);
  EXPECT_NE(r.out.find("Total:"), std::string::npos);
}

TEST(PlanCli, BadFleetNamesTheFieldAndFails) {
  auto r = Berthctl("plan --fleet tests/placement/testdata/bad-fleet.yaml -f examples/placement/workspaces.yaml");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("clusters[0].nodePools[0].gpusPerNode"), std::string::npos) << r.out;
}

}  // namespace
