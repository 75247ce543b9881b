#include "cli/rollout_view.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

using nlohmann::json;

json RollingWorkspace() {
  return json::parse(R"({
    "metadata": {"name": "chat", "namespace": "ml"},
    "status": {
      "revisions": {"target": 2, "lastGood": 1},
      "placements": [
        {"cluster": "aks-canary", "revision": 2, "readyReplicas": 1, "replicas": 1},
        {"cluster": "gke-rest", "revision": 1, "readyReplicas": 2, "replicas": 2}
      ],
      "rollout": {
        "phase": "Progressing", "strategy": "canary-first", "stage": 0,
        "stageNames": ["canary", "rest"],
        "clusters": {
          "aks-canary": {"stage": 0, "progress": "Soaking"},
          "gke-rest": {"stage": 1, "progress": "Pending", "reason": "WaitingForStage"}
        }
      }
    }
  })");
}

// Was: the rows loop iterated .items() of a temporary that died before the body ran, so
// `berthctl rollout status` printed the header and no cluster rows.
TEST(RolloutViewTest, PrintsOneRowPerCluster) {
  const std::string out = RenderRolloutStatus(RollingWorkspace());
  EXPECT_NE(out.find("workspace ml/chat"), std::string::npos) << out;
  EXPECT_NE(out.find("CLUSTER"), std::string::npos) << out;
  EXPECT_NE(out.find("aks-canary"), std::string::npos) << out;
  EXPECT_NE(out.find("gke-rest"), std::string::npos) << out;
  // Columns of the canary row: stage, progress, revision, ready.
  const auto row = out.substr(out.find("  aks-canary"));
  EXPECT_NE(row.find("canary"), std::string::npos);
  EXPECT_NE(row.find("Soaking"), std::string::npos);
  EXPECT_NE(row.find("1/1"), std::string::npos);
  EXPECT_NE(out.find("WaitingForStage"), std::string::npos) << out;
}

TEST(RolloutViewTest, NoRolloutYetSaysSo) {
  const std::string out = RenderRolloutStatus(json::parse(R"({"metadata": {"name": "x"}})"));
  EXPECT_NE(out.find("no rollout yet"), std::string::npos) << out;
}

TEST(RolloutViewTest, MemberNeverDangles) {
  const json obj = json::parse(R"({"a": {"b": 1}, "s": "text"})");
  EXPECT_EQ(&Member(obj, "a"), &obj["a"]);
  EXPECT_TRUE(Member(obj, "s").empty());
  EXPECT_TRUE(Member(json(), "a").is_object());
}

}  // namespace
}  // namespace berth::cli
