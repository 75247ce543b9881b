// berth-agent: parses flags, builds the backend, runs the Agent until SIGTERM/SIGINT.
// Everything else lives in the berth_agent library (agent.h).
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/kubeconfig.h"
#include "member-agent/agent.h"
#include "member-agent/agent_state.h"
#include "member-agent/kube_backend.h"
#include "member-agent/sim/sim_cluster.h"
#include "policies/placement_policy.h"

namespace {

class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump();
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

void ConfigureLogging(const std::string& format, const std::string& level,
                      const std::string& cluster) {
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"agent","cluster":")" +
        cluster + R"(","msg":%*})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ agent[" + cluster + "]: %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// KEY[=VALUE]:EFFECT, as `kubectl taint` writes it.
std::optional<berth::agent::JoinTaint> ParseTaintFlag(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string effect = text.substr(colon + 1);
  if (!berth::policies::ParseTaintEffect(effect)) return std::nullopt;
  const std::string kv = text.substr(0, colon);
  const auto eq = kv.find('=');
  if (eq == 0) return std::nullopt;
  return berth::agent::JoinTaint{kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1), effect};
}

// kube: how fast replicas start on this cluster, for the hub's expected start time.
struct StartupFlags {
  double image_pull_mib_per_s = 0, image_gib = 0, weight_load_gib_per_s = 0, cached_weight_load_gib_per_s = 0;
};

void AddStartupFlags(CLI::App& app, StartupFlags* f) {
  const char* why = " (kube: reported to the hub for placement's expected start time; 0 = not reported, "
                    "the hub assumes the sim defaults 250 MiB/s, 10 GiB, 1 GiB/s, 4 GiB/s)";
  app.add_option("--image-pull-mibps", f->image_pull_mib_per_s, std::string("Registry to node MiB/s") + why)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--default-image-gib", f->image_gib, std::string("Size of an image, GiB") + why)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--weight-load-gibps", f->weight_load_gib_per_s,
                 std::string("Weights download and load GiB/s") + why)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cached-weight-load-gibps", f->cached_weight_load_gib_per_s,
                 std::string("Weight load GiB/s when the cluster caches the model") + why)
      ->check(CLI::NonNegativeNumber);
}

std::optional<berth::placement::StartupRates> StartupFromFlags(const StartupFlags& f) {
  if (f.image_pull_mib_per_s == 0 && f.image_gib == 0 && f.weight_load_gib_per_s == 0 &&
      f.cached_weight_load_gib_per_s == 0)
    return std::nullopt;
  berth::placement::StartupRates r;
  if (f.image_pull_mib_per_s > 0) r.image_pull_mib_per_s = f.image_pull_mib_per_s;
  if (f.image_gib > 0) r.image_gib = f.image_gib;
  if (f.weight_load_gib_per_s > 0) r.weight_load_gib_per_s = f.weight_load_gib_per_s;
  if (f.cached_weight_load_gib_per_s > 0) r.cached_weight_load_gib_per_s = f.cached_weight_load_gib_per_s;
  return r;
}

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

// KubeBackend::ApiCalls() as a JSON array: what the agent's ClusterRole must grant
// (deploy/kubernetes/agent/rbac.yaml is written, and tested, from this list).
void PrintKubeRequests() {
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& call : berth::agent::KubeBackend::ApiCalls()) {
    calls.push_back({{"method", call.method},
                     {"path", call.path},
                     {"apiGroup", call.api_group},
                     {"resource", call.resource},
                     {"verb", call.verb}});
  }
  std::cout << calls.dump(2) << "\n";
}

// The bootstrap token of --join-token-file: the file's content without surrounding
// whitespace (a Secret key mounted as a file, or `echo TOKEN > file`). Empty is allowed only
// when the state dir already holds a member credential, since the token is then unused.
berth::StatusOr<std::string> ReadJoinTokenFile(const std::string& path,
                                               const std::string& state_dir) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return berth::Status::Invalid("--join-token-file " + path + ": cannot read it (" +
                                  std::strerror(errno) +
                                  "); write the token from `berthctl token create` into it");
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  std::string token = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (token.find_first_of(" \t\r\n") != std::string::npos) {
    return berth::Status::Invalid("--join-token-file " + path +
                                  ": expected one token <id>.<secret>, found several words");
  }
  if (token.empty()) {
    auto state = berth::agent::AgentStateDir::Open(state_dir);
    if (!state.ok() || !state->LoadCredential().ok()) {
      return berth::Status::Invalid(
          "--join-token-file " + path + " is empty and " + state_dir +
          " holds no member credential: write the token from `berthctl token create` into it");
    }
  }
  return token;
}

