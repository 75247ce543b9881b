// Sets of field paths, the unit of ownership in server-side apply, in Kubernetes' FieldsV1
// shape (what `metadata.managedFields[].fieldsV1` holds and kubectl shows).
//
// A path is a sequence of elements, each a string as FieldsV1 spells it:
//   "f:<field>"        a field of an object           ("f:spec", "f:replicas")
//   "k:<json object>"  the item of a map-list with these key values ("k:{\"name\":\"canary\"}")
//   "v:<json value>"   the item of a set-list with this value ("v:\"berth.dev/cleanup\"")
// A set holds member paths. In FieldsV1 a member with no members below it is `{}`; a member
// that also has members below it carries a "." key ({".": {}, "f:app": {}}).
// Pure data: no I/O, no clock.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status.h"

namespace berth::api {

using FieldPath = std::vector<std::string>;

// ".spec.replicas", ".spec.stages[name=\"canary\"].soakSeconds", ".metadata.finalizers[=\"x\"]".
std::string FieldPathString(const FieldPath& path);

class FieldSet {
 public:
  FieldSet() = default;

  // Reads a FieldsV1 object; a malformed one (not an object, an unknown element prefix,
  // a key that is not JSON) is a BadRequest naming where.
  static StatusOr<FieldSet> FromFieldsV1(const nlohmann::json& fields);
  nlohmann::json ToFieldsV1() const;

  void Insert(FieldPath path) { paths_.insert(std::move(path)); }
  bool Contains(const FieldPath& path) const { return paths_.count(path) > 0; }
  // True if `path` or any path below it is a member.
  bool ContainsAtOrBelow(const FieldPath& path) const;
  // True if a member lies strictly below `path` (a map or list item with members inside).
  bool HasMembersBelow(const FieldPath& path) const;
  bool empty() const { return paths_.empty(); }
  size_t size() const { return paths_.size(); }
  const std::set<FieldPath>& paths() const { return paths_; }

  FieldSet Union(const FieldSet& other) const;
  FieldSet Difference(const FieldSet& other) const;
  FieldSet Intersection(const FieldSet& other) const;
  // Members at or below `prefix` (kept) or not (dropped).
  FieldSet Below(const FieldPath& prefix) const;
  FieldSet NotBelow(const FieldPath& prefix) const;

  bool operator==(const FieldSet&) const = default;

 private:
  std::set<FieldPath> paths_;
};

// The value at `path` in `value`, or nullptr when absent (a key or set element that does not
// parse counts as absent).
const nlohmann::json* ValueAtPath(const nlohmann::json& value, const FieldPath& path);
// Removes the value at `path` (an object field or a list item); false if it was absent.
bool RemoveAtPath(nlohmann::json& value, const FieldPath& path);

}  // namespace berth::api
