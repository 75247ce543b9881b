#include "api/object.h"

#include <cctype>

#include "api/kube_protobuf.h"
#include "api/schema.h"
#include "api/yaml_json.h"

namespace berth::api {

using nlohmann::json;

StatusOr<json> DecodeBody(std::string_view body, std::string_view content_type, size_t max_bytes) {
  if (body.size() > max_bytes) {
    return Status::TooLarge("request body is " + std::to_string(body.size()) +
                            " bytes; the limit is " + std::to_string(max_bytes) +
                            " bytes: store large data elsewhere and reference it");
  }
  // The media type without parameters ("application/json; charset=utf-8").
  std::string media(content_type.substr(0, content_type.find(';')));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool yaml = media == "application/yaml" || media == "application/x-yaml" || media == "text/yaml";
  if (media == kProtobufMediaType) {  // kubectl create namespace|configmap|secret
    auto decoded = DecodeKubeProtobuf(body);
    if (!decoded.ok()) return decoded.status();
    BERTH_RETURN_IF_ERROR(CheckMetadataTypes(*decoded));
    return decoded;
  }
  if (!yaml && !media.empty() && media != "application/json") {
    return Status(StatusCode::kUnsupportedMedia,
                  "Content-Type \"" + std::string(content_type.substr(0, 100)) +
                      "\" is not supported: send application/json or application/yaml");
  }
  json doc;
  if (yaml) {
    auto parsed = YamlToJson(body);
    if (!parsed.ok()) return parsed.status();
    doc = std::move(*parsed);
  } else {
    auto parsed = ParseJson(body, "invalid JSON body");
    if (!parsed.ok()) return parsed.status();
    doc = std::move(*parsed);
  }
  if (!doc.is_object()) return Status::BadRequest("request body must be a JSON object");
  BERTH_RETURN_IF_ERROR(CheckMetadataTypes(doc));
  return doc;
}

Status CheckMetadataTypes(const json& object) {
  if (!object.is_object()) return Status::Ok();
  for (const char* f : {"apiVersion", "kind"}) {
    auto v = object.find(f);
    if (v != object.end() && !v->is_string() && !v->is_null()) {
      return Status::Invalid(std::string(f) + ": must be a string", {{f, "must be a string", "FieldValueTypeInvalid"}});
    }
  }
  auto it = object.find("metadata");
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) {
    return Status::Invalid("metadata: must be an object", {{"metadata", "must be an object", "FieldValueTypeInvalid"}});
  }
  for (const char* f : {"name", "namespace", "generateName", "resourceVersion", "uid"}) {
    auto v = it->find(f);
    if (v != it->end() && !v->is_string() && !v->is_null()) {
      const std::string field = std::string("metadata.") + f;
      return Status::Invalid(field + ": must be a string", {{field, "must be a string", "FieldValueTypeInvalid"}});
    }
  }
  return Status::Ok();
}

