// berth-gateway: steers a local HAProxy (the data plane) from the hub's Workspace endpoint
// map, through HAProxy's runtime API only. Flags and wiring; see docs/GATEWAY.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "api/kubeconfig.h"
#include "api/rest_client.h"
#include "gateway/catalog.h"
#include "gateway/catalog_server.h"
#include "gateway/gateway_sync.h"
#include "gateway/haproxy_config.h"
#include "gateway/haproxy_process.h"
#include "gateway/runtime_api.h"
#include "gateway/workspace_sources.h"

namespace gw = berth::gateway;

namespace {

struct Flags {
  gw::GatewayLayout layout;
  std::string state_dir = ".berth/gateway";
  std::string haproxy = "/usr/sbin/haproxy";
  std::string haproxy_socket;  // attach mode
  std::string map_file;
  std::string endpoints_file;
  std::string kubeconfig;
  double resync_seconds = 5;
  std::string log_level = "info";
};

void AddFlags(CLI::App* app, Flags* f) {
  app->add_option("--state-dir", f->state_dir,
                  "Where haproxy.cfg, the map file, the runtime socket and haproxy.log live")
      ->capture_default_str();
  app->add_option("--haproxy", f->haproxy, "HAProxy binary to start as a child")
      ->capture_default_str();
  app->add_option("--haproxy-socket", f->haproxy_socket,
                  "Attach to an HAProxy already running with `berth-gateway config` output: its "
                  "admin stats socket (no child is started)");
  app->add_option("--map-file", f->map_file,
                  "The model map file HAProxy loads (default: <state-dir>/models.map)");
  app->add_option("--endpoints-file", f->endpoints_file,
                  "Read Workspaces (JSON or YAML, one, a list or a kind: List) from FILE, re-read "
                  "when it changes, instead of the hub");
  app->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the hub (default: $KUBECONFIG)");
  app->add_option("--listen", f->layout.listen, "Client frontend address (OpenAI-compatible API)")
      ->capture_default_str();
  app->add_option("--tls-cert", f->layout.tls_cert,
                  "PEM file with certificate and key: the client frontend speaks TLS");
  app->add_option("--model-domain", f->layout.model_domain,
                  "Route Host <model>.<domain> to <model> (e.g. models.example.com)");
  app->add_option(
      "--metrics-listen", f->layout.metrics_listen,
      "Prometheus frontend address (/metrics: HAProxy, /metrics/berth: model → backend)");
  app->add_option("--catalog-listen", f->layout.catalog_listen,
                  "Loopback address of berth-gateway's own listener (GET /v1/models)")
      ->capture_default_str();
  app->add_option("--backend-slots", f->layout.backend_slots,
                  "Backends pre-declared for models (most models served at once)")
      ->capture_default_str();
  app->add_option("--balance", f->layout.balance, "roundrobin or leastconn")->capture_default_str();
  app->add_option(
         "--buffer-size", f->layout.buffer_size,
         "HAProxy tune.bufsize: a body larger than this cannot be routed by its model field")
      ->capture_default_str();
  app->add_option("--check-interval-ms", f->layout.check_interval_ms,
                  "Health check interval of upstream servers (GET /health)")
      ->capture_default_str();
  app->add_option("--check-fall", f->layout.check_fall, "Failed checks before a server is down")
      ->capture_default_str();
  app->add_option("--check-rise", f->layout.check_rise, "Passed checks before a server is up")
      ->capture_default_str();
  app->add_option("--resync", f->resync_seconds, "Seconds between full re-syncs with HAProxy")
      ->capture_default_str();
  app->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
}

// Fills the paths that default into the state directory.
void ResolvePaths(Flags* f) {
  namespace fs = std::filesystem;
  fs::path dir = fs::absolute(f->state_dir);
  f->layout.runtime_socket =
      f->haproxy_socket.empty() ? (dir / "haproxy.sock").string() : f->haproxy_socket;
  f->layout.map_file = f->map_file.empty() ? (dir / "models.map").string() : f->map_file;
}

gw::PlanOptions PlanOptionsOf(const gw::GatewayLayout& layout) {
  gw::PlanOptions o;
  o.slots = gw::SlotBackendNames(layout);
  o.map_file = layout.map_file;
  o.no_slot_backend = gw::kNoSlotBackend;
  o.check_interval_ms = layout.check_interval_ms;
  o.check_fall = layout.check_fall;
  o.check_rise = layout.check_rise;
  return o;
}

berth::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return berth::Status::Unavailable("cannot write " + path.string());
  return berth::Status::Ok();
}

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

