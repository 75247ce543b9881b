#include "rollout/revision.h"

#include <algorithm>
#include <cstdio>

namespace berth::rollout {

using nlohmann::json;

json ModelAffectingFields(const json& ws) {
  json out = json::object();
  if (!ws.is_object()) return out;
  // resource.* counts as a whole: a different GPU product or gpusPerReplica changes the pods
  // (tensor parallel size, requests), so it must walk the stages like a model change.
  for (const char* key : {"inference", "resource"}) {
    auto it = ws.find(key);
    if (it != ws.end() && !it->is_null()) out[key] = *it;
  }
  auto md = ws.find("metadata");
  if (md != ws.end() && md->is_object()) {
    auto ann = md->find("annotations");
    if (ann != md->end() && ann->is_object()) {
      for (const char* key : {kMinDriverAnnotation, kMinCudaAnnotation}) {
        auto it = ann->find(key);
        if (it != ann->end()) out["annotations"][key] = *it;
      }
    }
  }
  return out;
}

std::string ComputeRevisionHash(const json& ws) {
  // dump() of nlohmann::json (std::map-backed) is canonical: keys sorted, no whitespace.
  std::string canonical = ModelAffectingFields(ws).dump();
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : canonical) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

StatusOr<Revision> RevisionOf(const json& ws, Clock::TimePoint now) {
  Revision rev;
  rev.hash = ComputeRevisionHash(ws);
  rev.created = now;
  json fields = ModelAffectingFields(ws);
  rev.template_fields = fields;
  if (auto inf = fields.find("inference"); inf != fields.end() && inf->is_object()) {
    rev.image = inf->value("image", std::string());
    if (auto preset = inf->find("preset"); preset != inf->end() && preset->is_object()) {
      rev.model = preset->value("name", std::string());
    }
    if (auto model = inf->find("model"); rev.model.empty() && model != inf->end() && model->is_object()) {
      rev.model = model->value("hfId", std::string());
    }
  }
  std::vector<FieldCause> causes;
  if (auto ann = fields.find("annotations"); ann != fields.end()) {
    for (const char* key : {kMinDriverAnnotation, kMinCudaAnnotation}) {
      auto it = ann->find(key);
      if (it == ann->end()) continue;
      std::string field = std::string("metadata.annotations.") + key;
      std::optional<DottedVersion> v;
      if (it->is_string()) v = DottedVersion::Parse(it->get<std::string>());
      if (!v) {
        causes.push_back({field, "must be a dotted version such as \"535.104\""});
      } else if (std::string_view(key) == kMinDriverAnnotation) {
        rev.min_driver_version = *v;
      } else {
        rev.min_cuda_version = *v;
      }
    }
  }
  if (!causes.empty()) {
    std::string msg = "invalid revision: " + causes.front().field + ": " + causes.front().message;
    return Status::Invalid(std::move(msg), std::move(causes));
  }
  return rev;
}

const Revision& RevisionHistory::Record(const Revision& rev) {
  if (!revisions_.empty() && revisions_.back().hash == rev.hash) return revisions_.back();
  int64_t next = revisions_.empty() ? 1 : revisions_.back().number + 1;
  auto it = std::find_if(revisions_.begin(), revisions_.end(),
                         [&](const Revision& r) { return r.hash == rev.hash; });
  Revision entry = rev;
  if (it != revisions_.end()) {
    // Returning to older content keeps what we learnt about it: a known-bad revision stays
    // failed (the rollout will not retry it) and a known-good one stays good.
    entry = *it;
    revisions_.erase(it);
  }
  entry.number = next;
  revisions_.push_back(std::move(entry));
  Evict();
  return revisions_.back();
}

void RevisionHistory::set_limit(int limit) {
  limit_ = limit < 1 ? 1 : limit;
  Evict();
}

void RevisionHistory::Evict() {
  while (static_cast<int>(revisions_.size()) > limit_) {
    const Revision* good = LastGood();
    // Drop the oldest entry that is not the rollback target.
    auto victim = revisions_.begin();
    if (good && victim->number == good->number && revisions_.size() > 1) ++victim;
    revisions_.erase(victim);
  }
}

const Revision* RevisionHistory::Find(int64_t number) const {
  for (const auto& r : revisions_) {
    if (r.number == number) return &r;
  }
  return nullptr;
}

const Revision* RevisionHistory::FindHash(const std::string& hash) const {
  for (const auto& r : revisions_) {
    if (r.hash == hash) return &r;
  }
  return nullptr;
}

const Revision* RevisionHistory::LastGood() const {
  for (auto it = revisions_.rbegin(); it != revisions_.rend(); ++it) {
    if (it->good) return &*it;
  }
  return nullptr;
}

Status RevisionHistory::MarkGood(int64_t number) {
  for (auto& r : revisions_) {
    if (r.number == number) {
      r.good = true;
      r.failure_reason.clear();
      return Status::Ok();
    }
  }
  return Status::NotFound("revision " + std::to_string(number) + " is not in the history");
}

Status RevisionHistory::MarkFailed(int64_t number, const std::string& reason) {
  for (auto& r : revisions_) {
    if (r.number == number) {
      r.failure_reason = reason.empty() ? "Failed" : reason;
      return Status::Ok();
    }
  }
  return Status::NotFound("revision " + std::to_string(number) + " is not in the history");
}

Status RevisionHistory::ClearFailure(int64_t number) {
  for (auto& r : revisions_) {
    if (r.number == number) {
      r.failure_reason.clear();
      return Status::Ok();
    }
  }
  return Status::NotFound("revision " + std::to_string(number) + " is not in the history");
}

std::string FormatTime(Clock::TimePoint t) {
  std::string s = FormatRfc3339(t);
  int64_t ms = t.time_since_epoch().count() % 1000;
  if (ms < 0) ms += 1000;
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof(frac), ".%03d", static_cast<int>(ms));
    s.insert(s.size() - 1, frac);
  }
  return s;
}

