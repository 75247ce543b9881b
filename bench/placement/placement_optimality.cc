// Optimality check: how far is the planner's total cost from the exact optimum?
//
// For each generated instance (fleet + workload, cost-only weights, PickN, no spread) it
//   1. runs Planner::PlanBatch (the greedy the hub uses),
//   2. writes the same problem as an integer program in CPLEX LP format:
//        y[w,n] ∈ ℤ≥0  replicas of workspace w on node n (only where the model fits the
//                      node's shape on one node: multi-node shapes are left out of both)
//        u[w]   ∈ ℤ≥0  unplaced replicas of w
//        min Σ cost[w,n]·y[w,n] + M·Σ u[w]
//        s.t. Σ_w gpus[w,n]·y[w,n] ≤ free[n]   for every node (per node, never totals)
//             Σ_n y[w,n] + u[w] = replicas[w]  for every workspace
//      M is larger than any replica's cost, so placing a replica always beats leaving it out,
//   3. solves it with CBC (`cbc FILE.lp solve solu FILE.sol`), and
//   4. prints both costs, the gap, unplaced replicas on each side, and an over-commit check
//      of the planner's reservations.
//
// Usage: placement_optimality [--instances N] [--clusters C] [--nodes K] [--workspaces W]
//                             [--used F] [--cbc PATH] [--dir DIR] [--seconds S]
//                             [--reuse 1]   (reuse DIR's CBC solutions: the instances are
//                                            seeded, so only the planner's side changes)
//                             [--family relaxed|tight]
// relaxed (default): GenerateFleet/GenerateWorkload with 30 % of GPUs in use.
// tight: GenerateTightInstance (--clusters 10 --workspaces 44): the optimum fills 80–100 %
//        of the fleet and models compete for the cheap GPUs (issue #23). fill% is the
//        share of free GPUs the optimum uses.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "bench/placement/fleet_gen.h"

