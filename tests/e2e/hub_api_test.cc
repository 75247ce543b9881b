// The hub's Kubernetes-style API, end to end: a real berth-hub process on loopback, spoken
// to over verified HTTPS with the admin kubeconfig it wrote, as kubectl or an agent would.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "api/rest_client.h"
#include "hub/pki.h"
#include "hub/sqlite_store.h"
#include "tests/support/hub_process.h"
#include "tests/support/watch_recorder.h"

namespace berth::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The *_etcd variant (BERTH_HUB_WRAPPER set: the hub runs on etcd) skips what only SQLite does.
bool HubOnEtcd() {
  const char* w = std::getenv("BERTH_HUB_WRAPPER");
  return w && *w;
}

constexpr char kWorkspaces[] = "/apis/berth.dev/v1alpha1/namespaces/default/workspaces";
constexpr char kMembers[] = "/apis/berth.dev/v1alpha1/memberclusters";
constexpr char kTableAccept[] = "application/json;as=Table;v=v1;g=meta.k8s.io";

json Workspace(const std::string& name, const json& labels = json::object()) {
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "Workspace"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"resource", {{"gpuProducts", {"A10", "L4"}}}},
          {"inference", {{"preset", {{"name", "phi-4-mini-instruct"}, {"revision", "main"}}}}},
          {"placement", {{"replicas", 3}}}};
}

json Member(const std::string& name, const json& labels = json::object(),
            const std::string& region = "eu-west") {
  return {{"apiVersion", "berth.dev/v1alpha1"},
          {"kind", "MemberCluster"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"region", region}, {"provider", "onprem"}}}};
}

int64_t Rv(const json& o) {
  return std::stoll(o["metadata"]["resourceVersion"].get<std::string>());
}
int64_t Generation(const json& o) { return o["metadata"]["generation"].get<int64_t>(); }

std::vector<std::string> Names(const json& list) {
  std::vector<std::string> out;
  for (const auto& i : list["items"]) out.push_back(i["metadata"]["name"]);
  return out;
}

// The field paths of a Kubernetes Status body's details.causes.
std::vector<std::string> CauseFields(const json& status) {
  std::vector<std::string> out;
  for (const auto& c : status.value("details", json::object()).value("causes", json::array())) {
    out.push_back(c.value("field", ""));
  }
  return out;
}

// One hub for the whole suite: starting a process per test would dominate the run time.
// Tests use distinct object names so they do not see each other's objects.
class HubApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto hub = HubProcess::Start(ApiOnly());
    if (!hub.ok()) {
      start_error_ = new std::string(hub.status().ToString());
      return;
    }
    hub_ = hub->release();
    auto client = hub_->NewClient();
    if (client.ok()) client_ = client->release();
  }
  static void TearDownTestSuite() {
    delete client_;
    delete hub_;
    delete start_error_;
    client_ = nullptr;
    hub_ = nullptr;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_NE(client_, nullptr);
  }
  RestClient& client() { return *client_; }

  // A raw request whose HTTP code the test inspects.
  HttpResponse Raw(std::string_view method, std::string_view path, const std::string& body = "",
                   std::string_view content_type = "application/json",
                   std::string_view accept = "application/json") {
    auto r = client_->Do(method, path, body, content_type, accept);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpResponse{};
  }

  static HubProcess* hub_;
  static RestClient* client_;
  static std::string* start_error_;
};
HubProcess* HubApiTest::hub_ = nullptr;
RestClient* HubApiTest::client_ = nullptr;
std::string* HubApiTest::start_error_ = nullptr;

