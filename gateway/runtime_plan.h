// The decision at the heart of berth-gateway: from what HAProxy runs now (parsed runtime
// API answers) and the route table the hub publishes, the ordered runtime API commands
// that converge HAProxy. A pure function: no sockets, no clock; the same inputs always give
// the same commands, and running it again on the resulting state gives none (level-
// triggered, idempotent).
//
// Rules (docs/GATEWAY.md "Runtime changes"):
// - Each model gets a backend slot, kept for as long as the map file maps it there. A new
//   model takes the first slot that no map entry points at and that holds no server.
//   No free slot: the model is mapped to kNoSlotBackend (answered 503) and an error names
//   it. A model that lost its slot gets one as soon as one frees up.
// - Per server: Serving with weight > 0 → ready at that weight; Draining, or Serving with
//   weight 0 → drain (no new requests, running ones finish); Down → maint.
// - New server: `add server` (HAProxy adds dynamic servers in maint and without the
//   defaults' settings, so check parameters are explicit), `enable health`, then the state.
// - Address change of the same endpoint: `set server … addr … port …`.
// - Server no longer wanted: maint first; `del server` once it is in maint with no
//   connection in use, on this or a later pass.
// - Order: servers that gain traffic first, then map additions and changes (a model is
//   mapped only once its servers exist), then map deletions, then servers that lose
//   traffic, then deletions; so no pass ever leaves a model with fewer usable servers than
//   both the old and the new state have.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gateway/haproxy_state.h"
#include "gateway/route_table.h"

namespace berth::gateway {

struct PlanOptions {
  std::vector<std::string> slots;  // backend names, in assignment order
  std::string map_file;
  std::string no_slot_backend = "berth_no_slot";
  int check_interval_ms = 2000;
  int check_fall = 3;
  int check_rise = 2;
};

struct RuntimeCommand {
  std::string text;  // one runtime API command, no newline
  std::string why;   // for the log: "add gpu-eu-1_ml_phi (Serving, weight 10) to model phi"
  bool operator==(const RuntimeCommand&) const = default;
};

struct RuntimePlan {
  std::vector<RuntimeCommand> commands;
  // Problems an operator must act on (no free slot), one line each.
  std::vector<std::string> errors;
  // The model → backend mapping once the commands ran (for the catalog and metrics).
  std::map<std::string, std::string> model_backends;
  // Some server waits in maint for its connections to close: sync again soon.
  bool removals_pending = false;
};

// `desired` hosts must be IP literals (resolve DNS names first): HAProxy reports
// addresses, and a name would never compare equal.
RuntimePlan PlanRuntime(const ObservedHaproxy& observed, const RouteTable& desired,
                        const PlanOptions& options);

}  // namespace berth::gateway
