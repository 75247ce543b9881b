// Membership::Join against an in-process store: which member a bootstrap token may join as
// (its binding, the member's health, --rejoin), that a refused join changes nothing, and the
// Events every join leaves. Time is a FakeClock; nothing sleeps.
#include "hub/membership.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "api/object.h"
#include "hub/pki.h"
#include "hub/sqlite_store.h"
#include "hub/store_fixture.h"
#include "kinds/berth_kinds.h"

namespace berth::hub {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class MembershipTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    membership_ = std::make_unique<Membership>(*objects_, registry_, auth_, clock_);
    ASSERT_TRUE(membership_->Start().ok());
  }
  void TearDown() override {
    membership_.reset();
    StoreFixture::TearDown();
  }

  // No wait for the store in Wait: the reply to a join comes only after its writes (its
  // Event, a given-back token) are committed, which is what the tests check.

  // Creates a BootstrapToken as `berthctl token create` does, with `binding` merged into its
  // spec; returns the create's result.
  StatusOr<json> CreateTokenObject(const std::string& id, const json& binding) {
    json token = {{"apiVersion", api::kApiVersion},
                  {"kind", "BootstrapToken"},
                  {"metadata", {{"name", id}}},
                  {"spec",
                   {{"secretHash", Sha256Hex(Secret(id))},
                    {"expiration", FormatRfc3339(clock_.Now() + std::chrono::hours(1))}}}};
    token["spec"].update(binding);
    return Wait(
        [&](ObjectCallback cb) { objects_->Create(Kind("BootstrapToken"), "", token, {}, cb); });
  }
  // As above; returns the bearer token "<id>.<secret>".
  std::string CreateToken(const std::string& id, const json& binding = json::object()) {
    auto r = CreateTokenObject(id, binding);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return id + "." + Secret(id);
  }
  static std::string Secret(const std::string& id) { return "secret-of-" + id + "-0123456789"; }

  StatusOr<json> Join(const std::string& token, const std::string& cluster,
                      json body = json::object()) {
    body["clusterName"] = cluster;
    std::promise<StatusOr<json>> p;
    membership_->Join("Bearer " + token, body,
                      [&](StatusOr<json> r) { p.set_value(std::move(r)); });
    // No wait for the store here: the reply comes only after the join's writes (its Event,
    // a given-back token) are committed, which is what the tests check.
    return p.get_future().get();
  }
  // Joins and returns the member credential.
  std::string Joined(const std::string& token, const std::string& cluster) {
    auto r = Join(token, cluster);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? (*r)["token"].get<std::string>() : "";
  }
  // The member's agent renews its Lease now.
  void Renew(const std::string& cluster) {
    const std::string patch = json{{"spec", {{"renewTime", FormatRfc3339(clock_.Now())}}}}.dump();
    auto r = Wait([&](ObjectCallback cb) {
      objects_->Patch(Kind("Lease"), "", cluster, PatchType::kMerge, patch, {}, cb);
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  json Stored(const char* kind, const std::string& name, const std::string& ns = "",
              const char* api_version = api::kApiVersion) {
    auto r = store_->Get({Kind(kind, api_version).resource(), ns, name});
    return r.ok() ? *r : json();
  }
  std::vector<json> EventsAbout(const std::string& cluster) {
    std::vector<json> out;
    auto list = store_->List(Kind("Event", "v1").resource(), {});
    EXPECT_TRUE(list.ok());
    for (const auto& e : list->items) {
      if (api::JsonPathGet(e, "involvedObject.name") == cluster) out.push_back(e);
    }
    return out;
  }
  // The one Event about `cluster` with this reason (null if none).
  json EventFor(const std::string& cluster, const std::string& reason) {
    json found;
    for (const auto& e : EventsAbout(cluster)) {
      if (e["reason"] == reason) {
        EXPECT_TRUE(found.is_null()) << "two " << reason << " events about " << cluster;
        found = e;
      }
    }
    return found;
  }
  bool Authenticates(const std::string& credential) {
    return auth_.Authenticate("Bearer " + credential).ok();
  }

  TokenAuthenticator auth_;
  std::unique_ptr<Membership> membership_;
};

TEST_F(MembershipTest, ABoundTokenJoinsItsNameAndTheEventNamesTheToken) {
  const std::string token = CreateToken("tok1", {{"clusterName", "gpu-a"}});
  const std::string credential = Joined(token, "gpu-a");
  EXPECT_TRUE(Authenticates(credential));
  EXPECT_EQ(Stored("BootstrapToken", "tok1")["status"]["usedBy"], "gpu-a");
  auto events = EventsAbout("gpu-a");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["reason"], "MemberJoined");
  EXPECT_EQ(events[0]["type"], "Normal");
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "MemberCluster");
  EXPECT_EQ(events[0]["involvedObject"]["uid"],
            Stored("MemberCluster", "gpu-a")["metadata"]["uid"]);
  const std::string message = events[0]["message"];
  EXPECT_NE(message.find("\"tok1\""), std::string::npos) << message;
  EXPECT_NE(message.find("bound to cluster \"gpu-a\""), std::string::npos) << message;
  EXPECT_EQ(message.find(Secret("tok1")), std::string::npos) << "never the secret: " << message;
}

