#include "hub/namespace_admission.h"

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

bool IsTerminating(const json& ns) {
  return api::IsBeingDeleted(ns) || api::JsonPathGet(ns, "status.phase") == "Terminating";
}

Status AdmitNamespacedWrite(const std::string& ns, const json* ns_object, NamespacedWrite op,
                            const std::string& resource, const std::string& name) {
  if (!ns_object) {
    return Status::NotFound("namespaces \"" + ns + "\" not found")
        .WithSubject({"", kNamespacesResource, ns});
  }
  if (op != NamespacedWrite::kCreate || !IsTerminating(*ns_object)) return Status::Ok();
  const std::string subject = name.empty() ? resource : resource + " \"" + name + "\"";
  const size_t dot = resource.find('.');
  StatusSubject details{dot == std::string::npos ? "" : resource.substr(dot + 1), resource.substr(0, dot), name};
  return Status::Forbidden(subject + " is forbidden: unable to create new content in namespace " + ns +
                           " because it is being terminated")
      .WithCauses({{"metadata.namespace", "namespace " + ns + " is being terminated", "NamespaceTerminating"}})
      .WithSubject(std::move(details));
}

Status AdmitNamespaceDelete(const std::string& name) {
  if (name == kDefaultNamespace) {
    return Status::Forbidden("namespaces \"" + name +
                             "\" is forbidden: this namespace may not be deleted (the hub records "
                             "the Events of cluster-scoped objects in it)")
        .WithSubject({"", kNamespacesResource, name});
  }
  return Status::Ok();
}

}  // namespace berth::hub
