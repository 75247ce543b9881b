// `berthctl rollout status|approve|pause|resume|undo|retry WORKSPACE`: see and steer the staged
// rollout of a Workspace's revision (docs/ROLLOUTS.md). The state lives in the Workspace's
// status.rollout; the operations are the pure ones of rollout/rollout.h, written back through
// the status subresource with the object's resourceVersion (a concurrent hub write makes the
// PUT fail with 409 and the command retries on the fresh object), so the hub acts on them at
// its next pass.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/clock.h"
#include "cli/command_registry.h"
#include "cli/hub_client.h"
#include "cli/rollout_view.h"
#include "rollout/rollout.h"

namespace {

using nlohmann::json;

struct RolloutFlags {
  std::string kubeconfig;
  std::string namespace_ = "default";
  std::string workspace;
  bool watch = false;
  std::string timeout = "30m";
};

std::string WorkspacePath(const RolloutFlags& f) {
  return "/apis/berth.dev/v1alpha1/namespaces/" + f.namespace_ + "/workspaces/" + f.workspace;
}

bool Terminal(const std::string& phase) {
  return phase == "Completed" || phase == "RolledBack" || phase == "Failed";
}

using berth::cli::Member;
using berth::cli::RenderRolloutStatus;

int ShowStatus(const RolloutFlags& f) {
  auto timeout = berth::cli::ParseDurationSeconds(f.timeout);
  if (!timeout.ok()) {
    std::cerr << "error: --timeout: " << timeout.status().message() << "\n";
    return 2;
  }
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  auto ws = (*client)->Get(WorkspacePath(f));
  if (!ws.ok()) {
    std::cerr << "error: " << ws.status().message() << "\n";
    return 1;
  }
  std::string last = RenderRolloutStatus(*ws);
  std::cout << last << std::flush;
  std::string phase = Member(Member(*ws, "status"), "rollout").value("phase", "");
  if (!f.watch || Terminal(phase)) return phase == "RolledBack" || phase == "Failed" ? 1 : 0;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*timeout);
  const std::string rv = (*ws)["metadata"].value("resourceVersion", "");
  const std::string path = "/apis/berth.dev/v1alpha1/namespaces/" + f.namespace_ +
                           "/workspaces?watch=true&fieldSelector=metadata.name%3D" + f.workspace +
                           "&resourceVersion=" + rv;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    berth::Status s = (*client)->Watch(
        path,
        [&](const json& ev) {
          const std::string type = ev.value("type", "");
          if (type != "ADDED" && type != "MODIFIED") return;  // BOOKMARK, ERROR, DELETED
          const json& obj = ev["object"];
          std::string view;
          try {
            view = RenderRolloutStatus(obj);
          } catch (const json::exception& e) {
            view = "(cannot show this version of the workspace: " + std::string(e.what()) + ")\n";
          }
          if (view != last) {
            std::cout << "\n" << view << std::flush;
            last = view;
          }
          phase = Member(Member(obj, "status"), "rollout").value("phase", "");
          done = Terminal(phase);
        },
        [&] { return done || std::chrono::steady_clock::now() >= deadline; });
    if (!s.ok() && !done) {
      std::cerr << "warning: watch ended (" << s.message() << "); watching again\n";
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  if (!done) {
    std::cerr << "error: the rollout did not finish within " << f.timeout << " (phase " << phase << ")\n";
    return 1;
  }
  return phase == "Completed" ? 0 : 1;
}

using Operation = berth::StatusOr<berth::rollout::RolloutState> (*)(const berth::rollout::RolloutState&);

int Operate(const RolloutFlags& f, const std::string& verb, Operation op) {
  auto client = berth::cli::ConnectToHub(f.kubeconfig);
  if (!client.ok()) {
    std::cerr << "error: " << client.status().message() << "\n";
    return 1;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto ws = (*client)->Get(WorkspacePath(f));
    if (!ws.ok()) {
      std::cerr << "error: " << ws.status().message() << "\n";
      return 1;
    }
    json ro = Member(Member(*ws, "status"), "rollout");
    if (ro.empty()) {
      std::cerr << "error: workspace " << f.workspace << " has no rollout yet (the hub writes status.rollout "
                << "when it first reconciles it)\n";
      return 1;
    }
    auto state = berth::rollout::RolloutStateFromJson(ro);
    if (!state.ok()) {
      std::cerr << "error: " << state.status().message() << "\n";
      return 1;
    }
    auto next = op(*state);
    if (!next.ok()) {
      std::cerr << "error: cannot " << verb << ": " << next.status().message() << "\n";
      return 1;
    }
    json updated = *ws;
    json next_json = berth::rollout::RolloutStateToJson(*next);
    for (const auto& [k, v] : ro.items()) {
      if (!next_json.contains(k)) next_json[k] = v;  // fields the hub adds (strategy)
    }
    updated["status"]["rollout"] = next_json;
    auto r = (*client)->Put(WorkspacePath(f) + "/status", updated);
    if (r.ok()) {
      std::cout << "workspace/" << f.workspace << " rollout " << verb << " (revision "
                << next->target_revision << ", phase before: " << ro.value("phase", "") << ")\n";
      return 0;
    }
    if (r.status().code() != berth::StatusCode::kConflict) {
      std::cerr << "error: " << r.status().message() << "\n";
      return 1;
    }
  }
  std::cerr << "error: the workspace kept changing under us (5 conflicts); try again\n";
  return 1;
}

berth::cli::CommandRegistrar kRegister([](CLI::App& root) {
  auto* rollout = root.add_subcommand(
      "rollout", "See and steer a Workspace's staged rollout (stages, approvals, rollback)");
  rollout->require_subcommand(1);
  auto common = [](CLI::App* cmd, std::shared_ptr<RolloutFlags> f) {
    berth::cli::AddKubeconfigFlag(cmd, &f->kubeconfig);
    cmd->add_option("-n,--namespace", f->namespace_, "Namespace of the Workspace")->capture_default_str();
    cmd->add_option("workspace", f->workspace, "Workspace name")->required();
  };
  {
    auto* status = rollout->add_subcommand(
        "status", "Show the rollout: revisions, phase, stage and per-cluster progress (exit 1 when it "
                  "failed or rolled back)");
    auto f = std::make_shared<RolloutFlags>();
    common(status, f);
    status->add_flag("-w,--watch", f->watch, "Keep showing progress until the rollout completes, fails or "
                                             "rolls back");
    status->add_option("--timeout", f->timeout, "With --watch: give up after this long (e.g. 10m)")
        ->capture_default_str();
    status->callback([f] {
      int rc = ShowStatus(*f);
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
  struct Op {
    const char* name;
    const char* help;
    const char* done;
    Operation op;
  };
  for (const Op& o : {Op{"approve", "Let the stage that waits for approval start", "approved",
                         &berth::rollout::Approve},
                      Op{"pause", "Start no further clusters (updates under way finish)", "paused",
                         &berth::rollout::Pause},
                      Op{"resume", "Continue a paused rollout", "resumed", &berth::rollout::Resume},
                      Op{"undo", "Roll every cluster back to the last good revision and remember the target "
                                 "as failed", "undone", &berth::rollout::Undo},
                      Op{"retry", "Forget that the target revision failed and roll it out again from the "
                                  "first stage", "retried", &berth::rollout::Retry}}) {
    auto* cmd = rollout->add_subcommand(o.name, o.help);
    auto f = std::make_shared<RolloutFlags>();
    common(cmd, f);
    std::string done = o.done;
    Operation op = o.op;
    cmd->callback([f, done, op] {
      int rc = Operate(*f, done, op);
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
});

}  // namespace