TEST_F(HubApiTest, WorkspaceCreateGetListPatchStatusDelete) {
  auto created = client().Post(kWorkspaces, Workspace("life-ws"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], "default");
  EXPECT_FALSE((*created)["metadata"].value("uid", "").empty());
  EXPECT_EQ(Generation(*created), 1);
  EXPECT_GT(Rv(*created), 0);

  const std::string path = std::string(kWorkspaces) + "/life-ws";
  auto got = client().Get(path);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, *created);

  auto list = client().Get(kWorkspaces);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["kind"], "WorkspaceList");
  auto names = Names(*list);
  EXPECT_NE(std::find(names.begin(), names.end(), "life-ws"), names.end());
  EXPECT_GE(std::stoll((*list)["metadata"]["resourceVersion"].get<std::string>()), Rv(*created));

  // A desired-state change (merge patch) bumps generation.
  auto merged = client().Patch(path, R"({"placement":{"replicas":2}})", kMergePatch);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)["placement"]["replicas"], 2);
  EXPECT_EQ(Generation(*merged), 2);
  EXPECT_GT(Rv(*merged), Rv(*created));

  // A metadata-only change (JSON patch) does not.
  auto labelled = client().Patch(
      path, R"([{"op":"add","path":"/metadata/labels/team","value":"search"}])", kJsonPatch);
  ASSERT_TRUE(labelled.ok()) << labelled.status().ToString();
  EXPECT_EQ((*labelled)["metadata"]["labels"]["team"], "search");
  EXPECT_EQ(Generation(*labelled), 2);
  EXPECT_GT(Rv(*labelled), Rv(*merged));

  // /status writes status only: the replicas sneaked into the body are ignored.
  json with_status = *labelled;
  with_status["status"] = {{"revision", 1}, {"placements", json::array()}};
  with_status["placement"]["replicas"] = 9;
  auto status_put = client().Put(path + "/status", with_status);
  ASSERT_TRUE(status_put.ok()) << status_put.status().ToString();
  EXPECT_EQ((*status_put)["status"]["revision"], 1);
  EXPECT_EQ((*status_put)["placement"]["replicas"], 2);
  EXPECT_EQ(Generation(*status_put), 2);

  // ...and a spec write through the main resource cannot change status.
  json spec_put = *status_put;
  spec_put["status"] = {{"revision", 7}};
  spec_put["placement"]["replicas"] = 1;
  auto put = client().Put(path, spec_put);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ((*put)["status"]["revision"], 1);
  EXPECT_EQ(Generation(*put), 3);

  auto deleted = client().Delete(path);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  auto gone = client().Get(path);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();
}

TEST_F(HubApiTest, MemberClusterCreateGetPatchStatusDelete) {
  auto created = client().Post(kMembers, Member("life-mc"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_FALSE((*created)["metadata"].contains("namespace"));
  EXPECT_EQ((*created)["spec"]["region"], "eu-west");

  const std::string path = std::string(kMembers) + "/life-mc";
  auto cordoned = client().Patch(path, R"({"spec":{"cordoned":true}})", kMergePatch);
  ASSERT_TRUE(cordoned.ok()) << cordoned.status().ToString();
  EXPECT_EQ((*cordoned)["spec"]["cordoned"], true);
  EXPECT_EQ(Generation(*cordoned), 2);

  auto status = client().Patch(
      path + "/status",
      R"({"status":{"agentVersion":"0.1.0","conditions":[{"type":"Healthy","status":"True","reason":"HeartbeatFresh","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}})",
      kMergePatch);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ((*status)["status"]["agentVersion"], "0.1.0");
  EXPECT_EQ(Generation(*status), 2) << "a status write must not bump generation";
  EXPECT_GT(Rv(*status), Rv(*cordoned));

  // A JSON patch on the spec replaces the region and bumps generation again.
  auto moved = client().Patch(path, R"([{"op":"replace","path":"/spec/region","value":"us-east"}])",
                              kJsonPatch);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ((*moved)["spec"]["region"], "us-east");
  EXPECT_EQ(Generation(*moved), 3);
  EXPECT_EQ((*moved)["status"]["agentVersion"], "0.1.0");

  ASSERT_TRUE(client().Delete(path).ok());
  EXPECT_EQ(client().Get(path).status().code(), StatusCode::kNotFound);
}

TEST_F(HubApiTest, NamespacesScopeWorkspaces) {
  const std::string team_a = "/apis/berth.dev/v1alpha1/namespaces/team-a/workspaces";
  // Objects go only into namespaces that exist (404 `namespaces "team-a" not found` before).
  auto missing = Raw("POST", team_a, Workspace("scoped-ws").dump());
  EXPECT_EQ(missing.status_code, 404) << missing.body;
  EXPECT_EQ(json::parse(missing.body).value("message", ""), "namespaces \"team-a\" not found") << missing.body;
  ASSERT_TRUE(client().Post("/api/v1/namespaces", json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                      {"metadata", {{"name", "team-a"}}}}).ok());
  auto created = client().Post(team_a, Workspace("scoped-ws"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], "team-a");
  EXPECT_TRUE(client().Get(team_a + "/scoped-ws").ok());
  EXPECT_EQ(client().Get(std::string(kWorkspaces) + "/scoped-ws").status().code(),
            StatusCode::kNotFound);

  auto all =
      client().Get("/apis/berth.dev/v1alpha1/workspaces?fieldSelector=metadata.name%3Dscoped-ws");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["items"].size(), 1u);
  EXPECT_EQ((*all)["items"][0]["metadata"]["namespace"], "team-a");

  json elsewhere = Workspace("scoped-ws-2");
  elsewhere["metadata"]["namespace"] = "team-b";
  auto r = Raw("POST", team_a, elsewhere.dump());
  EXPECT_EQ(r.status_code, 400) << r.body;

  // MemberCluster is cluster-scoped: a namespaced path does not exist.
  r = Raw("GET", "/apis/berth.dev/v1alpha1/namespaces/team-a/memberclusters");
  EXPECT_EQ(r.status_code, 404) << r.body;
}

