// The runtime plan, data first: observed HAProxy state + desired routes → commands.
#include "gateway/runtime_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

PlanOptions Options(int slots = 3) {
  PlanOptions o;
  for (int i = 0; i < slots; ++i) o.slots.push_back("slot_" + std::to_string(i));
  o.map_file = "/s/models.map";
  o.check_interval_ms = 1000;
  o.check_fall = 2;
  o.check_rise = 1;
  return o;
}

UpstreamServer Server(const std::string& name, int port, EndpointState state, int weight,
                      const std::string& host = "10.0.0.1") {
  return {name, host, port, state, weight, "ml/" + name};
}

ObservedServer Seen(const std::string& name, int port, int admin, int weight, int used = 0,
                    const std::string& addr = "10.0.0.1") {
  ObservedServer s;
  s.name = name;
  s.addr = addr;
  s.port = port;
  s.op_state = 2;
  s.admin_state = admin;
  s.weight = weight;
  s.check_state = 6;
  s.used_connections = used;
  return s;
}

RouteTable Routes(std::initializer_list<ModelRoute> routes) {
  RouteTable t;
  for (const auto& r : routes) t[r.model] = r;
  return t;
}

std::vector<std::string> Texts(const RuntimePlan& plan) {
  std::vector<std::string> out;
  for (const auto& c : plan.commands) out.push_back(c.text);
  return out;
}

constexpr auto kServing = EndpointState::kServing;
constexpr auto kDraining = EndpointState::kDraining;
constexpr auto kDown = EndpointState::kDown;

TEST(PlanRuntime, NewModelTakesAFreeSlotAndItsServersComeFirst) {
  ObservedHaproxy seen;
  auto plan = PlanRuntime(
      seen, Routes({{"phi", {Server("a", 1, kServing, 10), Server("b", 2, kDown, 0)}}}), Options());
  EXPECT_THAT(
      Texts(plan),
      ElementsAre("add server slot_0/a 10.0.0.1:1 weight 10 check inter 1000ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
                  "enable health slot_0/a", "enable server slot_0/a",
                  "add server slot_0/b 10.0.0.1:2 weight 0 check inter 1000ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
                  "enable health slot_0/b",  // Down: stays in maint
                  "add map /s/models.map phi slot_0"));
  EXPECT_EQ(plan.model_backends.at("phi"), "slot_0");
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(PlanRuntime, ConvergedStateNeedsNoCommand) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_1";
  seen.backends["slot_1"]["a"] = Seen("a", 1, 0, 10);
  seen.backends["slot_1"]["d"] = Seen("d", 2, kAdminForcedDrain, 7);
  seen.backends["slot_1"]["m"] = Seen("m", 3, kAdminForcedMaint, 7);
  auto plan = PlanRuntime(seen,
                          Routes({{"phi",
                                   {Server("a", 1, kServing, 10), Server("d", 2, kDraining, 0),
                                    Server("m", 3, kDown, 0)}}}),
                          Options());
  EXPECT_THAT(Texts(plan), IsEmpty());
  EXPECT_FALSE(plan.removals_pending);
  EXPECT_EQ(plan.model_backends.at("phi"), "slot_1");
}

TEST(PlanRuntime, ReweightDrainMaintAndBackToReady) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  seen.backends["slot_0"]["b"] = Seen("b", 2, 0, 10);
  seen.backends["slot_0"]["c"] = Seen("c", 3, 0, 10);
  seen.backends["slot_0"]["d"] = Seen("d", 4, kAdminForcedMaint, 10);
  auto plan = PlanRuntime(seen,
                          Routes({{"phi",
                                   {Server("a", 1, kServing, 30), Server("b", 2, kDraining, 0),
                                    Server("c", 3, kDown, 0), Server("d", 4, kServing, 10)}}}),
                          Options());
  // Gains first (weight, back to ready), then losses (drain, maint).
  EXPECT_THAT(Texts(plan),
              ElementsAre("set server slot_0/a weight 30", "set server slot_0/d state ready",
                          "set server slot_0/b state drain", "set server slot_0/c state maint"));
}

TEST(PlanRuntime, ServingWithWeightZeroDrains) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  auto plan = PlanRuntime(seen, Routes({{"phi", {Server("a", 1, kServing, 0)}}}), Options());
  EXPECT_THAT(Texts(plan), ElementsAre("set server slot_0/a state drain"));
}

TEST(PlanRuntime, AddressChangeOfTheSameEndpoint) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  auto plan =
      PlanRuntime(seen, Routes({{"phi", {Server("a", 9, kServing, 10, "10.0.0.7")}}}), Options());
  EXPECT_THAT(Texts(plan), ElementsAre("set server slot_0/a addr 10.0.0.7 port 9"));
}

TEST(PlanRuntime, HealthChecksReenabledWhenOff) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  seen.backends["slot_0"]["a"].check_state = 2;
  auto plan = PlanRuntime(seen, Routes({{"phi", {Server("a", 1, kServing, 10)}}}), Options());
  EXPECT_THAT(Texts(plan), ElementsAre("enable health slot_0/a"));
}

