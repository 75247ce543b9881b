#include "api/kube_protobuf.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/base64.h"

namespace berth::api {

using nlohmann::json;

namespace {

// One field of a protobuf message: its number and, by wire type, an integer or bytes.
struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t varint = 0;
  std::string_view bytes;
};

// Reads the fields of one message in order; false on a malformed message.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Next(Field* f) {
    if (pos_ >= data_.size()) return false;
    uint64_t key;
    if (!Varint(&key)) return Fail();
    f->number = static_cast<uint32_t>(key >> 3);
    f->wire = static_cast<uint32_t>(key & 7);
    switch (f->wire) {
      case 0:
        return Varint(&f->varint) || Fail();
      case 1:
        return Skip(8);
      case 5:
        return Skip(4);
      case 2: {
        uint64_t len;
        if (!Varint(&len) || len > data_.size() - pos_) return Fail();
        f->bytes = data_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      default:
        return Fail();
    }
  }
  bool failed() const { return failed_; }

 private:
  bool Varint(uint64_t* out) {
    *out = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      *out |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (n > data_.size() - pos_) return Fail();
    pos_ += n;
    return true;
  }
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Calls `on` for every field; false if the message is malformed.
bool ForEach(std::string_view message, const std::function<bool(const Field&)>& on) {
  Reader r(message);
  Field f;
  while (r.Next(&f)) {
    if (!on(f)) return false;
  }
  return !r.failed();
}

std::string Str(const Field& f) { return std::string(f.bytes); }

// A map<string, string|bytes> entry: key = 1, value = 2.
bool MapEntry(const Field& f, json& map, bool bytes_value) {
  std::string key, value;
  if (!ForEach(f.bytes, [&](const Field& e) {
        if (e.wire != 2) return true;
        if (e.number == 1) key = Str(e);
        if (e.number == 2) value = Str(e);
        return true;
      })) {
    return false;
  }
  map[key] = bytes_value ? Base64Encode(value) : value;
  return true;
}

bool ObjectMeta(std::string_view message, json& meta) {
  return ForEach(message, [&](const Field& f) {
    // Kubernetes' generated marshalers write every string field, set or not.
    if (f.wire != 2 || (f.bytes.empty() && f.number <= 3)) return true;
    switch (f.number) {
      case 1: meta["name"] = Str(f); return true;
      case 2: meta["generateName"] = Str(f); return true;
      case 3: meta["namespace"] = Str(f); return true;
      case 11: return MapEntry(f, meta["labels"], false);
      case 12: return MapEntry(f, meta["annotations"], false);
      case 14: meta["finalizers"].push_back(Str(f)); return true;
      default: return true;  // server-set or not sent by kubectl create
    }
  });
}

// The kind-specific fields of `kind`, field number → what it sets.
bool Body(const std::string& kind, std::string_view raw, json& obj) {
  return ForEach(raw, [&](const Field& f) {
    if (f.number == 1 && f.wire == 2) return ObjectMeta(f.bytes, obj["metadata"]);
    if (kind == "Namespace") {
      if (f.number == 2 && f.wire == 2) {
        return ForEach(f.bytes, [&](const Field& s) {
          if (s.number == 1 && s.wire == 2) obj["spec"]["finalizers"].push_back(Str(s));
          return true;
        });
      }
      return true;  // status is the server's
    }
    const bool secret = kind == "Secret";
    if (f.number == 2 && f.wire == 2) return MapEntry(f, obj["data"], /*bytes_value=*/secret);
    if (!secret && f.number == 3 && f.wire == 2) return MapEntry(f, obj["binaryData"], true);
    if (!secret && f.number == 4 && f.wire == 0) obj["immutable"] = f.varint != 0;
    if (secret && f.number == 3 && f.wire == 2 && !f.bytes.empty()) obj["type"] = Str(f);
    if (secret && f.number == 4 && f.wire == 2) return MapEntry(f, obj["stringData"], false);
    if (secret && f.number == 5 && f.wire == 0) obj["immutable"] = f.varint != 0;
    return true;
  });
}

// authorization.k8s.io/v1 SelfSubjectAccessReview (what `kubectl auth can-i` sends):
// metadata = 1, spec = 2 { resourceAttributes = 1 { namespace, verb, group, version,
// resource, subresource, name = 1..7 }, nonResourceAttributes = 2 { path, verb = 1, 2 } }.
bool AccessReviewBody(std::string_view raw, json& obj) {
  static const char* const kResource[] = {"", "namespace", "verb", "group", "version", "resource", "subresource", "name"};
  static const char* const kNonResource[] = {"", "path", "verb"};
  return ForEach(raw, [&](const Field& f) {
    if (f.number == 1 && f.wire == 2) return ObjectMeta(f.bytes, obj["metadata"]);
    if (f.number != 2 || f.wire != 2) return true;  // status is the server's
    return ForEach(f.bytes, [&](const Field& s) {
      if (s.wire != 2 || (s.number != 1 && s.number != 2)) return true;
      json& attrs = obj["spec"][s.number == 1 ? "resourceAttributes" : "nonResourceAttributes"];
      attrs = json::object();
      const uint32_t last = s.number == 1 ? 7 : 2;
      return ForEach(s.bytes, [&](const Field& a) {
        if (a.wire == 2 && a.number >= 1 && a.number <= last) {
          attrs[s.number == 1 ? kResource[a.number] : kNonResource[a.number]] = Str(a);
        }
        return true;
      });
    });
  });
}

// rbac.authorization.k8s.io/v1, what `kubectl create role|clusterrole|rolebinding|
// clusterrolebinding` send. Role, ClusterRole: metadata = 1, rules = 2 { verbs, apiGroups,
// resources, resourceNames, nonResourceURLs = 1..5 }, aggregationRule = 3 (not decoded:
// `unsupported`). RoleBinding, ClusterRoleBinding: metadata = 1, subjects = 2 { kind, apiGroup,
// name, namespace = 1..4 }, roleRef = 3 { apiGroup, kind, name = 1..3 }.
bool RbacBody(const std::string& kind, std::string_view raw, json& obj, bool* unsupported) {
  static const char* const kRule[] = {"", "verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"};
  static const char* const kSubject[] = {"", "kind", "apiGroup", "name", "namespace"};
  static const char* const kRoleRef[] = {"", "apiGroup", "kind", "name"};
  const bool role = kind == "Role" || kind == "ClusterRole";
  obj[role ? "rules" : "subjects"] = json::array();
  // One message of string fields 1..last into `out`: repeated ones as lists (a rule's ""
  // API group is the core group), single ones as strings (empty ones, always written by the
  // generated marshalers, dropped).
  auto strings = [](std::string_view msg, const char* const* names, uint32_t last, bool repeated, json& out) {
    out = json::object();
    return ForEach(msg, [&](const Field& x) {
      if (x.wire != 2 || x.number < 1 || x.number > last) return true;
      if (repeated) {
        out[names[x.number]].push_back(Str(x));
      } else if (!x.bytes.empty()) {
        out[names[x.number]] = Str(x);
      }
      return true;
    });
  };
  return ForEach(raw, [&](const Field& f) {
    if (f.wire != 2) return true;
    if (f.number == 1) return ObjectMeta(f.bytes, obj["metadata"]);
    json part;
    if (role && f.number == 2) {
      if (!strings(f.bytes, kRule, 5, true, part)) return false;
      obj["rules"].push_back(std::move(part));
    } else if (role && f.number == 3) {
      *unsupported = true;
    } else if (!role && f.number == 2) {
      if (!strings(f.bytes, kSubject, 4, false, part)) return false;
      obj["subjects"].push_back(std::move(part));
    } else if (!role && f.number == 3) {
      if (!strings(f.bytes, kRoleRef, 3, false, part)) return false;
      obj["roleRef"] = std::move(part);
    }
    return true;
  });
}

// authorization.k8s.io/v1 SelfSubjectRulesReview (what `kubectl auth can-i --list` sends):
// metadata = 1, spec = 2 { namespace = 1 }.
bool RulesReviewBody(std::string_view raw, json& obj) {
  return ForEach(raw, [&](const Field& f) {
    if (f.number == 1 && f.wire == 2) return ObjectMeta(f.bytes, obj["metadata"]);
    if (f.number != 2 || f.wire != 2) return true;  // status is the server's
    obj["spec"] = json::object();
    return ForEach(f.bytes, [&](const Field& s) {
      if (s.number == 1 && s.wire == 2) obj["spec"]["namespace"] = Str(s);
      return true;
    });
  });
}

}  // namespace