// --backend sim: the fleet file's cluster, SIMULATED; the join takes its region, zone,
// provider, labels and taints unless the flags gave them.
berth::StatusOr<std::unique_ptr<berth::agent::SimCluster>> MakeSimBackend(
    const std::string& fleet_file, const std::string& fleet_cluster, const berth::agent::SimSettings& settings,
    const berth::Clock* clock, berth::agent::JoinRequest* join) {
  if (fleet_file.empty())
    return berth::Status::Invalid("--backend sim needs --fleet FILE (and --fleet-cluster NAME)");
  std::string yaml;
  if (!ReadFile(fleet_file, &yaml)) return berth::Status::Invalid("--fleet " + fleet_file + ": cannot read");
  auto cluster = berth::agent::SimCluster::FromFleetYaml(
      yaml, fleet_cluster.empty() ? join->cluster_name : fleet_cluster, settings, clock);
  if (!cluster.ok()) return berth::Status::Invalid(cluster.status().ToString());
  const auto& inv = (*cluster)->cluster();
  if (join->region.empty()) join->region = inv.Label("region");
  if (join->zone.empty()) join->zone = inv.Label("zone");
  if (join->provider.empty()) join->provider = inv.Label("provider");
  for (const auto& [k, v] : inv.labels) {
    if (k != "region" && k != "zone" && k != "provider") join->labels.emplace(k, v);
  }
  for (const auto& t : inv.taints) {
    join->taints.push_back({t.key, t.value, std::string(berth::policies::TaintEffectName(t.effect))});
  }
  spdlog::warn("SIMULATED cluster: {} nodes from fleet cluster \"{}\" of {} (time scale {})",
               inv.nodes.size(), inv.name, fleet_file, settings.time_scale);
  return cluster;
}

// Every flag's destination; AgentOptions where it maps one to one.
struct AgentFlags {
  berth::agent::AgentOptions options;
  std::string hub_url, hub_ca_file, backend = "sim", fleet_file, fleet_cluster, kubeconfig;
  std::string kube_context, endpoint_url_template, log_format = "text", log_level = "info", join_token_file;
  double heartbeat_seconds = 5, resync_seconds = 2, time_scale = 1.0;
  std::vector<std::string> labels, taints;
  bool sim_serve = true;
  int sim_serving_base_port = 0;
  StartupFlags startup;
  CLI::Option* join_token_flag = nullptr;
  CLI::Option* join_token_file_flag = nullptr;
};

// The hub the agent joins and who the agent is.
void AddHubFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--hub", f.hub_url,
                 "Hub URL, e.g. https://hub.example:6443; for several hub replicas their URLs "
                 "comma-separated "
                 "(the agent moves to the next when its hub is unreachable)")
      ->required();
  app.add_option("--hub-ca", f.hub_ca_file,
                 "PEM file with the hub's CA: the only certificate the hub may chain to")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_flag_callback(
      "--print-kube-requests",
      [] {
        PrintKubeRequests();
        throw CLI::Success();
      },
      "Print every Kubernetes API request the kube backend can send (method, path pattern, "
      "apiGroup, resource, RBAC verb) as JSON and exit: the agent's ClusterRole grants exactly "
      "these (deploy/kubernetes/agent/rbac.yaml)");
  f.join_token_flag = app.add_option(
      "--join-token", f.options.join_token,
      "Bootstrap token <id>.<secret> from `berthctl token create --cluster NAME` (bound to "
      "this --cluster-name); needed only for the "
      "first start (the member credential is then kept in --state-dir). Visible in `ps`: "
      "prefer --join-token-file");
  f.join_token_file_flag = app.add_option(
      "--join-token-file", f.join_token_file,
      "File holding the bootstrap token (e.g. a Secret key mounted as a file), so it never "
      "appears in `ps`; surrounding whitespace is ignored. Not with --join-token");
  app.add_option("--cluster-name", f.options.join.cluster_name,
                 "Name of this member cluster (DNS-1123 label)")
      ->required();
  app.add_option("--state-dir", f.options.state_dir,
                 "Directory for the member credential (0600) and the last applied Work")
      ->required();
}

// How often the agent renews its lease and reconciles.
void AddPeriodFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--heartbeat-period", f.heartbeat_seconds,
                 "Seconds between lease renewals (inventory is sent when it changes and at least "
                 "every 60 s)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  app.add_option("--resync-period", f.resync_seconds,
                 "Seconds between full reconcile passes (level-triggered resync)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
}

