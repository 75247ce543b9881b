#include "hub/hub.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "api/object.h"
#include "hub/api_server.h"
#include "hub/audit_log.h"
#include "hub/auth.h"
#include "kinds/berth_kinds.h"
#include "hub/controller_term.h"
#include "hub/encryption_key_file.h"
#include "hub/etcd_store.h"
#include "hub/hub_store.h"
#include "hub/identity_token_kind.h"
#include "hub/namespace_bootstrap.h"
#include "hub/object_api.h"
#include "hub/leader_election.h"
#include "hub/rbac_policy_watcher.h"
#include "hub/shared_pki.h"
#include "hub/sqlite_store.h"

namespace berth::hub {

using nlohmann::json;

class Hub::Impl {
 public:
  explicit Impl(Clock& clock) : auth(clock) {}
  ~Impl() {
    if (store) {
      for (uint64_t id : token_watches) store->Unwatch(id);
    }
  }

  HubPki pki;
  std::string url;
  api::KindRegistry registry;
  std::unique_ptr<Store> store;
  std::unique_ptr<ObjectApi> objects;
  TokenAuthenticator auth;
  std::unique_ptr<RbacPolicyWatcher> rbac;
  std::vector<uint64_t> token_watches;  // IdentityToken records → auth
  std::unique_ptr<Membership> membership;
  // Controllers: a SQLite hub runs one term for its life; hubs on etcd run one while elected.
  std::unique_ptr<EtcdClient> election_etcd;  // store "etcd": the election and the shared PKI
  std::unique_ptr<LeaderElection> election;
  std::mutex term_mu;
  std::unique_ptr<ControllerTerm> term;  // guarded by term_mu
  std::unique_ptr<AuditLog> audit;  // before the server, which writes to it
  std::unique_ptr<ApiServer> server;
};

Hub::Hub(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hub::~Hub() { Stop(); }

void Hub::Stop() {
  if (impl_->server) impl_->server->Stop();
  if (impl_->rbac) impl_->rbac->Stop();
  if (impl_->election) impl_->election->Stop();  // resigns: ends the term first
  std::lock_guard<std::mutex> lock(impl_->term_mu);
  impl_->term.reset();
}

const HubPki& Hub::pki() const { return impl_->pki; }
const std::string& Hub::server_url() const { return impl_->url; }

namespace {

// Null when neither a file nor stdout is asked for.
StatusOr<std::unique_ptr<AuditLog>> OpenAuditLog(const HubOptions& options) {
  if (options.audit_log_path.empty() && !options.audit_log_stdout) return std::unique_ptr<AuditLog>();
  AuditLog::Options audit_options{options.audit_log_path, options.audit_log_max_size_mb << 20,
                                  options.audit_log_max_backups};
  auto audit = AuditLog::Open(std::move(audit_options), options.audit_log_stdout ? &std::cout : nullptr);
  if (!audit.ok()) return audit.status().WithContext("audit log");
  return audit;
}

// This replica's name in the leader election.
std::string HubIdentity(const HubOptions& options) {
  if (!options.hub_id.empty()) return options.hub_id;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "hub");
  return std::string(host) + ":" + std::to_string(options.port);
}

// The etcd client of the election and the shared PKI: requests time out within a third of
// the lease, so a leader cut off from etcd notices before its lease runs out.
StatusOr<std::unique_ptr<EtcdClient>> ElectionClient(const HubOptions& options) {
  EtcdClientOptions o = options.etcd;
  o.request_timeout = std::min<std::chrono::milliseconds>(o.request_timeout, options.leader_lease / 3);
  return NewEtcdClient(o);
}

// A hub started beside its etcd members (systemd, a StatefulSet, a test) may come up first:
// it waits for them up to a minute, saying so, before it gives up.
Status WaitForEtcd(EtcdClient& etcd, const std::vector<std::string>& endpoints) {
  constexpr auto kPatience = std::chrono::seconds(60);
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  auto next_note = std::chrono::steady_clock::now();
  while (true) {
    auto revision = etcd.CurrentRevision();
    if (revision.ok()) return Status::Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      return revision.status().WithContext("etcd did not answer within 60 s");
    }
    if (std::chrono::steady_clock::now() >= next_note) {
      spdlog::warn("waiting for etcd ({}): {}", fmt::join(endpoints, ","), revision.status().message());
      next_note += std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The CA, serving certificate and admin token: this hub's own (SQLite), or shared by every
// hub on the etcd prefix.
StatusOr<HubPki> EnsurePki(const HubOptions& options, const HubPkiOptions& pki_options, EtcdClient* etcd,
                           const SecretCipher& keys) {
  if (!etcd) return EnsureHubPki(pki_options);
  return EnsureSharedHubPki(*etcd, options.etcd_prefix + ".hub/pki", keys, pki_options);
}

}  // namespace

// SQLite: the controllers run for the hub's life. etcd: they run while this replica is the
// elected leader, writing through a store fenced on its term.
Status Hub::StartControllers(const HubOptions& options, Clock& clock) {
  ControllerTermOptions term_options;
  term_options.controllers = options.controllers;
  term_options.lease_seconds = static_cast<int>(options.leader_lease.count());
  Impl* impl = impl_.get();
  if (!impl->election_etcd) {
    auto term = ControllerTerm::Start(*impl->store, impl->registry, clock, nullptr, term_options);
    if (!term.ok()) return term.status();
    impl->term = std::move(*term);
    return Status::Ok();
  }
  LeaderElectionOptions election;
  election.key = options.etcd_prefix + ".hub/leader";
  election.identity = HubIdentity(options);
  election.lease_ttl = options.leader_lease;
  impl->election = std::make_unique<LeaderElection>(
      *impl->election_etcd, election,
      [impl, &clock, term_options](const LeaderTerm& t) {
        auto term = ControllerTerm::Start(*impl->store, impl->registry, clock, &t, term_options);
        std::lock_guard<std::mutex> lock(impl->term_mu);
        if (!term.ok()) {
          spdlog::error("elected, but the controllers did not start: {}", term.status().message());
          return;
        }
        impl->term = std::move(*term);
      },
      [impl](const std::string& why) {
        std::lock_guard<std::mutex> lock(impl->term_mu);
        if (impl->term) spdlog::warn("stopping the controllers of term {}: {}", impl->term->holder(), why);
        impl->term.reset();
      });
  return impl->election->Start();
}

StatusOr<std::unique_ptr<Hub>> Hub::Start(const HubOptions& options) {
  Clock* clock = options.clock ? options.clock : &RealClock::Instance();
  // Start-up phases, logged so a slow start shows where the time went (wall time, not the
  // injected clock: nothing decides on it).
  using Wall = std::chrono::steady_clock;
  auto phase_start = Wall::now();
  std::string phases;
  auto phase_done = [&](const char* name) {
    const auto now = Wall::now();
    phases += (phases.empty() ? "" : ", ") + std::string(name) + " " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - phase_start).count()) +
              " ms";
    phase_start = now;
  };
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return Status::Unavailable("create data dir " + options.data_dir + ": " + ec.message());
  }
  ::chmod(options.data_dir.c_str(), 0700);
  auto impl = std::make_unique<Impl>(*clock);
  const std::string host_for_url =
      options.host == "0.0.0.0" || options.host == "::" ? "127.0.0.1" : options.host;
  impl->url = !options.advertise_url.empty()
                  ? options.advertise_url
                  : "https://" + host_for_url + ":" + std::to_string(options.port);

