#include "placement/taints.h"

#include <nlohmann/json.hpp>

namespace berth::placement {

const Taint* FirstUntoleratedTaint(const std::vector<Taint>& taints,
                                   const std::vector<policies::Toleration>& tolerations) {
  for (const Taint& taint : taints) {
    if (taint.effect == policies::TaintEffect::kPreferNoSchedule) continue;
    bool tolerated = false;
    for (const auto& t : tolerations) tolerated = tolerated || Tolerates(t, taint);
    if (!tolerated) return &taint;
  }
  return nullptr;
}

std::vector<policies::Toleration> ParsePodTolerations(const nlohmann::json& tolerations) {
  std::vector<policies::Toleration> out;
  if (!tolerations.is_array()) return out;
  for (const auto& j : tolerations) {
    if (!j.is_object()) continue;
    policies::Toleration t;
    t.key = j.value("key", "");
    t.value = j.value("value", "");
    const std::string op = j.value("operator", "");
    if (op == "Exists")
      t.op = policies::TolerationOperator::kExists;
    else if (!op.empty() && op != "Equal")
      continue;
    if (const std::string effect = j.value("effect", ""); !effect.empty()) {
      t.effect = policies::ParseTaintEffect(effect);
      if (!t.effect) continue;
    }
    if (auto s = j.find("tolerationSeconds"); s != j.end() && s->is_number_integer())
      t.toleration_seconds = s->get<int64_t>();
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Taint> ParseNodeTaints(const nlohmann::json& taints) {
  std::vector<Taint> out;
  if (!taints.is_array()) return out;
  for (const auto& t : taints) {
    if (out.size() == kMaxNodeTaints) break;
    if (!t.is_object()) continue;
    auto text = [&t](const char* field) {
      auto it = t.find(field);
      return it != t.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto effect = policies::ParseTaintEffect(text("effect"));
    if (!text("key").empty() && effect) out.push_back({text("key"), text("value"), *effect});
  }
  return out;
}

nlohmann::json NodeTaintsJson(const std::vector<Taint>& taints) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : taints) {
    nlohmann::json taint = {{"key", t.key}, {"effect", std::string(policies::TaintEffectName(t.effect))}};
    if (!t.value.empty()) taint["value"] = t.value;
    out.push_back(std::move(taint));
  }
  return out;
}

std::string TaintText(const Taint& taint) {
  return taint.key + (taint.value.empty() ? "" : "=" + taint.value) + ":" +
         std::string(policies::TaintEffectName(taint.effect));
}

}  // namespace berth::placement
