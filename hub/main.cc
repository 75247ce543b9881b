// berth-hub: parses flags, starts the hub, waits for SIGTERM/SIGINT.
#include <CLI/CLI.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>


#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>
#include <iostream>

#include <nlohmann/json.hpp>

#include "api/yaml_json.h"
#include "hub/hub.h"
#include "hub/offline_commands.h"
#include "placement/fleet_file.h"
#include "hub/pki.h"

namespace {

// Writes the log message JSON-escaped, for --log-format=json.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump();
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

void ConfigureLogging(const std::string& format, const std::string& level) {
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"hub","msg":%*})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ hub: %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

// Checks --advertise-url: https://HOST[:PORT], nothing after the authority (agents pin the
// hub's CA, so a path-routing proxy cannot sit in front of it). Sets *host to HOST without
// brackets. Returns an error message naming the flag, or "" when the URL is usable.
std::string CheckAdvertiseUrl(std::string* url, std::string* host) {
  const std::string given = *url;
  static const std::string kScheme = "https://";
  if (url->compare(0, kScheme.size(), kScheme) != 0) {
    return "--advertise-url \"" + given +
           "\": must start with https:// (the hub serves only HTTPS), e.g. "
           "https://hub.example.com:443";
  }
  while (url->size() > kScheme.size() && url->back() == '/') url->pop_back();
  const std::string authority = url->substr(kScheme.size());
  if (authority.find_first_of("/?#@ ") != std::string::npos) {
    return "--advertise-url \"" + given +
           "\": give only https://HOST[:PORT], without path, query or user info";
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) return "--advertise-url \"" + given + "\": unclosed [";
    *host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return "--advertise-url \"" + given + "\": junk after ]";
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    *host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
    if (host->find(':') != std::string::npos) {
      return "--advertise-url \"" + given + "\": write an IPv6 host in brackets, https://[::1]:6443";
    }
  }
  if (host->empty()) return "--advertise-url \"" + given + "\": no host";
  if (!port.empty() || authority.back() == ':') {
    int n = 0;
    bool digits = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
    if (digits && port.size() <= 5) n = std::stoi(port);
    if (n < 1 || n > 65535) {
      return "--advertise-url \"" + given + "\": port must be a number from 1 to 65535";
    }
  }
  return "";
}

}  // namespace

static berth::StatusOr<std::vector<berth::placement::RegionLatency>> ReadRegionLatencies(
    const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return berth::Status::NotFound("cannot read the file");
  auto doc = berth::api::YamlToJson(text.str());
  if (!doc.ok()) return doc.status();
  return berth::placement::ParseRegionLatencies(*doc);
}

// Timeouts and sizes of the HTTPS listener (docs/API.md "Connection limits").
void AddConnectionLimitFlags(CLI::App& app, berth::hub::HubOptions& options) {
  auto& l = options.limits;
  auto seconds = [&app](const char* name, std::chrono::milliseconds* value, const char* what) {
    app.add_option_function<int>(name, [value](int s) { *value = std::chrono::seconds(s); },
                                 std::string(what) + " (seconds; default " +
                                     std::to_string(value->count() / 1000) + ")")
        ->check(CLI::Range(1, 86400))
        ->group("Connection limits");
  };
  seconds("--tls-handshake-timeout", &l.handshake_timeout, "A TLS handshake must finish within this");
  seconds("--request-header-timeout", &l.header_timeout,
          "A request header must arrive within this of its first byte (slow clients are closed)");
  seconds("--request-body-timeout", &l.body_timeout, "A request body must arrive within this of its header");
  seconds("--idle-timeout", &l.idle_timeout, "A kept-alive connection with no request for this long is closed");
  seconds("--write-timeout", &l.write_timeout,
          "A reply, or one chunk of a watch, not taken by the client within this closes the connection");
  app.add_option("--max-header-bytes", l.max_header_bytes,
                 "Largest request line + header; larger requests get 431")
      ->capture_default_str()->check(CLI::Range(size_t{4096}, size_t{16} << 20))->group("Connection limits");
  app.add_option("--max-connections", l.max_connections,
                 "Open connections beyond this are closed as they are accepted")
      ->capture_default_str()->check(CLI::Range(size_t{16}, size_t{1} << 20))->group("Connection limits");
  app.add_option("--max-watch-backlog-bytes", options.max_watch_backlog_bytes,
                 "A watch whose client is this many bytes behind is closed (it resumes from its resourceVersion)")
      ->capture_default_str()->check(CLI::Range(size_t{64} << 10, size_t{1} << 30))->group("Connection limits");
  app.add_option("--max-total-watch-backlog-bytes", l.max_total_stream_backlog_bytes,
                 "All watches together: the one whose write crosses this is closed")
      ->capture_default_str()->check(CLI::Range(size_t{1} << 20, size_t{16} << 30))->group("Connection limits");
}

