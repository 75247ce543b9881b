// `berthctl plan --fleet FLEET.yaml -f WORKSPACES.yaml [--explain] [-o json]`: an offline
// what-if. Reads a fleet file (docs/FLEET.md) and Workspace/PlacementPolicy objects, runs
// the same planner the hub runs, and prints where every replica would go and what it costs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/yaml_json.h"
#include "cli/command_registry.h"
#include "kinds/berth_kinds.h"
#include "placement/fleet_file.h"
#include "placement/planner.h"
#include "placement/workspace_request.h"
#include "policies/placement_policy.h"
#include "workspace/workspace_types.h"

namespace berth::cli {
namespace {

using nlohmann::json;

struct PlanOptions {
  std::string fleet_path;
  std::vector<std::string> workspace_paths;
  bool explain = false;
  std::string output = "table";
};

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void PrintStatus(const Status& s) {
  std::cerr << "error: " << s.message() << "\n";
  for (const auto& c : s.causes()) std::cerr << "  " << c.field << ": " << c.message << "\n";
}

// Flattens documents and `kind: List` items into objects.
void Collect(const json& doc, std::vector<json>& out) {
  if (doc.is_object() && doc.value("kind", "") == "List" && doc.contains("items") &&
      doc["items"].is_array()) {
    for (const auto& item : doc["items"]) Collect(item, out);
  } else if (doc.is_array()) {
    for (const auto& item : doc) Collect(item, out);
  } else if (!doc.is_null()) {
    out.push_back(doc);
  }
}

std::string Money(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    std::cout << line << "\n";
  }
}

// Reads the Workspaces and PlacementPolicies of opt.workspace_paths, checked by the hub's
// own schemas and rules (a file plan accepts is one the hub accepts), into placement
// requests. Prints every problem; false when there was one.
bool LoadRequests(const PlanOptions& opt, std::vector<placement::PlacementRequest>* requests) {
  std::vector<json> objects;
  for (const auto& path : opt.workspace_paths) {
    auto text = ReadFile(path);
    if (!text.ok()) return PrintStatus(text.status()), false;
    auto docs = api::YamlDocumentsToJson(*text);
    if (!docs.ok()) return PrintStatus(docs.status().WithContext(path)), false;
    for (const auto& d : *docs) Collect(d, objects);
  }
  placement::PolicyCatalog policies;
  std::vector<workspace::Workspace> workspaces;
  bool failed = false;
  api::KindRegistry registry;
  if (Status s = kinds::RegisterBerthKinds(registry); !s.ok()) return PrintStatus(s), false;
  for (const auto& obj : objects) {
    std::string kind = obj.is_object() ? obj.value("kind", "") : "";
    if (kind == "PlacementPolicy" || kind == "Workspace") {
      if (Status s = kinds::ValidateForCreate(registry, obj); !s.ok()) {
        std::string name = obj.contains("metadata") && obj["metadata"].is_object()
                               ? obj["metadata"].value("name", "?")
                               : "?";
        PrintStatus(s.WithContext(kind + " " + name));
        failed = true;
        continue;
      }
    }
    if (kind == "PlacementPolicy") {
      auto p = policies::ParsePlacementPolicy(obj);
      if (!p.ok()) {
        PrintStatus(p.status());
        failed = true;
        continue;
      }
      policies[p->metadata.namespace_ + "/" + p->metadata.name] =
          std::make_shared<policies::PlacementPolicySpec>(p->spec);
    } else if (kind == "Workspace") {
      auto ws = workspace::ParseWorkspace(obj);
      if (!ws.ok()) {
        std::string name = obj.contains("metadata") ? obj["metadata"].value("name", "?") : "?";
        PrintStatus(ws.status().WithContext("workspace " + name));
        failed = true;
        continue;
      }
      workspaces.push_back(std::move(ws).value());
    } else if (!(obj.value("apiVersion", "") == "v1" && (kind == "Namespace" || kind == "ConfigMap" || kind == "Secret"))) {
      // GitOps directories hold Namespaces, ConfigMaps and Secrets beside Workspaces: plan
      // has nothing to say about them.
      std::cerr << "warning: skipping an object of kind \"" << kind
                << "\" (plan reads Workspace and PlacementPolicy)\n";
    }
  }
  for (const auto& ws : workspaces) {
    auto req = placement::RequestFromWorkspace(ws, policies);
    if (!req.ok()) {
      PrintStatus(req.status());
      failed = true;
      continue;
    }
    requests->push_back(std::move(req).value());
  }
  return !failed;
}

void PrintPlanTable(const std::vector<placement::PlacementDecision>& decisions) {
  std::vector<std::vector<std::string>> rows = {
      {"WORKSPACE", "CLUSTER", "REPLICAS", "GPU", "GPUS/REPLICA", "COST/H"}};
  double total = 0;
  for (const auto& d : decisions) {
    for (const auto& a : d.allocations) {
      std::string gpus = std::to_string(a.gpus_per_replica);
      if (a.nodes_per_replica > 1) gpus += " (" + std::to_string(a.nodes_per_replica) + " nodes)";
      rows.push_back({d.workspace, a.cluster, std::to_string(a.replicas), a.gpu, gpus,
                      Money(a.cost_per_hour)});
      total += a.cost_per_hour;
    }
  }
  PrintTable(rows);
  std::cout << "\nTotal: " << Money(total) << " per hour\n";
  bool header = false;
  for (const auto& d : decisions) {
    if (d.unplaced() <= 0) continue;
    if (!header) std::cout << "\nUnplaced:\n";
    header = true;
    std::cout << "  " << d.workspace << ": " << d.unplaced() << " replica(s), " << d.unplaced_reason
              << (d.unplaced_message.empty() ? "" : ": " + d.unplaced_message) << "\n";
  }
}

// Per workspace: each feasible cluster's score and terms, and why the others were rejected.
void PrintExplanations(const placement::Planner& planner,
                       const std::vector<placement::PlacementDecision>& decisions) {
  for (const auto& d : decisions) {
    json ex = planner.ExplainJson(d);
    std::cout << "\n"
              << d.workspace << ": " << d.placed << "/" << d.requested << " placed, "
              << d.feasible_clusters << " feasible cluster(s)\n";
    std::vector<std::vector<std::string>> srows = {
        {"  CLUSTER", "SCORE", "REPLICAS", "AVAIL", "COST", "LOCALITY", "WARM", "AFFINITY"}};
    for (const auto& s : ex["scores"]) {
      auto f = [](const json& v) { return Money(v.get<double>()); };
      srows.push_back({"  " + s["cluster"].get<std::string>(), f(s["score"]),
                       std::to_string(s["replicas"].get<int>()), f(s["terms"]["availability"]),
                       f(s["terms"]["cost"]), f(s["terms"]["locality"]), f(s["terms"]["warmCache"]),
                       f(s["terms"]["affinity"])});
    }
    if (srows.size() > 1) PrintTable(srows);
    for (const auto& r : ex["rejected"]) {
      std::cout << "  rejected " << r["cluster"].get<std::string>() << ": "
                << r["reason"].get<std::string>() << ": " << r["message"].get<std::string>()
                << "\n";
    }
    if (ex.contains("rejectedOmitted")) {
      for (const auto& [reason, n] : ex["rejectedOmitted"].items()) {
        std::cout << "  … and " << n.get<int>() << " more " << reason << "\n";
      }
    }
  }
}

int RunPlan(const PlanOptions& opt) {
  auto fleet_text = ReadFile(opt.fleet_path);
  if (!fleet_text.ok()) return PrintStatus(fleet_text.status()), 1;
  auto fleet = placement::ParseFleetYaml(*fleet_text);
  if (!fleet.ok()) return PrintStatus(fleet.status().WithContext(opt.fleet_path)), 1;
  auto planner = placement::Planner::Create(std::move(fleet).value());
  if (!planner.ok()) return PrintStatus(planner.status().WithContext(opt.fleet_path)), 1;
  std::vector<placement::PlacementRequest> requests;
  if (!LoadRequests(opt, &requests)) return 1;
  if (requests.empty()) {
    std::cerr << "error: no Workspace objects in " << opt.workspace_paths.front() << "\n";
    return 1;
  }

  auto decisions = planner->PlanBatch(requests, {.explain = opt.explain});
  if (opt.output == "json") {
    json out = placement::PlanToJson(decisions);
    if (opt.explain) {
      json ex = json::array();
      for (const auto& d : decisions) ex.push_back(planner->ExplainJson(d));
      out["explanations"] = std::move(ex);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  PrintPlanTable(decisions);
  if (opt.explain) PrintExplanations(*planner, decisions);
  return 0;
}

CommandRegistrar kRegister([](CLI::App& root) {
  auto opt = std::make_shared<PlanOptions>();
  auto* cmd = root.add_subcommand(
      "plan", "Offline what-if: where would these workspaces be placed on this fleet?");
  cmd->add_option("--fleet", opt->fleet_path, "Fleet file (docs/FLEET.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-f,--filename", opt->workspace_paths,
                  "YAML with Workspace and PlacementPolicy objects (repeatable)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--explain", opt->explain,
                "Show each workspace's cluster scores and rejection reasons");
  cmd->add_option("-o,--output", opt->output, "Output format: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->callback([opt] {
    int rc = RunPlan(*opt);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
});

}  // namespace
}  // namespace berth::cli
