#include "gateway/gateway_sync.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "gateway/haproxy_process.h"

namespace berth::gateway {

StatusOr<std::string> ResolveHost(const std::string& host) {
  in6_addr buf;
  if (inet_pton(AF_INET, host.c_str(), &buf) == 1 || inet_pton(AF_INET6, host.c_str(), &buf) == 1) {
    return host;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0) {
    return Status::Unavailable("resolve " + host + ": " + gai_strerror(rc));
  }
  std::string v4, v6;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET && v4.empty()) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
      v4 = text;
    } else if (a->ai_family == AF_INET6 && v6.empty()) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof text);
      v6 = text;
    }
  }
  freeaddrinfo(res);
  if (!v4.empty()) return v4;
  if (!v6.empty()) return v6;
  return Status::Unavailable("resolve " + host + ": no address");
}

RouteTable ResolveRoutes(RouteTable routes, const HostResolver& resolve,
                         std::vector<std::string>* problems) {
  std::map<std::string, StatusOr<std::string>> cache;
  for (auto& [model, route] : routes) {
    std::vector<UpstreamServer> kept;
    for (auto& s : route.servers) {
      auto it = cache.find(s.host);
      if (it == cache.end()) it = cache.emplace(s.host, resolve(s.host)).first;
      if (!it->second.ok()) {
        problems->push_back(s.origin + ": " + it->second.status().message() + "; server left out");
        continue;
      }
      s.host = *it->second;
      kept.push_back(std::move(s));
    }
    route.servers = std::move(kept);
  }
  return routes;
}

StatusOr<ObservedHaproxy> ObserveHaproxy(RuntimeApi* api, const PlanOptions& options) {
  ObservedHaproxy all;
  auto state = api->Run("show servers state");
  if (!state.ok()) return state.status();
  BERTH_RETURN_IF_ERROR(ParseServersState(*state, &all));
  auto conn = api->Run("show servers conn");
  if (!conn.ok()) return conn.status();
  BERTH_RETURN_IF_ERROR(ParseServersConn(*conn, &all));
  auto map = api->Run("show map " + options.map_file);
  if (!map.ok()) return map.status();
  if (map->rfind("Unknown map", 0) == 0) {
    return Status::FailedPrecondition(
        "HAProxy has no map " + options.map_file +
        ": its configuration is not the one `berth-gateway config` prints");
  }
  BERTH_RETURN_IF_ERROR(ParseMap(*map, &all));
  ObservedHaproxy slots_only;
  slots_only.model_map = std::move(all.model_map);
  for (const auto& slot : options.slots) {
    auto it = all.backends.find(slot);
    if (it != all.backends.end()) slots_only.backends[slot] = std::move(it->second);
  }
  return slots_only;
}

GatewaySync::GatewaySync(RuntimeApi* api, PlanOptions options, HostResolver resolver)
    : api_(api), options_(std::move(options)), resolver_(std::move(resolver)) {}

void GatewaySync::LogProblems(const std::vector<std::string>& problems,
                              const std::vector<std::string>& errors) {
  std::set<std::string> p(problems.begin(), problems.end()), e(errors.begin(), errors.end());
  if (p != last_problems_) {
    for (const auto& s : p) spdlog::warn("route table: {}", s);
  }
  if (e != last_errors_) {
    for (const auto& s : e) spdlog::error("{}", s);
  }
  last_problems_ = std::move(p);
  last_errors_ = std::move(e);
}

SyncResult GatewaySync::Sync(const std::vector<WorkspaceEndpoints>& workspaces) {
  SyncResult result;
  RouteTableBuild build = BuildRouteTable(workspaces);
  result.routes = ResolveRoutes(std::move(build.routes), resolver_, &build.problems);
  auto observed = ObserveHaproxy(api_, options_);
  if (!observed.ok()) {
    result.status = observed.status();
    return result;
  }
  result.plan = PlanRuntime(*observed, result.routes, options_);
  LogProblems(build.problems, result.plan.errors);
  for (const auto& command : result.plan.commands) {
    auto answer = api_->Run(command.text);
    if (!answer.ok()) {
      result.status = answer.status();
      return result;
    }
    if (CommandSucceeded(*answer)) {
      spdlog::info("haproxy: {}  # {}", command.text, command.why);
    } else {
      ++result.refused;
      auto first_line = answer->substr(0, answer->find('\n'));
      spdlog::warn("haproxy refused: {} → {} (retried next pass)", command.text, first_line);
    }
  }
  return result;
}

void RunSyncLoop(GatewaySync* sync, WorkspaceFeed* feed, Catalog* catalog, HaproxyProcess* haproxy,
                 RuntimeApi* api, const LoopOptions& options) {
  uint64_t seen = 0;
  auto wait = options.resync;
  while (!feed->stopped()) {
    feed->WaitForChange(seen, wait);
    if (feed->stopped()) break;
    if (haproxy && !haproxy->Running()) {
      spdlog::error("haproxy exited; restarting it (every server and route is put back)");
      if (Status st = haproxy->Start(api, std::chrono::seconds(10)); !st.ok()) {
        spdlog::error("haproxy restart: {}", st.message());
        wait = options.retry;
        continue;
      }
    }
    auto [version, workspaces] = feed->Latest();
    if (version == 0) {
      wait = options.resync;
      continue;  // nothing published yet: keep HAProxy as it is
    }
    seen = version;
    SyncResult r = sync->Sync(workspaces);
    if (!r.status.ok()) {
      spdlog::warn("sync: {}", r.status.message());
      wait = options.retry;
      continue;
    }
    catalog->Set({r.routes, r.plan.model_backends});
    wait = (r.plan.removals_pending || r.refused > 0) ? options.retry : options.resync;
  }
}

}  // namespace berth::gateway
