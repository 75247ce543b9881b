// berth-controller-bench: how fast the hub's FleetController reacts, against a real
// berth-hub process (tests/support HubProcess) and members emulated in this process
// (emulated_fleet.h: MemberCluster + inventory + Lease renewals over HTTPS, Work reported
// Ready at once). Scenarios (--scenario, docs/PERFORMANCE.md "Controllers"):
//
//   detect    last lease renewal of a member → its Healthy=False (hub defaults: 5 s × 3);
//             then "replace": end of the failover toleration → other members' Work
//             carries its replicas.
//   evacuate  1,000 workspaces on one member that dies → all re-placed (Work written,
//             Workspace status placements updated), timed from the toleration's end.
//   apply     100 members: create a workspace spread over all of them (PickAll), or 100
//             workspaces at once → every Work carrying them written; p50/p99 over runs.
//   rollout   100 members, one replica each: a new image through 3 stages (1, 10, rest) →
//             phase Completed (agents Ready at once: the control work alone).
//   restart   1,000 members + 1,000 workspaces at steady state; SIGTERM and SIGKILL the hub,
//             restart it on the same data dir → time to serve, to the controllers' first
//             full pass, and every write the restart caused that nobody asked for.
//
// Every wait has a deadline; a scenario that does not converge says what it waited for,
// prints the hub's log tail and makes the exit code 1. Times are printed, never asserted.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "api/clock.h"
#include "api/rest_client.h"
#include "bench/controllers/emulated_fleet.h"
#include "bench/controllers/fleet_informer.h"
#include "tests/support/bench_clients.h"
#include "tests/support/hub_process.h"

// After the standard headers: Boost.Asio (inside) needs <utility> already included.
#include <pplx/threadpool.h>

namespace berth::bench {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::HubProcess;

struct Options {
  bool quick = false;
  // detect + replace
  int detect_runs = 3;
  int detect_heartbeat = 5;  // hub --heartbeat-period (the default) and the members' period
  int detect_missed = 3;     // hub --missed-heartbeats (the default)
  int replace_toleration = 5;
  int detect_workspaces = 8;
  // evacuate
  int evacuate_workspaces = 1000;
  int evacuate_members = 10;
  int evacuate_toleration = 5;
  // apply
  int apply_members = 100;
  int apply_runs = 20;
  // rollout
  int rollout_members = 100;
  int rollout_runs = 3;
  // restart
  int restart_members = 1000;
  int restart_workspaces = 1000;
  int restart_quiet = 5;  // seconds without a hub write that count as converged
  std::vector<std::string> restart_signals = {"term", "kill"};
  int threads = 8;
  std::string hub_log_level = "warn";
};

// Set once from the flags, read by Bench.
std::string g_hub_log_level = "warn";
std::string g_hub_log_copy;      // append each hub's whole log here when the scenario ends
std::string g_restart_data_dir;  // restart: keep the hub's data dir here (for profiling its start)

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

MemberShape Shape(std::string name, double price, int nodes, int gpus_per_node) {
  MemberShape m;
  m.name = std::move(name);
  m.price_per_gpu_hour = price;
  m.nodes = nodes;
  m.gpus_per_node = gpus_per_node;
  return m;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

std::string ConditionStatus(const json& obj, const std::string& type, std::string* ltt = nullptr) {
  for (const auto& c : obj.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == type) {
      if (ltt) *ltt = c.value("lastTransitionTime", "");
      return c.value("status", "");
    }
  }
  return "";
}

// cluster → replicas of the Workspace's status.placements.
std::map<std::string, int> Placements(const json& ws) {
  std::map<std::string, int> out;
  for (const auto& p : ws.value("/status/placements"_json_pointer, json::array())) {
    out[p.value("cluster", "")] += p.value("replicas", 0);
  }
  return out;
}

// Workspace keys ("ns/name") carried by a Work's spec.
std::vector<std::string> WorkEntries(const json& work) {
  std::vector<std::string> out;
  for (const auto& e : work.value("/spec/workspaces"_json_pointer, json::array())) {
    const json md = e.value("/workspace/metadata"_json_pointer, json::object());
    out.push_back(md.value("namespace", "default") + "/" + md.value("name", ""));
  }
  return out;
}

json WorkspaceBody(const std::string& ns, const std::string& name, int replicas,
                   json policy = nullptr) {
  json ws = {{"apiVersion", "berth.dev/v1alpha1"},
             {"kind", "Workspace"},
             {"metadata", {{"name", name}, {"namespace", ns}}},
             {"resource", {{"gpuProducts", {"L4"}}}},
             {"inference", {{"preset", {{"name", "phi-4-mini-instruct"}}}}},
             {"placement", {{"replicas", replicas}}}};
  if (!policy.is_null()) ws["placement"]["policy"] = policy;
  return ws;
}

// Cost alone decides (PickN packs the cheapest member first): the bench chooses where
// replicas start, independent of how the other score terms normalise.
json CostOnly() {
  return {
      {"scoring",
       {{"weights",
         {{"cost", 1}, {"availability", 0}, {"locality", 0}, {"warmCache", 0}, {"affinity", 0}}}}}};
}

std::string WorkspacesPath(const std::string& ns, const std::string& name = "") {
  return "/apis/berth.dev/v1alpha1/namespaces/" + ns + "/workspaces" +
         (name.empty() ? "" : "/" + name);
}

// Creates (or deletes) workspaces over `threads` connections. Returns the first error.
Status ForEachParallel(const ClientConfig& admin, int threads, size_t n,
                       const std::function<Status(RestClient&, size_t)>& op) {
  std::mutex mu;
  Status first;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      auto client = RestClient::Create(admin);
      if (!client.ok()) return;
      for (size_t i = t; i < n; i += threads) {
        Status s = op(**client, i);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first.ok()) first = s;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return first;
}

StatusOr<int64_t> StoreRevision(RestClient& client) {
  auto list = client.Get("/apis/berth.dev/v1alpha1/placementpolicies?limit=1");
  if (!list.ok()) return list.status();
  try {
    return std::stoll(list->value("/metadata/resourceVersion"_json_pointer, std::string("0")));
  } catch (const std::exception&) {
    return Status::Internal("list without a resourceVersion");
  }
}

// A hub for one scenario, with the failure reporting every scenario needs.
struct Bench {
  std::string scenario;
  std::unique_ptr<HubProcess> hub;
  ClientConfig admin;
  std::unique_ptr<RestClient> client;

