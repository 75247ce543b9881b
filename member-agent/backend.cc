#include "member-agent/backend.h"

namespace berth::agent {

ObjectKey KeyOf(const nlohmann::json& object) {
  ObjectKey key;
  key.api_version = object.value("apiVersion", "");
  key.kind = object.value("kind", "");
  key.namespace_ = object.value("/metadata/namespace"_json_pointer, std::string());
  key.name = object.value("/metadata/name"_json_pointer, std::string());
  return key;
}

}  // namespace berth::agent
