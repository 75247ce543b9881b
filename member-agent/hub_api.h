// The member agent's view of the hub: the calls of the hub/agent contract
// (docs/AGENT.md), as an interface so the heartbeat and reconciler are tested with a fake
// and the sim's "cluster unreachable" fault can cut the agent off.
//
// Thread safety: implementations are safe to call from several threads at once.
// Errors: Unavailable for transport failures (hub down), otherwise the hub's Status
// (401 Unauthenticated, 403 Forbidden, 404 NotFound, 410 Gone for a stale watch).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/kubeconfig.h"
#include "api/status.h"

namespace berth {
class RestClient;
}

namespace berth::agent {

inline constexpr char kAgentVersion[] = "0.1.0";

// A taint the member declares at join (MemberCluster spec.taints): key, value, and effect
// NoSchedule | PreferNoSchedule | NoExecute.
struct JoinTaint {
  std::string key, value, effect;
};

struct JoinRequest {
  std::string cluster_name;
  std::string backend;  // "sim" | "kube"
  std::map<std::string, std::string> labels;
  std::string region, zone, provider;
  std::vector<JoinTaint> taints;
};

struct WorkList {
  nlohmann::json work;           // the member's Work, or null when there is none
  std::string resource_version;  // of the list, to watch from
};

class HubApi {
 public:
  virtual ~HubApi() = default;
  // PATCH leases/<cluster> (merge patch) with renewTime, holderIdentity, duration.
  virtual Status RenewLease(const std::string& cluster, const std::string& holder,
                            const std::string& renew_time, int lease_duration_seconds) = 0;
  // PATCH memberclusters/<cluster>/status (merge patch) with {"status": status}.
  virtual Status PatchMemberStatus(const std::string& cluster, const nlohmann::json& status) = 0;
  // LIST works?fieldSelector=metadata.name=<cluster>.
  virtual StatusOr<WorkList> ListWork(const std::string& cluster) = 0;
  // WATCH works?fieldSelector=metadata.name=<cluster>&resourceVersion=<rv>. Semantics of
  // RestClient::Watch (Gone → re-list).
  virtual Status WatchWork(const std::string& cluster, const std::string& resource_version,
                           const std::function<void(const nlohmann::json&)>& on_event,
                           const std::function<bool()>& should_stop) = 0;
  // PATCH works/<cluster>/status (merge patch) with {"status": status}.
  virtual Status PatchWorkStatus(const std::string& cluster, const nlohmann::json& status) = 0;
};

// Paths of the contract, in one place.
std::string HubPath(const std::string& plural, const std::string& name = "",
                    const std::string& subresource = "");

// HubApi over HTTPS with a member credential (or any bearer token, e.g. admin in benches).
class RestHubApi final : public HubApi {
 public:
  static StatusOr<std::unique_ptr<RestHubApi>> Create(ClientConfig config);
  ~RestHubApi() override;
  Status RenewLease(const std::string& cluster, const std::string& holder,
                    const std::string& renew_time, int lease_duration_seconds) override;
  Status PatchMemberStatus(const std::string& cluster, const nlohmann::json& status) override;
  StatusOr<WorkList> ListWork(const std::string& cluster) override;
  Status WatchWork(const std::string& cluster, const std::string& resource_version,
                   const std::function<void(const nlohmann::json&)>& on_event,
                   const std::function<bool()>& should_stop) override;
  Status PatchWorkStatus(const std::string& cluster, const nlohmann::json& status) override;

 private:
  explicit RestHubApi(std::unique_ptr<RestClient> client);
  std::unique_ptr<RestClient> client_;
};

// Decorator that fails every call with Unavailable while `cut_off` is true: the sim's
// "cluster unreachable" fault (the agent stops talking to the hub). Does not own `inner`.
class PartitionableHubApi final : public HubApi {
 public:
  PartitionableHubApi(HubApi* inner, const std::atomic<bool>* cut_off)
      : inner_(inner), cut_off_(cut_off) {}
  Status RenewLease(const std::string& cluster, const std::string& holder,
                    const std::string& renew_time, int lease_duration_seconds) override;
  Status PatchMemberStatus(const std::string& cluster, const nlohmann::json& status) override;
  StatusOr<WorkList> ListWork(const std::string& cluster) override;
  Status WatchWork(const std::string& cluster, const std::string& resource_version,
                   const std::function<void(const nlohmann::json&)>& on_event,
                   const std::function<bool()>& should_stop) override;
  Status PatchWorkStatus(const std::string& cluster, const nlohmann::json& status) override;

 private:
  Status CutOff() const;
  HubApi* inner_;
  const std::atomic<bool>* cut_off_;
};

// Exchanges a bootstrap token for a member credential: POST join with the token as bearer.
// Errors keep the hub's message ("bootstrap token expired" / "already used" / "unknown
// bootstrap token" as Unauthenticated; Invalid for a bad cluster name).
StatusOr<std::string> JoinHub(const ClientConfig& hub, const std::string& bootstrap_token,
                              const JoinRequest& request);

}  // namespace berth::agent