  static StatusOr<Bench> Start(const std::string& scenario, std::vector<std::string> flags) {
    testing::HubProcessOptions o;
    o.extra_args = {"--log-level", g_hub_log_level};
    o.extra_args.insert(o.extra_args.end(), flags.begin(), flags.end());
    o.ready_timeout = seconds(60);
    if (scenario == "restart") o.data_dir = g_restart_data_dir;
    Bench b;
    b.scenario = scenario;
    auto hub = HubProcess::Start(o);
    if (!hub.ok()) return hub.status();
    b.hub = std::move(*hub);
    auto admin = b.hub->AdminConfig();
    if (!admin.ok()) return admin.status();
    b.admin = *admin;
    auto client = RestClient::Create(b.admin);
    if (!client.ok()) return client.status();
    b.client = std::move(*client);
    // The scenarios' workspaces live in "bench" and "probe"; the hub refuses objects in a
    // missing namespace.
    for (const char* name : {"bench", "probe"}) {
      auto ns = b.client->Post("/api/v1/namespaces", json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                         {"metadata", {{"name", name}}}});
      if (!ns.ok() && ns.status().code() != StatusCode::kAlreadyExists) return ns.status();
    }
    std::string joined;
    for (const auto& f : flags) joined += " " + f;
    std::printf("[%s] berth-hub pid %d on %s, flags:%s\n", scenario.c_str(), b.hub->pid(),
                b.hub->url().c_str(), joined.empty() ? " (defaults)" : joined.c_str());
    std::fflush(stdout);
    return b;
  }

  Bench() = default;
  Bench(Bench&&) = default;
  Bench& operator=(Bench&&) = default;
  ~Bench() {
    if (!hub || g_hub_log_copy.empty()) return;
    std::ofstream out(g_hub_log_copy, std::ios::app);
    out << "=== " << scenario << " hub log\n" << hub->log_tail(size_t{1} << 30);
  }

  // Prints why the scenario failed and the hub's log tail; returns false.
  bool Fail(const std::string& what) const {
    std::printf("[%s] FAILED: %s\n", scenario.c_str(), what.c_str());
    if (hub) std::printf("[%s] hub log tail:\n%s\n", scenario.c_str(), hub->log_tail(3000).c_str());
    std::fflush(stdout);
    return false;
  }

  bool Wait(FleetInformer& informer, const std::function<bool()>& pred, Steady::duration timeout,
            const std::string& what) const {
    if (informer.WaitUntil(pred, timeout)) return true;
    // What the hub shows, to see why it did not converge.
    std::string state;
    informer.With([&] {
      int shown = 0;
      for (const auto& [k, ws] : informer.Objects("workspaces")) {
        if (++shown > 3) break;
        state += "\n  workspace " + k +
                 " status: " + ws.value("status", json::object()).dump().substr(0, 1500);
      }
      for (const auto& [k, m] : informer.Objects("memberclusters")) {
        if (++shown > 6) break;
        state += "\n  member " + k +
                 " conditions: " + m.value("/status/conditions"_json_pointer, json()).dump();
      }
    });
    return Fail("timed out after " + std::to_string(static_cast<int>(Seconds(timeout))) +
                " s waiting for " + what + state);
  }
};

// Declared after the informer and the fleet: stops the informer first, so no listener runs
// while the fleet (whose responder listens) and the scenario's state go away.
struct InformerStopper {
  FleetInformer& informer;
  ~InformerStopper() { informer.Stop(); }
};

bool AllHealthy(FleetInformer& inf, size_t n) {
  size_t healthy = 0;
  for (const auto& [k, m] : inf.Objects("memberclusters"))
    healthy += ConditionStatus(m, "Healthy") == "True";
  return healthy >= n;
}

// Every workspace of `ns` (n of them) placed with `replicas` replicas only on `cluster` (any
// cluster when empty) and Available.
bool AllPlacedOn(FleetInformer& inf, const std::string& ns, size_t n, int replicas,
                 const std::string& cluster) {
  size_t ok = 0;
  for (const auto& [k, ws] : inf.Objects("workspaces")) {
    if (k.rfind(ns + "/", 0) != 0) continue;
    auto p = Placements(ws);
    int total = 0;
    bool elsewhere = false;
    for (const auto& [c, r] : p) {
      total += r;
      elsewhere = elsewhere || (!cluster.empty() && c != cluster);
    }
    ok += !elsewhere && total == replicas && ConditionStatus(ws, "Available") == "True";
  }
  return ok >= n;
}

// ---------------------------------------------------------------------------------------
// detect + replace
// ---------------------------------------------------------------------------------------

