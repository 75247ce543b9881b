// Runs every tests/rollout/scenarios/*.yaml: a strategy, a fleet and a sequence of
// (time, observations, operation) steps in; the expected decisions of each step out.
// The format is described in scenarios/README.md.
//
// Besides each file's expectations, every step checks two properties of the state machine:
//  - persistence: the state goes through status JSON (RolloutStateToJson/FromJson) between
//    steps, exactly as the hub stores it;
//  - level-triggering: calling Advance again with the same inputs changes nothing and emits
//    no events.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/yaml_json.h"
#include "policies/rollout_strategy.h"
#include "rollout/rollout.h"
#include "tests/support/scenario_files.h"

namespace berth::rollout {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const Clock::TimePoint kStart(Clock::Duration(1'767'225'600'000));  // 2026-01-01T00:00:00Z

fs::path ScenarioDir() { return berth::testing::ScenarioDir("rollout"); }
std::vector<std::string> ScenarioFiles() { return berth::testing::ScenarioFiles("rollout"); }
std::string ReadFile(const fs::path& p) { return berth::testing::ReadScenarioText(p); }

std::string Text(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

DottedVersion Version(const json& j) {
  if (j.is_null()) return {};
  auto v = DottedVersion::Parse(Text(j));
  return v ? *v : DottedVersion{};
}

ReplicaPhase PhaseOf(const std::string& s) {
  if (s == "Pending") return ReplicaPhase::kPending;
  if (s == "Starting") return ReplicaPhase::kStarting;
  if (s == "Failed") return ReplicaPhase::kFailed;
  return ReplicaPhase::kReady;
}

// Applies a (partial) cluster description from the scenario onto an observation.
void ApplyObservation(const json& j, ClusterObservation* o) {
  if (j.contains("labels")) {
    o->labels.clear();
    for (const auto& [k, v] : j["labels"].items()) o->labels[k] = Text(v);
  }
  if (j.contains("driver")) o->driver_version = Version(j["driver"]);
  if (j.contains("cuda")) o->cuda_version = Version(j["cuda"]);
  if (j.contains("placed")) o->placed = j["placed"].get<bool>();
  if (j.contains("replicas")) o->desired_replicas = j["replicas"].get<int>();
  if (j.contains("revision")) o->revision = j["revision"].get<int64_t>();
  if (j.contains("ready")) o->ready_replicas = j["ready"].get<int>();
  o->replicas = o->desired_replicas;
  if (j.contains("failures")) o->failure_reports = j["failures"].get<int>();
  if (j.contains("surge")) o->surge_capacity = j["surge"].get<int>();
  if (j.contains("cached")) o->artifacts_cached = j["cached"].get<bool>();
  if (j.contains("reason")) o->reason = Text(j["reason"]);
  if (j.contains("reported")) o->reported = j["reported"].get<bool>();
  if (j.contains("ttft")) o->ttft_p90_seconds = j["ttft"].is_null() ? std::nullopt : std::optional<double>(j["ttft"].get<double>());
  if (j.contains("errorRate"))
    o->error_rate = j["errorRate"].is_null() ? std::nullopt : std::optional<double>(j["errorRate"].get<double>());
  if (j.contains("phase")) {
    o->phase = PhaseOf(Text(j["phase"]));
  } else if (j.contains("ready") || j.contains("revision")) {
    o->phase = o->ready_replicas >= o->desired_replicas ? ReplicaPhase::kReady : ReplicaPhase::kStarting;
  }
}

std::vector<std::string> EventReasons(const RolloutStep& step) {
  std::vector<std::string> out;
  for (const auto& e : step.events) out.push_back(e.reason);
  return out;
}

std::string Describe(const RolloutStep& step) {
  std::string out = "phase " + std::string(RolloutPhaseName(step.phase)) + " (" + step.state.reason +
                    ": " + step.state.message + ")\n";
  for (const auto& [name, c] : step.state.clusters) {
    out += "  " + name + " stage " + std::to_string(c.stage) + " " +
           std::string(ClusterProgressName(c.progress)) + " run " +
           std::to_string(step.directives.at(name).revision) + (c.reason.empty() ? "" : " " + c.reason) + "\n";
  }
  for (const auto& e : step.events) out += "  event " + e.reason + ": " + e.message + "\n";
  return out;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, DecidesAsExpected) {
  auto doc = api::YamlToJson(ReadFile(ScenarioDir() / GetParam()));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  const json& sc = *doc;
  ASSERT_TRUE(sc.contains("description")) << "every scenario says what it checks";

  auto strategy = policies::ParseRolloutStrategySpec(sc.value("strategy", json::object()), "strategy");
  ASSERT_TRUE(strategy.ok()) << strategy.status().ToString();
  RolloutPlan plan;
  plan.strategy = *strategy;
  plan.min_available = sc.value("minAvailable", 0);
  const json& target = sc.at("target");
  plan.target.number = target.at("number").get<int64_t>();
  plan.target.hash = target.value("hash", "rev" + std::to_string(plan.target.number));
  plan.target.image = target.value("image", std::string("vllm:new"));
  plan.target.model = target.value("model", std::string("llama-3.1-8b-instruct"));
  plan.target.min_driver_version = Version(target.value("minDriverVersion", json()));
  plan.target.min_cuda_version = Version(target.value("minCudaVersion", json()));
  if (int64_t good = sc.value("lastGood", int64_t{0}); good > 0) {
    plan.last_good = Revision{};
    plan.last_good->number = good;
    plan.last_good->hash = "rev" + std::to_string(good);
  }
  const bool instant_agents = sc.value("agents", std::string()) == "instant";

  FleetView fleet;
  for (const auto& jc : sc.at("fleet")) {
    ClusterObservation o;
    o.name = jc.at("name").get<std::string>();
    o.revision = plan.last_good ? plan.last_good->number : 0;
    o.desired_replicas = 1;
    o.ready_replicas = o.revision ? 1 : 0;
    o.phase = o.revision ? ReplicaPhase::kReady : ReplicaPhase::kPending;
    ApplyObservation(jc, &o);
    fleet.clusters.push_back(o);
  }
  auto cluster = [&](const std::string& name) -> ClusterObservation* {
    for (auto& c : fleet.clusters) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };

  RolloutState state;
  std::map<std::string, ClusterDirective> last_directives;
  int index = 0;
  for (const auto& st : sc.at("steps")) {
    SCOPED_TRACE(GetParam() + " step " + std::to_string(index++) + " at " + Text(st.value("at", json(0))) + " s");
    Clock::TimePoint now = kStart + std::chrono::seconds(st.value("at", int64_t{0}));
    if (instant_agents) {
      // Agents that apply what they were told and are Ready at once.
      for (auto& c : fleet.clusters) {
        auto it = last_directives.find(c.name);
        if (it == last_directives.end() || c.revision == it->second.revision) continue;
        c.revision = it->second.revision;
        c.ready_replicas = c.desired_replicas;
        c.phase = ReplicaPhase::kReady;
        c.failure_reports = 0;
        c.reason.clear();
      }
    }
    if (st.contains("observe")) {
      for (const auto& [name, obs] : st["observe"].items()) {
        ClusterObservation* c = cluster(name);
        ASSERT_NE(c, nullptr) << "observe names unknown cluster " << name;
        ApplyObservation(obs, c);
      }
    }
    if (st.contains("op")) {
      std::string op = st["op"].get<std::string>();
      StatusOr<RolloutState> next = Status::Internal("unknown op " + op);
      if (op == "approve") {
        next = Approve(state);
      } else if (op == "pause") {
        next = Pause(state);
      } else if (op == "resume") {
        next = Resume(state);
      } else if (op == "undo") {
        next = Undo(state);
      } else if (op == "retry") {
        next = Retry(state);
      }
      ASSERT_TRUE(next.ok()) << op << ": " << next.status().ToString();
      state = *next;
    }
    if (st.contains("target")) {  // the Workspace changed again
      plan.target.number = st["target"].at("number").get<int64_t>();
      plan.target.hash = st["target"].value("hash", "rev" + std::to_string(plan.target.number));
    }

    RolloutStep step = Advance(plan, state, fleet, now);
    std::string what = Describe(step);

    // Level-triggered: the same inputs again change nothing.
    RolloutStep again = Advance(plan, step.state, fleet, now);
    EXPECT_EQ(again.state, step.state) << "second call changed the state\n" << what << Describe(again);
    EXPECT_TRUE(again.events.empty()) << "second call emitted events\n" << Describe(again);
    EXPECT_EQ(again.directives, step.directives);

    // Persisted through status JSON, as the hub does.
    auto restored = RolloutStateFromJson(json::parse(RolloutStateToJson(step.state).dump()));
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    EXPECT_EQ(*restored, step.state) << RolloutStateToJson(step.state).dump(2);
    state = *restored;
    last_directives = step.directives;

    const json& expect = st.value("expect", json::object());
    if (expect.contains("phase")) {
      EXPECT_EQ(RolloutPhaseName(step.phase), Text(expect["phase"])) << what;
    }
    if (expect.contains("reason")) {
      EXPECT_EQ(step.state.reason, Text(expect["reason"])) << what;
    }
    if (expect.contains("stage")) {
      EXPECT_EQ(step.state.stage, expect["stage"].get<int>()) << what;
    }
    if (expect.contains("run")) {
      for (const auto& [name, rev] : expect["run"].items()) {
        ASSERT_TRUE(step.directives.count(name)) << "no directive for " << name << "\n" << what;
        EXPECT_EQ(step.directives.at(name).revision, rev.get<int64_t>()) << name << "\n" << what;
      }
    }
    if (expect.contains("mode")) {
      for (const auto& [name, mode] : expect["mode"].items()) {
        ASSERT_TRUE(step.directives.count(name)) << name;
        EXPECT_EQ(policies::UpdateModeName(step.directives.at(name).mode), Text(mode)) << name << "\n" << what;
      }
    }
    if (expect.contains("progress")) {
      for (const auto& [name, p] : expect["progress"].items()) {
        ASSERT_TRUE(step.state.clusters.count(name)) << "cluster " << name << " not in the rollout\n" << what;
        EXPECT_EQ(ClusterProgressName(step.state.clusters.at(name).progress), Text(p)) << name << "\n" << what;
      }
    }
    if (expect.contains("clusterReason")) {
      for (const auto& [name, prefix] : expect["clusterReason"].items()) {
        ASSERT_TRUE(step.state.clusters.count(name)) << name;
        EXPECT_EQ(step.state.clusters.at(name).reason.rfind(Text(prefix), 0), 0u)
            << name << " reason \"" << step.state.clusters.at(name).reason << "\" should start with " << Text(prefix);
      }
    }
    if (expect.contains("events")) {
      std::vector<std::string> want = expect["events"].get<std::vector<std::string>>();
      EXPECT_EQ(EventReasons(step), want) << what;
    }
    if (expect.contains("prePull")) {
      std::vector<std::string> got;
      for (const auto& p : step.pre_pulls) got.push_back(p.cluster);
      EXPECT_EQ(got, expect["prePull"].get<std::vector<std::string>>()) << what;
    }
    if (expect.contains("updating")) {
      int n = 0;
      for (const auto& [name, c] : step.state.clusters) n += c.progress == ClusterProgress::kUpdating;
      EXPECT_EQ(n, expect["updating"].get<int>()) << what;
    }
    if (expect.contains("requeueIn")) {
      ASSERT_TRUE(step.requeue_at.has_value()) << what;
      EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*step.requeue_at - now).count(),
                expect["requeueIn"].get<int64_t>());
    }
    if (expect.contains("completedRevision")) {
      EXPECT_EQ(step.completed_revision, expect["completedRevision"].get<int64_t>());
    }
    if (expect.contains("failedRevision")) {
      EXPECT_EQ(step.failed_revision, expect["failedRevision"].get<int64_t>());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rollouts, Scenario, ::testing::ValuesIn(ScenarioFiles()),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace berth::rollout