// Where workloads run: the simulated cluster's or the Kubernetes API's flags.
void AddBackendFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--backend", f.backend,
                 "Where workloads run: kube (a Kubernetes API) or sim (simulated)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sim", "kube"}));
  app.add_option("--fleet", f.fleet_file,
                 "sim: fleet file (docs/FLEET.md) describing the simulated cluster")
      ->check(CLI::ExistingFile);
  app.add_option("--fleet-cluster", f.fleet_cluster,
                 "sim: which cluster of --fleet to simulate (default: --cluster-name)");
  app.add_option("--time-scale", f.time_scale,
                 "sim: multiply simulated durations (image pull, weight load, serving) by this; "
                 "0.01 = 100x faster")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1000.0));
  app.add_flag("--sim-serve,!--no-sim-serve", f.sim_serve,
               "sim: each workspace gets a loopback OpenAI-compatible endpoint timed by a "
               "queueing model (docs/AGENT.md \"Serving (simulated)\"); on by default");
  app.add_option("--sim-serving-base-port", f.sim_serving_base_port,
                 "sim: the n-th workspace's endpoint listens on 127.0.0.1:BASE+n "
                 "(0: ephemeral ports)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65000));
  app.add_option("--kubeconfig", f.kubeconfig,
                 "kube: kubeconfig file; without it the in-cluster service account is used");
  app.add_option("--context", f.kube_context,
                 "kube: kubeconfig context (default: current-context)");
  app.add_option("--endpoint-url-template", f.endpoint_url_template,
                 "kube: the URL clients reach a workspace at when its Service has no load-balancer "
                 "address, e.g. http://{workspace}.{namespace}.gpu-eu-1.example.com ({workspace}, "
                 "{namespace} replaced); reported as the cluster endpoint the gateway routes to");
}

// What the MemberCluster says about the cluster at join.
void AddJoinMetadataFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--label", f.labels, "Label for the MemberCluster at join, KEY=VALUE (repeatable)")
      ->delimiter(',');
  app.add_option(
      "--taint", f.taints,
      "Taint for the MemberCluster at join, KEY[=VALUE]:EFFECT with EFFECT NoSchedule, "
      "PreferNoSchedule or NoExecute (repeatable; sim: the fleet file's taints are added)");
  app.add_option("--region", f.options.join.region,
                 "Region sent at join (sim: defaults to the fleet's)");
  app.add_option("--zone", f.options.join.zone, "Zone sent at join");
  app.add_option("--provider", f.options.join.provider, "Provider sent at join");
}

// The admin listener and logging.
void AddOperationFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--admin-listen", f.options.admin_listen,
                 "HOST:PORT for plain-HTTP /healthz, /metrics, /state and (sim) POST /faults/...; "
                 "keep it on loopback");
  app.add_option("--log-format", f.log_format, "Log format: text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", f.log_level, "Log level: trace, debug, info, warn, error")
      ->capture_default_str();
}

// Completes f.options from the parsed flags; an error names the flag and what to pass.
berth::Status FinishOptions(AgentFlags& f) {
  auto& options = f.options;
  if (f.join_token_flag->count() > 0 && f.join_token_file_flag->count() > 0) {
    return berth::Status::Invalid(
        "--join-token and --join-token-file are mutually exclusive: pass the token in a file "
        "(--join-token-file, keeps it out of `ps`) or on the command line, not both");
  }
  if (f.join_token_file_flag->count() > 0) {
    auto token = ReadJoinTokenFile(f.join_token_file, options.state_dir);
    if (!token.ok()) return berth::Status::Invalid(std::string(token.status().message()));
    options.join_token = *token;
  }
  std::vector<std::string> urls;
  std::stringstream list(f.hub_url);
  for (std::string url; std::getline(list, url, ',');) {
    if (!url.empty()) urls.push_back(url);
  }
  if (urls.empty()) return berth::Status::Invalid("--hub: no URL given");
  options.hub.server = urls.front();
  options.hub.fallback_servers.assign(urls.begin() + 1, urls.end());
  options.hub.on_server_switch = [](const std::string& from, const std::string& to) {
    spdlog::warn("hub {} unreachable: using {}", from, to);
  };
  if (!ReadFile(f.hub_ca_file, &options.hub.ca_pem))
    return berth::Status::Invalid("--hub-ca " + f.hub_ca_file + ": cannot read");
  options.join.backend = f.backend;
  for (const auto& label : f.labels) {
    auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0)
      return berth::Status::Invalid("--label \"" + label + "\": expected KEY=VALUE");
    options.join.labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  for (const auto& taint : f.taints) {
    auto parsed = ParseTaintFlag(taint);
    if (!parsed) {
      return berth::Status::Invalid("--taint \"" + taint +
                                    "\": expected KEY[=VALUE]:EFFECT with EFFECT NoSchedule, "
                                    "PreferNoSchedule or NoExecute");
    }
    options.join.taints.push_back(*parsed);
  }
  options.heartbeat_period =
      std::chrono::milliseconds(static_cast<int64_t>(f.heartbeat_seconds * 1000));
  options.resync_period = std::chrono::milliseconds(static_cast<int64_t>(f.resync_seconds * 1000));
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  options.holder_identity =
      options.join.cluster_name + "/" + host + "/" + std::to_string(::getpid());
  return berth::Status::Ok();
}

