#include "gateway/route_table.h"

#include <gtest/gtest.h>

namespace berth::gateway {
namespace {

using nlohmann::json;

json Workspace(const std::string& ns, const std::string& name, json models, json endpoints) {
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "Workspace"},
          {"metadata", {{"namespace", ns}, {"name", name}, {"resourceVersion", "7"}}},
          {"status", {{"servedModels", models}, {"endpoints", endpoints}}}};
}

json Ep(const std::string& cluster, const std::string& url, const std::string& state, int weight) {
  return {{"cluster", cluster}, {"url", url},         {"state", state},
          {"weight", weight},   {"readyReplicas", 2}, {"revision", 3}};
}

TEST(DecodeWorkspace, ReadsTheEndpointContract) {
  json ws = Workspace("ml", "phi", {"phi-3-mini-4k-instruct", "my-adapter"},
                      json::array({Ep("gpu-eu-1", "http://127.0.0.1:40123", "Serving", 10)}));
  ws["status"]["endpoints"][0]["reason"] = "MemberUnhealthy";
  auto decoded = DecodeWorkspace(ws);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->namespace_name, "ml");
  EXPECT_EQ(decoded->served_models.size(), 2u);
  ASSERT_EQ(decoded->endpoints.size(), 1u);
  EXPECT_EQ(decoded->endpoints[0].state, EndpointState::kServing);
  EXPECT_EQ(decoded->endpoints[0].weight, 10);
  EXPECT_EQ(decoded->endpoints[0].ready_replicas, 2);
  EXPECT_EQ(decoded->endpoints[0].revision, 3);
  EXPECT_EQ(decoded->endpoints[0].reason, "MemberUnhealthy");
}

TEST(DecodeWorkspace, NoStatusMeansNoRoutes) {
  auto decoded = DecodeWorkspace({{"metadata", {{"name", "a"}}}});
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->namespace_name, "default");
  EXPECT_TRUE(decoded->endpoints.empty());
}

TEST(DecodeWorkspace, RejectsUnknownStateAndWeightOutOfRange) {
  auto bad_state =
      DecodeWorkspace(Workspace("ml", "a", {"m"}, json::array({Ep("c", "http://1.2.3.4:1", "Sleeping", 1)})));
  EXPECT_EQ(bad_state.status().code(), StatusCode::kInvalid);
  EXPECT_NE(bad_state.status().message().find("status.endpoints[0].state"), std::string::npos);
  auto bad_weight =
      DecodeWorkspace(Workspace("ml", "a", {"m"}, json::array({Ep("c", "http://1.2.3.4:1", "Serving", 257)})));
  EXPECT_EQ(bad_weight.status().code(), StatusCode::kInvalid);
}

TEST(DecodeEndpointsDocument, AcceptsYamlListJsonArrayAndKindList) {
  const char* yaml = R"(apiVersion: v1
kind: List
items:
- metadata: {name: phi, namespace: ml}
  status:
    servedModels: [phi]
    endpoints:
    - {cluster: c1, url: "http://127.0.0.1:9001", state: Serving, weight: 5}
)";
  auto list = DecodeEndpointsDocument(yaml);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].endpoints[0].weight, 5);
  json array = json::array({Workspace("ml", "a", {"m"}, json::array())});
  auto from_json = DecodeEndpointsDocument(array.dump());
  ASSERT_TRUE(from_json.ok());
  EXPECT_EQ(from_json->size(), 1u);
  auto empty = DecodeEndpointsDocument("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(DecodeEndpointsDocument, OneBadWorkspaceRejectsTheFile) {
  json array = json::array({Workspace("ml", "a", {"m"}, json::array()),
                            Workspace("ml", "b", {"m"}, json::array({Ep("c", "x", "Nope", 1)}))});
  auto decoded = DecodeEndpointsDocument(array.dump());
  EXPECT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("items[1]"), std::string::npos);
}

