#include "hub/identity_token_kind.h"

#include <spdlog/spdlog.h>

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

api::KindInfo IdentityTokenKind() {
  api::KindInfo k;
  k.kind = "IdentityToken";
  k.plural = "identitytokens";
  k.singular = "identitytoken";
  k.categories = {};
  k.namespaced = false;
  k.has_status = false;
  k.description =
      "The record of a user's or service account's bearer token (its SHA-256, never the token). "
      "Set spec.revoked to stop the token working.";
  json strings = {{"type", "array"}, {"items", {{"type", "string"}}}};
  json spec = {{"type", "object"},
               {"required", {"type", "name", "sha256"}},
               {"properties",
                {{"type", {{"type", "string"}, {"enum", {"User", "ServiceAccount"}}}},
                 {"name", {{"type", "string"}}},
                 {"namespace", {{"type", "string"}}},
                 {"groups", strings},
                 {"sha256", {{"type", "string"}}},
                 {"createdAt", {{"type", "string"}}},
                 {"expiresAt", {{"type", "string"}}},
                 {"revoked", {{"type", "boolean"}}}}}};
  k.schema = api::MakeObjectSchema(k.description, {{"spec", spec}}, nullptr, {"spec"});
  k.validate = [](const json& object, const json* old) -> Status {
    auto record = IdentityTokenOfObject(object);
    if (!record.ok()) return record.status();
    if (old) {
      auto before = IdentityTokenOfObject(*old);
      if (before.ok() && (before->sha256 != record->sha256 || before->name != record->name ||
                          before->ns != record->ns || before->kind != record->kind ||
                          before->groups != record->groups)) {
        return Status::Invalid("IdentityToken \"" + api::NameOf(object) +
                                   "\" is invalid: spec: only revoked and expiresAt may change",
                               {{"spec", "only revoked and expiresAt may change", "FieldValueForbidden"}});
      }
    }
    return Status::Ok();
  };
  k.columns = {
      {"Type", "string", "User or ServiceAccount", 0, [](const json& o) { return api::JsonPathGet(o, "spec.type"); }},
      {"Name", "string", "Whom the token authenticates", 0,
       [](const json& o) { return api::JsonPathGet(o, "spec.name"); }},
      {"Namespace", "string", "Service accounts' namespace", 0,
       [](const json& o) { return api::JsonPathGet(o, "spec.namespace"); }},
      {"Expires", "string", "When the token stops working", 0,
       [](const json& o) { return api::JsonPathGet(o, "spec.expiresAt"); }},
      {"Revoked", "boolean", "Revoked tokens no longer authenticate", 0,
       [](const json& o) -> json { return api::JsonPathGet(o, "spec.revoked").is_boolean() &&
                                           api::JsonPathGet(o, "spec.revoked").get<bool>(); }},
  };
  return k;
}

StatusOr<rbac::IdentityToken> IdentityTokenOfObject(const json& object) {
  json spec = api::JsonPathGet(object, "spec");
  if (!spec.is_object()) return Status::Invalid("IdentityToken: spec is required", {{"spec", "is required", "FieldValueRequired"}});
  json record = spec;
  record.erase("type");
  record["kind"] = spec.value("type", json(""));
  record["id"] = api::NameOf(object);
  if (!record.contains("createdAt")) {
    // Before the object is stored it has no creationTimestamp; the record's own time is
    // informational (expiry is spec.expiresAt).
    json created = api::JsonPathGet(object, "metadata.creationTimestamp");
    record["createdAt"] = created.is_string() ? created : json("1970-01-01T00:00:00Z");
  }
  auto token = rbac::IdentityTokenFromJson(record);
  if (token.ok()) return token;
  std::vector<FieldCause> causes = token.status().causes();
  for (FieldCause& c : causes) {
    c.field = c.field == "id" ? "metadata.name" : c.field == "kind" ? "spec.type" : "spec." + c.field;
  }
  const std::string first = causes.empty() ? "" : causes.front().field + ": " + causes.front().message;
  return Status::Invalid("IdentityToken \"" + api::NameOf(object) + "\" is invalid: " + first, std::move(causes));
}

json IdentityTokenObject(const rbac::IdentityToken& token) {
  json record = rbac::IdentityTokenToJson(token);
  json spec = record;
  spec.erase("id");
  spec.erase("kind");
  spec["type"] = record["kind"];
  return {{"apiVersion", api::kApiVersion}, {"kind", "IdentityToken"}, {"metadata", {{"name", token.id}}},
          {"spec", spec}};
}

Status WatchIdentityTokens(Store& store, const api::KindInfo& kind, TokenAuthenticator& auth,
                           std::vector<uint64_t>& ids) {
  return WatchResource(store, kind.resource(), [&auth](const WatchEvent& e) {
    if (e.type == EventType::kBookmark) return;
    const std::string sha = api::JsonPathGet(e.object, "spec.sha256").is_string()
                                ? api::JsonPathGet(e.object, "spec.sha256").get<std::string>()
                                : "";
    auto record = IdentityTokenOfObject(e.object);
    if (!record.ok()) {
      if (!sha.empty()) auth.RemoveTokenHash(sha);
      spdlog::warn("ignoring stored IdentityToken {}: {}", api::NameOf(e.object), record.status().message());
      return;
    }
    if (e.type == EventType::kDeleted || record->revoked) {
      auth.RemoveTokenHash(record->sha256);
      return;
    }
    const rbac::UserInfo who = rbac::UserInfoOf(*record);
    auth.AddTokenHash(record->sha256, Identity{who.user, false, "", who.groups}, record->expires_at);
  }, ids);
}

}  // namespace berth::hub
