#include "gateway/runtime_plan.h"

#include <set>

namespace berth::gateway {

namespace {

enum class Admin { kReady, kDrain, kMaint };

const char* AdminWord(Admin a) {
  switch (a) {
    case Admin::kReady:
      return "ready";
    case Admin::kDrain:
      return "drain";
    case Admin::kMaint:
      return "maint";
  }
  return "maint";
}

Admin DesiredAdmin(const UpstreamServer& s) {
  if (s.state == EndpointState::kDown) return Admin::kMaint;
  if (s.state == EndpointState::kDraining || s.weight == 0) return Admin::kDrain;
  return Admin::kReady;
}

Admin ObservedAdmin(const ObservedServer& s) {
  if (s.InMaint()) return Admin::kMaint;
  if (s.InDrain()) return Admin::kDrain;
  return Admin::kReady;
}

std::string Describe(const UpstreamServer& s) {
  return s.name + " (" + s.origin + ", " + EndpointStateName(s.state) + ", weight " +
         std::to_string(s.weight) + ")";
}

// Commands for one slot's servers, split by whether they add or remove traffic.
struct BackendCommands {
  std::vector<RuntimeCommand> gain;    // adds, address changes, weights, ready
  std::vector<RuntimeCommand> lose;    // drain, maint
  std::vector<RuntimeCommand> remove;  // maint for unwanted servers, then del
  bool removals_pending = false;
};

void AddServer(const std::string& backend, const std::string& model, const UpstreamServer& s,
               const PlanOptions& o, BackendCommands* out) {
  const std::string ref = backend + "/" + s.name;
  const std::string why = "model " + model + ": new server " + Describe(s);
  out->gain.push_back({"add server " + ref + " " + s.host + ":" + std::to_string(s.port) +
                           " weight " + std::to_string(s.weight) + " check inter " +
                           std::to_string(o.check_interval_ms) + "ms fall " +
                           std::to_string(o.check_fall) + " rise " + std::to_string(o.check_rise) +
                           // A refused or reset connection marks it down at once (the request
                           // is retried elsewhere): a dead cluster is out in one request, not
                           // after fall × inter of failed checks; checks bring it back.
                           " observe layer4 error-limit 1 on-error mark-down",
                       why});
  out->gain.push_back({"enable health " + ref, why});
  Admin want = DesiredAdmin(s);
  if (want == Admin::kReady) out->gain.push_back({"enable server " + ref, why});
  if (want == Admin::kDrain) out->gain.push_back({"set server " + ref + " state drain", why});
}

void UpdateServer(const std::string& backend, const std::string& model, const UpstreamServer& s,
                  const ObservedServer& seen, BackendCommands* out) {
  const std::string ref = backend + "/" + s.name;
  const std::string why = "model " + model + ": " + Describe(s);
  if (seen.addr != s.host || seen.port != s.port) {
    out->gain.push_back(
        {"set server " + ref + " addr " + s.host + " port " + std::to_string(s.port),
         why + " moved from " + seen.addr + ":" + std::to_string(seen.port)});
  }
  if (!(seen.check_state & kCheckEnabled)) out->gain.push_back({"enable health " + ref, why});
  Admin want = DesiredAdmin(s);
  if (want == Admin::kReady && seen.weight != s.weight) {
    out->gain.push_back({"set server " + ref + " weight " + std::to_string(s.weight),
                         why + " was weight " + std::to_string(seen.weight)});
  }
  if (want == ObservedAdmin(seen)) return;
  RuntimeCommand state{"set server " + ref + " state " + AdminWord(want),
                       why + " was " + AdminWord(ObservedAdmin(seen))};
  if (want == Admin::kReady) {
    out->gain.push_back(std::move(state));
  } else {
    out->lose.push_back(std::move(state));
  }
}

void RemoveServer(const std::string& backend, const ObservedServer& seen, BackendCommands* out) {
  const std::string ref = backend + "/" + seen.name;
  if (!seen.InMaint()) {
    out->remove.push_back(
        {"set server " + ref + " state maint", seen.name + " is no longer wanted"});
    out->removals_pending = true;
    return;
  }
  // -1: `show servers conn` said nothing; HAProxy refuses the delete if connections remain.
  if (seen.used_connections > 0) {
    out->removals_pending = true;
    return;
  }
  out->remove.push_back(
      {"del server " + ref, seen.name + " is in maint with no connection in use"});
}

BackendCommands ReconcileBackend(const std::string& backend, const ModelRoute* route,
                                 const ObservedHaproxy& observed, const PlanOptions& o) {
  static const std::map<std::string, ObservedServer> kNone;
  auto it = observed.backends.find(backend);
  const auto& seen = it == observed.backends.end() ? kNone : it->second;
  BackendCommands out;
  std::set<std::string> wanted;
  if (route) {
    for (const auto& s : route->servers) {
      wanted.insert(s.name);
      auto found = seen.find(s.name);
      if (found == seen.end()) {
        AddServer(backend, route->model, s, o, &out);
      } else {
        UpdateServer(backend, route->model, s, found->second, &out);
      }
    }
  }
  for (const auto& [name, server] : seen) {
    if (!wanted.count(name)) RemoveServer(backend, server, &out);
  }
  return out;
}

// model → backend for every desired model; errors for models left without a slot.
std::map<std::string, std::string> AssignSlots(const ObservedHaproxy& observed,
                                               const RouteTable& desired, const PlanOptions& o,
                                               std::vector<std::string>* errors) {
  std::set<std::string> slots(o.slots.begin(), o.slots.end());
  std::set<std::string> taken;  // slots a map entry points at or that still hold servers
  for (const auto& [model, backend] : observed.model_map) taken.insert(backend);
  for (const auto& [backend, servers] : observed.backends) {
    if (!servers.empty()) taken.insert(backend);
  }
  std::map<std::string, std::string> assigned;
  std::set<std::string> owned;
  for (const auto& [model, route] : desired) {
    auto it = observed.model_map.find(model);
    if (it != observed.model_map.end() && slots.count(it->second) && !owned.count(it->second)) {
      assigned[model] = it->second;
      owned.insert(it->second);
    }
  }
  for (const auto& [model, route] : desired) {
    if (assigned.count(model)) continue;
    for (const auto& slot : o.slots) {
      if (taken.count(slot) || owned.count(slot)) continue;
      assigned[model] = slot;
      owned.insert(slot);
      break;
    }
    if (!assigned.count(model)) {
      assigned[model] = o.no_slot_backend;
      errors->push_back("no free backend slot for model " + model + " (all " +
                        std::to_string(o.slots.size()) +
                        " in use or still draining): it is answered 503; raise --backend-slots");
    }
  }
  return assigned;
}

}  // namespace

RuntimePlan PlanRuntime(const ObservedHaproxy& observed, const RouteTable& desired,
                        const PlanOptions& o) {
  RuntimePlan plan;
  plan.model_backends = AssignSlots(observed, desired, o, &plan.errors);
  std::map<std::string, const ModelRoute*> route_of_slot;
  for (const auto& [model, backend] : plan.model_backends) {
    if (backend != o.no_slot_backend) route_of_slot[backend] = &desired.at(model);
  }
  std::vector<BackendCommands> per_slot;
  for (const auto& slot : o.slots) {
    auto it = route_of_slot.find(slot);
    per_slot.push_back(
        ReconcileBackend(slot, it == route_of_slot.end() ? nullptr : it->second, observed, o));
  }
  auto append = [&](std::vector<RuntimeCommand> BackendCommands::*part) {
    for (auto& b : per_slot) {
      for (auto& c : b.*part) plan.commands.push_back(std::move(c));
    }
  };
  append(&BackendCommands::gain);
  for (const auto& [model, backend] : plan.model_backends) {
    auto it = observed.model_map.find(model);
    if (it == observed.model_map.end()) {
      plan.commands.push_back({"add map " + o.map_file + " " + model + " " + backend,
                               "route model " + model + " to " + backend});
    } else if (it->second != backend) {
      plan.commands.push_back(
          {"set map " + o.map_file + " " + model + " " + backend,
           "route model " + model + " to " + backend + " (was " + it->second + ")"});
    }
  }
  for (const auto& [model, backend] : observed.model_map) {
    if (!plan.model_backends.count(model)) {
      plan.commands.push_back(
          {"del map " + o.map_file + " " + model, "model " + model + " is no longer served"});
    }
  }
  append(&BackendCommands::lose);
  append(&BackendCommands::remove);
  for (const auto& b : per_slot) plan.removals_pending |= b.removals_pending;
  return plan;
}

}  // namespace berth::gateway
