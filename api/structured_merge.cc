#include "api/structured_merge.h"

#include <algorithm>
#include <string>
#include <vector>

namespace berth::api {

using nlohmann::json;

namespace {

enum class ListType { kAtomic, kSet, kMap };

const json& EmptySchema() {
  static const json kEmpty = json::object();
  return kEmpty;
}

ListType ListTypeOf(const json& schema) {
  if (!schema.is_object()) return ListType::kAtomic;
  const std::string t = schema.value("x-kubernetes-list-type", "atomic");
  if (t == "set") return ListType::kSet;
  if (t == "map" && schema.contains("x-kubernetes-list-map-keys")) return ListType::kMap;
  return ListType::kAtomic;
}

const json& ItemsOf(const json& schema) {
  if (schema.is_object()) {
    auto it = schema.find("items");
    if (it != schema.end() && it->is_object()) return *it;
  }
  return EmptySchema();
}

const json& FieldSchema(const json& schema, const std::string& field) {
  if (!schema.is_object()) return EmptySchema();
  if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) {
    if (auto f = p->find(field); f != p->end() && f->is_object()) return *f;
  }
  if (auto a = schema.find("additionalProperties"); a != schema.end() && a->is_object()) return *a;
  return EmptySchema();
}

bool IsAtomicMap(const json& schema) {
  return schema.is_object() && schema.value("x-kubernetes-map-type", "") == "atomic";
}

bool IsGranularMap(const json& schema) {
  if (!schema.is_object() || schema.contains("properties")) return false;
  auto a = schema.find("additionalProperties");
  return a != schema.end() && (a->is_object() || (a->is_boolean() && a->get<bool>()));
}

// "k:{...}" for a map-list item: the values of its keys (null when a key is missing).
std::string KeyElement(const json& item, const json& list_schema) {
  json keys = json::object();
  for (const auto& k : list_schema["x-kubernetes-list-map-keys"]) {
    if (!k.is_string()) continue;
    const std::string name = k.get<std::string>();
    auto it = item.is_object() ? item.find(name) : item.end();
    keys[name] = (item.is_object() && it != item.end()) ? *it : json(nullptr);
  }
  return "k:" + keys.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ValueElement(const json& item) {
  return "v:" + item.dump(-1, ' ', false, json::error_handler_t::replace);
}

void Walk(const json& value, const json& schema, FieldPath& prefix, FieldSet& out);

void WalkFields(const json& object, const json& schema, FieldPath& prefix, FieldSet& out) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    prefix.push_back("f:" + it.key());
    Walk(*it, FieldSchema(schema, it.key()), prefix, out);
    prefix.pop_back();
  }
}

void Walk(const json& value, const json& schema, FieldPath& prefix, FieldSet& out) {
  if (value.is_object() && !value.empty() && !IsAtomicMap(schema)) {
    if (IsGranularMap(schema) && !prefix.empty()) out.Insert(prefix);
    WalkFields(value, schema, prefix, out);
    return;
  }
  if (value.is_array() && !value.empty() && ListTypeOf(schema) != ListType::kAtomic) {
    const bool is_set = ListTypeOf(schema) == ListType::kSet;
    if (is_set) out.Insert(prefix);
    for (const auto& item : value) {
      prefix.push_back(is_set ? ValueElement(item) : KeyElement(item, schema));
      out.Insert(prefix);
      if (!is_set && item.is_object()) WalkFields(item, ItemsOf(schema), prefix, out);
      prefix.pop_back();
    }
    return;
  }
  if (!prefix.empty()) out.Insert(prefix);  // a leaf: scalar, null, {}, [], atomic value
}

// The index in `list` of the item with the same key values as `item`, or -1.
long FindKeyed(const json& list, const json& item, const json& list_schema) {
  const std::string want = KeyElement(item, list_schema);
  for (size_t i = 0; i < list.size(); ++i) {
    if (KeyElement(list[i], list_schema) == want) return static_cast<long>(i);
  }
  return -1;
}

}  // namespace

FieldSet FieldSetOf(const json& value, const json& schema) {
  FieldSet out;
  FieldPath prefix;
  Walk(value, schema, prefix, out);
  return out;
}

FieldSet ChangedFields(const json* before, const json& after, const json& schema) {
  const FieldSet all = FieldSetOf(after, schema);
  if (!before) return all;
  FieldSet changed;
  for (const auto& path : all.paths()) {
    const json* was = ValueAtPath(*before, path);
    if (!was) {
      changed.Insert(path);
    } else if (!all.HasMembersBelow(path)) {
      const json* now = ValueAtPath(after, path);
      if (!now || *now != *was) changed.Insert(path);
    }
  }
  return changed;
}

json MergeApplied(const json& live, const json& applied, const json& schema) {
  if (applied.is_object() && live.is_object() && !IsAtomicMap(schema)) {
    json out = live;
    for (auto it = applied.begin(); it != applied.end(); ++it) {
      auto l = live.find(it.key());
      out[it.key()] = l == live.end() ? *it : MergeApplied(*l, *it, FieldSchema(schema, it.key()));
    }
    return out;
  }
  if (applied.is_array() && live.is_array()) {
    const ListType type = ListTypeOf(schema);
    if (type == ListType::kSet) {
      json out = live;
      for (const auto& item : applied) {
        if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
      }
      return out;
    }
    if (type == ListType::kMap) {
      json out = live;
      for (const auto& item : applied) {
        long i = FindKeyed(out, item, schema);
        if (i < 0) {
          out.push_back(item);
        } else {
          out[static_cast<size_t>(i)] = MergeApplied(out[static_cast<size_t>(i)], item, ItemsOf(schema));
        }
      }
      return out;
    }
  }
  return applied;
}

void DropNulls(json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      if (it->is_null()) {
        it = value.erase(it);
      } else {
        DropNulls(*it);
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) DropNulls(item);
  }
}

}  // namespace berth::api