TEST_F(HubApiTest, MissingCredentialOrWrongTokenGets401) {
  auto config = hub_->AdminConfig();
  ASSERT_TRUE(config.ok());
  for (const std::string token : {"", "not-the-admin-token"}) {
    ClientConfig anonymous = *config;
    anonymous.bearer_token = token;
    auto c = RestClient::Create(anonymous);
    ASSERT_TRUE(c.ok());
    for (const char* path : {kMembers, "/metrics", "/apis"}) {
      auto r = (*c)->Do("GET", path, "", "");
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->status_code, 401) << path << " with token \"" << token << "\"";
      EXPECT_EQ(json::parse(r->body).value("reason", ""), "Unauthorized");
    }
    auto write = (*c)->Post(kMembers, Member("sneaky"));
    EXPECT_EQ(write.status().code(), StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(client().Get(std::string(kMembers) + "/sneaky").status().code(), StatusCode::kNotFound);
}

TEST_F(HubApiTest, StaleResourceVersionGets409) {
  auto created = client().Post(kMembers, Member("stale-mc"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string path = std::string(kMembers) + "/stale-mc";
  json first = *created;
  first["spec"]["zone"] = "a";
  auto updated = client().Put(path, first);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();

  json stale = *created;  // still carries the original resourceVersion
  stale["spec"]["zone"] = "b";
  auto r = Raw("PUT", path, stale.dump());
  EXPECT_EQ(r.status_code, 409) << r.body;
  EXPECT_EQ(json::parse(r.body).value("reason", ""), "Conflict");
  EXPECT_EQ(client().Put(path, stale).status().code(), StatusCode::kConflict);

  // A merge patch that names the stale version is conditional too.
  auto patch = client().Patch(path,
                              R"({"metadata":{"resourceVersion":")" + std::to_string(Rv(*created)) +
                                  R"("},"spec":{"zone":"c"}})",
                              kMergePatch);
  EXPECT_EQ(patch.status().code(), StatusCode::kConflict);
  auto now = client().Get(path);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*now)["spec"]["zone"], "a");

  // Creating the same name twice is 409 AlreadyExists.
  auto again = Raw("POST", kMembers, Member("stale-mc").dump());
  EXPECT_EQ(again.status_code, 409);
  EXPECT_EQ(json::parse(again.body).value("reason", ""), "AlreadyExists");
}

TEST_F(HubApiTest, UnknownOrBadFieldGets422NamingTheField) {
  json typo = Member("typo-mc");
  typo["spec"].erase("region");
  typo["spec"]["regoin"] = "eu-west";
  auto r = Raw("POST", kMembers, typo.dump());
  EXPECT_EQ(r.status_code, 422) << r.body;
  json status = json::parse(r.body);
  EXPECT_EQ(status.value("reason", ""), "Invalid");
  auto fields = CauseFields(status);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.regoin"), fields.end()) << r.body;

  json ws = Workspace("typo-ws");
  ws["inference"]["temprature"] = 0.5;
  r = Raw("POST", kWorkspaces, ws.dump());
  EXPECT_EQ(r.status_code, 422) << r.body;
  fields = CauseFields(json::parse(r.body));
  EXPECT_NE(std::find(fields.begin(), fields.end(), "inference.temprature"), fields.end())
      << r.body;

  // The client surfaces the same causes.
  auto via_client = client().Post(kWorkspaces, ws);
  ASSERT_EQ(via_client.status().code(), StatusCode::kInvalid);
  bool named = false;
  for (const auto& c : via_client.status().causes()) named |= c.field == "inference.temprature";
  EXPECT_TRUE(named) << via_client.status().ToString();

  // A patch that makes an existing object invalid is rejected the same way and stores nothing.
  ASSERT_TRUE(client().Post(kMembers, Member("typo-mc")).ok());
  r = Raw("PATCH", std::string(kMembers) + "/typo-mc", R"({"spec":{"heartbeatPeriodSeconds":0}})",
          kMergePatch);
  EXPECT_EQ(r.status_code, 422) << r.body;
  fields = CauseFields(json::parse(r.body));
  EXPECT_NE(std::find(fields.begin(), fields.end(), "spec.heartbeatPeriodSeconds"), fields.end())
      << r.body;
  EXPECT_FALSE((*client().Get(std::string(kMembers) + "/typo-mc"))["spec"].contains(
      "heartbeatPeriodSeconds"));
  EXPECT_EQ(client().Get(std::string(kWorkspaces) + "/typo-ws").status().code(),
            StatusCode::kNotFound);
}