bool RunDetect(const Options& o) {
  std::vector<double> detect, replace_work, replace_status;
  bool ok = true;
  for (int run = 0; run < o.detect_runs && ok; ++run) {
    auto bench =
        Bench::Start("detect", {"--heartbeat-period", std::to_string(o.detect_heartbeat),
                                "--missed-heartbeats", std::to_string(o.detect_missed),
                                "--failover-toleration", std::to_string(o.replace_toleration)});
    if (!bench.ok()) {
      std::printf("[detect] cannot start berth-hub: %s\n", bench.status().ToString().c_str());
      return false;
    }
    const std::string victim = "member-0";
    // What the scenario watches for, guarded by the informer's lock.
    bool armed = false;
    std::optional<ObjectChange> unhealthy;
    std::map<std::string, SystemTime> in_other_work, status_moved;
    FleetInformer informer(bench->admin, {"memberclusters", "works", "workspaces"});
    EmulatedFleetOptions fo;
    fo.heartbeat_period = seconds(o.detect_heartbeat);
    fo.threads = 4;
    EmulatedFleet fleet(bench->admin, fo);
    InformerStopper stopper{informer};
    fleet.AttachResponder(informer);
    informer.AddListener([&](const ObjectChange& c) {
      if (!armed || c.type == "SYNC") return;
      if (c.resource == "memberclusters" && c.key == victim && !unhealthy &&
          ConditionStatus(c.object, "Healthy") == "False") {
        unhealthy = c;
      }
      if (c.resource == "works" && c.key != victim) {
        for (const auto& k : WorkEntries(c.object)) in_other_work.emplace(k, c.received_system);
      }
      if (c.resource == "workspaces") {
        auto p = Placements(c.object);
        if (!p.empty() && !p.count(victim)) status_moved.emplace(c.key, c.received_system);
      }
    });
    if (Status s = informer.Start(seconds(30)); !s.ok()) return bench->Fail(s.ToString());

    std::vector<MemberShape> members;
    const double prices[] = {0.5, 0.9, 1.2, 1.5};
    for (int i = 0; i < 4; ++i)
      members.push_back(Shape("member-" + std::to_string(i), prices[i], 4, 8));
    if (Status s = fleet.Create(members); !s.ok()) return bench->Fail(s.ToString());
    fleet.StartHeartbeats();
    if (!bench->Wait(
            informer, [&] { return AllHealthy(informer, members.size()); }, seconds(60),
            "every member Healthy")) {
      return false;
    }
    const int n = o.detect_workspaces;
    Status created = ForEachParallel(bench->admin, 4, n, [&](RestClient& c, size_t i) {
      return c
          .Post(WorkspacesPath("bench"),
                WorkspaceBody("bench", "ws-" + std::to_string(i), 2, CostOnly()))
          .status();
    });
    if (!created.ok()) return bench->Fail("creating workspaces: " + created.ToString());
    if (!bench->Wait(
            informer, [&] { return AllPlacedOn(informer, "bench", n, 2, victim); }, seconds(60),
            std::to_string(n) + " workspaces Available on " + victim + " (the cheapest member)")) {
      return false;
    }

    informer.With([&] { armed = true; });
    const Clock::TimePoint last_renewal = fleet.Kill(victim);
    if (!bench->Wait(
            informer, [&] { return unhealthy.has_value(); },
            seconds(o.detect_heartbeat * o.detect_missed + 60), victim + " Healthy=False")) {
      return false;
    }
    if (!bench->Wait(
            informer,
            [&] {
              return in_other_work.size() >= static_cast<size_t>(n) &&
                     status_moved.size() >= static_cast<size_t>(n);
            },
            seconds(o.replace_toleration + 60), "every workspace re-placed off " + victim)) {
      return false;
    }
    informer.With([&] {
      std::string ltt;
      ConditionStatus(unhealthy->object, "Healthy", &ltt);
      Clock::TimePoint hub_unhealthy;
      ParseRfc3339(ltt, &hub_unhealthy);
      const double d = Seconds(unhealthy->received_system - last_renewal);
      // The toleration counts from the hub's Healthy=False transition, which it knows to
      // the millisecond; this process saw it a few ms later (the watch), and the stamped
      // lastTransitionTime drops the fraction. The figure counts from what was seen, so it
      // is short by the watch delay at most; the stamp-based one is up to 1 s long.
      const auto tol_end_stamp = hub_unhealthy + seconds(o.replace_toleration);
      const auto tol_end_seen = unhealthy->received_system + seconds(o.replace_toleration);
      SystemTime last_work{}, last_status{};
      for (const auto& [k, t] : in_other_work) last_work = std::max(last_work, t);
      for (const auto& [k, t] : status_moved) last_status = std::max(last_status, t);
      detect.push_back(d);
      replace_work.push_back(Seconds(last_work - tol_end_seen));
      replace_status.push_back(Seconds(last_status - tol_end_seen));
      std::printf(
          "[detect] run %d: last renewal -> Healthy=False seen %.3f s (grace %d s x %d = %d s; "
          "beyond the grace %.3f s)\n",
          run + 1, d, o.detect_heartbeat, o.detect_missed, o.detect_heartbeat * o.detect_missed,
          d - o.detect_heartbeat * o.detect_missed);
      std::printf(
          "[replace] run %d: toleration %d s; from its end (Healthy=False seen + %d s) to all %d "
          "workspaces in other members' Work %.3f s, to their status placements %.3f s "
          "(from lastTransitionTime %s + %d s, whole seconds: %.3f s / %.3f s)\n",
          run + 1, o.replace_toleration, o.replace_toleration, n, replace_work.back(),
          replace_status.back(), ltt.c_str(), o.replace_toleration,
          Seconds(last_work - tol_end_stamp), Seconds(last_status - tol_end_stamp));
    });
    fleet.Stop();
    informer.Stop();
    std::fflush(stdout);
  }
  if (!detect.empty()) {
    std::printf(
        "[detect] summary over %zu runs: detection min %.3f s, max %.3f s (goal <= 15 s at 5 s x "
        "3)\n",
        detect.size(), *std::min_element(detect.begin(), detect.end()),
        *std::max_element(detect.begin(), detect.end()));
    std::printf(
        "[replace] summary over %zu runs: toleration end -> Work max %.3f s, -> status max %.3f s "
        "(goal <= 1 s)\n",
        replace_work.size(), *std::max_element(replace_work.begin(), replace_work.end()),
        *std::max_element(replace_status.begin(), replace_status.end()));
  }
  return ok;
}

// ---------------------------------------------------------------------------------------
// evacuate
// ---------------------------------------------------------------------------------------

