#include "hub/membership.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "api/schema.h"
#include "hub/pki.h"

namespace berth::hub {

using nlohmann::json;

namespace {
const api::KindInfo& MustFind(const api::KindRegistry& r, const char* kind) {
  const api::KindInfo* k = r.ByKind(api::kApiVersion, kind);
  if (!k) {
    spdlog::critical("kind {} is not registered", kind);
    std::abort();
  }
  return *k;
}
}  // namespace

Membership::Membership(ObjectApi& objects, const api::KindRegistry& registry,
                       TokenAuthenticator& auth, Clock& clock)
    : objects_(objects),
      members_(MustFind(registry, "MemberCluster")),
      leases_(MustFind(registry, "Lease")),
      tokens_(MustFind(registry, "BootstrapToken")),
      auth_(auth),
      clock_(clock) {}

Membership::~Membership() {
  if (watch_id_) objects_.store().Unwatch(watch_id_);
}

Status Membership::Start() {
  WatchOptions wo;
  wo.resource = members_.resource();
  auto id = objects_.store().Watch(wo, [this](const WatchEvent& e) {
    Track(e.object, e.type == EventType::kDeleted);
    return true;
  });
  if (!id.ok()) return id.status();
  watch_id_ = *id;
  return Status::Ok();
}

void Membership::Track(const json& member, bool deleted) {
  const std::string cluster = api::NameOf(member);
  // Annotation keys contain dots, so no dotted-path lookup here.
  json annotations = api::JsonPathGet(member, "metadata.annotations");
  json hash = annotations.is_object() && annotations.contains(kCredentialAnnotation)
                  ? annotations[kCredentialAnnotation]
                  : json(nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hash_by_cluster_.find(cluster);
  const std::string want = (!deleted && hash.is_string()) ? hash.get<std::string>() : "";
  if (it != hash_by_cluster_.end() && it->second != want) {
    auth_.RemoveTokenHash(it->second);
    hash_by_cluster_.erase(it);
  }
  if (!want.empty()) {
    hash_by_cluster_[cluster] = want;
    auth_.AddTokenHash(want, Identity{"member:" + cluster, false, cluster});
  }
}

namespace {

// A rejoin adds the taints it declares, replacing one with the same key and effect; taints
// an admin added since stay.
void MergeTaints(const json& declared, json& member) {
  json& taints = member["spec"]["taints"];
  if (!taints.is_array()) taints = json::array();
  for (const auto& t : declared) {
    auto same = [&t](const json& e) {
      return e.value("key", "") == t.value("key", "") &&
             e.value("effect", "NoSchedule") == t.value("effect", "NoSchedule");
    };
    auto it = std::find_if(taints.begin(), taints.end(), same);
    if (it != taints.end()) {
      *it = t;
    } else {
      taints.push_back(t);
    }
  }
}

// The join body's shape, before anything reads it: strings where strings belong, labels a
// map of strings (taints are checked by the MemberCluster schema).
Status CheckJoinBody(const json& body) {
  if (!body.is_object()) return Status::BadRequest("join body must be a JSON object");
  for (const char* f : {"clusterName", "agentVersion", "backend", "region", "zone", "provider"}) {
    auto it = body.find(f);
    if (it != body.end() && !it->is_string()) {
      return Status::Invalid(std::string(f) + ": must be a string", {{f, "must be a string", "FieldValueInvalid"}});
    }
  }
  if (auto it = body.find("labels"); it != body.end() && !it->is_null()) {
    bool ok = it->is_object();
    for (auto l = it->begin(); ok && l != it->end(); ++l) ok = l->is_string();
    if (!ok) return Status::Invalid("labels: must be a map of strings", {{"labels", "must be a map of strings", "FieldValueInvalid"}});
  }
  return Status::Ok();
}

}  // namespace

void Membership::Join(const std::string& authorization, const json& body,
                      std::function<void(StatusOr<json>)> done) {
  static const std::string kPrefix = "Bearer ";
  const std::string token =
      authorization.compare(0, kPrefix.size(), kPrefix) == 0 ? authorization.substr(kPrefix.size()) : "";
  const size_t dot = token.find('.');
  if (token.empty() || dot == std::string::npos) {
    return done(Status::Unauthenticated(
        "unknown bootstrap token: send 'Authorization: Bearer <id>.<secret>' from berthctl token create"));
  }
  const std::string id = token.substr(0, dot), secret = token.substr(dot + 1);
  if (Status s = CheckJoinBody(body); !s.ok()) return done(s);
  const std::string cluster = body.value("clusterName", "");
  if (std::string why = api::CheckDns1123Label(cluster); !why.empty()) {
    return done(Status::Invalid("clusterName \"" + cluster + "\" is invalid: " + why,
                                {{"clusterName", why, "FieldValueInvalid"}}));
  }
  if (!api::CheckDns1123Label(id).empty()) return done(Status::Unauthenticated("unknown bootstrap token"));

  const auto now = clock_.Now();
  Transform use_token = [secret, cluster, now](const json* current) -> StatusOr<std::optional<json>> {
    if (!current) return Status::Unauthenticated("unknown bootstrap token");
    if (!TokenMatchesHash(secret, current->at("spec").value("secretHash", ""))) {
      return Status::Unauthenticated("unknown bootstrap token");
    }
    Clock::TimePoint expires;
    if (!ParseRfc3339(current->at("spec").value("expiration", ""), &expires) || now >= expires) {
      return Status::Unauthenticated("bootstrap token expired: create a new one with berthctl token create");
    }
    json used = api::JsonPathGet(*current, "status.usedBy");
    if (used.is_string() && !used.get<std::string>().empty()) {
      return Status::Unauthenticated("bootstrap token already used (by cluster " + used.get<std::string>() +
                                     "); create a new one with berthctl token create");
    }
    json next = *current;
    next["status"] = {{"usedBy", cluster}, {"usedAt", FormatRfc3339(now)}};
    return std::optional<json>(std::move(next));
  };

  objects_.store().Submit({{tokens_.resource(), "", id}, use_token}, [this, body, cluster, done](StatusOr<json> r) {
    if (!r.ok()) {
      spdlog::warn("join of {} refused: {}", cluster, r.status().message());
      return done(r.status());
    }
    const std::string credential = RandomToken(32);
    const std::string hash = Sha256Hex(credential);
    json labels = body.value("labels", json::object());
    json member = {{"apiVersion", api::kApiVersion}, {"kind", "MemberCluster"},
                   {"metadata", {{"name", cluster}}}, {"spec", json::object()}};
    for (const char* f : {"region", "zone", "provider"}) {
      if (body.contains(f) && body[f].is_string() && !body[f].get<std::string>().empty()) member["spec"][f] = body[f];
    }
    if (labels.is_object() && !labels.empty()) member["metadata"]["labels"] = labels;
    // Taints the member declares (a fleet file's, or berth-agent --taint) repel workspaces
    // from its first placement pass on, exactly as `berthctl plan` reads them.
    if (body.contains("taints") && !body["taints"].is_null()) member["spec"]["taints"] = body["taints"];
    if (Status s = api::ValidateObject(members_, member); !s.ok()) return done(s);
    objects_.InitializeNew(member);
    Transform upsert = [member, hash](const json* current) -> StatusOr<std::optional<json>> {
      json next = current ? *current : member;
      next["metadata"]["annotations"][kCredentialAnnotation] = hash;
      if (current && member["metadata"].contains("labels")) {
        for (auto& [k, v] : member["metadata"]["labels"].items()) next["metadata"]["labels"][k] = v;
      }
      if (current && member["spec"].contains("taints")) MergeTaints(member["spec"]["taints"], next);
      return std::optional<json>(std::move(next));
    };
    objects_.store().Submit({{members_.resource(), "", cluster}, upsert}, [this, cluster, credential, done](StatusOr<json> m) {
      if (!m.ok()) return done(m.status());
      Track(*m, false);
      json lease = {{"apiVersion", api::kApiVersion}, {"kind", "Lease"},
                    {"metadata", {{"name", cluster}}},
                    {"spec", {{"holderIdentity", ""}, {"leaseDurationSeconds", 15}}}};
      objects_.InitializeNew(lease);
      Transform create_lease = [lease](const json* current) -> StatusOr<std::optional<json>> {
        return std::optional<json>(current ? *current : lease);
      };
      objects_.store().Submit({{leases_.resource(), "", cluster}, create_lease}, [cluster, credential, done](StatusOr<json> l) {
        if (!l.ok()) return done(l.status());
        spdlog::info("member {} joined", cluster);
        done(json{{"clusterName", cluster}, {"token", credential}});
      });
    });
  });
}

}  // namespace berth::hub
