#include "gateway/catalog.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::gateway {
namespace {

CatalogState State() {
  CatalogState s;
  s.routes["phi"] = {"phi",
                     {{"a", "10.0.0.1", 1, EndpointState::kServing, 10, "ml/a@c1"},
                      {"b", "10.0.0.2", 1, EndpointState::kDraining, 0, "ml/a@c2"}}};
  s.routes["down"] = {"down", {{"c", "10.0.0.3", 1, EndpointState::kDown, 0, "ml/d@c1"}}};
  s.model_backends = {{"phi", "berth_slot_000"}, {"down", "berth_slot_001"}};
  return s;
}

TEST(Catalog, ListsModelsInOpenAiShape) {
  auto reply = HandleCatalogRequest(State(), "GET", "/v1/models");
  ASSERT_EQ(reply.status, 200);
  auto body = nlohmann::json::parse(reply.body);
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 1u);  // "down" has no server up
  EXPECT_EQ(body["data"][0]["id"], "phi");
  EXPECT_EQ(body["data"][0]["object"], "model");
  EXPECT_EQ(body["data"][0]["owned_by"], "berth");
  EXPECT_EQ(body["data"][0]["berth"]["serving"], 1);
}

TEST(Catalog, OneModelOr404) {
  EXPECT_EQ(HandleCatalogRequest(State(), "GET", "/v1/models/phi").status, 200);
  auto missing = HandleCatalogRequest(State(), "GET", "/v1/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["code"], "model_not_found");
  EXPECT_EQ(HandleCatalogRequest(State(), "POST", "/v1/models").status, 405);
}

TEST(Catalog, MetricsMapBackendsToModels) {
  auto reply = HandleCatalogRequest(State(), "GET", "/metrics/berth");
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(
      reply.body.find("berth_gateway_model_backend{model=\"phi\",proxy=\"berth_slot_000\"} 1"),
      std::string::npos);
  EXPECT_NE(reply.body.find("berth_gateway_model_servers{model=\"phi\",state=\"Draining\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::gateway