bool RunEvacuate(const Options& o) {
  const int n = o.evacuate_workspaces;
  const int tol = o.evacuate_toleration;
  auto bench = Bench::Start(
      "evacuate", {"--heartbeat-period", "1", "--failover-toleration", std::to_string(tol)});
  if (!bench.ok()) {
    std::printf("[evacuate] cannot start berth-hub: %s\n", bench.status().ToString().c_str());
    return false;
  }
  const std::string victim = "member-0";
  bool armed = false;
  std::optional<ObjectChange> unhealthy;
  std::optional<SystemTime> first_work;
  std::map<std::string, SystemTime> in_other_work, status_moved, available_elsewhere;
  std::set<std::string> other_works_written;
  FleetInformer informer(bench->admin, {"memberclusters", "works", "workspaces"});
  EmulatedFleetOptions fo;
  fo.heartbeat_period = seconds(1);
  fo.threads = 4;
  EmulatedFleet fleet(bench->admin, fo);
  InformerStopper stopper{informer};
  fleet.AttachResponder(informer);
  informer.AddListener([&](const ObjectChange& c) {
    if (!armed || c.type == "SYNC") return;
    if (c.resource == "memberclusters" && c.key == victim && !unhealthy &&
        ConditionStatus(c.object, "Healthy") == "False") {
      unhealthy = c;
    }
    if (c.resource == "works" && c.key != victim) {
      auto entries = WorkEntries(c.object);
      size_t before = in_other_work.size();
      for (const auto& k : entries) in_other_work.emplace(k, c.received_system);
      if (in_other_work.size() > before) {
        other_works_written.insert(c.key);
        if (!first_work) first_work = c.received_system;
      }
    }
    if (c.resource == "workspaces") {
      auto p = Placements(c.object);
      if (!p.empty() && !p.count(victim)) {
        status_moved.emplace(c.key, c.received_system);
        if (ConditionStatus(c.object, "Available") == "True")
          available_elsewhere.emplace(c.key, c.received_system);
      }
    }
  });
  if (Status s = informer.Start(seconds(30)); !s.ok()) return bench->Fail(s.ToString());

  // The victim is the cheapest and holds every replica; the others together hold them twice.
  const int victim_nodes = (n + 7) / 8 + 1;
  const int others = std::max(2, o.evacuate_members - 1);
  const int other_nodes = std::max(1, (2 * n / others + 7) / 8);
  std::vector<MemberShape> members = {Shape(victim, 0.5, victim_nodes, 8)};
  for (int i = 1; i <= others; ++i)
    members.push_back(Shape("member-" + std::to_string(i), 0.5 + 0.1 * i, other_nodes, 8));
  if (Status s = fleet.Create(members); !s.ok()) return bench->Fail(s.ToString());
  fleet.StartHeartbeats();
  if (!bench->Wait(
          informer, [&] { return AllHealthy(informer, members.size()); }, seconds(60),
          "every member Healthy")) {
    return false;
  }
  const auto setup_start = Steady::now();
  Status created = ForEachParallel(bench->admin, o.threads, n, [&](RestClient& c, size_t i) {
    return c
        .Post(WorkspacesPath("bench"),
              WorkspaceBody("bench", "ws-" + std::to_string(i), 1, CostOnly()))
        .status();
  });
  if (!created.ok()) return bench->Fail("creating workspaces: " + created.ToString());
  const double create_s = Seconds(Steady::now() - setup_start);
  if (!bench->Wait(
          informer, [&] { return AllPlacedOn(informer, "bench", n, 1, victim); }, seconds(600),
          std::to_string(n) + " workspaces Available on " + victim)) {
    return false;
  }
  std::printf(
      "[evacuate] setup: %d members (%s: %d nodes x 8 L4; %d others: %d nodes x 8 L4), %d "
      "workspaces "
      "created in %.1f s, all Available on %s after %.1f s\n",
      static_cast<int>(members.size()), victim.c_str(), victim_nodes, others, other_nodes, n,
      create_s, victim.c_str(), Seconds(Steady::now() - setup_start));
  std::fflush(stdout);

  informer.With([&] { armed = true; });
  fleet.Kill(victim);
  if (!bench->Wait(
          informer, [&] { return unhealthy.has_value(); }, seconds(60),
          victim + " Healthy=False")) {
    return false;
  }
  const size_t want = static_cast<size_t>(n);
  if (!bench->Wait(
          informer,
          [&] {
            return in_other_work.size() >= want && status_moved.size() >= want &&
                   available_elsewhere.size() >= want;
          },
          seconds(tol + 120), "every workspace re-placed off " + victim + " and Available")) {
    informer.With([&] {
      std::printf(
          "[evacuate] progress: %zu in other Work, %zu status moved, %zu Available elsewhere\n",
          in_other_work.size(), status_moved.size(), available_elsewhere.size());
    });
    return false;
  }
  informer.With([&] {
    std::string ltt;
    ConditionStatus(unhealthy->object, "Healthy", &ltt);
    // From Healthy=False as seen here (see the replace scenario): the hub counts the
    // toleration from its exact transition, which the whole-second stamp would blur by 1 s.
    const auto tol_end = unhealthy->received_system + seconds(tol);
    auto last = [](const std::map<std::string, SystemTime>& m) {
      SystemTime t{};
      for (const auto& [k, v] : m) t = std::max(t, v);
      return t;
    };
    std::printf(
        "[evacuate] %d workspaces on dead %s, toleration %d s (hub --heartbeat-period 1: Unhealthy "
        "3 s "
        "after the last renewal). From the toleration's end (Healthy=False seen + %d s; "
        "lastTransitionTime %s):\n",
        n, victim.c_str(), tol, tol, ltt.c_str());
    std::printf("[evacuate]   first Work of another member written (decision made): %.3f s\n",
                Seconds(*first_work - tol_end));
    std::printf(
        "[evacuate]   all %d in other members' Work (%zu Work objects): %.3f s  (goal <= 5 s)\n", n,
        other_works_written.size(), Seconds(last(in_other_work) - tol_end));
    std::printf("[evacuate]   all %d Workspace status placements updated: %.3f s\n", n,
                Seconds(last(status_moved) - tol_end));
    std::printf("[evacuate]   all %d Available again on the new members (instant agents): %.3f s\n",
                n, Seconds(last(available_elsewhere) - tol_end));
  });
  fleet.Stop();
  informer.Stop();
  return true;
}

// ---------------------------------------------------------------------------------------
// apply
// ---------------------------------------------------------------------------------------