StatusOr<json> DecodeKubeProtobuf(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) {
    return Status(StatusCode::kUnsupportedMedia,
                  "the body is not a Kubernetes protobuf object (no \"k8s\\0\" magic): send "
                  "application/json or application/yaml");
  }
  std::string api_version, kind;
  std::string_view raw;
  bool ok = ForEach(body.substr(4), [&](const Field& f) {
    if (f.wire != 2) return true;
    if (f.number == 1) {  // TypeMeta
      return ForEach(f.bytes, [&](const Field& t) {
        if (t.wire == 2 && t.number == 1) api_version = Str(t);
        if (t.wire == 2 && t.number == 2) kind = Str(t);
        return true;
      });
    }
    if (f.number == 2) raw = f.bytes;
    return true;
  });
  if (!ok) return Status::BadRequest("the protobuf body is malformed");
  if (api_version == "authorization.k8s.io/v1" && kind == "SelfSubjectAccessReview") {
    json review = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
    if (!AccessReviewBody(raw, review)) return Status::BadRequest("the protobuf SelfSubjectAccessReview is malformed");
    return review;
  }
  if (api_version == "authorization.k8s.io/v1" && kind == "SelfSubjectRulesReview") {
    json review = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
    if (!RulesReviewBody(raw, review)) return Status::BadRequest("the protobuf SelfSubjectRulesReview is malformed");
    return review;
  }
  if (api_version == "rbac.authorization.k8s.io/v1" &&
      (kind == "Role" || kind == "ClusterRole" || kind == "RoleBinding" || kind == "ClusterRoleBinding")) {
    json obj = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
    bool unsupported = false;
    if (!RbacBody(kind, raw, obj, &unsupported)) return Status::BadRequest("the protobuf " + kind + " is malformed");
    if (unsupported) {
      return Status(StatusCode::kUnsupportedMedia,
                    "Berth does not read a protobuf ClusterRole's aggregationRule: send application/json or "
                    "application/yaml (kubectl apply -f)");
    }
    return obj;
  }
  if (api_version != "v1" || (kind != "Namespace" && kind != "ConfigMap" && kind != "Secret")) {
    return Status(StatusCode::kUnsupportedMedia,
                  "Berth reads protobuf only for v1 Namespace, ConfigMap and Secret, the RBAC kinds, "
                  "SelfSubjectAccessReview and SelfSubjectRulesReview (got " +
                      (api_version.empty() ? std::string("?") : api_version) + " " +
                      (kind.empty() ? std::string("?") : kind) + "): send application/json or application/yaml");
  }
  json obj = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
  if (!Body(kind, raw, obj)) return Status::BadRequest("the protobuf " + kind + " is malformed");
  for (const char* map : {"labels", "annotations"}) {
    if (obj["metadata"].contains(map) && obj["metadata"][map].is_null()) obj["metadata"].erase(map);
  }
  return obj;
}

}  // namespace berth::api