TEST_F(HubApiTest, MissingObjectsAndResourcesGet404) {
  for (const std::string& path :
       {std::string(kMembers) + "/nobody", std::string(kWorkspaces) + "/nothing",
        std::string("/apis/berth.dev/v1alpha1/namespaces/default/gizmos"),
        std::string("/apis/nogroup.dev/v1/things")}) {
    auto r = Raw("GET", path);
    EXPECT_EQ(r.status_code, 404) << path << ": " << r.body;
    EXPECT_EQ(json::parse(r.body).value("reason", ""), "NotFound") << path;
  }
  EXPECT_EQ(Raw("DELETE", std::string(kMembers) + "/nobody").status_code, 404);
  EXPECT_EQ(Raw("PATCH", std::string(kMembers) + "/nobody", "{}", kMergePatch).status_code, 404);
}

TEST_F(HubApiTest, OversizedBodyGets413) {
  json big = Member("big-mc");
  big["metadata"]["annotations"] = {{"blob", std::string(2 << 20, 'x')}};
  auto r = Raw("POST", kMembers, big.dump());
  EXPECT_EQ(r.status_code, 413) << r.body.substr(0, 300);
  EXPECT_EQ(client().Get(std::string(kMembers) + "/big-mc").status().code(), StatusCode::kNotFound);
}

TEST_F(HubApiTest, WatchDeliversChangesInOrderWithTheRightTypes) {
  // resourceVersion "0" would mean "from now" (a snapshot at whatever moment the watch
  // registers), so make sure the list's version is a real one, even on a fresh hub.
  ASSERT_TRUE(client().Post(kMembers, Member("watch-seed")).ok());
  auto list = client().Get(std::string(kWorkspaces) + "?labelSelector=suite%3Dwatch");
  ASSERT_TRUE(list.ok());
  const std::string from = (*list)["metadata"]["resourceVersion"];
  WatchRecorder watch(
      client(),
      std::string(kWorkspaces) + "?watch=true&labelSelector=suite%3Dwatch&resourceVersion=" + from);
  WatchRecorder by_name(
      client(), std::string(kWorkspaces) +
                    "?watch=true&fieldSelector=metadata.name%3Dwatch-b&resourceVersion=" + from);
  const json labels = {{"suite", "watch"}};
  ASSERT_TRUE(client().Post(kWorkspaces, Workspace("watch-a", labels)).ok());
  ASSERT_TRUE(client()
                  .Patch(std::string(kWorkspaces) + "/watch-a", R"({"placement":{"replicas":1}})",
                         kMergePatch)
                  .ok());
  ASSERT_TRUE(client().Post(kWorkspaces, Workspace("watch-b", labels)).ok());
  ASSERT_TRUE(client().Post(kWorkspaces, Workspace("unwatched")).ok());  // filtered out
  ASSERT_TRUE(client().Delete(std::string(kWorkspaces) + "/watch-a").ok());

  ASSERT_TRUE(watch.WaitForCount(4, 10s)) << watch.Describe();
  auto events = watch.changes();
  ASSERT_EQ(events.size(), 4u) << watch.Describe();
  const std::vector<std::pair<std::string, std::string>> want = {
      {"ADDED", "watch-a"}, {"MODIFIED", "watch-a"}, {"ADDED", "watch-b"}, {"DELETED", "watch-a"}};
  int64_t last_rv = std::stoll(from);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(events[i]["type"], want[i].first) << i;
    EXPECT_EQ(events[i]["object"]["metadata"]["name"], want[i].second) << i;
    EXPECT_GT(Rv(events[i]["object"]), last_rv) << "resourceVersions must increase";
    last_rv = Rv(events[i]["object"]);
  }
  EXPECT_EQ(events[1]["object"]["placement"]["replicas"], 1);
  ASSERT_TRUE(client().Delete(std::string(kWorkspaces) + "/watch-b").ok());

  // The field-selected watch saw only watch-b: its creation, then its deletion.
  ASSERT_TRUE(by_name.WaitForCount(2, 10s)) << by_name.Describe();
  auto named = by_name.changes();
  ASSERT_EQ(named.size(), 2u) << by_name.Describe();
  EXPECT_EQ(named[0]["type"], "ADDED");
  EXPECT_EQ(named[1]["type"], "DELETED");
  for (const auto& e : named) EXPECT_EQ(e["object"]["metadata"]["name"], "watch-b");
  ASSERT_TRUE(client().Delete(std::string(kWorkspaces) + "/unwatched").ok());
}