bool RunApply(const Options& o) {
  auto bench = Bench::Start("apply", {});
  if (!bench.ok()) {
    std::printf("[apply] cannot start berth-hub: %s\n", bench.status().ToString().c_str());
    return false;
  }
  // ws key → arrival times of Works carrying it (first time per member), and status time.
  std::map<std::string, std::map<std::string, SystemTime>> carried;
  std::map<std::string, SystemTime> available;
  FleetInformer informer(bench->admin, {"memberclusters", "works", "workspaces"});
  EmulatedFleetOptions fo;
  fo.threads = 4;
  EmulatedFleet fleet(bench->admin, fo);
  InformerStopper stopper{informer};
  fleet.AttachResponder(informer);
  informer.AddListener([&](const ObjectChange& c) {
    if (c.type == "SYNC" || c.type == "DELETED") return;
    if (c.resource == "works") {
      for (const auto& k : WorkEntries(c.object)) carried[k].emplace(c.key, c.received_system);
    }
    if (c.resource == "workspaces" && ConditionStatus(c.object, "Available") == "True") {
      available.emplace(c.key, c.received_system);
    }
  });
  if (Status s = informer.Start(seconds(30)); !s.ok()) return bench->Fail(s.ToString());
  const int m = o.apply_members;
  std::vector<MemberShape> members;
  for (int i = 0; i < m; ++i)
    members.push_back(Shape("member-" + std::to_string(i), 1.0 + 0.01 * i, 2, 8));
  if (Status s = fleet.Create(members); !s.ok()) return bench->Fail(s.ToString());
  fleet.StartHeartbeats();
  if (!bench->Wait(
          informer, [&] { return AllHealthy(informer, members.size()); }, seconds(60),
          "every member Healthy")) {
    return false;
  }
  auto none_carry = [&](const std::set<std::string>& keys) {
    for (const auto& [name, w] : informer.Objects("works")) {
      for (const auto& k : WorkEntries(w)) {
        if (keys.count(k)) return false;
      }
    }
    return true;
  };

  // One workspace on every member (PickAll, 1 replica each).
  std::vector<double> spread_all, spread_first, spread_avail;
  for (int r = 0; r < o.apply_runs; ++r) {
    const std::string name = "spread-" + std::to_string(r), key = "bench/" + name;
    const auto t0 = std::chrono::system_clock::now();
    auto created = bench->client->Post(WorkspacesPath("bench"),
                                       WorkspaceBody("bench", name, 1, {{"mode", "PickAll"}}));
    if (!created.ok()) return bench->Fail("create " + name + ": " + created.status().ToString());
    if (!bench->Wait(
            informer,
            [&] { return carried[key].size() >= static_cast<size_t>(m) && available.count(key); },
            seconds(60),
            name + " in the Work of all " + std::to_string(m) + " members and Available")) {
      return false;
    }
    informer.With([&] {
      SystemTime first = SystemTime::max(), last{};
      for (const auto& [member, t] : carried[key]) {
        first = std::min(first, t);
        last = std::max(last, t);
      }
      spread_first.push_back(Seconds(first - t0));
      spread_all.push_back(Seconds(last - t0));
      spread_avail.push_back(Seconds(available[key] - t0));
    });
    if (!bench->client->Delete(WorkspacesPath("bench", name)).ok())
      return bench->Fail("delete " + name);
    if (!bench->Wait(
            informer, [&] { return none_carry({key}); }, seconds(60),
            name + " removed from every Work")) {
      return false;
    }
  }
  std::printf(
      "[apply] spread: create 1 workspace (PickAll, 1 replica on each of %d members) -> Work "
      "written, "
      "%d runs:\n",
      m, o.apply_runs);
  std::printf(
      "[apply]   first Work p50 %.3f s p99 %.3f s; all %d Works p50 %.3f s p99 %.3f s (goal <= 2 "
      "s); "
      "Available p50 %.3f s p99 %.3f s\n",
      Percentile(spread_first, 0.5), Percentile(spread_first, 0.99), m, Percentile(spread_all, 0.5),
      Percentile(spread_all, 0.99), Percentile(spread_avail, 0.5), Percentile(spread_avail, 0.99));
  std::fflush(stdout);

  // 100 workspaces at once (PickN, 1 replica each: packed onto the cheapest members).
  const int batch = 100;
  std::vector<double> batch_all, batch_avail;
  for (int r = 0; r < o.apply_runs; ++r) {
    std::set<std::string> keys;
    for (int i = 0; i < batch; ++i)
      keys.insert("bench/batch-" + std::to_string(r) + "-" + std::to_string(i));
    const auto t0 = std::chrono::system_clock::now();
    Status s = ForEachParallel(bench->admin, o.threads, batch, [&](RestClient& c, size_t i) {
      return c
          .Post(WorkspacesPath("bench"),
                WorkspaceBody("bench", "batch-" + std::to_string(r) + "-" + std::to_string(i), 1))
          .status();
    });
    if (!s.ok()) return bench->Fail("creating batch: " + s.ToString());
    auto all_done = [&] {
      for (const auto& k : keys) {
        if (carried[k].empty() || !available.count(k)) return false;
      }
      return true;
    };
    if (!bench->Wait(informer, all_done, seconds(120),
                     std::to_string(batch) + " workspaces in Work and Available")) {
      return false;
    }
    informer.With([&] {
      SystemTime last{}, last_avail{};
      for (const auto& k : keys) {
        for (const auto& [member, t] : carried[k]) last = std::max(last, t);
        last_avail = std::max(last_avail, available[k]);
      }
      batch_all.push_back(Seconds(last - t0));
      batch_avail.push_back(Seconds(last_avail - t0));
    });
    s = ForEachParallel(bench->admin, o.threads, batch, [&](RestClient& c, size_t i) {
      return c
          .Delete(WorkspacesPath("bench", "batch-" + std::to_string(r) + "-" + std::to_string(i)))
          .status();
    });
    if (!s.ok()) return bench->Fail("deleting batch: " + s.ToString());
    if (!bench->Wait(
            informer, [&] { return none_carry(keys); }, seconds(120),
            "batch removed from every Work")) {
      return false;
    }
  }
  std::printf(
      "[apply] batch: create %d workspaces at once (%d clients, 1 replica each) -> all in Work, %d "
      "runs: "
      "p50 %.3f s p99 %.3f s (goal <= 2 s); all Available p50 %.3f s p99 %.3f s\n",
      batch, o.threads, o.apply_runs, Percentile(batch_all, 0.5), Percentile(batch_all, 0.99),
      Percentile(batch_avail, 0.5), Percentile(batch_avail, 0.99));
  fleet.Stop();
  informer.Stop();
  return true;
}

// ---------------------------------------------------------------------------------------
// rollout
// ---------------------------------------------------------------------------------------

// A 3-stage rollout (canary of 1, a wave of 10, then the rest) of a new image of one
// workspace with a replica on each of 100 members, agents answering at once (zero model
// load time): the control work alone, from the spec change to phase Completed.
bool RunRollout(const Options& o) {
  auto bench = Bench::Start("rollout", {});
  if (!bench.ok()) {
    std::printf("[rollout] cannot start berth-hub: %s\n", bench.status().ToString().c_str());
    return false;
  }
  FleetInformer informer(bench->admin, {"memberclusters", "works", "workspaces"});
  EmulatedFleetOptions fo;
  fo.threads = 4;
  EmulatedFleet fleet(bench->admin, fo);
  InformerStopper stopper{informer};
  fleet.AttachResponder(informer);
  if (Status s = informer.Start(seconds(30)); !s.ok()) return bench->Fail(s.ToString());
  const int m = o.rollout_members;
  std::vector<MemberShape> members;
  for (int i = 0; i < m; ++i) members.push_back(Shape("member-" + std::to_string(i), 1.0 + 0.01 * i, 1, 8));
  if (Status s = fleet.Create(members); !s.ok()) return bench->Fail(s.ToString());
  fleet.StartHeartbeats();
  if (!bench->Wait(informer, [&] { return AllHealthy(informer, members.size()); }, seconds(60), "every member Healthy")) {
    return false;
  }
  json ws = WorkspaceBody("bench", "model", 1, {{"mode", "PickAll"}});
  ws["inference"]["image"] = "example.com/vllm:r0";
  ws["rollout"] = {{"strategy",
                    {{"stages", {{{"name", "canary"}, {"maxClusters", 1}, {"prePull", false}},
                                 {{"name", "wave"}, {"maxClusters", 10}, {"maxConcurrency", "100%"}, {"prePull", false}}}},
                     {"restOfFleet", {{"maxConcurrency", "100%"}, {"prePull", false}}},
                     {"updateMode", "InPlace"}}}};
  if (auto r = bench->client->Post(WorkspacesPath("bench"), ws); !r.ok()) return bench->Fail("create: " + r.status().ToString());
  auto completed_at = [&](int64_t revision) {
    const json* obj = informer.Find("workspaces", "bench/model");
    json ro = obj ? obj->value("status", json::object()).value("rollout", json::object()) : json::object();
    return ro.value("phase", "") == "Completed" && ro.value("targetRevision", int64_t{0}) == revision;
  };
  if (!bench->Wait(informer, [&] { return completed_at(1); }, seconds(60), "the first deployment on all members")) {
    return false;
  }
  std::vector<double> times;
  for (int r = 1; r <= o.rollout_runs; ++r) {
    const auto t0 = Steady::now();
    json patch = {{"inference", {{"image", "example.com/vllm:r" + std::to_string(r)}}}};
    if (auto p = bench->client->Patch(WorkspacesPath("bench", "model"), patch.dump(), kMergePatch); !p.ok()) {
      return bench->Fail("patch: " + p.status().ToString());
    }
    if (!bench->Wait(informer, [&] { return completed_at(r + 1); }, seconds(120),
                     "revision " + std::to_string(r + 1) + " Completed on all members")) {
      return false;
    }
    times.push_back(Seconds(Steady::now() - t0));
  }
  std::printf("[rollout] 3 stages (1, 10, rest) over %d members, agents Ready at once, %d runs: spec change -> "
              "Completed p50 %.3f s, max %.3f s (goal <= 10 s)\n",
              m, o.rollout_runs, Percentile(times, 0.5), *std::max_element(times.begin(), times.end()));
  fleet.Stop();
  informer.Stop();
  return true;
}

