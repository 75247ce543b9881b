#include "hub/list_snapshots.h"

#include <gtest/gtest.h>

namespace berth::hub {
namespace {

using nlohmann::json;

std::vector<std::string> Visit(const ObjectMap& current, const ListSnapshot* snap, ObjectKey from, bool inclusive) {
  std::vector<std::string> out;
  ForEachAt(current, snap, from, inclusive, [&](const ObjectKey& k, const json& v) {
    out.push_back(k.second + "=" + v.get<std::string>());
    return true;
  });
  return out;
}

TEST(ForEachAt, RecordedStatesWinOverCurrentOnes) {
  ObjectMap current = {{{"ns", "a"}, "a2"}, {{"ns", "c"}, "c1"}, {{"ns", "new"}, "n1"}};
  ListSnapshot snap;
  snap.before[{"ns", "a"}] = json("a1");   // changed since
  snap.before[{"ns", "b"}] = json("b1");   // deleted since
  snap.before[{"ns", "new"}] = std::nullopt;  // created since
  EXPECT_EQ(Visit(current, &snap, {"ns", ""}, true), (std::vector<std::string>{"a=a1", "b=b1", "c=c1"}));
  EXPECT_EQ(Visit(current, &snap, {"ns", "a"}, false), (std::vector<std::string>{"b=b1", "c=c1"}));
  EXPECT_EQ(Visit(current, nullptr, {"ns", "a"}, false), (std::vector<std::string>{"c=c1", "new=n1"}));
}

TEST(ListSnapshots, RecordsOnlyTheFirstChangeAfterEachSnapshot) {
  ListSnapshots snaps(8, 100);
  snaps.Register("things", 5);
  const json v1 = "v1", v2 = "v2";
  snaps.BeforeChange("things", {"ns", "a"}, &v1);
  snaps.Register("things", 6);
  snaps.BeforeChange("things", {"ns", "a"}, &v2);
  snaps.BeforeChange("others", {"ns", "a"}, &v2);  // no snapshot of that resource
  EXPECT_EQ(*snaps.Find("things", 5)->before.at({"ns", "a"}), v1);
  EXPECT_EQ(*snaps.Find("things", 6)->before.at({"ns", "a"}), v2);
  EXPECT_EQ(snaps.Find("others", 5), nullptr);
  snaps.Compact(6);
  EXPECT_EQ(snaps.Find("things", 5), nullptr);
  EXPECT_NE(snaps.Find("things", 6), nullptr);
}

TEST(ListSnapshots, BoundsCountAndRecordedStates) {
  ListSnapshots snaps(2, 3);
  for (int rv : {1, 2, 3}) snaps.Register("things", rv);
  EXPECT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps.Find("things", 1), nullptr) << "the oldest goes first";
  const json v = "v";
  snaps.BeforeChange("things", {"ns", "a"}, &v);  // recorded by both: 2
  auto kept = snaps.Find("things", 2);
  snaps.BeforeChange("things", {"ns", "b"}, nullptr);  // 4 > 3: the oldest is dropped
  EXPECT_EQ(snaps.Find("things", 2), nullptr);
  EXPECT_NE(snaps.Find("things", 3), nullptr);
  EXPECT_EQ(kept->before.size(), 2u) << "a reader's copy stays valid after eviction";
}

}  // namespace
}  // namespace berth::hub