// --backend kube: the kubeconfig's (or the pod's) API server, Nodes and Pods watched.
berth::StatusOr<std::unique_ptr<berth::agent::MemberBackend>> MakeKubeBackend(const AgentFlags& f) {
  auto config = f.kubeconfig.empty() ? berth::LoadInClusterConfig()
                                     : berth::LoadKubeconfigFile(f.kubeconfig, f.kube_context);
  if (!config.ok()) {
    return berth::Status::Invalid((f.kubeconfig.empty()
                                       ? "in-cluster config (pass --kubeconfig outside a pod): "
                                       : "--kubeconfig: ") +
                                  config.status().ToString());
  }
  auto kube = berth::agent::KubeBackend::Create(*config);
  if (!kube.ok()) return berth::Status::Invalid(kube.status().ToString());
  (*kube)->StartInventoryWatch();  // Nodes and Pods from a watch cache, not a list per period
  (*kube)->set_endpoint_url_template(f.endpoint_url_template);
  (*kube)->set_startup_rates(StartupFromFlags(f.startup));
  return std::unique_ptr<berth::agent::MemberBackend>(std::move(*kube));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "berth-agent: the Berth member agent. Joins a hub, renews its lease, reports GPU "
      "inventory, and runs this member's Work on a Kubernetes cluster (--backend kube) "
      "or a simulated one (--backend sim)."};
  AgentFlags f;
  // In the order of --help; CLI11 also validates in this order.
  AddStartupFlags(app, &f.startup);
  AddHubFlags(app, f);
  AddPeriodFlags(app, f);
  AddBackendFlags(app, f);
  AddJoinMetadataFlags(app, f);
  AddOperationFlags(app, f);
  app.footer(
      "Faults (sim, POST to --admin-listen): /faults/node-down?node=N, /faults/node-up?node=N,\n"
      "/faults/gpus-lost?node=N&count=K (0 restores), /faults/image-pull-failure?image=I,\n"
      "/faults/image-pull-ok?image=I, /faults/slow-serving?image=I&factor=F (1 restores),\n"
      "/faults/failing-serving?image=I&fraction=F (share of requests answered 500; 0 restores),\n"
      "/faults/unreachable, /faults/reachable, /faults/clear.\n"
      "See docs/AGENT.md.");
  CLI11_PARSE(app, argc, argv);
  ConfigureLogging(f.log_format, f.log_level, f.options.join.cluster_name);
  if (auto s = FinishOptions(f); !s.ok()) return Fail(std::string(s.message()));

  const berth::Clock& clock = berth::RealClock::Instance();
  std::unique_ptr<berth::agent::MemberBackend> member_backend;
  berth::agent::SimCluster* sim = nullptr;
  if (f.backend == "sim") {
    berth::agent::SimSettings settings;
    settings.time_scale = f.time_scale;
    settings.serve = f.sim_serve;
    settings.serving_base_port = f.sim_serving_base_port;
    auto cluster = MakeSimBackend(f.fleet_file, f.fleet_cluster, settings, &clock, &f.options.join);
    if (!cluster.ok()) return Fail(std::string(cluster.status().message()));
    sim = cluster->get();
    member_backend = std::move(*cluster);
  } else {
    auto kube = MakeKubeBackend(f);
    if (!kube.ok()) return Fail(std::string(kube.status().message()));
    member_backend = std::move(*kube);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads inherit the mask; sigwait below

  berth::agent::Agent agent(f.options, std::move(member_backend), sim, &clock);
  if (auto s = agent.Start(); !s.ok()) return Fail("cannot start: " + s.ToString());
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping (workloads keep running)", sig);
  agent.Stop();
  return 0;
}
