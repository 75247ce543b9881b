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

std::string LabelOf(const nlohmann::json& object, const std::string& key) {
  const nlohmann::json* labels = nullptr;
  if (auto m = object.find("metadata"); m != object.end()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  if (!labels) return "";
  auto it = labels->find(key);
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace berth::agent
