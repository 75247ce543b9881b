#include "hub/membership.h"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "api/object.h"
#include "api/schema.h"
#include "hub/event_object.h"
#include "hub/pki.h"

namespace berth::hub {

using nlohmann::json;

namespace {
const api::KindInfo& MustFind(const api::KindRegistry& r, const char* api_version,
                              const char* kind) {
  const api::KindInfo* k = r.ByKind(api_version, kind);
  if (!k) {
    spdlog::critical("kind {} is not registered", kind);
    std::abort();
  }
  return *k;
}
}  // namespace

Membership::Membership(ObjectApi& objects, const api::KindRegistry& registry,
                       TokenAuthenticator& auth, Clock& clock, HeartbeatDefaults heartbeat)
    : objects_(objects),
      members_(MustFind(registry, api::kApiVersion, "MemberCluster")),
      leases_(MustFind(registry, api::kApiVersion, "Lease")),
      tokens_(MustFind(registry, api::kApiVersion, "BootstrapToken")),
      events_(MustFind(registry, "v1", "Event")),
      auth_(auth),
      clock_(clock),
      heartbeat_(heartbeat) {}

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
    auth_.AddTokenHash(want, Identity{rbac::kMemberUserPrefix + cluster, false, cluster, {}});
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

// The MemberCluster a join creates (or merges into an existing one), validated before the
// token is spent so a bad body never costs a token.
StatusOr<json> MemberFromJoinBody(const json& body, const std::string& cluster,
                                  const api::KindInfo& members) {
  json labels = body.value("labels", json::object());
  json member = {{"apiVersion", api::kApiVersion},
                 {"kind", "MemberCluster"},
                 {"metadata", {{"name", cluster}}},
                 {"spec", json::object()}};
  for (const char* f : {"region", "zone", "provider"}) {
    if (body.contains(f) && body[f].is_string() && !body[f].get<std::string>().empty())
      member["spec"][f] = body[f];
  }
  if (labels.is_object() && !labels.empty()) member["metadata"]["labels"] = labels;
  // Taints the member declares (a fleet file's, or berth-agent --taint) repel workspaces
  // from its first placement pass on, exactly as `berthctl plan` reads them.
  if (body.contains("taints") && !body["taints"].is_null())
    member["spec"]["taints"] = body["taints"];
  if (Status s = api::ValidateObject(members, member); !s.ok()) return s;
  return member;
}

std::string StringAt(const json& object, const char* path) {
  json v = api::JsonPathGet(object, path);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// Unauthenticated unless `token` (the stored BootstrapToken, or nullptr) has this secret, has
// not expired and was not used yet. `cluster`: the name the join asks for, for the advice.
Status CheckTokenUsable(const json* token, const std::string& secret, const std::string& cluster,
                        Clock::TimePoint now) {
  if (!token || !TokenMatchesHash(secret, StringAt(*token, "spec.secretHash"))) {
    return Status::Unauthenticated("unknown bootstrap token");
  }
  const std::string advice = "create a new one with berthctl token create --cluster " + cluster;
  Clock::TimePoint expires;
  if (!ParseRfc3339(StringAt(*token, "spec.expiration"), &expires) || now >= expires) {
    return Status::Unauthenticated("bootstrap token expired: " + advice);
  }
  if (const std::string used = StringAt(*token, "status.usedBy"); !used.empty()) {
    return Status::Unauthenticated("bootstrap token already used (by cluster " + used + "); " +
                                   advice);
  }
  return Status::Ok();
}

}  // namespace

struct Membership::JoinAttempt {
  std::string token_id, secret, cluster;
  Clock::TimePoint now;
  nlohmann::json member;  // what the body declares (MemberFromJoinBody)
  TokenBinding binding;   // as the token stored it when it was spent
  // Set on the store's writer thread, each read only by the steps after it:
  std::string spent_version;         // the token's resourceVersion once this join spent it
  MemberHealth before;               // the member's health when the member write ran
  bool rejoined = false;             // the member existed
  bool replaced_credential = false;  // ... and had an agent credential, now revoked
};

void Membership::Join(const std::string& authorization, const json& body, JoinDone done) {
  static const std::string kPrefix = "Bearer ";
  const std::string token =
      authorization.compare(0, kPrefix.size(), kPrefix) == 0 ? authorization.substr(kPrefix.size()) : "";
  const size_t dot = token.find('.');
  if (token.empty() || dot == std::string::npos) {
    return done(Status::Unauthenticated(
        "unknown bootstrap token: send 'Authorization: Bearer <id>.<secret>' from berthctl token create"));
  }
  auto join = std::make_shared<JoinAttempt>();
  join->token_id = token.substr(0, dot);
  join->secret = token.substr(dot + 1);
  if (Status s = CheckJoinBody(body); !s.ok()) return done(s);
  join->cluster = body.value("clusterName", "");
  if (std::string why = api::CheckDns1123Label(join->cluster); !why.empty()) {
    return done(Status::Invalid("clusterName \"" + join->cluster + "\" is invalid: " + why,
                                {{"clusterName", why, "FieldValueInvalid"}}));
  }
  if (!api::CheckDns1123Label(join->token_id).empty())
    return done(Status::Unauthenticated("unknown bootstrap token"));
  join->now = clock_.Now();

  auto stored_token = objects_.store().Get({tokens_.resource(), "", join->token_id});
  if (stored_token.status().code() != StatusCode::kNotFound) {
    return DecideJoin(std::move(join), body, std::move(stored_token), std::move(done));
  }
  // Created a moment ago through another hub replica? Make sure this one has seen it (on the
  // store's sync thread; SqliteStore answers at once).
  objects_.store().SyncThen([this, join = std::move(join), body, done = std::move(done),
                             missed = std::move(stored_token)](Status synced) mutable {
    if (synced.ok()) missed = objects_.store().Get({tokens_.resource(), "", join->token_id});
    DecideJoin(std::move(join), body, std::move(missed), std::move(done));
  });
}

// Decides on what is stored now, read-only, so a refused join changes nothing; the token
// and the member are checked again when they are written (ConsumeToken, UpsertMember).
void Membership::DecideJoin(std::shared_ptr<JoinAttempt> join, const json& body, StatusOr<json> stored_token,
                            JoinDone done) {
  Status usable = CheckTokenUsable(stored_token.ok() ? &*stored_token : nullptr, join->secret,
                                   join->cluster, join->now);
  if (!usable.ok()) {
    spdlog::warn("join of {} refused: {}", join->cluster, usable.message());
    return done(usable);
  }
  auto member = MemberFromJoinBody(body, join->cluster, members_);
  if (!member.ok()) return done(member.status());  // before the token is spent
  join->member = std::move(*member);
  join->binding = BindingOf(*stored_token);
  auto existing = objects_.store().Get({members_.resource(), "", join->cluster});
  const json* existing_member = existing.ok() ? &*existing : nullptr;
  Status allowed = CheckJoinAllowed(join->token_id, join->binding, join->cluster,
                                    AssessStored(existing_member, join->cluster));
  if (!allowed.ok()) {
    spdlog::warn("join of {} refused: {}", join->cluster, allowed.message());
    // Only a valid token gets this far, and a retry counts up the same Event: refusals
    // cannot flood the event log. The reply waits for the Event.
    if (existing_member) {
      return RecordJoinEvent(*existing_member, "Warning", "JoinRefused", join->token_id,
                             allowed.message(), [done, allowed] { done(allowed); });
    }
    return done(allowed);
  }
  ConsumeToken(std::move(join), std::move(done));
}

MemberHealth Membership::AssessStored(const json* member, const std::string& cluster) {
  if (!member) return {};
  auto lease = objects_.store().Get({leases_.resource(), "", cluster});
  return AssessMember(member, lease.ok() ? &*lease : nullptr, clock_.Now(), heartbeat_);
}

void Membership::ConsumeToken(std::shared_ptr<JoinAttempt> join, JoinDone done) {
  Transform use_token = [join](const json* current) -> StatusOr<std::optional<json>> {
    BERTH_RETURN_IF_ERROR(CheckTokenUsable(current, join->secret, join->cluster, join->now));
    // The binding as stored now decides (UpsertMember checks it against the member).
    join->binding = BindingOf(*current);
    json next = *current;
    next["status"] = {{"usedBy", join->cluster}, {"usedAt", FormatRfc3339(join->now)}};
    return std::optional<json>(std::move(next));
  };
  objects_.store().Submit(
      {{tokens_.resource(), "", join->token_id}, use_token}, [this, join, done](StatusOr<json> r) {
        if (!r.ok()) {
          spdlog::warn("join of {} refused: {}", join->cluster, r.status().message());
          return done(r.status());
        }
        join->spent_version = StringAt(*r, "metadata.resourceVersion");
        UpsertMember(join, done);
      });
}

void Membership::UpsertMember(std::shared_ptr<JoinAttempt> join, JoinDone done) {
  const std::string credential = RandomToken(32);
  const std::string hash = Sha256Hex(credential);
  json member = join->member;
  objects_.InitializeNew(member);
  Transform upsert = [this, join, member,
                      hash](const json* current) -> StatusOr<std::optional<json>> {
    // Decided again on the stored member: it may have joined or recovered since Join looked.
    join->before = AssessStored(current, join->cluster);
    BERTH_RETURN_IF_ERROR(
        CheckJoinAllowed(join->token_id, join->binding, join->cluster, join->before));
    join->rejoined = current != nullptr;
    json annotations = current ? api::JsonPathGet(*current, "metadata.annotations") : json();
    join->replaced_credential =
        annotations.is_object() && annotations.contains(kCredentialAnnotation);
    json next = current ? *current : member;
    next["metadata"]["annotations"][kCredentialAnnotation] = hash;
    if (current && member["metadata"].contains("labels")) {
      for (auto& [k, v] : member["metadata"]["labels"].items()) next["metadata"]["labels"][k] = v;
    }
    if (current && member["spec"].contains("taints")) MergeTaints(member["spec"]["taints"], next);
    return std::optional<json>(std::move(next));
  };
  objects_.store().Submit(
      {{members_.resource(), "", join->cluster}, upsert},
      [this, join, credential, done](StatusOr<json> m) {
        if (!m.ok()) {
          spdlog::warn("join of {} refused: {}", join->cluster, m.status().message());
          return ReleaseToken(join, [done, m] { done(m.status()); });
        }
        Track(*m, false);
        EnsureLease(join, *m, [credential, cluster = join->cluster, done](StatusOr<json> l) {
          if (!l.ok()) return done(l.status());
          done(json{{"clusterName", cluster}, {"token", credential}});
        });
      });
}

void Membership::EnsureLease(std::shared_ptr<JoinAttempt> join, const json& member, JoinDone done) {
  json lease = {{"apiVersion", api::kApiVersion},
                {"kind", "Lease"},
                {"metadata", {{"name", join->cluster}}},
                {"spec", {{"holderIdentity", ""}, {"leaseDurationSeconds", 15}}}};
  objects_.InitializeNew(lease);
  Transform create_lease = [lease](const json* current) -> StatusOr<std::optional<json>> {
    return std::optional<json>(current ? *current : lease);
  };
  objects_.store().Submit(
      {{leases_.resource(), "", join->cluster}, create_lease},
      [this, join, member, done](StatusOr<json> l) {
        if (!l.ok()) return done(l.status());
        const TokenBinding& b = join->binding;
        const std::string token =
            "bootstrap token \"" + join->token_id + "\" (" +
            (b.bound() ? "bound to " + b.Describe() : std::string("unbound")) +
            (b.allow_rejoin ? ", rejoin allowed" : "") + ")";
        spdlog::info("member {} {} with bootstrap token {}", join->cluster,
                     join->rejoined ? "rejoined" : "joined", join->token_id);
        auto reply = [done, l] { done(l); };
        if (!join->rejoined) {
          return RecordJoinEvent(
              member, "Normal", "MemberJoined", join->token_id,
              "cluster \"" + join->cluster + "\" joined as a new member with " + token, reply);
        }
        RecordJoinEvent(
            member, "Normal", "MemberRejoined", join->token_id,
            "cluster \"" + join->cluster + "\" rejoined with " + token + "; the member was " +
                (join->before.standing == MemberStanding::kHealthy ? "healthy ("
                                                                   : "not healthy (") +
                join->before.evidence + ")" +
                (join->replaced_credential ? "; its previous agent credential is revoked" : ""),
            reply);
      });
}

void Membership::ReleaseToken(std::shared_ptr<JoinAttempt> join, std::function<void()> then) {
  // Only this join's own spending is undone: the token as this join left it, same version.
  Transform release = [join](const json* current) -> StatusOr<std::optional<json>> {
    if (!current) return Status::NotFound("bootstrap token " + join->token_id + " is gone");
    json next = *current;
    if (StringAt(*current, "metadata.resourceVersion") == join->spent_version) next.erase("status");
    return std::optional<json>(std::move(next));
  };
  objects_.store().Submit(
      {{tokens_.resource(), "", join->token_id}, release}, [join, then](StatusOr<json> r) {
        if (!r.ok()) {
          spdlog::warn("bootstrap token {} stays spent after a refused join: {}", join->token_id,
                       r.status().message());
        }
        then();
      });
}

void Membership::RecordJoinEvent(const json& member, const std::string& type,
                                 const std::string& reason, const std::string& token_id,
                                 const std::string& message, std::function<void()> then) {
  const std::string cluster = api::NameOf(member);
  std::string lower = reason;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const Clock::TimePoint at = clock_.Now();
  const std::string now = FormatRfc3339(at);
  json involved = {{"apiVersion", api::kApiVersion}, {"kind", "MemberCluster"},
                   {"metadata", {{"name", cluster}, {"uid", api::UidOf(member)}}}};
  json ev = EventObject(involved, type, reason, message, at);
  ev["metadata"].erase("generateName");
  ev["metadata"]["name"] = cluster + "." + lower + "." + token_id;
  if (Status s = api::ValidateObject(events_, ev); !s.ok()) {
    spdlog::error("event {} about member {} is invalid: {}", reason, cluster, s.ToString());
    return then();
  }
  objects_.InitializeNew(ev);
  Transform record = [ev, now, message](const json* current) -> StatusOr<std::optional<json>> {
    if (!current) return std::optional<json>(ev);
    json next = *current;
    const json count = api::JsonPathGet(*current, "count");
    next["count"] = (count.is_number_integer() ? count.get<int64_t>() : 1) + 1;
    next["lastTimestamp"] = now;
    next["message"] = message;
    return std::optional<json>(std::move(next));
  };
  spdlog::info("event {} MemberCluster/{}: {}", reason, cluster, message);
  // Events are best effort: a failure to record one never fails the join.
  objects_.store().Submit(
      {{events_.resource(), "default", api::NameOf(ev)}, record}, [reason, then](StatusOr<json> r) {
        if (!r.ok()) {
          spdlog::warn("recording event {} failed: {}", reason, r.status().ToString());
        }
        then();
      });
}

}  // namespace berth::hub
