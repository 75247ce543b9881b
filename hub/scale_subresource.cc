#include "hub/scale_subresource.h"

#include <cstdint>

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

namespace {

// "placement.replicas" → json pointer "/placement/replicas".
json::json_pointer PointerOf(const std::string& dotted) {
  std::string p;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    p += "/" + dotted.substr(start, dot - start);
    start = dot + 1;
  }
  return json::json_pointer(p);
}

}  // namespace

json ScaleOf(const api::KindInfo& kind, const json& object) {
  json meta = json::object();
  const json& om = object.contains("metadata") ? object["metadata"] : json::object();
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (om.is_object() && om.contains(f)) meta[f] = om[f];
  }
  json desired = api::JsonPathGet(object, kind.scale_spec_path);
  if (kind.scale_managed) {
    if (auto managed = kind.scale_managed(object)) desired = managed->replicas;
  }
  json status = {{"replicas", kind.scale_status_replicas ? kind.scale_status_replicas(object) : 0}};
  if (kind.scale_selector) status["selector"] = kind.scale_selector(object);
  return {{"apiVersion", kScaleApiVersion}, {"kind", "Scale"}, {"metadata", meta},
          {"spec", {{"replicas", desired.is_number_integer() ? desired : json(kind.scale_default_replicas)}}},
          {"status", status}};
}

StatusOr<json> WithScale(const api::KindInfo& kind, const json& object, const json& scale) {
  if (!scale.is_object()) return Status::BadRequest("a Scale must be a JSON object");
  const json kind_field = scale.value("kind", json("Scale"));
  if (kind_field != "Scale") {
    return Status::BadRequest("the /scale subresource takes a Scale, not " + kind_field.dump());
  }
  const json name = api::JsonPathGet(scale, "metadata.name");
  if (!name.is_null() && name != api::NameOf(object)) {
    return Status::BadRequest("the name of the Scale (" + name.dump() + ") does not match the name on the URL (" +
                              api::NameOf(object) + ")");
  }
  const json rv = api::JsonPathGet(scale, "metadata.resourceVersion");
  if (rv.is_string() && !rv.get<std::string>().empty() && api::ResourceVersionOf(scale) != api::ResourceVersionOf(object)) {
    return Status::Conflict("Operation cannot be fulfilled on " + kind.resource() + " \"" + api::NameOf(object) +
                            "\": the object has been modified; please apply your changes to the latest version "
                            "and try again");
  }
  const json replicas = api::JsonPathGet(scale, "spec.replicas");
  if (kind.scale_managed) {
    if (auto managed = kind.scale_managed(object)) {
      if (replicas == json(managed->replicas)) return object;  // nothing to change
      return Status::Invalid(kind.kind + " \"" + api::NameOf(object) + "\" is invalid: spec.replicas: " +
                                 managed->why_not_writable,
                             {{"spec.replicas", managed->why_not_writable, "FieldValueForbidden"}});
    }
  }
  if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0 || replicas.get<int64_t>() > INT32_MAX) {
    const std::string why = "must be a whole number from 0 to 2147483647, got " +
                            (replicas.is_null() ? std::string("nothing") : replicas.dump());
    return Status::Invalid("Scale.autoscaling \"" + api::NameOf(object) + "\" is invalid: spec.replicas: " + why,
                           {{"spec.replicas", why}});
  }
  json out = object;
  out[PointerOf(kind.scale_spec_path)] = replicas;
  return out;
}

}  // namespace berth::hub