namespace berth::placement::bench {
namespace {

struct Args {
  int instances = 10;
  int clusters = 30;
  int nodes = 4;
  int workspaces = 60;
  double used = 0.3;
  std::string cbc = "cbc";
  std::string dir = "/tmp/berth-optimality";
  int seconds = 120;
  bool verbose = false;
  bool reuse = false;  // keep an existing .sol of the same instance (planner-only changes)
  std::string family = "relaxed";  // or "tight" (issue #23: models compete for scarce GPUs)
};

struct Variable {
  int workspace;
  double cost;
  int units;
};

// Instance `inst` of the chosen family; the seeds make every run see the same instances.
Instance MakeInstance(const Args& args, int inst) {
  if (args.family == "tight") {
    TightParams tp;
    tp.clusters = args.clusters;
    tp.workspaces = args.workspaces;
    tp.seed = 3000 + inst;
    return GenerateTightInstance(tp);
  }
  FleetParams fp;
  fp.clusters = args.clusters;
  fp.gpu_nodes_per_cluster = args.nodes;
  fp.used_fraction = args.used;
  fp.seed = 1000 + inst;
  Instance out{GenerateFleet(fp), {}};
  for (auto& c : out.fleet.clusters) {  // the ILP models capacity and cost only
    c.health = ClusterHealth::kHealthy;
    c.taints.clear();
  }
  WorkloadParams wp;
  wp.workspaces = args.workspaces;
  wp.cost_only = true;
  wp.single_node_only = true;
  wp.seed = 2000 + inst;
  out.requests = GenerateWorkload(wp);
  return out;
}

// Nodes where the planner's reservations exceed the free units of a fresh ledger.
int Overcommits(const FleetSnapshot& fleet, const Planner& planner) {
  auto fresh = Planner::Create(fleet);
  std::map<std::pair<std::string, std::string>, int> used;
  for (const auto& r : planner.new_reservations()) used[{r.cluster, r.node}] += r.units;
  int over = 0;
  for (const auto& [k, units] : used) {
    if (units > fresh->FreeUnits(k.first, k.second)) ++over;
  }
  return over;
}

// Writes the integer program of one instance to `lp` (CPLEX LP format, see the top of this
// file) and returns its placement variables by name.
std::map<std::string, Variable> WriteIntegerProgram(const FleetSnapshot& fleet,
                                                    const std::vector<PlacementRequest>& requests,
                                                    int inst, const std::string& lp) {
  std::map<std::string, Variable> vars;
  std::ostringstream obj, rows, general;
  std::map<std::string, std::vector<std::string>> node_terms;  // node row → "k y"
  std::vector<std::vector<std::string>> ws_vars(requests.size());
  const double kUnplacedPenalty = 1e4;
  for (size_t w = 0; w < requests.size(); ++w) {
    std::map<std::string, std::optional<workspace::ReplicaEstimate>> by_shape;
    for (size_t c = 0; c < fleet.clusters.size(); ++c) {
      const auto& cl = fleet.clusters[c];
      for (size_t n = 0; n < cl.nodes.size(); ++n) {
        const GpuNode& node = cl.nodes[n];
        workspace::GpuShape shape{node.gpu_product, node.memory_gib, node.units,
                                  node.mig_profile};
        std::string key =
            node.gpu_product + "|" + node.mig_profile + "|" + std::to_string(node.units);
        if (!by_shape.count(key)) {
          auto est = requests[w].sizer(shape);
          by_shape[key] = est.ok() ? std::optional(*est) : std::nullopt;
        }
        const auto& est = by_shape[key];
        if (!est || est->nodes != 1 || est->gpus_per_node > node.free_units) continue;
        double price = cl.price_per_gpu_hour.at(node.gpu_product) / node.units_per_gpu;
        double cost = price * est->gpus_per_node;
        std::string y =
            "y" + std::to_string(w) + "_" + std::to_string(c) + "_" + std::to_string(n);
        vars[y] = {static_cast<int>(w), cost, est->gpus_per_node};
        ws_vars[w].push_back(y);
        node_terms["n" + std::to_string(c) + "_" + std::to_string(n)].push_back(
            std::to_string(est->gpus_per_node) + " " + y);
        (void)node;
      }
    }
  }
  {
    std::ofstream out(lp);
    out << "\\ Berth placement optimality instance " << inst << "\nMinimize\n obj:";
    int k = 0;
    char buf[64];
    for (const auto& [name, v] : vars) {
      std::snprintf(buf, sizeof buf, " + %.6f %s", v.cost, name.c_str());
      out << buf << (++k % 6 == 0 ? "\n" : "");
    }
    for (size_t w = 0; w < requests.size(); ++w)
      out << " + " << kUnplacedPenalty << " u" << w << (w % 6 == 5 ? "\n" : "");
    out << "\nSubject To\n";
    for (const auto& [node_row, terms] : node_terms) {
      out << " " << node_row << ":";
      for (size_t i = 0; i < terms.size(); ++i)
        out << " + " << terms[i] << (i % 8 == 7 ? "\n" : "");
      // Free units of that node: parse c and n back from the row name.
      int c = 0, n = 0;
      std::sscanf(node_row.c_str(), "n%d_%d", &c, &n);
      out << " <= " << fleet.clusters[c].nodes[n].free_units << "\n";
    }
    for (size_t w = 0; w < requests.size(); ++w) {
      out << " w" << w << ":";
      for (size_t i = 0; i < ws_vars[w].size(); ++i)
        out << " + " << ws_vars[w][i] << (i % 8 == 7 ? "\n" : "");
      out << " + u" << w << " = " << requests[w].replicas << "\n";
    }
    out << "General\n";
    k = 0;
    for (const auto& [name, v] : vars) out << " " << name << (++k % 10 == 0 ? "\n" : "");
    for (size_t w = 0; w < requests.size(); ++w) out << " u" << w << (w % 10 == 9 ? "\n" : "");
    out << "\nEnd\n";
  }
  return vars;
}

int Run(const Args& args) {
  std::system(("mkdir -p " + args.dir).c_str());
  double worst_gap = 0, sum_gap = 0;
  int solved = 0, overcommits = 0, greedy_short = 0, unproven = 0;
  std::printf("%-8s %8s %8s %10s %10s %8s %8s %8s %6s\n", "instance", "replicas", "vars",
              "greedy$/h", "optimum$/h", "gap%", "unplG", "unplILP", "fill%");
  for (int inst = 0; inst < args.instances; ++inst) {
    Instance instance = MakeInstance(args, inst);
    const FleetSnapshot& fleet = instance.fleet;
    const std::vector<PlacementRequest>& requests = instance.requests;
    auto planner = Planner::Create(fleet);
    if (!planner.ok()) {
      std::cerr << planner.status().ToString() << "\n";
      return 1;
    }
    auto decisions = planner->PlanBatch(requests);
    double greedy_cost = 0;
    int greedy_unplaced = 0, total_replicas = 0;
    for (const auto& d : decisions) {
      greedy_cost += d.cost_per_hour();
      greedy_unplaced += d.unplaced();
      total_replicas += d.requested;
    }
    overcommits += Overcommits(fleet, *planner);

    const std::string lp = args.dir + "/instance" + std::to_string(inst) + ".lp";
    const std::string sol = args.dir + "/instance" + std::to_string(inst) + ".sol";
    const std::map<std::string, Variable> vars = WriteIntegerProgram(fleet, requests, inst, lp);
    std::string cmd = args.cbc + " " + lp + " sec " + std::to_string(args.seconds) +
                      " solve solu " + sol + " > " + sol + ".log 2>&1";
    const bool have_sol = args.reuse && std::ifstream(sol).good();
    if (!have_sol && std::system(cmd.c_str()) != 0) {
      std::cerr << "cbc failed (is coinor-cbc installed?): see " << sol << ".log\n";
      return 1;
    }
    std::ifstream in(sol);
    std::string status_line;
    std::getline(in, status_line);
    double ilp_cost = 0;
    int ilp_unplaced = 0;
    int ilp_units = 0;
    std::map<int, double> ilp_by_ws;
    std::map<int, std::string> ilp_where;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string idx, name;
      double value = 0;
      if (line.rfind("**", 0) == 0) ls >> idx;  // CBC marks infeasible rows with **
      ls >> idx >> name >> value;
      if (name.empty()) continue;
      if (name[0] == 'u') ilp_unplaced += static_cast<int>(std::lround(value));
      auto it = vars.find(name);
      if (it != vars.end()) {
        ilp_cost += it->second.cost * std::lround(value);
        ilp_units += it->second.units * static_cast<int>(std::lround(value));
        ilp_by_ws[it->second.workspace] += it->second.cost * std::lround(value);
        if (args.verbose)
          ilp_where[it->second.workspace] += " " + name + "x" + std::to_string(std::lround(value));
      }
    }
    if (args.verbose) {
      for (size_t w = 0; w < decisions.size(); ++w) {
        double g = decisions[w].cost_per_hour();
        if (std::abs(g - ilp_by_ws[w]) < 1e-6) continue;
        std::printf("  ws %zu (%s, %d replicas): greedy %.2f [", w, requests[w].model.c_str(),
                    requests[w].replicas, g);
        for (const auto& a : decisions[w].allocations) {
          std::printf(" %s:%s×%d(%dgpu)", a.cluster.c_str(), a.gpu.c_str(), a.replicas,
                      a.gpus_per_replica);
        }
        std::printf(" ] ilp %.2f [%s ]\n", ilp_by_ws[w], ilp_where[w].c_str());
      }
    }
    bool optimal = status_line.find("Optimal") != std::string::npos;
    double gap = ilp_cost > 0 ? 100.0 * (greedy_cost - ilp_cost) / ilp_cost : 0;
    if (greedy_unplaced > ilp_unplaced) ++greedy_short;
    std::string note;
    if (!optimal) {
      // Stopped on the time limit: CBC's lower bound caps the true gap from above.
      std::ifstream log(sol + ".log");
      double bound = -1;
      for (std::string l; std::getline(log, l);) {
        if (l.rfind("Lower bound:", 0) == 0) bound = std::atof(l.c_str() + 12);
      }
      char buf[128];
      if (bound > 0) {
        std::snprintf(buf, sizeof buf, "  (cbc: time limit; bound %.2f, gap to bound %.2f%%)",
                      bound, 100.0 * (greedy_cost - bound) / bound);
      } else {
        std::snprintf(buf, sizeof buf, "  (cbc: not proven optimal)");
      }
      note = buf;
      ++unproven;
    }
    int free_units = 0;
    for (const auto& c : fleet.clusters) {
      for (const auto& n : c.nodes) free_units += n.free_units;
    }
    std::printf("%-8d %8d %8zu %10.2f %10.2f %8.2f %8d %8d %6.1f%s\n", inst, total_replicas,
                vars.size(), greedy_cost, ilp_cost, gap, greedy_unplaced, ilp_unplaced,
                100.0 * ilp_units / std::max(1, free_units), note.c_str());
    if (greedy_unplaced == ilp_unplaced) {
      worst_gap = std::max(worst_gap, gap);
      sum_gap += gap;
      ++solved;
    }
  }
  std::printf("\nfamily %s: instances compared: %d; mean gap %.2f%%, worst gap %.2f%%\n",
              args.family.c_str(), solved, solved ? sum_gap / solved : 0, worst_gap);
  std::printf("instances where the planner left a replica unplaced that the optimum placed: %d\n",
              greedy_short);
  std::printf("nodes over-committed by the planner: %d\n", overcommits);
  if (unproven > 0)
    std::printf("instances CBC did not prove optimal in %d s (gaps are against its best "
                "solution): %d\n",
                args.seconds, unproven);
  return overcommits == 0 ? 0 : 2;
}

}  // namespace
}  // namespace berth::placement::bench

int main(int argc, char** argv) {
  berth::placement::bench::Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--instances")
      args.instances = std::atoi(v.c_str());
    else if (k == "--clusters")
      args.clusters = std::atoi(v.c_str());
    else if (k == "--nodes")
      args.nodes = std::atoi(v.c_str());
    else if (k == "--workspaces")
      args.workspaces = std::atoi(v.c_str());
    else if (k == "--used")
      args.used = std::atof(v.c_str());
    else if (k == "--cbc")
      args.cbc = v;
    else if (k == "--dir")
      args.dir = v;
    else if (k == "--seconds")
      args.seconds = std::atoi(v.c_str());
    else if (k == "--reuse")
      args.reuse = v == "1";
    else if (k == "--family" && (v == "tight" || v == "relaxed"))
      args.family = v;
    else if (k == "--verbose")
      args.verbose = v == "1";
    else {
      std::cerr << "unknown flag " << k << "\n";
      return 64;
    }
  }
  return berth::placement::bench::Run(args);
}
