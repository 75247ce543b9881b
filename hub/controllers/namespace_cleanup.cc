#include "hub/controllers/namespace_cleanup.h"

#include <map>

#include "api/object.h"
#include "hub/controllers/conditions.h"

namespace berth::hub {

using nlohmann::json;

namespace {

std::string Counts(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [what, n] : counts) {
    out += (out.empty() ? "" : ", ") + what + " has " + std::to_string(n) + " resource instances";
  }
  return out;
}

}  // namespace

NamespaceCleanup DecideNamespaceCleanup(const json& ns, const std::vector<NamespacedObject>& content,
                                        Clock::TimePoint now) {
  NamespaceCleanup out;
  out.status = ns.contains("status") && ns["status"].is_object() ? ns["status"] : json::object();
  if (!api::IsBeingDeleted(ns)) return out;
  out.terminating = true;
  out.status["phase"] = "Terminating";
  std::map<std::string, int> remaining, finalizers;
  for (const auto& o : content) {
    ++remaining[o.resource];
    for (const auto& f : o.finalizers) ++finalizers[f];
    if (!o.being_deleted) out.to_delete.push_back(o);
  }
  json& conds = out.status["conditions"];
  if (remaining.empty()) {
    SetCondition(conds, "NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed", now);
  } else {
    SetCondition(conds, "NamespaceContentRemaining", true, "SomeResourcesRemain",
                 "Some resources are remaining: " + Counts(remaining), now);
  }
  if (finalizers.empty()) {
    SetCondition(conds, "NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers",
                 "All content-preserving finalizers finished", now);
  } else {
    std::string list;
    for (const auto& [f, n] : finalizers) {
      list += (list.empty() ? "" : ", ") + f + " in " + std::to_string(n) + " resource instances";
    }
    SetCondition(conds, "NamespaceFinalizersRemaining", true, "SomeFinalizersRemain",
                 "Some content in the namespace has finalizers remaining: " + list +
                     " (the controller that owns each finalizer removes it; remove it by hand only "
                     "if that controller is gone)",
                 now);
  }
  out.finalize = content.empty();
  return out;
}

}  // namespace berth::hub