TEST_F(HubApiTest, ServerSideApplyCreatesThenUpdates) {
  const std::string path = std::string(kMembers) + "/applied-mc";
  const std::string manifest =
      "apiVersion: berth.dev/v1alpha1\nkind: MemberCluster\nmetadata:\n  name: applied-mc\n"
      "spec:\n  region: eu-west\n";
  auto created = client().Apply(path, manifest, "e2e", true);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["spec"]["region"], "eu-west");
  EXPECT_EQ(Generation(*created), 1);
  auto again = client().Apply(path, manifest, "e2e", true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Rv(*again), Rv(*created)) << "re-applying the same manifest must be a no-op";
  auto changed = client().Apply(path, manifest + "  zone: b\n", "e2e", true);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ((*changed)["spec"]["zone"], "b");
  EXPECT_EQ(Generation(*changed), 2);
  auto bad = client().Apply(path, manifest + "  zoen: b\n", "e2e", true);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalid) << bad.status().ToString();
}

TEST_F(HubApiTest, WatchWithoutVersionStartsWithExistingObjectsThenBookmarks) {
  ASSERT_TRUE(client().Post(kMembers, Member("bm-one", {{"suite", "bookmark"}})).ok());
  WatchRecorder watch(client(),
                      std::string(kMembers) +
                          "?watch=true&allowWatchBookmarks=true&labelSelector=suite%3Dbookmark");
  ASSERT_TRUE(watch.WaitForCount(1, 10s)) << watch.Describe();
  EXPECT_EQ(watch.events()[0]["type"], "ADDED");
  EXPECT_EQ(watch.events()[0]["object"]["metadata"]["name"], "bm-one");
  // The hub sends a BOOKMARK on an idle stream every keep-alive interval (5 s).
  ASSERT_TRUE(watch.WaitFor(
      [](const std::vector<json>& e) {
        return std::any_of(e.begin(), e.end(),
                           [](const json& x) { return x["type"] == "BOOKMARK"; });
      },
      15s))
      << watch.Describe();
  for (const auto& e : watch.events()) {
    if (e["type"] != "BOOKMARK") continue;
    EXPECT_EQ(e["object"]["kind"], "MemberCluster");
    EXPECT_GE(Rv(e["object"]), Rv(watch.events()[0]["object"]));
  }
}

TEST_F(HubApiTest, LabelAndFieldSelectorsFilterLists) {
  ASSERT_TRUE(
      client().Post(kMembers, Member("sel-gold-1", {{"tier", "gold"}, {"suite", "sel"}})).ok());
  ASSERT_TRUE(
      client().Post(kMembers, Member("sel-gold-2", {{"tier", "gold"}, {"suite", "sel"}})).ok());
  ASSERT_TRUE(
      client().Post(kMembers, Member("sel-silver", {{"tier", "silver"}, {"suite", "sel"}})).ok());
  ASSERT_TRUE(client().Post(kMembers, Member("sel-bare", {{"suite", "sel"}})).ok());

  auto names = [&](const std::string& query) {
    auto list = client().Get(std::string(kMembers) + "?" + query);
    EXPECT_TRUE(list.ok()) << query << ": " << list.status().ToString();
    return list.ok() ? Names(*list) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("labelSelector=tier%3Dgold"), (V{"sel-gold-1", "sel-gold-2"}));
  EXPECT_EQ(names("labelSelector=suite%3Dsel%2Ctier%21%3Dgold"), (V{"sel-bare", "sel-silver"}));
  EXPECT_EQ(names("labelSelector=tier%20in%20(gold%2Csilver)"),
            (V{"sel-gold-1", "sel-gold-2", "sel-silver"}));
  EXPECT_EQ(names("labelSelector=suite%3Dsel%2C%21tier"), (V{"sel-bare"}));
  EXPECT_EQ(names("fieldSelector=metadata.name%3Dsel-silver"), (V{"sel-silver"}));
  EXPECT_EQ(names("fieldSelector=metadata.name%3Dsel-silver&labelSelector=tier%3Dgold"), V{});
  EXPECT_EQ(names("fieldSelector=metadata.name%3Dno-such"), V{});

  auto bad = Raw("GET", std::string(kMembers) + "?labelSelector=tier%20in%20gold");
  EXPECT_EQ(bad.status_code, 400) << bad.body;
  bad = Raw("GET", std::string(kMembers) + "?labelSelector=%2Ctier");
  EXPECT_EQ(bad.status_code, 400) << bad.body;
}