// ---------------------------------------------------------------------------------------
// restart
// ---------------------------------------------------------------------------------------

// Who made a change, seen from the bench: the emulated agents (leases, Work status), the
// bench itself (workspaces it created, the probe), or the hub on its own.
struct Classified {
  int64_t rv;
  SystemTime at;
  std::string resource, key, who, what;
};

std::string DiffKeys(const json& a, const json& b, const std::string& prefix) {
  std::string out;
  if (!a.is_object() || !b.is_object()) return a == b ? "" : prefix;
  std::set<std::string> keys;
  for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
  for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
  for (const auto& k : keys) {
    if (k == "resourceVersion" || k == "managedFields") continue;
    if (a.value(k, json()) != b.value(k, json())) out += (out.empty() ? "" : ",") + prefix + k;
  }
  return out;
}

std::string ConditionDiff(const json& before_in, const json& after) {
  const json before = before_in.is_object() ? before_in : json::object();
  std::string out;
  for (const auto& c : after.value("/status/conditions"_json_pointer, json::array())) {
    json old = json::object();
    for (const auto& o : before.value("/status/conditions"_json_pointer, json::array())) {
      if (o.value("type", "") == c.value("type", "")) old = o;
    }
    if (old != c) {
      out += " " + c.value("type", "") + ":" + old.value("status", "-") + "/" +
             old.value("reason", "-") + "->" + c.value("status", "") + "/" + c.value("reason", "");
    }
  }
  return out;
}

// obj[key], or `fallback` when obj is not an object or lacks it.
json Field(const json& obj, const char* key, json fallback = json::object()) {
  return obj.is_object() ? obj.value(key, fallback) : fallback;
}

Classified Classify(const ObjectChange& c, const std::string& probe_member) {
  Classified out{c.resource_version, c.received_system, c.resource, c.key, "hub", c.type};
  if (c.resource == "leases") {
    out.who = "agents";
  } else if (c.resource == "works") {
    if (c.key == probe_member) {
      out.who = "probe";
    } else if (!c.previous.is_null() && Field(c.previous, "spec") == Field(c.object, "spec")) {
      out.who = "agents";  // status only: the emulated agents' reports
    } else {
      out.what = "spec changed";
    }
  } else if (c.resource == "workspaces") {
    if (c.key.rfind("probe/", 0) == 0) {
      out.who = "probe";
    } else if (c.type == "MODIFIED") {
      out.what = DiffKeys(Field(c.previous, "status"), Field(c.object, "status"), "status.") +
                 ConditionDiff(c.previous, c.object);
    }
  } else if (c.resource == "events") {
    if (c.object.value("/involvedObject/namespace"_json_pointer, std::string()) == "probe" ||
        c.object.value("/involvedObject/name"_json_pointer, std::string()) == probe_member) {
      out.who = "probe";
    } else {
      out.what = c.object.value("reason", "") + ": " + c.object.value("message", "");
    }
  } else if (c.resource == "memberclusters") {
    if (c.key == probe_member) out.who = "probe";
    out.what = DiffKeys(Field(c.previous, "status"), Field(c.object, "status"), "status.") +
               ConditionDiff(c.previous, c.object);
  }
  return out;
}