TEST(PlanRuntime, RemovedServerGoesToMaintThenIsDeletedOnceIdle) {
  ObservedHaproxy seen;
  seen.model_map["phi"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  seen.backends["slot_0"]["gone"] = Seen("gone", 2, 0, 10);
  RouteTable want = Routes({{"phi", {Server("a", 1, kServing, 10)}}});
  auto first = PlanRuntime(seen, want, Options());
  EXPECT_THAT(Texts(first), ElementsAre("set server slot_0/gone state maint"));
  EXPECT_TRUE(first.removals_pending);

  seen.backends["slot_0"]["gone"] = Seen("gone", 2, kAdminForcedMaint, 10, /*used=*/2);
  auto busy = PlanRuntime(seen, want, Options());
  EXPECT_THAT(Texts(busy), IsEmpty());
  EXPECT_TRUE(busy.removals_pending);

  seen.backends["slot_0"]["gone"].used_connections = 0;
  auto idle = PlanRuntime(seen, want, Options());
  EXPECT_THAT(Texts(idle), ElementsAre("del server slot_0/gone"));
  EXPECT_FALSE(idle.removals_pending);
}

TEST(PlanRuntime, ModelGoneUnmapsThenEmptiesItsSlot) {
  ObservedHaproxy seen;
  seen.model_map["old"] = "slot_0";
  seen.backends["slot_0"]["a"] = Seen("a", 1, 0, 10);
  auto plan = PlanRuntime(seen, RouteTable{}, Options());
  EXPECT_THAT(Texts(plan),
              ElementsAre("del map /s/models.map old", "set server slot_0/a state maint"));
  EXPECT_TRUE(plan.model_backends.empty());
}

TEST(PlanRuntime, SlotStillDrainingIsNotReusedByANewModel) {
  ObservedHaproxy seen;  // slot_0 lost its model but still holds a server
  seen.backends["slot_0"]["a"] = Seen("a", 1, kAdminForcedMaint, 10, 1);
  auto plan = PlanRuntime(seen, Routes({{"new", {Server("n", 5, kServing, 1)}}}), Options());
  EXPECT_EQ(plan.model_backends.at("new"), "slot_1");
  EXPECT_TRUE(plan.removals_pending);
}

TEST(PlanRuntime, SlotExhaustionMapsTheModelTo503AndSaysSo) {
  ObservedHaproxy seen;
  seen.model_map["a"] = "slot_0";
  seen.backends["slot_0"]["x"] = Seen("x", 1, 0, 1);
  auto plan = PlanRuntime(
      seen, Routes({{"a", {Server("x", 1, kServing, 1)}}, {"b", {Server("y", 2, kServing, 1)}}}),
      Options(1));
  EXPECT_THAT(Texts(plan), ElementsAre("add map /s/models.map b berth_no_slot"));
  ASSERT_EQ(plan.errors.size(), 1u);
  EXPECT_NE(plan.errors[0].find("no free backend slot for model b"), std::string::npos);
  EXPECT_NE(plan.errors[0].find("--backend-slots"), std::string::npos);
  EXPECT_EQ(plan.model_backends.at("b"), "berth_no_slot");
}

TEST(PlanRuntime, ModelWithoutSlotGetsOneWhenFreed) {
  ObservedHaproxy seen;
  seen.model_map["b"] = "berth_no_slot";
  auto plan = PlanRuntime(seen, Routes({{"b", {Server("y", 2, kServing, 4)}}}), Options(1));
  EXPECT_THAT(
      Texts(plan),
      ElementsAre("add server slot_0/y 10.0.0.1:2 weight 4 check inter 1000ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
                  "enable health slot_0/y", "enable server slot_0/y",
                  "set map /s/models.map b slot_0"));
  EXPECT_THAT(plan.errors, IsEmpty());
}

TEST(PlanRuntime, TwoModelsOnOneSlotAreSeparated) {
  ObservedHaproxy seen;  // e.g. after a hand edit: both point at slot_0
  seen.model_map["a"] = "slot_0";
  seen.model_map["b"] = "slot_0";
  auto plan = PlanRuntime(seen, Routes({{"a", {}}, {"b", {}}}), Options());
  EXPECT_EQ(plan.model_backends.at("a"), "slot_0");
  EXPECT_EQ(plan.model_backends.at("b"), "slot_1");
  EXPECT_THAT(Texts(plan), ElementsAre("set map /s/models.map b slot_1"));
}

TEST(PlanRuntime, ServersOutsideAnyModelAreRemoved) {
  ObservedHaproxy seen;
  seen.backends["slot_2"]["stray"] = Seen("stray", 1, kAdminForcedMaint, 1, -1);
  auto plan = PlanRuntime(seen, RouteTable{}, Options());
  EXPECT_THAT(Texts(plan),
              ElementsAre("del server slot_2/stray"));  // connections unknown: HAProxy decides
}

TEST(PlanRuntime, AddingDrainingServerLeavesItDraining) {
  auto plan =
      PlanRuntime(ObservedHaproxy{}, Routes({{"m", {Server("a", 1, kDraining, 0)}}}), Options());
  EXPECT_THAT(
      Texts(plan),
      ElementsAre("add server slot_0/a 10.0.0.1:1 weight 0 check inter 1000ms fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down",
                  "enable health slot_0/a", "set server slot_0/a state drain",
                  "add map /s/models.map m slot_0"));
}

}  // namespace
}  // namespace berth::gateway
