#include "hub/identity_token_kind.h"

#include <gtest/gtest.h>

#include "hub/pki.h"
#include "hub/store_fixture.h"

namespace berth::hub {
namespace {

using nlohmann::json;

rbac::MintedToken Mint(rbac::IdentityKind kind, std::string name, std::string ns = "",
                       std::vector<std::string> groups = {}) {
  rbac::IdentityToken who;
  who.kind = kind;
  who.name = std::move(name);
  who.ns = std::move(ns);
  who.groups = std::move(groups);
  return rbac::MintIdentityToken(std::move(who));
}

TEST(IdentityTokenKindTest, ObjectsRoundTripAndValidateAsRecords) {
  auto minted = Mint(rbac::IdentityKind::kUser, "alice", "", {"search"});
  json object = IdentityTokenObject(minted.record);
  EXPECT_EQ(object["metadata"]["name"], minted.record.id);
  EXPECT_EQ(object["spec"]["type"], "User");
  EXPECT_FALSE(object["spec"].contains("token"));
  auto back = IdentityTokenOfObject(object);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->sha256, minted.record.sha256);
  EXPECT_EQ(back->groups, minted.record.groups);
  EXPECT_TRUE(IdentityTokenKind().validate(object, nullptr).ok());

  json masters = object;
  masters["spec"]["groups"] = {"system:masters"};
  Status s = IdentityTokenKind().validate(masters, nullptr);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  EXPECT_EQ(s.causes().front().field, "spec.groups[0]");
}

TEST(IdentityTokenKindTest, OnlyRevokedAndExpiryMayChange) {
  json old = IdentityTokenObject(Mint(rbac::IdentityKind::kUser, "alice").record);
  json revoked = old;
  revoked["spec"]["revoked"] = true;
  EXPECT_TRUE(IdentityTokenKind().validate(revoked, &old).ok());
  json renamed = old;
  renamed["spec"]["name"] = "mallory";
  EXPECT_EQ(IdentityTokenKind().validate(renamed, &old).code(), StatusCode::kInvalid);
}

class IdentityTokenWatchTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    ASSERT_TRUE(registry_.Register(IdentityTokenKind()).ok());
  }
  void TearDown() override {
    for (uint64_t id : watches_) store_->Unwatch(id);
    StoreFixture::TearDown();
  }
  const api::KindInfo& Tokens() { return *registry_.ByKind(api::kApiVersion, "IdentityToken"); }
  std::vector<uint64_t> watches_;
};

TEST_F(IdentityTokenWatchTest, StoredTokensAuthenticateUntilRevokedOrExpired) {
  TokenAuthenticator auth(clock_);
  auto before = Mint(rbac::IdentityKind::kUser, "alice", "", {"search"});
  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Create(Tokens(), "", IdentityTokenObject(before.record), {}, done);
              }).ok());
  ASSERT_TRUE(WatchIdentityTokens(*store_, Tokens(), auth, watches_).ok());

  auto alice = auth.Authenticate("Bearer " + before.token);
  ASSERT_TRUE(alice.ok()) << "stored before the watch started: replayed";
  EXPECT_EQ(UserOf(*alice), (rbac::UserInfo{"alice", {"search", "system:authenticated"}}));

  auto sa = Mint(rbac::IdentityKind::kServiceAccount, "ci", "team-a");
  sa.record.expires_at = clock_.Now() + std::chrono::hours(1);
  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Create(Tokens(), "", IdentityTokenObject(sa.record), {}, done);
              }).ok());
  auto ci = auth.Authenticate("Bearer " + sa.token);
  ASSERT_TRUE(ci.ok());
  EXPECT_EQ(UserOf(*ci).user, "system:serviceaccount:team-a:ci");
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(auth.Authenticate("Bearer " + sa.token).status().code(), StatusCode::kUnauthenticated);

  ASSERT_TRUE(Wait([&](ObjectCallback done) {
                objects_->Patch(Tokens(), "", before.record.id, PatchType::kMerge,
                                R"({"spec":{"revoked":true}})", {}, done);
              }).ok());
  EXPECT_EQ(auth.Authenticate("Bearer " + before.token).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace berth::hub