// The controllers' flags: failover timing, heartbeat defaults, locality.
void AddAuditFlags(CLI::App& app, berth::hub::HubOptions& options) {
  app.add_option("--audit-log", options.audit_log_path,
                 "File to append the audit log to: one JSON line per mutating request (create, update, "
                 "patch, delete), allowed or refused, with user, groups, resource and response code; "
                 "created 0600 (docs/OPERATIONS.md). Default: none");
  app.add_option("--audit-log-max-size-mb", options.audit_log_max_size_mb,
                 "Rotate the audit log before it passes this size")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--audit-log-max-backups", options.audit_log_max_backups,
                 "Rotated audit files to keep (FILE.1 is the newest); 0 truncates instead")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  app.add_flag("--audit-log-stdout", options.audit_log_stdout,
               "Also write every audit line to stdout (alone, without --audit-log, only there)");
}

void AddControllerFlags(CLI::App& app, berth::hub::HubOptions& options, bool& no_controllers,
                        std::string& region_latencies_file) {
  app.add_flag("--no-controllers", no_controllers,
               "Serve the API and store only: no health, placement, Work or failover controllers "
               "(for API tests and debugging)");
  app.add_option("--failover-toleration", options.controllers.toleration_seconds,
                 "Seconds a member may be Unhealthy before its replicas are placed elsewhere")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  app.add_option("--failback-hysteresis", options.controllers.failback_hysteresis_seconds,
                 "Seconds a recovered member must stay healthy before replicas move back to it")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  app.add_option("--capacity-pending-timeout", options.controllers.capacity_pending_seconds,
                 "Seconds replicas may wait Pending for GPUs (InsufficientGPU, Unschedulable, GPUsLost, "
                 "NodeLost) on a healthy member before they are placed on other clusters")
      ->capture_default_str()->check(CLI::Range(0, 86400));
  app.add_option("--drain-grace", options.controllers.drain_seconds,
                 "Seconds a cluster's endpoint takes no new requests before a planned removal of its "
                 "replicas (failback, rebalancing, re-placement), so in-flight requests finish")
      ->capture_default_str()->check(CLI::Range(0, 3600));
  app.add_option("--heartbeat-period", options.controllers.default_heartbeat_seconds,
                 "Default lease renewal period of members, in seconds (MemberCluster spec may override)")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--missed-heartbeats", options.controllers.default_missed_heartbeats,
                 "Missed renewals before a member is Unhealthy (MemberCluster spec may override)")
      ->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--region-latencies", region_latencies_file,
                 "YAML file whose regionLatencies list ({from, to, ms}) the placement engine's "
                 "locality score uses, e.g. a fleet file (docs/FLEET.md); without it: 2 ms within "
                 "a region, 250 ms between regions")
      ->check(CLI::ExistingFile);
}

// Where the objects live (docs/OPERATIONS.md, "The store on etcd").
void AddStoreFlags(CLI::App& app, berth::hub::HubOptions& options) {
  app.add_option("--store", options.store,
                 "Where objects live: sqlite (<data-dir>/berth.db, one hub) or etcd (--etcd-endpoints; "
                 "several hubs may share a prefix: one, elected, runs the controllers)")
      ->check(CLI::IsMember({"sqlite", "etcd"}))
      ->capture_default_str();
  app.add_option("--etcd-endpoints", options.etcd.endpoints,
                 "--store etcd: client URLs of the etcd members, comma-separated or repeated, e.g. "
                 "https://10.0.0.1:2379,https://10.0.0.2:2379 (tried in order; the next on failure)")
      ->delimiter(',');
  app.add_option("--etcd-prefix", options.etcd_prefix,
                 "--store etcd: key prefix of this hub's objects (<prefix>/<resource>/<namespace>/<name>)")
      ->capture_default_str();
  app.add_option("--etcd-ca", options.etcd.ca_file,
                 "--store etcd: CA file that signed the etcd servers' certificates (https endpoints; "
                 "default: the system's CAs)")
      ->check(CLI::ExistingFile);
  app.add_option("--etcd-cert", options.etcd.cert_file,
                 "--store etcd: client certificate for etcd's --client-cert-auth (with --etcd-key)")
      ->check(CLI::ExistingFile);
  app.add_option("--etcd-key", options.etcd.key_file, "--store etcd: the client certificate's key")
      ->check(CLI::ExistingFile);
  app.add_option("--hub-id", options.hub_id,
                 "--store etcd: this replica's name in the leader election and the leader record "
                 "(Lease berth-hub.leader); default <hostname>:<port>");
  app.add_option_function<int>(
         "--leader-lease", [&options](int s) { options.leader_lease = std::chrono::seconds(s); },
         "--store etcd: TTL of the leader's etcd lease in seconds (default 3). A dead leader's "
         "successor runs the controllers within about this long")
      ->check(CLI::Range(2, 60));
}

