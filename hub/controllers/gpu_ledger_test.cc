// Unit tests of the GPU ledger on data: a fleet snapshot and members' Work in, the
// reservations on the snapshot's nodes and the spare units per member and GPU shape out.
#include "hub/controllers/gpu_ledger.h"

#include <gtest/gtest.h>

#include "hub/controllers/stage_test_data.h"

namespace berth::hub {
namespace {

using namespace stage_test;  // NOLINT: shared test data

using nlohmann::json;

placement::GpuNode Node(const std::string& name, const std::string& product, int free_units,
                        const std::string& mig_profile = "") {
  placement::GpuNode n;
  n.name = name;
  n.gpu_product = product;
  n.mig_profile = mig_profile;
  n.units = 8;
  n.free_units = free_units;
  return n;
}

// Member gpu-a: n0 A100 with 4 free, n1 H100 with 8 free, n2 A100 with 8 free.
placement::FleetSnapshot Snapshot() {
  placement::FleetSnapshot s;
  placement::ClusterInventory a;
  a.name = "gpu-a";
  a.nodes = {Node("n0", "A100-80GB", 4), Node("n1", "H100-80GB", 8), Node("n2", "A100-80GB", 8)};
  placement::ClusterInventory b;
  b.name = "gpu-b";
  b.nodes = {Node("m0", "A100-80GB", 8), Node("m1", "A100-80GB", 7, "1g.10gb")};
  s.clusters = {a, b};
  return s;
}

// A Work entry of default/`name`: `replicas` × `gpus` of `product`, surging `surge` more.
json Entry(const std::string& name, int replicas, int gpus,
           const std::string& product = "A100-80GB", int surge = 0,
           const std::string& mig_profile = "") {
  json e = {{"workspace", {{"metadata", {{"name", name}, {"namespace", "default"}}}}},
            {"replicas", replicas},
            {"gpu", {{"product", product}, {"migProfile", mig_profile}, {"gpusPerReplica", gpus}}}};
  if (surge > 0) e["update"] = {{"mode", "Surge"}, {"maxSurge", surge}, {"previousRevision", 1}};
  return e;
}

std::shared_ptr<const json> Work(const std::string& member, json entries) {
  return std::make_shared<const json>(
      json{{"metadata", {{"name", member}}},
           {"spec", {{"cluster", member}, {"placementGeneration", 1}, {"workspaces", entries}}}});
}

bool Everything(const std::string&, const std::string&) { return true; }

TEST(ReserveGpus, ReplicasAndSurgeHoldUnitsOnNodesOfTheirShapeOnly) {
  placement::FleetSnapshot snapshot = Snapshot();
  // 2 replicas × 2 GPUs + a surge of 1 replica: 6 units of A100, first come first served.
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-a", Work("gpu-a", json::array({Entry("llama", 2, 2, "A100-80GB", 1)}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {}, Everything);

  const std::vector<placement::Reservation> want = {{"default/llama", "gpu-a", "n0", 4},
                                                    {"default/llama", "gpu-a", "n2", 2}};
  EXPECT_EQ(snapshot.reservations, want) << "the H100 node is not touched";
  EXPECT_EQ(ledger.reserved_by["default/llama"]["gpu-a"], 6);
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 6) << "4 + 8 free, 6 reserved";
  EXPECT_EQ(ledger.Spare("gpu-a", "H100-80GB"), 8);
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB"), 8)
      << "a member without Work keeps all its free units";
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB/1g.10gb"), 7) << "MIG slices are their own shape";
}

TEST(ReserveGpus, MigEntriesReserveSlicesOfTheirProfile) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-b", Work("gpu-b", json::array({Entry("small", 3, 1, "A100-80GB", 0, "1g.10gb")}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {}, Everything);
  const std::vector<placement::Reservation> want = {{"default/small", "gpu-b", "m1", 3}};
  EXPECT_EQ(snapshot.reservations, want);
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB/1g.10gb"), 4);
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB"), 8) << "whole GPUs are another shape";
}

TEST(ReserveGpus, EarlierEntriesTakeNodesFirstAndNothingIsOvercommitted) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-a", Work("gpu-a", json::array({Entry("first", 5, 2), Entry("second", 3, 2)}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {}, Everything);
  // first: 10 units = n0 4 + n2 6; second: 6 units, only n2's last 2 are left.
  EXPECT_EQ(ledger.reserved_by["default/first"]["gpu-a"], 10);
  EXPECT_EQ(ledger.reserved_by["default/second"]["gpu-a"], 2);
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 0);
  int total = 0;
  for (const auto& r : snapshot.reservations) total += r.units;
  EXPECT_EQ(total, 12) << "never more than the nodes have free";
}

