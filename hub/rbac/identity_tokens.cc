#include "hub/rbac/identity_tokens.h"

#include <cctype>

#include "api/schema.h"
#include "hub/pki.h"

namespace berth::rbac {

using nlohmann::json;

namespace {

constexpr size_t kIdLength = 12;

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool Reserved(const std::string& s) { return s.rfind("system:", 0) == 0; }

// Reads a string field; a present non-string is a cause, an absent one "".
std::string Str(const json& o, const char* key, std::vector<FieldCause>* causes) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return "";
  if (!it->is_string()) {
    causes->push_back({key, "must be a string", "FieldValueTypeInvalid"});
    return "";
  }
  return it->get<std::string>();
}

std::optional<Clock::TimePoint> Time(const json& o, const char* key, std::vector<FieldCause>* causes) {
  const std::string text = Str(o, key, causes);
  if (text.empty()) return std::nullopt;
  Clock::TimePoint t;
  if (!ParseRfc3339(text, &t)) {
    causes->push_back({key, "must be an RFC 3339 time such as 2026-01-01T00:00:00Z", "FieldValueInvalid"});
    return std::nullopt;
  }
  return t;
}

void CheckIdentity(const IdentityToken& t, std::vector<FieldCause>* causes) {
  if (t.name.empty()) {
    causes->push_back({"name", "is required", "FieldValueRequired"});
  } else if (t.kind == IdentityKind::kServiceAccount) {
    if (std::string why = api::CheckDns1123Label(t.name); !why.empty()) causes->push_back({"name", why});
  } else if (Reserved(t.name)) {
    causes->push_back({"name", "user names starting with \"system:\" are reserved for identities the hub derives"});
  }
  if (t.kind == IdentityKind::kServiceAccount) {
    if (t.ns.empty()) causes->push_back({"namespace", "is required for a service account", "FieldValueRequired"});
    if (!t.groups.empty()) {
      causes->push_back({"groups", "a service account's groups are derived from its namespace",
                         "FieldValueForbidden"});
    }
  } else if (!t.ns.empty()) {
    causes->push_back({"namespace", "users are not namespaced", "FieldValueForbidden"});
  }
  for (size_t i = 0; i < t.groups.size(); ++i) {
    if (t.groups[i].empty() || Reserved(t.groups[i])) {
      causes->push_back({"groups[" + std::to_string(i) + "]",
                         "must be a non-empty name not starting with \"system:\" (bind cluster-admin to the user "
                         "instead of putting it in system:masters)"});
    }
  }
}

}  // namespace

json IdentityTokenToJson(const IdentityToken& t) {
  json out = {{"id", t.id},
              {"kind", t.kind == IdentityKind::kUser ? "User" : "ServiceAccount"},
              {"name", t.name},
              {"sha256", t.sha256},
              {"createdAt", FormatRfc3339Millis(t.created_at)},
              {"revoked", t.revoked}};
  if (!t.ns.empty()) out["namespace"] = t.ns;
  if (!t.groups.empty()) out["groups"] = t.groups;
  if (t.expires_at) out["expiresAt"] = FormatRfc3339Millis(*t.expires_at);
  return out;
}

StatusOr<IdentityToken> IdentityTokenFromJson(const json& o) {
  if (!o.is_object()) return Status::Invalid("an identity token must be an object", {{"", "must be an object"}});
  std::vector<FieldCause> causes;
  IdentityToken t;
  const std::string kind = Str(o, "kind", &causes);
  if (kind == "ServiceAccount") {
    t.kind = IdentityKind::kServiceAccount;
  } else if (kind != "User") {
    causes.push_back({"kind", "supported values: \"User\", \"ServiceAccount\"", "FieldValueNotSupported"});
  }
  t.id = Str(o, "id", &causes);
  t.name = Str(o, "name", &causes);
  t.ns = Str(o, "namespace", &causes);
  t.sha256 = Str(o, "sha256", &causes);
  if (auto g = o.find("groups"); g != o.end() && !g->is_null()) {
    if (!g->is_array()) causes.push_back({"groups", "must be a list of strings", "FieldValueTypeInvalid"});
    for (size_t i = 0; g->is_array() && i < g->size(); ++i) {
      if ((*g)[i].is_string()) {
        t.groups.push_back((*g)[i].get<std::string>());
      } else {
        causes.push_back({"groups[" + std::to_string(i) + "]", "must be a string", "FieldValueTypeInvalid"});
      }
    }
  }
  CheckIdentity(t, &causes);
  if (t.sha256.size() != 64 || !IsLowerHex(t.sha256)) {
    causes.push_back({"sha256", "must be 64 lower-case hex digits"});
  } else if (t.id != t.sha256.substr(0, kIdLength)) {
    causes.push_back({"id", "must be the first 12 hex digits of sha256"});
  }
  if (auto created = Time(o, "createdAt", &causes)) {
    t.created_at = *created;
  } else if (!o.contains("createdAt")) {
    causes.push_back({"createdAt", "is required", "FieldValueRequired"});
  }
  t.expires_at = Time(o, "expiresAt", &causes);
  if (auto r = o.find("revoked"); r != o.end() && !r->is_null()) {
    if (r->is_boolean()) {
      t.revoked = r->get<bool>();
    } else {
      causes.push_back({"revoked", "must be a boolean", "FieldValueTypeInvalid"});
    }
  }
  if (!causes.empty()) {
    std::string msg = "invalid identity token: " + causes.front().field + ": " + causes.front().message;
    if (causes.size() > 1) msg += " (and " + std::to_string(causes.size() - 1) + " more)";
    return Status::Invalid(std::move(msg), std::move(causes));
  }
  return t;
}

Status TokenValid(const IdentityToken& t, Clock::TimePoint now) {
  const std::string who = t.kind == IdentityKind::kUser ? "user \"" + t.name + "\""
                                                         : "service account \"" + t.ns + "/" + t.name + "\"";
  if (t.revoked) return Status::Unauthenticated("Unauthorized: token " + t.id + " of " + who + " was revoked");
  if (t.expires_at && now >= *t.expires_at) {
    return Status::Unauthenticated("Unauthorized: token " + t.id + " of " + who + " expired at " +
                                   FormatRfc3339(*t.expires_at));
  }
  return Status::Ok();
}

UserInfo UserInfoOf(const IdentityToken& t) {
  UserInfo u;
  if (t.kind == IdentityKind::kServiceAccount) {
    u.user = ServiceAccountUser(t.ns, t.name);
    u.groups = {kGroupServiceAccounts, ServiceAccountNamespaceGroup(t.ns)};
  } else {
    u.user = t.name;
    u.groups = t.groups;
  }
  u.groups.push_back(kGroupAuthenticated);
  return u;
}

MintedToken MintIdentityToken(IdentityToken who) {
  MintedToken out;
  out.token = RandomToken(32);
  who.sha256 = Sha256Hex(out.token);
  who.id = who.sha256.substr(0, kIdLength);
  out.record = std::move(who);
  return out;
}

}  // namespace berth::rbac