// Flags that only make sense together; a message for the first violation, empty when fine.
std::string CheckStoreFlags(const berth::hub::HubOptions& options) {
  if (options.store == "etcd") {
    if (options.etcd.endpoints.empty()) return "--store etcd needs --etcd-endpoints";
    if (options.etcd_prefix.empty() || options.etcd_prefix.front() != '/' || options.etcd_prefix.back() == '/') {
      return "--etcd-prefix must start with '/' and not end with it, got \"" + options.etcd_prefix + "\"";
    }
    return "";
  }
  if (!options.etcd.endpoints.empty() || !options.etcd.ca_file.empty() || !options.etcd.cert_file.empty() ||
      !options.etcd.key_file.empty()) {
    return "--etcd-* flags need --store etcd";
  }
  return "";
}

int main(int argc, char** argv) {
  CLI::App app{"berth-hub: the Berth control plane (Kubernetes-style API over HTTPS, durable store)"};
  berth::hub::HubOptions options;
  std::string listen = "127.0.0.1:6443";
  std::string log_format = "text", log_level = "info";
  app.add_option("--data-dir", options.data_dir,
                 "Directory for the store (berth.db), PKI (pki/) and admin.kubeconfig; created on first start "
                 "(required to serve)");
  app.add_option("--listen", listen, "HOST:PORT to serve HTTPS on")->capture_default_str();
  app.add_option("--encryption-key-file", options.encryption_key_file,
                 "File of keys that encrypt Secrets at rest (AES-256-GCM): one base64 32-byte key "
                 "per line, the first encrypts, all decrypt (docs/OPERATIONS.md). Default: "
                 "<data-dir>/encryption.key, created on first start");
  app.add_option("--tls-san", options.extra_sans,
                 "Extra DNS name or IP for the serving certificate (repeatable)");
  app.add_option("--advertise-url", options.advertise_url,
                 "URL members and operators use to reach the hub, e.g. its Service or "
                 "LoadBalancer: https://HOST[:PORT]. Written into admin.kubeconfig. Default: "
                 "https://<--listen host>:<port> (127.0.0.1 for 0.0.0.0). HOST must be in the "
                 "serving certificate (--tls-san); the hub warns when it is not. Given twice, the "
                 "last wins (an overlay can append one)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--log-format", log_format, "Log format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  AddStoreFlags(app, options);
  int io_threads = 0;
  app.add_option("--io-threads", io_threads,
                 "Threads serving HTTPS and request handlers; 0 = one per core (at least 2)")
      ->capture_default_str()->check(CLI::Range(0, 256));
  AddConnectionLimitFlags(app, options);
  AddAuditFlags(app, options);
  bool no_controllers = false;
  std::string region_latencies_file;
  AddControllerFlags(app, options, no_controllers, region_latencies_file);
  int offline_exit = 0;
  berth::hub::AddKubeconfigUserCommand(app, &offline_exit);
  berth::hub::AddMigrateCommand(app, &offline_exit);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (!app.get_subcommands().empty()) return offline_exit;
  if (options.data_dir.empty()) {
    std::cerr << "berth-hub: --data-dir is required\nRun with --help for more information.\n";
    return 2;
  }
  options.run_controllers = !no_controllers;
  if (std::string why = CheckStoreFlags(options); !why.empty()) {
    std::cerr << "berth-hub: " << why << "\n";
    return 2;
  }
  if (!region_latencies_file.empty()) {
    auto latencies = ReadRegionLatencies(region_latencies_file);
    if (!latencies.ok()) {
      std::cerr << "berth-hub: --region-latencies " << region_latencies_file << ": "
                << latencies.status().ToString() << "\n";
      return 2;
    }
    options.controllers.region_latencies = std::move(*latencies);
  }

  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "berth-hub: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return 2;
  }
  options.host = listen.substr(0, colon);
  if (options.host.size() > 2 && options.host.front() == '[') options.host = options.host.substr(1, options.host.size() - 2);
  try {
    options.port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    std::cerr << "berth-hub: --listen port must be a number, got \"" << listen << "\"\n";
    return 2;
  }
  std::string advertise_host;
  if (!options.advertise_url.empty()) {
    if (std::string why = CheckAdvertiseUrl(&options.advertise_url, &advertise_host); !why.empty()) {
      std::cerr << "berth-hub: " << why << "\n";
      return 2;
    }
  }
  ConfigureLogging(log_format, log_level);

  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  options.io_threads = io_threads;
  auto hub = berth::hub::Hub::Start(options);
  if (!hub.ok()) {
    spdlog::error("cannot start: {}", hub.status().ToString());
    return 1;
  }
  if (!advertise_host.empty() && !berth::SansCoverHost((*hub)->pki().server_sans, advertise_host)) {
    std::string sans;
    for (const auto& san : (*hub)->pki().server_sans) sans += (sans.empty() ? "" : ", ") + san;
    spdlog::warn(
        "--advertise-url host \"{}\" is not in the serving certificate ({}): clients dialing "
        "{} will fail TLS verification; add --tls-san={}",
        advertise_host, sans, options.advertise_url, advertise_host);
  }
  spdlog::info("berth-hub ready at {}; admin kubeconfig: {}", (*hub)->server_url(),
               (*hub)->pki().admin_kubeconfig_path);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received signal {}, shutting down", sig);
  (*hub)->Stop();
  hub->reset();
  spdlog::info("stopped");
  return 0;
}
