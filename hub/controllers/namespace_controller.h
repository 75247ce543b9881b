// The namespace controller: empties a Namespace being deleted and then removes it, as
// Kubernetes' namespace controller does. What to do is decided by DecideNamespaceCleanup
// (namespace_cleanup.h) on plain data; this class does the store I/O: it lists what each
// stored namespaced kind holds in the namespace, deletes it through ObjectApi (so objects'
// finalizers are honoured), writes the Namespace's status (Terminating and the
// NamespaceContentRemaining / NamespaceFinalizersRemaining conditions) and, once nothing is
// left, takes "kubernetes" off spec.finalizers, which removes the Namespace.
//
// Level-triggered: woken by changes of Namespaces and of objects in terminating
// namespaces, and every `resync` while a namespace is still terminating.
// Threading: reconciles run on the ControllerLoop's one worker thread (or the test's).
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/clock.h"
#include "api/kinds.h"
#include "hub/controllers/controller_loop.h"
#include "hub/object_api.h"

namespace berth::hub {

class NamespaceController {
 public:
  // The references must outlive the controller.
  NamespaceController(ObjectApi& objects, const api::KindRegistry& registry, Clock& clock,
                      Clock::Duration resync = std::chrono::seconds(2));
  ~NamespaceController();

  // Subscribes to store changes and, if `run_worker`, starts the worker thread.
  Status Start(bool run_worker = true);
  void Stop();
  int RunDue() { return loop_.RunDue(); }

  // Public for tests.
  ReconcileResult Reconcile(const std::string& name);

 private:
  void OnContentEvent(const nlohmann::json& object);
  // Removes the Namespace's "kubernetes" finalizer if it is still terminating and empty.
  Status Finalize(const std::string& name, const std::string& uid);

  ObjectApi& objects_;
  const api::KindRegistry& registry_;
  Clock& clock_;
  const Clock::Duration resync_;
  const api::KindInfo* namespaces_ = nullptr;
  std::vector<const api::KindInfo*> content_kinds_;  // namespaced kinds the store holds
  ControllerLoop loop_;
  std::vector<uint64_t> watches_;
  std::mutex mu_;
  std::set<std::string> terminating_;  // guarded by mu_; written on the store's writer thread
};

}  // namespace berth::hub