// Blocks SIGINT/SIGTERM in every thread and stops the feed when one arrives.
std::thread StartSignalWatcher(gw::WorkspaceFeed* feed) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, feed] {
    int sig = 0;
    while (!feed->stopped()) {
      timespec tick{0, 200'000'000};
      sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        spdlog::info("signal {}: stopping", sig);
        feed->Stop();
      }
    }
  });
}

int Run(Flags& f) {
  if (f.endpoints_file.empty() == false && !f.kubeconfig.empty()) {
    return Fail("--endpoints-file and --kubeconfig are exclusive: pick one source");
  }
  std::filesystem::create_directories(f.state_dir);
  gw::UnixSocketRuntimeApi api(f.layout.runtime_socket);
  gw::WorkspaceFeed feed;
  std::thread signals = StartSignalWatcher(&feed);
  struct JoinOnExit {
    std::thread& t;
    gw::WorkspaceFeed& feed;
    ~JoinOnExit() {
      feed.Stop();
      t.join();
    }
  } join_signals{signals, feed};

  std::unique_ptr<gw::HaproxyProcess> haproxy;
  if (f.haproxy_socket.empty()) {
    auto dir = std::filesystem::absolute(f.state_dir);
    if (auto st = WriteFile(dir / "haproxy.cfg", gw::RenderHaproxyConfig(f.layout)); !st.ok())
      return Fail(st.message());
    if (auto st = WriteFile(f.layout.map_file, ""); !st.ok()) return Fail(st.message());
    haproxy = std::make_unique<gw::HaproxyProcess>(f.haproxy, (dir / "haproxy.cfg").string(),
                                                   (dir / "haproxy.log").string());
    if (auto st = haproxy->Start(&api, std::chrono::seconds(10)); !st.ok())
      return Fail(st.message());
    spdlog::info("haproxy pid {} serving {} (config {}/haproxy.cfg)", haproxy->pid(),
                 f.layout.listen, dir.string());
  } else if (auto info = api.Run("show info"); !info.ok()) {
    // Not fatal: HAProxy may start after us (or restart); every pass retries.
    spdlog::warn("{}; will retry", info.status().message());
  }

  gw::Catalog catalog;
  auto catalog_server = gw::CatalogServer::Start(f.layout.catalog_listen, &catalog);
  if (!catalog_server.ok()) return Fail(catalog_server.status().message());

  std::unique_ptr<berth::RestClient> hub;
  std::unique_ptr<gw::EndpointsFileSource> file_source;
  std::unique_ptr<gw::HubWorkspaceSource> hub_source;
  if (!f.endpoints_file.empty()) {
    file_source = std::make_unique<gw::EndpointsFileSource>(f.endpoints_file, &feed);
  } else {
    std::string path = f.kubeconfig;
    if (path.empty() && std::getenv("KUBECONFIG")) path = std::getenv("KUBECONFIG");
    if (path.empty())
      return Fail("no source: pass --endpoints-file FILE or --kubeconfig (or set KUBECONFIG)");
    auto config = berth::LoadKubeconfigFile(path);
    if (!config.ok()) return Fail(config.status().WithContext("kubeconfig " + path).message());
    auto client = berth::RestClient::Create(std::move(*config));
    if (!client.ok()) return Fail(client.status().message());
    hub = std::move(*client);
    hub_source = std::make_unique<gw::HubWorkspaceSource>(hub.get(), &feed);
  }

  gw::GatewaySync sync(&api, PlanOptionsOf(f.layout), gw::ResolveHost);
  gw::LoopOptions loop;
  loop.resync = std::chrono::milliseconds(static_cast<int64_t>(f.resync_seconds * 1000));
  gw::RunSyncLoop(&sync, &feed, &catalog, haproxy.get(), &api, loop);
  file_source.reset();
  hub_source.reset();
  if (haproxy) haproxy->Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "berth-gateway: routes OpenAI-style requests to the clusters serving each model, by\n"
      "programming a local HAProxy through its runtime API (no reloads). Starts HAProxy as a\n"
      "child, or attaches to one (--haproxy-socket) configured with `berth-gateway config`.\n"
      "Source: the hub's Workspaces (--kubeconfig) or --endpoints-file."};
  Flags f;
  AddFlags(&app, &f);
  auto* config_cmd = app.add_subcommand(
      "config", "Print the haproxy.cfg for these flags (to run HAProxy yourself) and exit");
  config_cmd->fallthrough();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ gateway: %v");
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  ResolvePaths(&f);
  if (auto st = gw::ValidateLayout(f.layout); !st.ok()) return Fail(st.message());
  if (f.resync_seconds < 0.1) return Fail("--resync must be at least 0.1 s");
  if (config_cmd->parsed()) {
    std::cout << gw::RenderHaproxyConfig(f.layout);
    return 0;
  }
  return Run(f);
}