bool ParseTime(const json& j, Clock::TimePoint* out) {
  return j.is_string() && ParseRfc3339(j.get<std::string>(), out);
}

json RevisionHistory::ToJson() const {
  json list = json::array();
  for (const auto& r : revisions_) {
    json e = {{"number", r.number}, {"hash", r.hash}, {"created", FormatTime(r.created)},
              {"good", r.good}};
    if (!r.image.empty()) e["image"] = r.image;
    if (!r.model.empty()) e["model"] = r.model;
    if (!r.min_driver_version.empty()) e["minDriverVersion"] = r.min_driver_version.ToString();
    if (!r.min_cuda_version.empty()) e["minCudaVersion"] = r.min_cuda_version.ToString();
    if (!r.failure_reason.empty()) e["failureReason"] = r.failure_reason;
    if (!r.template_fields.empty()) e["template"] = r.template_fields;
    list.push_back(std::move(e));
  }
  json out = {{"limit", limit_}, {"revisions", std::move(list)}};
  const Revision* target = Target();
  const Revision* good = LastGood();
  out["target"] = target ? target->number : 0;
  out["current"] = good ? good->number : 0;
  out["lastGood"] = good ? good->number : 0;
  return out;
}

StatusOr<RevisionHistory> RevisionHistory::FromJson(const json& j) {
  auto bad = [](const std::string& field, const std::string& msg) {
    return Status::Invalid("invalid revision history: " + field + ": " + msg, {{field, msg}});
  };
  if (!j.is_object()) return bad("revisions", "must be an object");
  RevisionHistory h(j.value("limit", 10));
  auto list = j.find("revisions");
  if (list == j.end() || !list->is_array()) return bad("revisions.revisions", "must be a list");
  try {
    for (size_t i = 0; i < list->size(); ++i) {
      const json& e = (*list)[i];
      std::string p = "revisions.revisions[" + std::to_string(i) + "]";
      Revision r;
      r.number = e.at("number").get<int64_t>();
      r.hash = e.at("hash").get<std::string>();
      if (!ParseTime(e.at("created"), &r.created)) return bad(p + ".created", "must be an RFC 3339 time");
      r.good = e.value("good", false);
      r.image = e.value("image", std::string());
      r.model = e.value("model", std::string());
      r.failure_reason = e.value("failureReason", std::string());
      if (auto t = e.find("template"); t != e.end()) {
        if (!t->is_object()) return bad(p + ".template", "must be an object");
        r.template_fields = *t;
      }
      if (e.contains("minDriverVersion")) {
        auto v = DottedVersion::Parse(e["minDriverVersion"].get<std::string>());
        if (!v) return bad(p + ".minDriverVersion", "must be a dotted version");
        r.min_driver_version = *v;
      }
      if (e.contains("minCudaVersion")) {
        auto v = DottedVersion::Parse(e["minCudaVersion"].get<std::string>());
        if (!v) return bad(p + ".minCudaVersion", "must be a dotted version");
        r.min_cuda_version = *v;
      }
      h.revisions_.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    return bad("revisions.revisions", e.what());
  }
  return h;
}

}  // namespace berth::rollout
