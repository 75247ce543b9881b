// Runs every tests/placement/scenarios/*.yaml: fleet + policies + workspaces in, expected
// decisions and rejection reasons out. The format is described in scenarios/README.md.
// Every scenario is also checked for over-commit: no node ends with more GPUs reserved
// than it had free.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/yaml_json.h"
#include "placement/fleet_file.h"
#include "placement/planner.h"
#include "workspace/catalog.h"
#include "placement/sizing.h"
#include "placement/workspace_request.h"
#include "workspace/workspace_types.h"
#include "tests/support/scenario_files.h"

namespace berth::placement {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path ScenarioDir() { return berth::testing::ScenarioDir("placement"); }
std::vector<std::string> ScenarioFiles() { return berth::testing::ScenarioFiles("placement"); }
std::string ReadFile(const fs::path& p) { return berth::testing::ReadScenarioText(p); }

FixedSize ParseSize(const json& j) {
  FixedSize s;
  if (j.is_number_integer()) {
    s.gpus_per_node = j.get<int>();
  } else {
    s.gpus_per_node = j.value("gpus", 1);
    s.nodes = j.value("nodes", 1);
  }
  return s;
}

std::vector<std::string> CauseFields(const Status& s) {
  std::vector<std::string> out;
  for (const auto& c : s.causes()) out.push_back(c.field);
  return out;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, DecidesAsExpected) {
  auto doc = api::YamlToJson(ReadFile(ScenarioDir() / GetParam()));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  const json& sc = *doc;
  ASSERT_TRUE(sc.contains("description")) << "every scenario says what it checks";
  const json& expect = sc.at("expect");

  // Policy validation scenarios: parsing must fail naming these fields.
  std::vector<std::string> want_invalid = expect.value("invalid", std::vector<std::string>{});

  auto fleet = ParseFleet(sc.at("fleet"));
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto planner = Planner::Create(*fleet);
  ASSERT_TRUE(planner.ok()) << planner.status().ToString();

  PolicyCatalog named;
  if (sc.contains("policies")) {
    for (const auto& [name, body] : sc["policies"].items()) {
      auto spec = policies::ParsePlacementPolicySpec(body, "policies." + name);
      ASSERT_TRUE(spec.ok()) << spec.status().ToString();
      named["default/" + name] = std::make_shared<policies::PlacementPolicySpec>(*spec);
    }
  }

  std::vector<PlacementRequest> requests;
  std::vector<std::string> invalid_fields;
  const json& wss = sc.at("workspaces");
  for (size_t i = 0; i < wss.size(); ++i) {
    const json& w = wss[i];
    PlacementRequest req;
    if (w.contains("workspace")) {
      auto ws = workspace::ParseWorkspace(w["workspace"]);
      ASSERT_TRUE(ws.ok()) << ws.status().ToString();
      auto r = RequestFromWorkspace(*ws, named);
      if (!r.ok()) {
        for (auto& f : CauseFields(r.status())) invalid_fields.push_back(f);
        ASSERT_FALSE(want_invalid.empty()) << r.status().ToString();
        continue;
      }
      req = std::move(r).value();
    } else {
      req.workspace = w.at("name").get<std::string>();
      req.replicas = w.value("replicas", 1);
      req.model = w.value("model", std::string());
      req.image = w.value("image", std::string());
      // The expected start time weighs the model's weights: a catalog preset's, or weightsGiB.
      if (auto m = workspace::Catalog::BuiltIn().FindModel(req.model); m.ok())
        req.weights_gib = m->weights_gib;
      req.weights_gib = w.value("weightsGiB", req.weights_gib);
      std::map<std::string, FixedSize> sizes;
      if (w.contains("size")) {
        for (const auto& [shape, s] : w["size"].items()) {
          if (s.is_string() && s == "unfit") continue;
          sizes[shape] = ParseSize(s);
        }
      }
      std::optional<FixedSize> fallback;
      if (w.contains("defaultSize")) fallback = ParseSize(w["defaultSize"]);
      req.sizer = FixedSizer(sizes, fallback);
      if (w.contains("policy")) {
        auto spec = policies::ParsePlacementPolicySpec(
            w["policy"], "workspaces[" + std::to_string(i) + "].policy");
        if (!spec.ok()) {
          for (auto& f : CauseFields(spec.status())) invalid_fields.push_back(f);
          ASSERT_FALSE(want_invalid.empty()) << spec.status().ToString();
          continue;
        }
        req.policy = std::make_shared<policies::PlacementPolicySpec>(*spec);
      } else if (w.contains("policyRef")) {
        auto it = named.find("default/" + w["policyRef"].get<std::string>());
        ASSERT_NE(it, named.end()) << "unknown policyRef";
        req.policy = it->second;
      }
    }
    req.priority = w.value("priority", req.priority);
    if (w.contains("current")) {
      for (const auto& [c, n] : w["current"].items()) req.current[c] = n.get<int>();
    }
    requests.push_back(std::move(req));
  }
  for (const auto& f : want_invalid) {
    EXPECT_NE(std::find(invalid_fields.begin(), invalid_fields.end(), f), invalid_fields.end())
        << "expected a validation error at " << f;
  }
  if (!want_invalid.empty()) return;

  DecideOptions opts{.explain = true};
  std::vector<PlacementDecision> decisions;
  if (sc.value("order", std::string("batch")) == "sequential") {
    for (const auto& r : requests) decisions.push_back(planner->Decide(r, opts));
  } else {
    decisions = planner->PlanBatch(requests, opts);
  }

  // Never over-commit: reservations per node stay within the free GPUs it started with.
  {
    auto fresh = Planner::Create(*fleet);
    ASSERT_TRUE(fresh.ok());
    std::map<std::pair<std::string, std::string>, int> used;
    for (const auto& r : planner->new_reservations()) used[{r.cluster, r.node}] += r.units;
    for (const auto& [key, units] : used) {
      EXPECT_LE(units, fresh->FreeUnits(key.first, key.second)) << key.first << "/" << key.second;
      EXPECT_GE(planner->FreeUnits(key.first, key.second), 0);
    }
  }

  for (const auto& d : decisions) {
    SCOPED_TRACE(d.workspace + ": " + planner->ExplainJson(d).dump());
    auto e_it = expect.find(d.workspace);
    if (e_it == expect.end()) continue;
    const json& e = *e_it;
    if (e.contains("placements")) {
      std::map<std::string, int> got, want;
      for (const auto& a : d.allocations) got[a.cluster] += a.replicas;
      for (const auto& [c, n] : e["placements"].items()) want[c] = n.get<int>();
      EXPECT_EQ(got, want);
    }
    EXPECT_EQ(d.unplaced(), e.value("unplaced", 0));
    if (e.contains("reason")) {
      EXPECT_EQ(d.unplaced_reason, e["reason"].get<std::string>());
    }
    if (e.contains("rejections")) {
      std::map<std::string, std::string> got;
      for (const auto& r : d.rejections) {
        got[r.cluster >= 0 ? planner->snapshot().clusters[r.cluster].name : r.unknown_name] =
            RejectReasonName(r.reason);
        EXPECT_FALSE(r.message.empty()) << "every rejection says why";
      }
      for (const auto& [c, reason] : e["rejections"].items()) {
        EXPECT_EQ(got[c], reason.get<std::string>()) << "rejection of " << c;
      }
    }
    if (e.contains("costPerHour")) {
      EXPECT_NEAR(d.cost_per_hour(), e["costPerHour"].get<double>(), 1e-6);
    }
    if (e.contains("gpu")) {
      for (const auto& [c, label] : e["gpu"].items()) {
        bool found = false;
        for (const auto& a : d.allocations)
          found |= a.cluster == c && a.gpu == label.get<std::string>();
        EXPECT_TRUE(found) << c << " should run on " << label;
      }
    }
    if (e.contains("gpusPerReplica")) {
      ASSERT_FALSE(d.allocations.empty());
      EXPECT_EQ(d.allocations[0].gpus_per_replica, e["gpusPerReplica"].get<int>());
    }
    if (e.contains("scoreOrder")) {
      std::vector<std::string> got;
      for (const auto& s : d.scores) got.push_back(planner->snapshot().clusters[s.cluster].name);
      auto want = e["scoreOrder"].get<std::vector<std::string>>();
      got.resize(std::min(got.size(), want.size()));
      EXPECT_EQ(got, want);
    }
    if (e.contains("kept")) {
      int kept = 0;
      for (const auto& a : d.allocations) kept += a.kept;
      EXPECT_EQ(kept, e["kept"].get<int>());
    }
  }
  if (expect.contains("totalCostPerHour")) {
    EXPECT_NEAR(PlanToJson(decisions)["totalCostPerHour"].get<double>(),
                expect["totalCostPerHour"].get<double>(), 0.01);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, Scenario, ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(ScenarioSuite, HasAtLeast25Files) { EXPECT_GE(ScenarioFiles().size(), 25u); }

}  // namespace
}  // namespace berth::placement
