#include "api/strategic_merge_patch.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

namespace berth::api {

using nlohmann::json;

namespace {

constexpr std::string_view kOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeletePrefix = "$deleteFromPrimitiveList/";

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

// nullopt: the map is to be removed ("$patch": "delete").
StatusOr<std::optional<json>> MergeMap(json target, const json& patch, const std::string& path,
                                       const ListMergeKeys& keys);

// The element of `list` whose merge key equals `value`, or list.end().
json::iterator FindByKey(json& list, const std::string& key, const json& value) {
  return std::find_if(list.begin(), list.end(), [&](const json& e) {
    return e.is_object() && e.contains(key) && e[key] == value;
  });
}

StatusOr<json> MergeList(const json& original, const json& patch, const std::string& path,
                         const std::string& key) {
  const json replace_marker = {{"$patch", "replace"}};
  if (std::find(patch.begin(), patch.end(), replace_marker) != patch.end()) {
    json out = json::array();
    for (const auto& e : patch) {
      if (e != replace_marker) out.push_back(e);
    }
    return out;
  }
  json out = original.is_array() ? original : json::array();
  if (key.empty()) {  // a set of scalars: union, original order first
    for (const auto& v : patch) {
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return out;
  }
  for (const auto& e : patch) {
    if (!e.is_object() || !e.contains(key)) {
      return Status::BadRequest("strategic merge patch: an element of " + path +
                                " has no merge key \"" + key + "\"");
    }
    auto found = FindByKey(out, key, e[key]);
    if (e.value("$patch", json()) == "delete") {
      if (found != out.end()) out.erase(found);
      continue;
    }
    auto merged = MergeMap(found != out.end() ? *found : json::object(), e, path + "[]", {});
    if (!merged.ok()) return merged.status();
    if (found != out.end()) {
      if (merged->has_value()) {
        *found = std::move(**merged);
      } else {
        out.erase(found);
      }
    } else if (merged->has_value()) {
      out.push_back(std::move(**merged));
    }
  }
  return out;
}

// Moves the elements named in `order` to the front, in that order (matched by value, or by
// merge key for lists of maps); the others keep their relative order after them.
json Reorder(const json& list, const json& order, const std::string& key) {
  json front = json::array(), rest = json::array();
  std::vector<bool> taken(list.size(), false);
  for (const auto& want : order) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (taken[i]) continue;
      const bool same = key.empty() ? list[i] == want
                                    : (list[i].is_object() && want.is_object() && want.contains(key) &&
                                       list[i].value(key, json()) == want[key]);
      if (same) {
        taken[i] = true;
        front.push_back(list[i]);
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!taken[i]) front.push_back(list[i]);
  }
  return front;
}

StatusOr<std::optional<json>> MergeMap(json target, const json& patch, const std::string& path,
                                       const ListMergeKeys& keys) {
  if (!target.is_object()) target = json::object();
  if (auto p = patch.find("$patch"); p != patch.end()) {
    if (*p == "delete") return std::optional<json>();
    if (*p != "replace") {
      return Status::BadRequest("strategic merge patch: unknown $patch value " + p->dump() +
                                (path.empty() ? "" : " at " + path));
    }
    json out = patch;
    out.erase("$patch");
    return std::optional<json>(std::move(out));
  }
  if (auto r = patch.find("$retainKeys"); r != patch.end()) {
    if (!r->is_array()) return Status::BadRequest("strategic merge patch: $retainKeys must be a list");
    for (auto it = target.begin(); it != target.end();) {
      it = std::find(r->begin(), r->end(), it.key()) == r->end() ? target.erase(it) : std::next(it);
    }
  }
  std::vector<std::pair<std::string, const json*>> orders, deletions;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (StartsWith(k, kOrderPrefix)) {
      orders.emplace_back(k.substr(kOrderPrefix.size()), &v);
    } else if (StartsWith(k, kDeletePrefix)) {
      deletions.emplace_back(k.substr(kDeletePrefix.size()), &v);
    } else if (k == "$retainKeys") {
      continue;
    } else if (!k.empty() && k[0] == '$') {
      return Status::BadRequest("strategic merge patch: unknown directive \"" + k + "\"" +
                                (path.empty() ? "" : " at " + path));
    } else if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      auto merged = MergeMap(target.contains(k) ? target[k] : json::object(), v, Child(path, k), keys);
      if (!merged.ok()) return merged.status();
      if (merged->has_value()) {
        target[k] = std::move(**merged);
      } else {
        target.erase(k);
      }
    } else if (auto mk = keys.find(Child(path, k)); v.is_array() && mk != keys.end()) {
      auto merged = MergeList(target.contains(k) ? target[k] : json::array(), v, Child(path, k), mk->second);
      if (!merged.ok()) return merged.status();
      target[k] = std::move(*merged);
    } else {
      target[k] = v;
    }
  }
  for (const auto& [list, values] : deletions) {
    if (!values->is_array()) {
      return Status::BadRequest("strategic merge patch: $deleteFromPrimitiveList/" + list + " must be a list");
    }
    if (!target.contains(list) || !target[list].is_array()) continue;
    json kept = json::array();
    for (const auto& e : target[list]) {
      if (std::find(values->begin(), values->end(), e) == values->end()) kept.push_back(e);
    }
    target[list] = std::move(kept);
  }
  for (const auto& [list, order] : orders) {
    if (!order->is_array()) {
      return Status::BadRequest("strategic merge patch: $setElementOrder/" + list + " must be a list");
    }
    if (!target.contains(list) || !target[list].is_array()) continue;
    auto mk = keys.find(Child(path, list));
    target[list] = Reorder(target[list], *order, mk == keys.end() ? "" : mk->second);
  }
  return std::optional<json>(std::move(target));
}

}  // namespace

const ListMergeKeys& ObjectMetaMergeKeys() {
  static const ListMergeKeys keys = {{"metadata.finalizers", ""}, {"metadata.ownerReferences", "uid"}};
  return keys;
}

StatusOr<json> ApplyStrategicMergePatch(const json& original, const json& patch,
                                        const ListMergeKeys& merge_keys) {
  if (!patch.is_object()) return Status::BadRequest("a strategic merge patch must be a JSON object");
  try {
    auto merged = MergeMap(original, patch, "", merge_keys);
    if (!merged.ok()) return merged.status();
    if (!merged->has_value()) {
      return Status::BadRequest("strategic merge patch: \"$patch\": \"delete\" cannot remove the whole object");
    }
    return std::move(**merged);
  } catch (const json::exception& e) {
    return Status::BadRequest(std::string("strategic merge patch: ") + e.what());
  }
}

}  // namespace berth::api
