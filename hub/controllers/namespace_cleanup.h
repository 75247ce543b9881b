// What the namespace controller does with a Namespace being deleted, decided on plain
// data (Kubernetes' namespace lifecycle): every object still in it is deleted (an object
// with finalizers then waits for them, as any deletion does); once nothing is left, the
// "kubernetes" finalizer comes off spec.finalizers and the Namespace goes. Meanwhile its
// status says Terminating and, as Kubernetes' conditions do, what remains:
//   NamespaceContentRemaining     "Some resources are remaining: workspaces.berth.dev has 2 resource instances"
//   NamespaceFinalizersRemaining  "Some content in the namespace has finalizers remaining: berth.dev/x in 1 resource instances"
// Pure: no store, no clock reads (time is an argument).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/clock.h"

namespace berth::hub {

// One object stored in the namespace.
struct NamespacedObject {
  std::string resource;  // storage key, "workspaces.berth.dev"
  std::string name;
  bool being_deleted = false;          // deletionTimestamp set
  std::vector<std::string> finalizers;  // metadata.finalizers
};

struct NamespaceCleanup {
  bool terminating = false;                // false: the namespace is live; nothing to do
  std::vector<NamespacedObject> to_delete;  // not yet being deleted
  nlohmann::json status;                   // the status the Namespace should have
  bool finalize = false;                   // empty: remove the "kubernetes" finalizer
};

NamespaceCleanup DecideNamespaceCleanup(const nlohmann::json& ns, const std::vector<NamespacedObject>& content,
                                        Clock::TimePoint now);

}  // namespace berth::hub
