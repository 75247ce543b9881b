// Decoding never throws: every access checks the JSON type first and records a FieldCause,
// so one pass reports every problem in the block.
#include "workspace/autoscaling.h"

#include <algorithm>

#include <cmath>
#include <cstdint>
#include <set>
#include <utility>

namespace berth::workspace {
namespace {

using nlohmann::json;

constexpr int kMaxStabilizationWindowSeconds = 3600;  // HPA's bound
constexpr int kMaxPolicyPeriodSeconds = 1800;         // HPA's bound

struct MetricName {
  AutoscalingMetricType type;
  const char* name;
};
constexpr MetricName kMetricNames[] = {
    {AutoscalingMetricType::kWaitingRequestsPerReplica, "WaitingRequestsPerReplica"},
    {AutoscalingMetricType::kRunningRequestsPerReplica, "RunningRequestsPerReplica"},
    {AutoscalingMetricType::kTimeToFirstTokenP90Seconds, "TimeToFirstTokenP90Seconds"},
    {AutoscalingMetricType::kKVCacheUtilization, "KVCacheUtilization"},
    {AutoscalingMetricType::kRequestsPerSecondPerReplica, "RequestsPerSecondPerReplica"},
};

// Collects causes under one path prefix.
class Causes {
 public:
  void Add(std::string field, std::string message, std::string reason = "FieldValueInvalid") {
    list.push_back({std::move(field), std::move(message), std::move(reason)});
  }
  // Records every key of `object` not in `known`.
  void RefuseUnknown(const json& object, const std::string& path, std::set<std::string> known) {
    for (const auto& [key, value] : object.items())
      if (!known.count(key)) Add(path + "." + key, "unknown field", "FieldValueNotSupported");
  }
  // An integer field, if present; false (with a cause) when present with another type.
  bool Integer(const json& object, const char* key, const std::string& path, int* out) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return false;
    const bool fits = it->is_number_integer() && it->get<int64_t>() >= INT32_MIN &&
                      it->get<int64_t>() <= INT32_MAX;
    if (!fits) {
      Add(path + "." + key, "must be a 32-bit integer, got " + it->dump(), "FieldValueTypeInvalid");
      return false;
    }
    *out = static_cast<int>(it->get<int64_t>());
    return true;
  }
  bool Number(const json& object, const char* key, const std::string& path, double* out) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return false;
    if (!it->is_number()) {
      Add(path + "." + key, "must be a number, got " + std::string(it->type_name()),
          "FieldValueTypeInvalid");
      return false;
    }
    *out = it->get<double>();
    return true;
  }
  // A string field; "" when absent or (with a cause) not a string.
  std::string String(const json& object, const char* key, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return "";
    if (!it->is_string()) {
      Add(path + "." + key, "must be a string, got " + std::string(it->type_name()),
          "FieldValueTypeInvalid");
      return "";
    }
    return it->get<std::string>();
  }
  // A nested object, null when absent or (with a cause) not an object.
  const json* Object(const json& object, const char* key, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    if (!it->is_object()) {
      Add(path + "." + key, "must be an object, got " + std::string(it->type_name()),
          "FieldValueTypeInvalid");
      return nullptr;
    }
    return &*it;
  }
  const json* Array(const json& object, const char* key, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    if (!it->is_array()) {
      Add(path + "." + key, "must be an array, got " + std::string(it->type_name()),
          "FieldValueTypeInvalid");
      return nullptr;
    }
    return &*it;
  }

  std::vector<FieldCause> list;
};