TEST_F(MembershipTest, ABoundTokenIsRefusedForAnotherNameAndStaysUnused) {
  const std::string token = CreateToken("tok1", {{"clusterName", "gpu-a"}});
  auto r = Join(token, "gpu-b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
  EXPECT_NE(r.status().message().find("bound to cluster \"gpu-a\""), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(Stored("MemberCluster", "gpu-b").is_null());
  EXPECT_TRUE(Stored("Lease", "gpu-b").is_null());
  EXPECT_FALSE(Stored("BootstrapToken", "tok1").contains("status"))
      << "a refused join spends nothing";
  EXPECT_TRUE(EventsAbout("gpu-b").empty()) << "no member, nothing to record an event on";
  // The token still works for its own name.
  Joined(token, "gpu-a");
}

TEST_F(MembershipTest, APatternTokenJoinsAMatchingNameOnly) {
  const std::string token = CreateToken("tokp", {{"clusterNamePattern", "gpu-east-*"}});
  auto r = Join(token, "gpu-west-1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
  EXPECT_NE(r.status().message().find("matching \"gpu-east-*\""), std::string::npos)
      << r.status().message();
  Joined(token, "gpu-east-1");
  EXPECT_EQ(Stored("BootstrapToken", "tokp")["status"]["usedBy"], "gpu-east-1");
}

TEST_F(MembershipTest, AnUnboundTokenCannotJoinAsAnExistingMember) {
  const std::string owner = Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  const json before = Stored("MemberCluster", "gpu-a");
  // Even a member that is not healthy (its agent never renewed its lease).
  const std::string unbound = CreateToken("tok2");
  auto r = Join(unbound, "gpu-a", {{"labels", {{"tier", "gold"}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
  EXPECT_NE(r.status().message().find("may only join as a new member"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("berthctl token create --cluster gpu-a"), std::string::npos);
  // Nothing changed: the member (labels, credential), the owner's access, the token.
  EXPECT_EQ(Stored("MemberCluster", "gpu-a"), before);
  EXPECT_TRUE(Authenticates(owner));
  EXPECT_FALSE(Stored("BootstrapToken", "tok2").contains("status"));
  EXPECT_EQ(EventsAbout("gpu-a").size(), 2u);
  json refused = EventFor("gpu-a", "JoinRefused");
  ASSERT_FALSE(refused.is_null());
  EXPECT_EQ(refused["type"], "Warning");
  EXPECT_NE(refused["message"].get<std::string>().find("\"tok2\""), std::string::npos)
      << refused["message"];
  // Unbound tokens still join new names (older scripts keep working).
  Joined(unbound, "gpu-new");
}

TEST_F(MembershipTest, ABoundTokenWithoutRejoinIsRefusedForAHealthyMember) {
  const std::string owner = Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  Renew("gpu-a");
  const std::string token = CreateToken("tok2", {{"clusterName", "gpu-a"}});
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = Join(token, "gpu-a");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
    EXPECT_NE(r.status().message().find("--rejoin"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("is healthy"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(Authenticates(owner));
  EXPECT_FALSE(Stored("BootstrapToken", "tok2").contains("status"));
  // Three refusals, one Event counted three times: retries cannot grow the event log.
  EXPECT_EQ(EventsAbout("gpu-a").size(), 2u);
  EXPECT_EQ(EventFor("gpu-a", "JoinRefused")["count"], 3);
}

TEST_F(MembershipTest, ARejoinTokenTakesOverAHealthyMemberAndRevokesTheOldCredential) {
  const std::string old_credential =
      Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  Renew("gpu-a");
  const std::string token = CreateToken("tok2", {{"clusterName", "gpu-a"}, {"allowRejoin", true}});
  const std::string new_credential = Joined(token, "gpu-a");
  EXPECT_FALSE(Authenticates(old_credential)) << "the replaced agent is locked out";
  EXPECT_TRUE(Authenticates(new_credential));
  EXPECT_EQ(EventsAbout("gpu-a").size(), 2u);
  json rejoined = EventFor("gpu-a", "MemberRejoined");
  ASSERT_FALSE(rejoined.is_null());
  const std::string message = rejoined["message"];
  EXPECT_NE(message.find("\"tok2\""), std::string::npos) << message;
  EXPECT_NE(message.find("rejoin allowed"), std::string::npos) << message;
  EXPECT_NE(message.find("was healthy"), std::string::npos) << message;
  EXPECT_NE(message.find("revoked"), std::string::npos) << message;
}

TEST_F(MembershipTest, ABoundTokenRejoinsAMemberWhoseAgentStoppedRenewing) {
  const std::string old_credential =
      Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  Renew("gpu-a");
  clock_.Advance(seconds(15));  // 3 missed heartbeats of 5 s
  const std::string new_credential =
      Joined(CreateToken("tok2", {{"clusterName", "gpu-a"}}), "gpu-a");
  EXPECT_FALSE(Authenticates(old_credential));
  EXPECT_TRUE(Authenticates(new_credential));
  json rejoined = EventFor("gpu-a", "MemberRejoined");
  ASSERT_FALSE(rejoined.is_null());
  EXPECT_NE(rejoined["message"].get<std::string>().find("was not healthy"), std::string::npos)
      << rejoined["message"];
}

TEST_F(MembershipTest, ABoundTokenJoinsAMemberAnAdminCreatedAhead) {
  auto r = Wait([&](ObjectCallback cb) {
    objects_->Create(Kind("MemberCluster"), "",
                     {{"apiVersion", api::kApiVersion},
                      {"kind", "MemberCluster"},
                      {"metadata", {{"name", "gpu-a"}, {"labels", {{"team", "ml"}}}}},
                      {"spec", json::object()}},
                     {}, cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Join(CreateToken("tok0"), "gpu-a").status().code(), StatusCode::kForbidden);
  Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  EXPECT_EQ(Stored("MemberCluster", "gpu-a")["metadata"]["labels"]["team"], "ml");
}

TEST_F(MembershipTest, InvalidTokensRecordNoEvents) {
  Joined(CreateToken("tok1", {{"clusterName", "gpu-a"}}), "gpu-a");
  CreateToken("tok2", {{"clusterName", "gpu-a"}});
  EXPECT_EQ(Join("tok2.wrongsecret", "gpu-a").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Join("nosuch.secret", "gpu-a").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Join("tok1." + Secret("tok1"), "gpu-a").status().code(), StatusCode::kUnauthenticated)
      << "already used";
  EXPECT_EQ(EventsAbout("gpu-a").size(), 1u) << "only the MemberJoined";
}

TEST_F(MembershipTest, ABadBodySpendsNoToken) {
  const std::string token = CreateToken("tok1", {{"clusterName", "gpu-a"}});
  auto r = Join(token, "gpu-a", {{"taints", {{{"key", "k"}, {"effect", "Sometimes"}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalid);
  EXPECT_FALSE(Stored("BootstrapToken", "tok1").contains("status"));
  Joined(token, "gpu-a");
}

// The decision is taken again when the member is written: a member that appears between the
// check and the write (here: an admin creates it) refuses the join, and the spent token is
// given back, so the refusal still changes nothing.
TEST_F(MembershipTest, AMemberThatAppearsDuringTheJoinIsCheckedAgainAndTheTokenGivenBack) {
  const std::string token = CreateToken("tok1");
  // Hold the store's writer so the join's writes queue behind the admin's create.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  store_->Submit({{"barriers", "", "hold"},
                  [released](const json*) -> StatusOr<std::optional<json>> {
                    released.wait();
                    return Status::NotFound("hold");
                  }},
                 [](StatusOr<json>) {});
  std::promise<StatusOr<json>> joined, created;
  membership_->Join("Bearer " + token, {{"clusterName", "gpu-a"}},
                    [&](StatusOr<json> r) { joined.set_value(std::move(r)); });
  objects_->Create(Kind("MemberCluster"), "",
                   {{"apiVersion", api::kApiVersion},
                    {"kind", "MemberCluster"},
                    {"metadata", {{"name", "gpu-a"}}},
                    {"spec", json::object()}},
                   {}, [&](StatusOr<json> r) { created.set_value(std::move(r)); });
  release.set_value();
  auto r = joined.get_future().get();
  ASSERT_TRUE(created.get_future().get().ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
  EXPECT_NE(r.status().message().find("may only join as a new member"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(Stored("BootstrapToken", "tok1").contains("status")) << "the token is given back";
  EXPECT_TRUE(api::JsonPathGet(Stored("MemberCluster", "gpu-a"), "metadata.annotations").is_null());
  Joined(token, "gpu-b");
}

TEST_F(MembershipTest, TheBindingIsValidatedWithFieldPaths) {
  auto field_of = [](const StatusOr<json>& r) {
    return r.ok() || r.status().causes().empty() ? std::string() : r.status().causes()[0].field;
  };
  auto both =
      CreateTokenObject("bad1", {{"clusterName", "gpu-a"}, {"clusterNamePattern", "gpu-*"}});
  EXPECT_EQ(both.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(field_of(both), "spec.clusterNamePattern");
  auto glob = CreateTokenObject("bad2", {{"clusterNamePattern", "*"}});
  EXPECT_EQ(field_of(glob), "spec.clusterNamePattern");
  auto name = CreateTokenObject("bad3", {{"clusterName", "GPU_A"}});
  EXPECT_EQ(field_of(name), "spec.clusterName");
  auto rejoin = CreateTokenObject("bad4", {{"allowRejoin", true}});
  EXPECT_EQ(field_of(rejoin), "spec.allowRejoin");
  EXPECT_NE(rejoin.status().message().find("--cluster NAME --rejoin"), std::string::npos)
      << rejoin.status().message();
  EXPECT_TRUE(
      CreateTokenObject("good", {{"clusterNamePattern", "gpu-east-*"}, {"allowRejoin", true}})
          .ok());
}

}  // namespace
}  // namespace berth::hub