Status ValidateObject(const KindInfo& kind, const json& object, bool require_name) {
  if (!object.is_object()) return Status::BadRequest("the object must be a JSON object");
  BERTH_RETURN_IF_ERROR(CheckMetadataTypes(object));
  const std::string api_version = object.value("apiVersion", "");
  const std::string k = object.value("kind", "");
  if (k.empty() || api_version.empty()) {
    return Status::BadRequest("object needs apiVersion and kind (expected apiVersion: " +
                              kind.api_version() + ", kind: " + kind.kind + ")");
  }
  if (api_version != kind.api_version() || k != kind.kind) {
    return Status::BadRequest("the body is a " + api_version + " " + k + ", but this URL serves " +
                              kind.api_version() + " " + kind.kind);
  }
  std::vector<FieldCause> causes;
  CollectSchemaViolations(kind.schema, object, "", &causes);
  const json& meta = object.contains("metadata") ? object["metadata"] : json::object();
  if (meta.is_object()) {
    if (require_name && NameOf(object).empty()) {
      causes.push_back({"metadata.name", "name or generateName is required", "FieldValueRequired"});
    }
    if (!kind.namespaced && !NamespaceOf(object).empty()) {
      causes.push_back({"metadata.namespace", kind.kind + " is cluster-scoped: remove the namespace",
                        "FieldValueForbidden"});
    }
    if (auto labels = meta.find("labels"); labels != meta.end() && labels->is_object()) {
      for (auto it = labels->begin(); it != labels->end(); ++it) {
        std::string path = "metadata.labels." + it.key();
        if (std::string why = CheckLabelKey(it.key()); !why.empty()) {
          causes.push_back({path, "invalid label key: " + why, "FieldValueInvalid"});
        }
        if (it->is_string()) {
          if (std::string why = CheckLabelValue(*it); !why.empty()) {
            causes.push_back({path, "invalid label value: " + why, "FieldValueInvalid"});
          }
        }
      }
    }
    if (auto ann = meta.find("annotations"); ann != meta.end() && ann->is_object()) {
      size_t total = 0;
      for (auto it = ann->begin(); it != ann->end(); ++it) {
        total += it.key().size() + (it->is_string() ? it->get_ref<const std::string&>().size() : 0);
      }
      if (total > kMaxAnnotationBytes) {
        causes.push_back({"metadata.annotations",
                          "total size " + std::to_string(total) + " bytes exceeds the limit of " +
                              std::to_string(kMaxAnnotationBytes),
                          "FieldValueTooLong"});
      }
    }
  }
  if (causes.empty()) return Status::Ok();
  std::string name = NameOf(object);
  std::string msg = kind.kind + " \"" + (name.empty() ? "<unnamed>" : name) + "\" is invalid: ";
  for (size_t i = 0; i < causes.size() && i < 3; ++i) {
    msg += (i ? ", " : "") + causes[i].field + ": " + causes[i].message;
  }
  if (causes.size() > 3) msg += " (and " + std::to_string(causes.size() - 3) + " more)";
  return Status::Invalid(msg, std::move(causes));
}

namespace {
std::string MetaString(const json& object, const char* field) {
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return "";
  auto f = m->find(field);
  if (f == m->end() || !f->is_string()) return "";
  return *f;
}
}  // namespace

std::string NameOf(const json& object) { return MetaString(object, "name"); }
std::string NamespaceOf(const json& object) { return MetaString(object, "namespace"); }
std::string UidOf(const json& object) { return MetaString(object, "uid"); }

int64_t ResourceVersionOf(const json& object) {
  std::string rv = MetaString(object, "resourceVersion");
  if (rv.empty()) return 0;
  try {
    size_t pos = 0;
    int64_t v = std::stoll(rv, &pos);
    return pos == rv.size() ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

int64_t GenerationOf(const json& object) {
  json g = JsonPathGet(object, "metadata.generation");
  return g.is_number_integer() ? g.get<int64_t>() : 0;
}

std::map<std::string, std::string> LabelsOf(const json& object) {
  std::map<std::string, std::string> out;
  json labels = JsonPathGet(object, "metadata.labels");
  if (!labels.is_object()) return out;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (it->is_string()) out[it.key()] = *it;
  }
  return out;
}

bool HasFinalizers(const json& object) {
  json f = JsonPathGet(object, "metadata.finalizers");
  if (f.is_array() && !f.empty()) return true;
  if (JsonPathGet(object, "apiVersion") != "v1" || JsonPathGet(object, "kind") != "Namespace") return false;
  json spec = JsonPathGet(object, "spec.finalizers");
  return spec.is_array() && !spec.empty();
}

bool IsBeingDeleted(const json& object) {
  return !MetaString(object, "deletionTimestamp").empty();
}

json DesiredStateOf(const json& object) {
  json out = json::object();
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& k = it.key();
    if (k == "apiVersion" || k == "kind" || k == "metadata" || k == "status") continue;
    out[k] = *it;
  }
  return out;
}

std::string KeyOf(const json& object) {
  std::string ns = NamespaceOf(object);
  return ns.empty() ? NameOf(object) : ns + "/" + NameOf(object);
}

}  // namespace berth::api