std::string Indexed(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

void ParsePolicy(Causes& c, const json& item, const std::string& p, ScalingPolicy* out) {
  if (!item.is_object()) {
    c.Add(p, "must be an object, got " + std::string(item.type_name()), "FieldValueTypeInvalid");
    return;
  }
  c.RefuseUnknown(item, p, {"type", "value", "periodSeconds"});
  const std::string type = c.String(item, "type", p);
  if (type == "Pods") {
    out->type = ScalingPolicyType::kPods;
  } else if (type == "Percent") {
    out->type = ScalingPolicyType::kPercent;
  } else if (!item.contains("type")) {
    c.Add(p + ".type", "is required: Pods or Percent", "FieldValueRequired");
  } else if (item["type"].is_string()) {
    c.Add(p + ".type", "must be Pods or Percent, got \"" + type + "\"", "FieldValueNotSupported");
  }
  if (!c.Integer(item, "value", p, &out->value)) {
    if (!item.contains("value")) c.Add(p + ".value", "is required", "FieldValueRequired");
  } else if (out->value <= 0) {
    c.Add(p + ".value", "must be > 0");
  }
  if (!c.Integer(item, "periodSeconds", p, &out->period_seconds)) {
    if (!item.contains("periodSeconds"))
      c.Add(p + ".periodSeconds", "is required", "FieldValueRequired");
  } else if (out->period_seconds < 1 || out->period_seconds > kMaxPolicyPeriodSeconds) {
    c.Add(p + ".periodSeconds", "must be within 1..1800");
  }
}

// Fields absent from `block` keep the values already in *out (the direction's defaults),
// as HPA merges a partial behavior with its defaults.
void ParseRules(Causes& c, const json& block, const std::string& p, ScalingRules* out) {
  c.RefuseUnknown(block, p, {"stabilizationWindowSeconds", "selectPolicy", "policies"});
  if (c.Integer(block, "stabilizationWindowSeconds", p, &out->stabilization_window_seconds) &&
      (out->stabilization_window_seconds < 0 ||
       out->stabilization_window_seconds > kMaxStabilizationWindowSeconds)) {
    c.Add(p + ".stabilizationWindowSeconds", "must be within 0..3600");
  }
  const std::string select = c.String(block, "selectPolicy", p);
  if (select == "Max")
    out->select_policy = SelectPolicy::kMax;
  else if (select == "Min")
    out->select_policy = SelectPolicy::kMin;
  else if (select == "Disabled")
    out->select_policy = SelectPolicy::kDisabled;
  else if (!select.empty())
    c.Add(p + ".selectPolicy", "must be Max, Min or Disabled, got \"" + select + "\"",
          "FieldValueNotSupported");

  const json* policies = c.Array(block, "policies", p);
  if (!policies) return;
  if (policies->empty() && out->select_policy != SelectPolicy::kDisabled) {
    c.Add(p + ".policies", "must list at least one policy (or set selectPolicy: Disabled)",
          "FieldValueRequired");
  }
  out->policies.clear();
  for (size_t i = 0; i < policies->size(); ++i) {
    ScalingPolicy policy;
    ParsePolicy(c, (*policies)[i], Indexed(p + ".policies", i), &policy);
    out->policies.push_back(policy);
  }
}

void ParseMetrics(Causes& c, const json& block, const std::string& path, AutoscalingSpec* out) {
  const std::string p = path + ".metrics";
  const json* metrics = c.Array(block, "metrics", path);
  if (!metrics) {
    if (!block.contains("metrics"))
      c.Add(p, "is required: one or more metric targets", "FieldValueRequired");
    return;
  }
  if (metrics->empty()) c.Add(p, "must list at least one metric target", "FieldValueRequired");
  std::set<AutoscalingMetricType> seen;
  for (size_t i = 0; i < metrics->size(); ++i) {
    const json& item = (*metrics)[i];
    const std::string mp = Indexed(p, i);
    if (!item.is_object()) {
      c.Add(mp, "must be an object, got " + std::string(item.type_name()), "FieldValueTypeInvalid");
      continue;
    }
    c.RefuseUnknown(item, mp, {"type", "target"});
    AutoscalingMetric metric;
    const std::string type = c.String(item, "type", mp);
    auto parsed = MetricTypeFromName(type);
    if (parsed) {
      metric.type = *parsed;
      if (!seen.insert(*parsed).second)
        c.Add(mp + ".type", "duplicate metric " + type, "FieldValueDuplicate");
    } else if (!item.contains("type")) {
      c.Add(mp + ".type", "is required", "FieldValueRequired");
    } else if (item["type"].is_string()) {
      c.Add(mp + ".type",
            "must be one of WaitingRequestsPerReplica, RunningRequestsPerReplica, "
            "TimeToFirstTokenP90Seconds, "
            "KVCacheUtilization, RequestsPerSecondPerReplica; got \"" +
                type + "\"",
            "FieldValueNotSupported");
    }
    if (!c.Number(item, "target", mp, &metric.target)) {
      if (!item.contains("target")) c.Add(mp + ".target", "is required", "FieldValueRequired");
    } else if (!(metric.target > 0) || !std::isfinite(metric.target)) {
      c.Add(mp + ".target", "must be > 0");
    } else if (parsed == AutoscalingMetricType::kKVCacheUtilization && metric.target > 1) {
      c.Add(mp + ".target", "must be within (0, 1]: KV-cache utilisation is a fraction");
    }
    out->metrics.push_back(metric);
  }
}

json RulesToJson(const ScalingRules& rules) {
  static const char* kSelect[] = {"Max", "Min", "Disabled"};
  json policies = json::array();
  for (const auto& p : rules.policies) {
    policies.push_back({{"type", p.type == ScalingPolicyType::kPods ? "Pods" : "Percent"},
                        {"value", p.value},
                        {"periodSeconds", p.period_seconds}});
  }
  return {{"stabilizationWindowSeconds", rules.stabilization_window_seconds},
          {"selectPolicy", kSelect[static_cast<int>(rules.select_policy)]},
          {"policies", std::move(policies)}};
}

}  // namespace

const char* MetricTypeName(AutoscalingMetricType type) {
  for (const auto& m : kMetricNames)
    if (m.type == type) return m.name;
  return "Unknown";
}