// Regression: "tier===" used to parse as tier == "=" and list nothing; like the Kubernetes
// API server, invalid keys and values are a 400.
TEST_F(HubApiTest, SelectorWithAnInvalidValueGets400) {
  auto bad = Raw("GET", std::string(kMembers) + "?labelSelector=tier%3D%3D%3D");
  EXPECT_EQ(bad.status_code, 400) << bad.body;
  bad = Raw("GET", std::string(kMembers) + "?labelSelector=ti%20er%3Dgold");
  EXPECT_EQ(bad.status_code, 400) << bad.body;
}

TEST_F(HubApiTest, LimitAndContinuePageThroughEveryObjectOnce) {
  std::set<std::string> want;
  for (int i = 0; i < 7; ++i) {
    std::string name = "page-" + std::to_string(i);
    ASSERT_TRUE(client().Post(kWorkspaces, Workspace(name, {{"suite", "paging"}})).ok());
    want.insert(name);
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string path = std::string(kWorkspaces) + "?labelSelector=suite%3Dpaging&limit=3";
    if (!token.empty()) path += "&continue=" + token;
    auto page = client().Get(path);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    auto names = Names(*page);
    EXPECT_LE(names.size(), 3u);
    seen.insert(seen.end(), names.begin(), names.end());
    token = (*page)["metadata"].value("continue", "");
    if (pages == 1) {
      EXPECT_FALSE(token.empty());
      EXPECT_EQ((*page)["metadata"].value("remainingItemCount", int64_t{-1}), 4);
    }
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), want);
  EXPECT_EQ(seen.size(), want.size()) << "no object may appear on two pages";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  auto bad = Raw("GET", std::string(kWorkspaces) + "?limit=2&continue=zz-not-a-token");
  EXPECT_EQ(bad.status_code, 400) << bad.body;
}

TEST_F(HubApiTest, TableOutputHasColumnsAndRows) {
  ASSERT_TRUE(client().Post(kWorkspaces, Workspace("table-ws", {{"suite", "table"}})).ok());
  auto r =
      Raw("GET", std::string(kWorkspaces) + "?labelSelector=suite%3Dtable", "", "", kTableAccept);
  ASSERT_EQ(r.status_code, 200) << r.body;
  json table = json::parse(r.body);
  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["apiVersion"], "meta.k8s.io/v1");
  ASSERT_TRUE(table["columnDefinitions"].is_array());
  std::vector<std::string> columns;
  for (const auto& c : table["columnDefinitions"]) columns.push_back(c["name"]);
  ASSERT_GE(columns.size(), 3u);
  EXPECT_EQ(columns.front(), "Name");
  EXPECT_NE(std::find(columns.begin(), columns.end(), "Model"), columns.end());
  ASSERT_EQ(table["rows"].size(), 1u);
  const json& row = table["rows"][0];
  ASSERT_EQ(row["cells"].size(), columns.size());
  EXPECT_EQ(row["cells"][0], "table-ws");
  const size_t model = std::find(columns.begin(), columns.end(), "Model") - columns.begin();
  EXPECT_EQ(row["cells"][model], "phi-4-mini-instruct");

  // A single object as a Table too (kubectl get ws NAME).
  r = Raw("GET", std::string(kWorkspaces) + "/table-ws", "", "", kTableAccept);
  ASSERT_EQ(r.status_code, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["rows"].size(), 1u);
}

TEST_F(HubApiTest, HealthReadinessAndMetricsEndpoints) {
  auto health = Raw("GET", "/healthz", "", "", "text/plain");
  EXPECT_EQ(health.status_code, 200);
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(Raw("GET", "/readyz", "", "", "text/plain").status_code, 200);

  ASSERT_TRUE(client().Get(kMembers).ok());  // at least one counted request
  auto metrics = Raw("GET", "/metrics", "", "", "text/plain");
  ASSERT_EQ(metrics.status_code, 200);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain"), std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE berth_api_requests_total counter"), std::string::npos);
  EXPECT_NE(metrics.body.find("berth_api_requests_total{"), std::string::npos);
  EXPECT_NE(metrics.body.find("verb=\"list\""), std::string::npos) << metrics.body.substr(0, 2000);
  EXPECT_NE(metrics.body.find("berth_store_revision"), std::string::npos);
}