TEST(ParseEndpointUrl, HostPortForms) {
  auto a = ParseEndpointUrl("http://10.0.0.1:8000/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 8000);
  auto b = ParseEndpointUrl("http://svc.example.com");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  auto c = ParseEndpointUrl("http://[::1]:81");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_FALSE(ParseEndpointUrl("https://a:1").ok());
  EXPECT_FALSE(ParseEndpointUrl("http://a:0").ok());
  EXPECT_FALSE(ParseEndpointUrl("http://a b:1").ok());
  EXPECT_FALSE(ParseEndpointUrl("http://:1").ok());
}

TEST(ServerName, SanitizedAndCollisionFree) {
  EXPECT_EQ(ServerName("gpu-eu-1", "ml", "phi"), "gpu-eu-1_ml_phi");
  EXPECT_EQ(ServerName("a b", "ml/x", "w"), "a-b_ml-x_w");
  std::string long_name = ServerName(std::string(90, 'c'), "ml", std::string(40, 'w'));
  EXPECT_EQ(long_name.size(), 100u);
  EXPECT_NE(long_name, ServerName(std::string(90, 'c'), "ml", std::string(41, 'w')));
}

TEST(BuildRouteTable, MergesWorkspacesServingTheSameModel) {
  auto a = DecodeWorkspace(Workspace("ml", "phi-a", {"phi", "adapter"},
                                     {Ep("c1", "http://10.0.0.1:1", "Serving", 10),
                                      Ep("c2", "http://10.0.0.2:2", "Draining", 0)}));
  auto b = DecodeWorkspace(
      Workspace("team", "phi-b", {"phi"}, json::array({Ep("c1", "http://10.0.0.3:3", "Down", 0)})));
  ASSERT_TRUE(a.ok() && b.ok());
  auto build = BuildRouteTable({*a, *b});
  EXPECT_TRUE(build.problems.empty());
  ASSERT_EQ(build.routes.size(), 2u);
  const auto& phi = build.routes.at("phi");
  ASSERT_EQ(phi.servers.size(), 3u);
  EXPECT_EQ(phi.servers[0].name, "c1_ml_phi-a");
  EXPECT_EQ(phi.servers[1].name, "c1_team_phi-b");
  EXPECT_EQ(phi.servers[1].state, EndpointState::kDown);
  EXPECT_EQ(phi.servers[2].name, "c2_ml_phi-a");
  EXPECT_EQ(phi.servers[2].origin, "ml/phi-a@c2");
  EXPECT_EQ(build.routes.at("adapter").servers.size(), 2u);
}

TEST(BuildRouteTable, BadUrlsAndModelNamesAreProblemsNotRoutes) {
  auto ws = DecodeWorkspace(Workspace(
      "ml", "w", {"ok", "has space", "semi;colon"},
      {Ep("c1", "https://10.0.0.1:1", "Serving", 1), Ep("c2", "http://10.0.0.2:2", "Serving", 1),
       Ep("c2", "http://10.0.0.9:2", "Serving", 1)}));
  ASSERT_TRUE(ws.ok());
  auto build = BuildRouteTable({*ws});
  ASSERT_EQ(build.routes.size(), 1u);
  EXPECT_EQ(build.routes.at("ok").servers.size(), 1u);
  EXPECT_EQ(build.problems.size(), 4u);  // 2 model names, 1 https URL, 1 duplicate cluster
}

TEST(BuildRouteTable, ModelWithoutEndpointsIsKnown) {
  auto ws = DecodeWorkspace(Workspace("ml", "w", {"cold"}, json::array()));
  auto build = BuildRouteTable({*ws});
  ASSERT_EQ(build.routes.count("cold"), 1u);
  EXPECT_TRUE(build.routes.at("cold").servers.empty());
}

TEST(WorkspaceCache, ListThenWatchEvents) {
  WorkspaceCache cache;
  json list = {{"kind", "WorkspaceList"},
               {"metadata", {{"resourceVersion", "10"}}},
               {"items", {Workspace("ml", "a", {"m"}, json::array()), json{{"metadata", 5}}}}};
  std::vector<std::string> problems;
  auto rv = cache.ReplaceFromList(list, &problems);
  ASSERT_TRUE(rv.ok());
  EXPECT_EQ(*rv, "10");
  EXPECT_EQ(problems.size(), 1u);
  EXPECT_EQ(cache.Snapshot().size(), 1u);

  json added = Workspace("ml", "b", {"n"}, json::array({Ep("c", "http://1.1.1.1:1", "Serving", 1)}));
  added["metadata"]["resourceVersion"] = "11";
  auto r1 = cache.Apply({{"type", "ADDED"}, {"object", added}});
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(*r1, "11");
  EXPECT_EQ(cache.Snapshot().size(), 2u);
  added["status"]["endpoints"][0]["state"] = "Draining";
  added["metadata"]["resourceVersion"] = "12";
  ASSERT_TRUE(cache.Apply({{"type", "MODIFIED"}, {"object", added}}).ok());
  EXPECT_EQ(cache.Snapshot()[1].endpoints[0].state, EndpointState::kDraining);
  auto bookmark =
      cache.Apply({{"type", "BOOKMARK"}, {"object", {{"metadata", {{"resourceVersion", "20"}}}}}});
  ASSERT_TRUE(bookmark.ok());
  EXPECT_EQ(*bookmark, "20");
  ASSERT_TRUE(cache.Apply({{"type", "DELETED"}, {"object", added}}).ok());
  EXPECT_EQ(cache.Snapshot().size(), 1u);
  auto gone = cache.Apply(
      {{"type", "ERROR"}, {"object", {{"kind", "Status"}, {"code", 410}, {"message", "too old"}}}});
  EXPECT_EQ(gone.status().code(), StatusCode::kGone);
  EXPECT_EQ(cache.Apply({{"object", added}}).status().code(), StatusCode::kBadRequest);
}

}  // namespace
}  // namespace berth::gateway