TEST(ReserveGpus, SkipsWorkspacesFailingBack) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-a", Work("gpu-a", json::array({Entry("llama", 2, 2), Entry("mistral", 1, 1)}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {"default/llama"}, Everything);
  EXPECT_FALSE(ledger.reserved_by.count("default/llama"))
      << "decided afresh: it must not block itself";
  EXPECT_EQ(ledger.reserved_by["default/mistral"]["gpu-a"], 1);
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 11);
  for (const auto& r : snapshot.reservations) EXPECT_NE(r.workspace, "default/llama");
}

TEST(ReserveGpus, SkipsEntriesTheWorkspacesStatusDoesNotKnow) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-a", Work("gpu-a", json::array({Entry("llama", 2, 2)}))},
      {"gpu-b", Work("gpu-b", json::array({Entry("llama", 1, 2)}))}};
  std::vector<std::pair<std::string, std::string>> asked;
  GpuLedger ledger =
      ReserveGpus(snapshot, works, {}, [&asked](const std::string& key, const std::string& member) {
        asked.emplace_back(key, member);
        return member == "gpu-b";
      });
  EXPECT_EQ(ledger.reserved_by["default/llama"], (std::map<std::string, int>{{"gpu-b", 2}}));
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 12);
  const std::vector<std::pair<std::string, std::string>> want_asked = {{"default/llama", "gpu-a"},
                                                                       {"default/llama", "gpu-b"}};
  EXPECT_EQ(asked, want_asked);
}

TEST(ReserveGpus, WorkOfAMemberNotInTheSnapshotIsIgnored) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gone", Work("gone", json::array({Entry("llama", 2, 2)}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {}, Everything);
  EXPECT_TRUE(snapshot.reservations.empty());
  EXPECT_TRUE(ledger.reserved_by.empty());
}

TEST(StatusKnowsMember, PlacementsOrSupersededOrUnknownWorkspace) {
  const json ws = {{"status",
                    {{"placements", {{{"cluster", "gpu-a"}, {"replicas", 1}}}},
                     {"superseded", {{{"cluster", "gpu-b"}, {"replicas", 1}}}}}}};
  EXPECT_TRUE(StatusKnowsMember(&ws, "gpu-a"));
  EXPECT_TRUE(StatusKnowsMember(&ws, "gpu-b"));
  EXPECT_FALSE(StatusKnowsMember(&ws, "gpu-c")) << "written by a pass whose status write failed";
  const json no_status = {{"metadata", {{"name", "llama"}}}};
  EXPECT_FALSE(StatusKnowsMember(&no_status, "gpu-a"));
  EXPECT_TRUE(StatusKnowsMember(nullptr, "gpu-a")) << "unknown workspace: keep the reservation";
}

TEST(GpuLedger, SpareIsNeverNegativeAndZeroForTheUnknown) {
  GpuLedger ledger;
  ledger.spare["gpu-a"]["A100-80GB"] = -3;
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 0);
  EXPECT_EQ(ledger.Spare("gpu-a", "H100-80GB"), 0);
  EXPECT_EQ(ledger.Spare("gpu-z", "A100-80GB"), 0);
}

TEST(GpuLedger, AllocationsTakeOnlyWhatTheirReservationsDoNotCover) {
  placement::FleetSnapshot snapshot = Snapshot();
  const std::map<std::string, std::shared_ptr<const json>> works = {
      {"gpu-a", Work("gpu-a", json::array({Entry("llama", 2, 2)}))}};
  GpuLedger ledger = ReserveGpus(snapshot, works, {}, Everything);
  ASSERT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 8);

  placement::PlacementDecision grown;  // llama grows from 2 to 3 replicas on gpu-a
  grown.workspace = "default/llama";
  grown.allocations = {Alloc("gpu-a", 3, 2)};
  placement::PlacementDecision fresh;  // a new workspace, on both members
  fresh.workspace = "default/new";
  fresh.allocations = {Alloc("gpu-a", 1, 4), Alloc("gpu-b", 1, 1, "A100-80GB/1g.10gb")};
  ledger.TakeAllocations({grown, fresh});
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 8 - 2 - 4);
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB/1g.10gb"), 6);
  EXPECT_EQ(ledger.Spare("gpu-b", "A100-80GB"), 8);

  placement::PlacementDecision shrunk;  // fewer replicas than reserved: nothing given back
  shrunk.workspace = "default/llama";
  shrunk.allocations = {Alloc("gpu-a", 1, 2)};
  ledger.TakeAllocations({shrunk});
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 2);
}

TEST(GpuLedger, ASurgeHoldsItsUnits) {
  GpuLedger ledger;
  ledger.spare["gpu-a"]["A100-80GB"] = 5;
  ledger.TakeSurge("gpu-a", "A100-80GB", 2);
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 3);
  ledger.TakeSurge("gpu-a", "A100-80GB", 4);
  EXPECT_EQ(ledger.Spare("gpu-a", "A100-80GB"), 0);
  EXPECT_EQ(ledger.spare["gpu-a"]["A100-80GB"], -1) << "the ledger keeps the debt; Spare reads 0";
}

}  // namespace
}  // namespace berth::hub