std::optional<AutoscalingMetricType> MetricTypeFromName(std::string_view name) {
  for (const auto& m : kMetricNames)
    if (name == m.name) return m.type;
  return std::nullopt;
}

ScalingRules DefaultScaleUpRules() {
  return {0,
          SelectPolicy::kMax,
          {{ScalingPolicyType::kPercent, 100, 15}, {ScalingPolicyType::kPods, 4, 15}}};
}

ScalingRules DefaultScaleDownRules() {
  return {300, SelectPolicy::kMax, {{ScalingPolicyType::kPercent, 100, 15}}};
}

StatusOr<AutoscalingSpec> ParseAutoscaling(const nlohmann::json& block, const std::string& path) {
  if (!block.is_object()) {
    std::string msg = "must be an object, got " + std::string(block.type_name());
    return Status::Invalid(path + ": " + msg, {{path, msg, "FieldValueTypeInvalid"}});
  }
  Causes c;
  AutoscalingSpec spec;
  c.RefuseUnknown(block, path, {"minReplicas", "maxReplicas", "metrics", "behavior", "tolerance"});
  if (c.Integer(block, "minReplicas", path, &spec.min_replicas) && spec.min_replicas < 0) {
    c.Add(path + ".minReplicas", "must be >= 0");
  }
  if (!c.Integer(block, "maxReplicas", path, &spec.max_replicas)) {
    if (!block.contains("maxReplicas"))
      c.Add(path + ".maxReplicas", "is required", "FieldValueRequired");
  } else if (spec.max_replicas < 1) {
    c.Add(path + ".maxReplicas", "must be >= 1");
  } else if (spec.min_replicas >= 0 && spec.max_replicas < spec.min_replicas) {
    c.Add(path + ".maxReplicas",
          "must be >= minReplicas (" + std::to_string(spec.min_replicas) + ")");
  }
  ParseMetrics(c, block, path, &spec);
  if (const json* behavior = c.Object(block, "behavior", path)) {
    const std::string bp = path + ".behavior";
    c.RefuseUnknown(*behavior, bp, {"scaleUp", "scaleDown"});
    if (const json* up = c.Object(*behavior, "scaleUp", bp))
      ParseRules(c, *up, bp + ".scaleUp", &spec.scale_up);
    if (const json* down = c.Object(*behavior, "scaleDown", bp))
      ParseRules(c, *down, bp + ".scaleDown", &spec.scale_down);
  }
  if (c.Number(block, "tolerance", path, &spec.tolerance) &&
      !(spec.tolerance >= 0 && spec.tolerance < 1)) {
    c.Add(path + ".tolerance", "must be within [0, 1)");
  }
  if (c.list.empty()) return spec;
  std::string msg = path + " is invalid: ";
  for (size_t i = 0; i < c.list.size(); ++i)
    msg += (i ? "; " : "") + c.list[i].field + ": " + c.list[i].message;
  return Status::Invalid(msg, std::move(c.list));
}

nlohmann::json AutoscalingToJson(const AutoscalingSpec& spec) {
  json metrics = json::array();
  for (const auto& m : spec.metrics)
    metrics.push_back({{"type", MetricTypeName(m.type)}, {"target", m.target}});
  return {{"minReplicas", spec.min_replicas},
          {"maxReplicas", spec.max_replicas},
          {"metrics", std::move(metrics)},
          {"behavior",
           {{"scaleUp", RulesToJson(spec.scale_up)}, {"scaleDown", RulesToJson(spec.scale_down)}}},
          {"tolerance", spec.tolerance}};
}

int AutoscaledSize(const AutoscalingSpec& spec, int placement_replicas, const nlohmann::json& status) {
  int replicas = placement_replicas;
  if (status.is_object()) {
    auto a = status.find("autoscaler");
    if (a != status.end() && a->is_object()) {
      auto d = a->find("desiredReplicas");
      if (d != a->end() && d->is_number_integer()) replicas = d->get<int>();
    }
  }
  return std::clamp(replicas, spec.min_replicas, spec.max_replicas);
}

std::optional<int> AutoscaledReplicas(const nlohmann::json& workspace_object) {
  if (!workspace_object.is_object()) return std::nullopt;
  auto block = workspace_object.find("autoscaling");
  if (block == workspace_object.end()) return std::nullopt;
  auto spec = ParseAutoscaling(*block);
  if (!spec.ok()) return std::nullopt;
  int replicas = 1;
  if (auto pl = workspace_object.find("placement"); pl != workspace_object.end() && pl->is_object()) {
    auto r = pl->find("replicas");
    if (r != pl->end() && r->is_number_integer()) replicas = r->get<int>();
  }
  return AutoscaledSize(*spec, replicas, workspace_object.value("status", nlohmann::json()));
}

}  // namespace berth::workspace
