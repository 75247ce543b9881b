#include "api/field_set.h"

#include <algorithm>
#include <iterator>

namespace berth::api {

using nlohmann::json;

namespace {

// Deeper than this a FieldsV1 document is refused: above the decoder's nesting limit (1,000),
// so every object the hub accepts has a readable record, and a hand-edited store cannot make
// this recursion go deeper.
constexpr int kMaxDepth = 1100;

Status ReadNode(const json& node, FieldPath& prefix, std::set<FieldPath>& out, int depth) {
  if (!node.is_object()) {
    return Status::BadRequest("metadata.managedFields: fieldsV1 at " + FieldPathString(prefix) +
                              " must be an object");
  }
  if (depth > kMaxDepth) return Status::BadRequest("metadata.managedFields: fieldsV1 is nested too deeply");
  if (node.empty() && !prefix.empty()) out.insert(prefix);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& key = it.key();
    if (key == ".") {
      if (!prefix.empty()) out.insert(prefix);
      continue;
    }
    if (key.size() < 2 || key[1] != ':' || (key[0] != 'f' && key[0] != 'k' && key[0] != 'v')) {
      return Status::BadRequest("metadata.managedFields: fieldsV1 element \"" + key +
                                "\" is not f:<field>, k:<keys> or v:<value>");
    }
    if (key[0] != 'f' && !json::accept(key.substr(2))) {
      return Status::BadRequest("metadata.managedFields: fieldsV1 element \"" + key + "\" is not JSON after its prefix");
    }
    prefix.push_back(key);
    Status s = ReadNode(*it, prefix, out, depth + 1);
    prefix.pop_back();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

bool IsPrefix(const FieldPath& prefix, const FieldPath& path) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

// The index of the list item a "k:" or "v:" element names, or -1.
long FindItem(const json& list, const std::string& element) {
  if (!list.is_array() || element.size() < 2) return -1;
  const json want = json::parse(element.substr(2), nullptr, /*allow_exceptions=*/false);
  if (want.is_discarded()) return -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    if (element[0] == 'v') {
      if (item == want) return static_cast<long>(i);
      continue;
    }
    if (!item.is_object() || !want.is_object()) continue;
    bool all = true;
    for (auto k = want.begin(); k != want.end() && all; ++k) {
      auto f = item.find(k.key());
      all = f != item.end() ? *f == *k : k->is_null();  // a missing key reads as null
    }
    if (all) return static_cast<long>(i);
  }
  return -1;
}

}  // namespace

std::string FieldPathString(const FieldPath& path) {
  std::string out;
  for (const auto& e : path) {
    if (e.rfind("f:", 0) == 0) {
      out += "." + e.substr(2);
    } else if (e.rfind("v:", 0) == 0) {
      out += "[=" + e.substr(2) + "]";
    } else if (e.rfind("k:", 0) == 0) {
      const json keys = json::parse(e.substr(2), nullptr, false);
      std::string inner;
      if (keys.is_object()) {
        for (auto it = keys.begin(); it != keys.end(); ++it) {
          inner += (inner.empty() ? "" : ",") + it.key() + "=" + it->dump();
        }
      }
      out += "[" + inner + "]";
    } else {
      out += "[" + e + "]";
    }
  }
  return out.empty() ? "." : out;
}

StatusOr<FieldSet> FieldSet::FromFieldsV1(const json& fields) {
  FieldSet set;
  if (fields.is_null()) return set;
  FieldPath prefix;
  BERTH_RETURN_IF_ERROR(ReadNode(fields, prefix, set.paths_, 0));
  return set;
}

json FieldSet::ToFieldsV1() const {
  json root = json::object();
  for (const auto& path : paths_) {
    json* node = &root;
    for (const auto& e : path) {
      json& child = (*node)[e];
      if (child.is_null()) child = json::object();
      node = &child;
    }
  }
  // A member with members below it is marked with ".".
  for (const auto& path : paths_) {
    json* node = &root;
    for (const auto& e : path) node = &(*node)[e];
    if (!node->empty()) (*node)["."] = json::object();
  }
  return root;
}

bool FieldSet::ContainsAtOrBelow(const FieldPath& path) const {
  auto it = paths_.lower_bound(path);
  return it != paths_.end() && IsPrefix(path, *it);
}

bool FieldSet::HasMembersBelow(const FieldPath& path) const {
  FieldPath below = path;
  below.push_back("");  // the smallest path strictly below `path`
  auto it = paths_.lower_bound(below);
  return it != paths_.end() && it->size() > path.size() && IsPrefix(path, *it);
}

FieldSet FieldSet::Union(const FieldSet& other) const {
  FieldSet out = *this;
  out.paths_.insert(other.paths_.begin(), other.paths_.end());
  return out;
}

FieldSet FieldSet::Difference(const FieldSet& other) const {
  FieldSet out;
  std::set_difference(paths_.begin(), paths_.end(), other.paths_.begin(), other.paths_.end(),
                      std::inserter(out.paths_, out.paths_.end()));
  return out;
}

FieldSet FieldSet::Intersection(const FieldSet& other) const {
  FieldSet out;
  std::set_intersection(paths_.begin(), paths_.end(), other.paths_.begin(), other.paths_.end(),
                        std::inserter(out.paths_, out.paths_.end()));
  return out;
}

FieldSet FieldSet::Below(const FieldPath& prefix) const {
  FieldSet out;
  for (auto it = paths_.lower_bound(prefix); it != paths_.end() && IsPrefix(prefix, *it); ++it) {
    out.paths_.insert(*it);
  }
  return out;
}

FieldSet FieldSet::NotBelow(const FieldPath& prefix) const { return Difference(Below(prefix)); }

const json* ValueAtPath(const json& value, const FieldPath& path) {
  const json* node = &value;
  for (const auto& e : path) {
    if (e.rfind("f:", 0) == 0) {
      if (!node->is_object()) return nullptr;
      auto it = node->find(e.substr(2));
      if (it == node->end()) return nullptr;
      node = &*it;
    } else {
      long i = FindItem(*node, e);
      if (i < 0) return nullptr;
      node = &(*node)[static_cast<size_t>(i)];
    }
  }
  return node;
}

bool RemoveAtPath(json& value, const FieldPath& path) {
  if (path.empty()) return false;
  FieldPath parent_path(path.begin(), path.end() - 1);
  json* parent = const_cast<json*>(ValueAtPath(value, parent_path));
  if (!parent) return false;
  const std::string& last = path.back();
  if (last.rfind("f:", 0) == 0) {
    return parent->is_object() && parent->erase(last.substr(2)) > 0;
  }
  long i = FindItem(*parent, last);
  if (i < 0) return false;
  parent->erase(static_cast<size_t>(i));
  return true;
}

}  // namespace berth::api