TEST_F(HubApiTest, TlsIsVerifiedAgainstTheHubCa) {
  auto config = hub_->AdminConfig();
  ASSERT_TRUE(config.ok());

  // Another CA, minted the way the hub mints its own.
  auto other_dir = MakeTempDir("berth-other-ca");
  ASSERT_TRUE(other_dir.ok());
  HubPkiOptions pki_options;
  pki_options.data_dir = *other_dir;
  pki_options.admin_server_url = hub_->url();
  auto other = EnsureHubPki(pki_options);
  std::filesystem::remove_all(*other_dir);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_NE(other->ca_pem, config->ca_pem);

  ClientConfig wrong_ca = *config;
  wrong_ca.ca_pem = other->ca_pem;
  auto c = RestClient::Create(wrong_ca);
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Get(kMembers);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();

  // The system trust store does not know the hub's private CA either.
  ClientConfig system_ca = *config;
  system_ca.ca_pem.clear();
  c = RestClient::Create(system_ca);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Get(kMembers).status().code(), StatusCode::kUnavailable);

  // The hub's own CA works, under both names in the serving certificate.
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    ClientConfig right = *config;
    right.server = "https://" + host + ":" + std::to_string(hub_->port());
    c = RestClient::Create(right);
    ASSERT_TRUE(c.ok());
    auto ok = (*c)->Get(kMembers);
    EXPECT_TRUE(ok.ok()) << host << ": " << ok.status().ToString();
  }
}

// --- Suites that need a hub of their own (restarts, a pre-filled store).

TEST(HubRestartTest, WatchResumedAfterRestartGetsExactlyTheMissedEvents) {
  if (HubOnEtcd()) {
    GTEST_SKIP() << "SQLite keeps the watch log across restarts; on etcd a restarted hub serves watches from "
                    "its start on, as kube-apiserver's watch cache does (docs/OPERATIONS.md, the store on etcd)";
  }
  auto started = HubProcess::Start(ApiOnly());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  HubProcess& hub = **started;
  auto client = hub.NewClient();
  ASSERT_TRUE(client.ok());
  const std::string sel = "labelSelector=suite%3Dresume";
  const json labels = {{"suite", "resume"}};

  // Seen live: the watcher stops after these, at resourceVersion `seen`.
  ASSERT_TRUE((*client)->Post(kMembers, Member("r-a", labels)).ok());
  auto b = (*client)->Post(kMembers, Member("r-b", labels));
  ASSERT_TRUE(b.ok());
  const int64_t seen = Rv(*b);
  {
    WatchRecorder live(**client, std::string(kMembers) + "?watch=true&" + sel);
    ASSERT_TRUE(live.WaitForCount(2, 10s)) << live.Describe();
  }

  // Missed: one write before a crash, three after the restart.
  ASSERT_TRUE((*client)
                  ->Patch(std::string(kMembers) + "/r-a", R"({"spec":{"zone":"z1"}})", kMergePatch)
                  .ok());
  ASSERT_TRUE((*client)->Post(kMembers, Member("unrelated")).ok());
  // A watch open at the crash must end with an error promptly, so agents re-watch.
  WatchRecorder doomed(**client, std::string(kMembers) + "?watch=true&" + sel +
                                     "&resourceVersion=" + std::to_string(seen));
  ASSERT_TRUE(doomed.WaitForCount(1, 10s)) << doomed.Describe();
  hub.Kill();
  auto ended = doomed.WaitForEnd(10s);
  ASSERT_TRUE(ended.has_value()) << "the watch outlived the hub: " << doomed.Describe();
  EXPECT_FALSE(ended->ok()) << "a watch cut by a crash must not look like a clean end";
  ASSERT_TRUE(hub.Restart().ok()) << hub.log_tail();
  client = hub.NewClient();
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Post(kMembers, Member("r-c", labels)).ok());
  ASSERT_TRUE((*client)->Delete(std::string(kMembers) + "/r-b").ok());
  ASSERT_TRUE((*client)
                  ->Patch(std::string(kMembers) + "/r-c", R"({"metadata":{"labels":{"x":"1"}}})",
                          kMergePatch)
                  .ok());

  WatchRecorder resumed(**client, std::string(kMembers) + "?watch=true&" + sel +
                                      "&resourceVersion=" + std::to_string(seen));
  ASSERT_TRUE(resumed.WaitForCount(4, 10s)) << resumed.Describe();
  // A sentinel written now must be the very next event: nothing else was pending.
  ASSERT_TRUE((*client)->Post(kMembers, Member("r-sentinel", labels)).ok());
  ASSERT_TRUE(resumed.WaitFor(
      [](const std::vector<json>& e) {
        return !e.empty() && e.back()["object"]["metadata"]["name"] == "r-sentinel";
      },
      10s))
      << resumed.Describe();
  auto events = resumed.changes();
  const std::vector<std::pair<std::string, std::string>> want = {{"MODIFIED", "r-a"},
                                                                 {"ADDED", "r-c"},
                                                                 {"DELETED", "r-b"},
                                                                 {"MODIFIED", "r-c"},
                                                                 {"ADDED", "r-sentinel"}};
  ASSERT_EQ(events.size(), want.size()) << resumed.Describe();
  int64_t last = seen;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(events[i]["type"], want[i].first) << resumed.Describe();
    EXPECT_EQ(events[i]["object"]["metadata"]["name"], want[i].second) << resumed.Describe();
    EXPECT_GT(Rv(events[i]["object"]), last);
    last = Rv(events[i]["object"]);
  }
  EXPECT_EQ(events[0]["object"]["spec"]["zone"], "z1");
}