bool RunRestart(const Options& o) {
  auto bench = Bench::Start("restart", {});
  if (!bench.ok()) {
    std::printf("[restart] cannot start berth-hub: %s\n", bench.status().ToString().c_str());
    return false;
  }
  const std::string probe_member = "probe-member";
  std::vector<Classified>
      log;  // every change after the informer's first lists; guarded by its lock
  FleetInformer informer(bench->admin,
                         {"memberclusters", "leases", "works", "workspaces", "events"});
  EmulatedFleetOptions fo;
  fo.threads = o.threads;
  EmulatedFleet fleet(bench->admin, fo);
  InformerStopper stopper{informer};
  fleet.AttachResponder(informer);
  informer.AddListener([&](const ObjectChange& c) {
    if (c.type != "SYNC") log.push_back(Classify(c, probe_member));
  });
  if (Status s = informer.Start(seconds(30)); !s.ok()) return bench->Fail(s.ToString());

  const int m = o.restart_members, n = o.restart_workspaces;
  std::vector<MemberShape> members;
  for (int i = 0; i < m; ++i)
    members.push_back(Shape("member-" + std::to_string(i), 1.0 + 0.0001 * i, 1, 8));
  MemberShape probe = Shape(probe_member, 9.0, 1, 8);
  probe.taints =
      json::array({{{"key", "berth.dev/probe"}, {"value", "true"}, {"effect", "NoSchedule"}}});
  members.push_back(probe);
  const auto setup_start = Steady::now();
  if (Status s = fleet.Create(members); !s.ok()) return bench->Fail(s.ToString());
  fleet.StartHeartbeats();
  if (!bench->Wait(
          informer, [&] { return AllHealthy(informer, members.size()); }, seconds(120),
          "every member Healthy")) {
    return false;
  }
  Status created = ForEachParallel(bench->admin, o.threads, n, [&](RestClient& c, size_t i) {
    return c.Post(WorkspacesPath("bench"), WorkspaceBody("bench", "ws-" + std::to_string(i), 1))
        .status();
  });
  if (!created.ok()) return bench->Fail("creating workspaces: " + created.ToString());
  if (!bench->Wait(
          informer, [&] { return AllPlacedOn(informer, "bench", n, 1, ""); }, seconds(900),
          std::to_string(n) + " workspaces Available")) {
    return false;
  }
  // Steady state: the hub has written nothing for restart_quiet seconds.
  auto last_hub_write = [&] {
    SystemTime t{};
    informer.With([&] {
      for (const auto& c : log) {
        if (c.who == "hub") t = std::max(t, c.at);
      }
    });
    return t;
  };
  auto wait_quiet = [&](Steady::duration timeout) {
    const auto deadline = Steady::now() + timeout;
    while (Steady::now() < deadline) {
      if (std::chrono::system_clock::now() - last_hub_write() >= seconds(o.restart_quiet))
        return true;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return false;
  };
  if (!wait_quiet(seconds(300))) return bench->Fail("the hub never stopped writing after setup");
  std::map<std::string, std::map<std::string, int>> placements_before;
  informer.With([&] {
    for (const auto& [k, ws] : informer.Objects("workspaces"))
      placements_before[k] = Placements(ws);
  });
  std::printf(
      "[restart] setup: %d members + %d workspaces Available and the hub idle after %.1f s\n", m, n,
      Seconds(Steady::now() - setup_start));
  std::fflush(stdout);

  bool ok = true;
  for (const auto& sig : o.restart_signals) {
    auto rv_before = StoreRevision(*bench->client);
    if (!rv_before.ok()) return bench->Fail("revision: " + rv_before.status().ToString());
    size_t log_start = 0;
    informer.With([&] { log_start = log.size(); });
    const std::string url = bench->hub->url();
    const auto t_stop = Steady::now();
    if (sig == "kill") {
      bench->hub->Kill();
    } else {
      auto code = bench->hub->Terminate(seconds(30));
      if (!code.ok() || *code != 0) {
        std::printf(
            "[restart] SIGTERM: the hub exited with code %d (139 = SIGSEGV: a crash on shutdown)\n",
            code.ok() ? *code : -1);
      }
    }
    const auto t_spawn = Steady::now();
    if (Status s = bench->hub->Restart(); !s.ok()) return bench->Fail("restart: " + s.ToString());
    const auto t_ready = Steady::now();
    if (bench->hub->url() != url)
      return bench->Fail("the hub came back on another port; the emulated agents cannot follow");
    // Probe: a workspace only the probe member takes. Once it is in that member's Work, the
    // controllers have finished at least one full pass over the fleet since the restart
    // (their queue runs keys in due order, and the start-up pass was queued first).
    const std::string probe_name = "probe-" + sig;
    json policy = {
        {"mode", "PickFixed"},
        {"clusterNames", {probe_member}},
        {"tolerations",
         {{{"key", "berth.dev/probe"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}}}};
    // The first request on a connection pooled before the restart may fail ("Failed to write
    // request body"): RestClient does not retry on a stale connection, so retry here.
    Status probe_created;
    for (int attempt = 0; attempt < 10; ++attempt) {
      probe_created =
          bench->client
              ->Post(WorkspacesPath("probe"), WorkspaceBody("probe", probe_name, 1, policy))
              .status();
      if (probe_created.ok() || probe_created.code() == StatusCode::kAlreadyExists) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (!probe_created.ok() && probe_created.code() != StatusCode::kAlreadyExists) {
      return bench->Fail("probe: " + probe_created.ToString());
    }
    auto probe_in_work = [&] {
      const json* w = informer.Find("works", probe_member);
      if (!w) return false;
      auto e = WorkEntries(*w);
      return std::find(e.begin(), e.end(), "probe/" + probe_name) != e.end();
    };
    auto probe_placed = [&] {
      const json* ws = informer.Find("workspaces", "probe/" + probe_name);
      return probe_in_work() && ws && !Placements(*ws).empty();
    };
    if (!bench->Wait(informer, probe_placed, seconds(120),
                     "the probe workspace in " + probe_member + "'s Work and its status")) {
      return false;
    }
    const auto t_probe = Steady::now();
    if (!wait_quiet(seconds(120))) {
      ok = bench->Fail("the hub kept writing after the restart (see the spurious writes below)");
    }
    auto rv_after = StoreRevision(*bench->client);
    if (!rv_after.ok()) return bench->Fail("revision: " + rv_after.status().ToString());

    // Account for every revision between before and after.
    std::map<std::string, int64_t> by_who;
    std::vector<Classified> spurious;
    SystemTime last_spurious{};
    int64_t seen = 0;
    informer.With([&] {
      for (size_t i = log_start; i < log.size(); ++i) {
        const auto& c = log[i];
        if (c.rv <= *rv_before || c.rv > *rv_after) continue;
        ++seen;
        ++by_who[c.who];
        if (c.who == "hub") {
          spurious.push_back(c);
          last_spurious = std::max(last_spurious, c.at);
        }
      }
    });
    const int64_t delta = *rv_after - *rv_before;
    const auto t_spawn_sys = std::chrono::system_clock::now() - (Steady::now() - t_spawn);
    const double converged = std::max(
        Seconds(t_probe - t_spawn), spurious.empty() ? 0.0 : Seconds(last_spurious - t_spawn_sys));
    std::printf(
        "[restart] SIG%s: stop took %.2f s; restart -> serving %.2f s; -> controllers through a "
        "full pass "
        "(probe placed) %.2f s; converged %.2f s (goal <= 10 s)\n",
        sig == "kill" ? "KILL" : "TERM", Seconds(t_spawn - t_stop), Seconds(t_ready - t_spawn),
        Seconds(t_probe - t_spawn), converged);
    std::printf(
        "[restart] SIG%s: revisions %lld -> %lld (+%lld): agents %lld (lease renewals, Work "
        "status), probe "
        "%lld, hub on its own %lld = SPURIOUS WRITES %zu (goal 0); not seen by the informer "
        "%lld%s\n",
        sig == "kill" ? "KILL" : "TERM", static_cast<long long>(*rv_before),
        static_cast<long long>(*rv_after), static_cast<long long>(delta),
        static_cast<long long>(by_who["agents"]), static_cast<long long>(by_who["probe"]),
        static_cast<long long>(by_who["hub"]), spurious.size(),
        static_cast<long long>(delta - seen),
        informer.relists() > 0 ? " (the informer had to re-list: some changes may be missing)"
                               : "");
    std::map<std::string, int> kinds;
    for (const auto& c : spurious) ++kinds[c.resource + " " + c.what];
    int shown = 0;
    for (const auto& [what, count] : kinds) {
      if (++shown > 12) break;
      std::printf("[restart]   %5d x %s\n", count, what.c_str());
    }
    // Placements must be what they were.
    int moved = 0;
    informer.With([&] {
      for (const auto& [k, p] : placements_before) {
        const json* ws = informer.Find("workspaces", k);
        if (!ws || Placements(*ws) != p) ++moved;
      }
    });
    if (moved > 0)
      ok = bench->Fail(std::to_string(moved) + " workspaces changed placement across the restart");
    std::fflush(stdout);

    // Remove the probe before the next round, and let the hub settle again.
    (void)bench->client->Delete(WorkspacesPath("probe", probe_name));
    if (!bench->Wait(
            informer, [&] { return !probe_in_work(); }, seconds(120), "the probe removed"))
      return false;
    if (!wait_quiet(seconds(120)))
      return bench->Fail("the hub never stopped writing after the probe was removed");
  }
  std::printf(
      "[restart] emulator: %lld lease renewals, %lld Work status writes, %lld errors (failed "
      "requests while "
      "the hub was down)\n",
      static_cast<long long>(fleet.lease_renewals()),
      static_cast<long long>(fleet.work_status_writes()), static_cast<long long>(fleet.errors()));
  fleet.Stop();
  informer.Stop();
  return ok;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using berth::bench::Options;
  CLI::App app{
      "berth-controller-bench: failure detection, failover, apply-to-Work and hub restart timings "
      "of the "
      "FleetController against a real berth-hub with emulated members"};
  Options o;
  std::string scenario = "all";
  int client_io_threads = 4;
  app.add_option("--scenario", scenario, "detect (with replace), evacuate, apply, restart, rollout, or all")
      ->check(CLI::IsMember({"detect", "replace", "evacuate", "apply", "restart", "rollout", "all"}))
      ->capture_default_str();
  app.add_flag("--quick", o.quick,
               "Small sizes and short heartbeats: a smoke run that checks convergence only");
  app.add_option("--detect-runs", o.detect_runs, "detect: runs, each with a fresh hub")
      ->capture_default_str();
  app.add_option("--detect-heartbeat", o.detect_heartbeat,
                 "detect: hub --heartbeat-period and the members' period, s")
      ->capture_default_str();
  app.add_option("--detect-missed", o.detect_missed, "detect: hub --missed-heartbeats")
      ->capture_default_str();
  app.add_option("--replace-toleration", o.replace_toleration,
                 "detect: hub --failover-toleration, s")
      ->capture_default_str();
  app.add_option("--evacuate-workspaces", o.evacuate_workspaces,
                 "evacuate: workspaces on the dead member")
      ->capture_default_str();
  app.add_option("--evacuate-members", o.evacuate_members,
                 "evacuate: members, the dead one included")
      ->capture_default_str();
  app.add_option("--evacuate-toleration", o.evacuate_toleration,
                 "evacuate: hub --failover-toleration, s")
      ->capture_default_str();
  app.add_option("--apply-members", o.apply_members, "apply: members")->capture_default_str();
  app.add_option("--apply-runs", o.apply_runs, "apply: repetitions per shape")
      ->capture_default_str();
  app.add_option("--restart-members", o.restart_members, "restart: members")->capture_default_str();
  app.add_option("--restart-workspaces", o.restart_workspaces, "restart: workspaces")
      ->capture_default_str();
  app.add_option("--restart-quiet", o.restart_quiet,
                 "restart: seconds without a hub write that count as converged")
      ->capture_default_str();
  app.add_option("--restart-signals", o.restart_signals, "restart: term, kill or both, in order")
      ->delimiter(',')
      ->check(CLI::IsMember({"term", "kill"}))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Client threads for setup and lease renewals")
      ->capture_default_str();
  app.add_option("--hub-log-level", o.hub_log_level,
                 "berth-hub --log-level (its log tail is printed on failure)")
      ->capture_default_str();
  app.add_option("--restart-data-dir", berth::bench::g_restart_data_dir,
                 "restart: use (and keep) this hub data dir, e.g. to profile a start on it later");
  app.add_option("--hub-log-copy", berth::bench::g_hub_log_copy,
                 "Append every hub's whole log to this file");
  app.add_option("--client-io-threads", client_io_threads, "cpprestsdk I/O threads in this process")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    o.detect_runs = 1;
    o.detect_heartbeat = 1;
    o.replace_toleration = 2;
    o.detect_workspaces = 4;
    o.evacuate_workspaces = 100;
    o.evacuate_members = 4;
    o.evacuate_toleration = 2;
    o.apply_members = 20;
    o.apply_runs = 3;
    o.restart_members = 50;
    o.restart_workspaces = 50;
    o.restart_quiet = 2;
    o.rollout_members = 20;
    o.rollout_runs = 1;
  }
  berth::bench::g_hub_log_level = o.hub_log_level;
  berth::testing::PrepareBenchClients(client_io_threads);
  spdlog::set_level(spdlog::level::warn);

  const auto start = berth::bench::Steady::now();
  std::map<std::string, bool> results;
  // The machine is shared: say how busy it was, next to every scenario's figures.
  auto loadavg = [] {
    std::ifstream in("/proc/loadavg");
    std::string one, five;
    in >> one >> five;
    return one + " (1 min), " + five + " (5 min)";
  };
  auto run = [&](const std::string& name, bool (*fn)(const Options&)) {
    if (scenario != "all" && scenario != name && !(scenario == "replace" && name == "detect"))
      return;
    std::printf("[%s] load average at start: %s\n", name.c_str(), loadavg().c_str());
    results[name] = fn(o);
    std::printf("[%s] load average at end: %s\n", name.c_str(), loadavg().c_str());
    std::fflush(stdout);
  };
  run("detect", berth::bench::RunDetect);
  run("evacuate", berth::bench::RunEvacuate);
  run("apply", berth::bench::RunApply);
  run("restart", berth::bench::RunRestart);
  run("rollout", berth::bench::RunRollout);
  bool ok = true;
  for (const auto& [name, passed] : results) {
    std::printf("scenario %-9s %s\n", name.c_str(), passed ? "converged" : "FAILED");
    ok = ok && passed;
  }
  std::printf("total %.1f s\n", berth::bench::Seconds(berth::bench::Steady::now() - start));
  return ok ? 0 : 1;
}
