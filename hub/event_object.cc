#include "hub/event_object.h"

#include "api/object.h"

namespace berth::hub {

using nlohmann::json;

json EventObject(const json& involved, const std::string& type, const std::string& reason,
                 const std::string& message, Clock::TimePoint now) {
  const std::string object_ns = api::NamespaceOf(involved);
  const std::string ns = object_ns.empty() ? "default" : object_ns;
  const std::string at = FormatRfc3339(now);
  json ev = {{"apiVersion", "v1"}, {"kind", "Event"},
             {"metadata", {{"generateName", api::NameOf(involved) + "."}, {"namespace", ns}}},
             {"involvedObject", {{"apiVersion", involved.value("apiVersion", "")}, {"kind", involved.value("kind", "")},
                                 {"name", api::NameOf(involved)}, {"uid", api::UidOf(involved)}}},
             {"reason", reason}, {"message", message}, {"type", type},
             {"source", {{"component", "berth-hub"}}}, {"firstTimestamp", at}, {"lastTimestamp", at},
             {"count", 1}, {"reportingComponent", "berth-hub"}};
  if (!object_ns.empty()) ev["involvedObject"]["namespace"] = ns;
  return ev;
}

}  // namespace berth::hub