TEST(HubRestartTest, SigtermStopsCleanlyAndABusyPortIsReported) {
  auto started = HubProcess::Start(ApiOnly());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  HubProcess& hub = **started;
  auto client = hub.NewClient();
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Post(kMembers, Member("kept")).ok());

  // A second hub on the same port fails fast and says why.
  HubProcessOptions same_port = ApiOnly();
  same_port.port = hub.port();
  auto clash = HubProcess::Start(same_port);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("exited before it was ready"), std::string::npos)
      << clash.status().ToString();
  EXPECT_NE(clash.status().message().find("port"), std::string::npos) << clash.status().ToString();

  auto code = hub.Terminate(10s);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << "SIGTERM must shut the hub down cleanly; log:\n" << hub.log_tail();
  EXPECT_NE(hub.log_tail().find("stopped"), std::string::npos) << hub.log_tail();
  ASSERT_TRUE(hub.Restart().ok()) << hub.log_tail();
  client = hub.NewClient();
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Get(std::string(kMembers) + "/kept").ok());
}

TEST(HubCompactionTest, WatchFromACompactedRevisionGets410) {
  if (HubOnEtcd()) GTEST_SKIP() << "fills a SQLite file in-process; etcd's compaction has hub_etcd_store_test";
  // Writing 20,000+ events over HTTPS would take long on 2 shared cores, so the store is
  // filled in-process first (the same SQLite file the hub opens), then served by a real hub.
  auto dir = MakeTempDir("berth-compact");
  ASSERT_TRUE(dir.ok());
  const std::string data_dir = *dir + "/data";
  std::filesystem::create_directories(data_dir);
  {
    hub::SqliteStoreOptions options;
    options.path = data_dir + "/berth.db";
    auto store = hub::OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const int writes = static_cast<int>(options.event_window) + 500;
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, failed = 0;
    for (int i = 0; i < writes; ++i) {
      json obj = Member("churn");
      obj["metadata"]["uid"] = "churn-uid";
      obj["metadata"]["generation"] = 1;
      obj["spec"]["zone"] = "z" + std::to_string(i);
      (*store)->Submit({{"memberclusters.berth.dev", "", "churn"},
                        [obj](const json*) -> StatusOr<std::optional<json>> {
                          return std::optional<json>(obj);
                        }},
                       [&](StatusOr<json> r) {
                         std::lock_guard<std::mutex> lock(mu);
                         ++done;
                         failed += r.ok() ? 0 : 1;
                         cv.notify_all();
                       });
    }
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done == writes; }));
    ASSERT_EQ(failed, 0);
    ASSERT_GT((*store)->CompactedRevision(), 100);
  }

  HubProcessOptions options = ApiOnly();
  options.data_dir = data_dir;
  auto started = HubProcess::Start(options);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto client = (*started)->NewClient();
  ASSERT_TRUE(client.ok());
  auto churn = (*client)->Get(std::string(kMembers) + "/churn");
  ASSERT_TRUE(churn.ok()) << churn.status().ToString();
  const int64_t latest = Rv(*churn);

  auto r = (*client)->Do("GET", std::string(kMembers) + "?watch=true&resourceVersion=100", "", "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status_code, 410) << r->body;
  EXPECT_EQ(json::parse(r->body).value("reason", ""), "Expired");

  // A watch from a retained revision replays what followed it.
  WatchRecorder recent(**client, std::string(kMembers) +
                                     "?watch=true&resourceVersion=" + std::to_string(latest - 2));
  ASSERT_TRUE(recent.WaitForCount(2, 10s)) << recent.Describe();
  EXPECT_EQ(Rv(recent.changes().back()["object"]), latest);
  started->reset();
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace berth::testing