  HubPkiOptions pki_options;
  pki_options.data_dir = options.data_dir;
  pki_options.extra_sans = options.extra_sans;
  if (options.host != "0.0.0.0" && options.host != "::" && options.host != "127.0.0.1" &&
      options.host != "localhost") {
    pki_options.extra_sans.push_back(options.host);
  }
  pki_options.admin_server_url = impl->url;
  pki_options.now = std::chrono::system_clock::time_point(clock->Now().time_since_epoch());
  auto keys = LoadEncryptionKeys(options.encryption_key_file, options.data_dir);
  if (!keys.ok()) return keys.status();
  if (options.store == "etcd") {
    auto etcd = ElectionClient(options);
    if (!etcd.ok()) return etcd.status();
    impl->election_etcd = std::move(*etcd);
    BERTH_RETURN_IF_ERROR(WaitForEtcd(*impl->election_etcd, options.etcd.endpoints));
  }
  auto pki = EnsurePki(options, pki_options, impl->election_etcd.get(), **keys);
  if (!pki.ok()) return pki.status().WithContext("PKI in " + options.data_dir);
  impl->pki = std::move(*pki);
  if (impl->pki.created_ca) spdlog::info("created a new CA in {}", impl->pki.pki_dir);
  impl->auth.AddTokenHash(impl->pki.admin_token_sha256, Identity{"admin", true, "", {}});
  phase_done("pki");

  BERTH_RETURN_IF_ERROR(RegisterHubKinds(impl->registry));
  auto store = OpenHubStore(options, impl->registry, *keys);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  phase_done("store");
  impl->objects = std::make_unique<ObjectApi>(*impl->store, *clock, &impl->registry);
  if (auto created = EnsureNamespaces(*impl->objects, impl->registry); !created.ok()) return created.status();
  impl->rbac = std::make_unique<RbacPolicyWatcher>(*impl->objects, impl->registry);
  BERTH_RETURN_IF_ERROR(impl->rbac->Start());
  BERTH_RETURN_IF_ERROR(WatchIdentityTokens(*impl->store, *impl->registry.ByKind(api::kApiVersion, "IdentityToken"),
                                            impl->auth, impl->token_watches));
  phase_done("rbac");
  impl->membership = std::make_unique<Membership>(
      *impl->objects, impl->registry, impl->auth, *clock,
      HeartbeatDefaults{options.controllers.default_heartbeat_seconds,
                        options.controllers.default_missed_heartbeats});
  BERTH_RETURN_IF_ERROR(impl->membership->Start());
  phase_done("membership");
  std::unique_ptr<Hub> hub(new Hub(std::move(impl)));
  if (options.run_controllers) {
    BERTH_RETURN_IF_ERROR(hub->StartControllers(options, *clock));
    phase_done(options.store == "etcd" ? "leader election" : "controllers");
  }
  Impl* started = hub->impl_.get();

  auto audit = OpenAuditLog(options);
  if (!audit.ok()) return audit.status();
  started->audit = std::move(*audit);

  ApiServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.cert_pem = started->pki.server_cert_pem;
  server_options.key_pem = started->pki.server_key_pem;
  server_options.client_ca_pem = started->pki.ca_pem;
  server_options.io_threads = options.io_threads;
  server_options.limits = options.limits;
  server_options.max_watch_backlog_bytes = options.max_watch_backlog_bytes;
  server_options.rbac_policy = [rbac = started->rbac.get()] { return rbac->Current(); };
  server_options.audit_log = started->audit.get();
  started->server = std::make_unique<ApiServer>(server_options, started->registry, *started->objects,
                                             started->auth, *clock, started->membership.get());
  BERTH_RETURN_IF_ERROR(started->server->Start());
  phase_done("listener");
  spdlog::info("hub started: {}", phases);
  return hub;
}

}  // namespace berth::hub
