#include "member-agent/hub_api.h"

#include "api/rest_client.h"

namespace berth::agent {

using nlohmann::json;

namespace {
constexpr char kPrefix[] = "/apis/berth.dev/v1alpha1/";
}

std::string HubPath(const std::string& plural, const std::string& name,
                    const std::string& subresource) {
  std::string p = kPrefix + plural;
  if (!name.empty()) p += "/" + name;
  if (!subresource.empty()) p += "/" + subresource;
  return p;
}

StatusOr<std::unique_ptr<RestHubApi>> RestHubApi::Create(ClientConfig config) {
  auto client = RestClient::Create(std::move(config));
  if (!client.ok()) return client.status();
  return std::unique_ptr<RestHubApi>(new RestHubApi(std::move(*client)));
}

RestHubApi::RestHubApi(std::unique_ptr<RestClient> client) : client_(std::move(client)) {}
RestHubApi::~RestHubApi() = default;

Status RestHubApi::RenewLease(const std::string& cluster, const std::string& holder,
                              const std::string& renew_time, int lease_duration_seconds) {
  json patch = {{"spec",
                 {{"renewTime", renew_time},
                  {"holderIdentity", holder},
                  {"leaseDurationSeconds", lease_duration_seconds}}}};
  return client_->Patch(HubPath("leases", cluster), patch.dump(), kMergePatch).status();
}

Status RestHubApi::PatchMemberStatus(const std::string& cluster, const json& status) {
  json patch = {{"status", status}};
  return client_->Patch(HubPath("memberclusters", cluster, "status"), patch.dump(), kMergePatch)
      .status();
}

StatusOr<WorkList> RestHubApi::ListWork(const std::string& cluster) {
  auto list = client_->Get(HubPath("works") + "?fieldSelector=metadata.name%3D" + cluster);
  if (!list.ok()) return list.status();
  WorkList out;
  out.resource_version = list->value("/metadata/resourceVersion"_json_pointer, std::string());
  for (const auto& item : list->value("items", json::array())) {
    if (item.value("/metadata/name"_json_pointer, std::string()) == cluster) out.work = item;
  }
  return out;
}

Status RestHubApi::WatchWork(const std::string& cluster, const std::string& resource_version,
                             const std::function<void(const json&)>& on_event,
                             const std::function<bool()>& should_stop) {
  std::string path = HubPath("works") + "?watch=true&allowWatchBookmarks=true" +
                     "&fieldSelector=metadata.name%3D" + cluster;
  if (!resource_version.empty()) path += "&resourceVersion=" + resource_version;
  return client_->Watch(path, on_event, should_stop);
}

Status RestHubApi::PatchWorkStatus(const std::string& cluster, const json& status) {
  json patch = {{"status", status}};
  return client_->Patch(HubPath("works", cluster, "status"), patch.dump(), kMergePatch).status();
}

Status PartitionableHubApi::CutOff() const {
  return Status::Unavailable("simulated fault: cluster unreachable (agent cut off from the hub)");
}
Status PartitionableHubApi::RenewLease(const std::string& c, const std::string& h,
                                       const std::string& t, int d) {
  if (*cut_off_) return CutOff();
  return inner_->RenewLease(c, h, t, d);
}
Status PartitionableHubApi::PatchMemberStatus(const std::string& c, const json& s) {
  if (*cut_off_) return CutOff();
  return inner_->PatchMemberStatus(c, s);
}
StatusOr<WorkList> PartitionableHubApi::ListWork(const std::string& c) {
  if (*cut_off_) return CutOff();
  return inner_->ListWork(c);
}
Status PartitionableHubApi::WatchWork(const std::string& c, const std::string& rv,
                                      const std::function<void(const json&)>& on_event,
                                      const std::function<bool()>& should_stop) {
  if (*cut_off_) return CutOff();
  // A cut that starts mid-watch ends the stream: the agent must not see events it could
  // not have received.
  const std::atomic<bool>* cut = cut_off_;
  return inner_->WatchWork(c, rv, on_event, [&] { return should_stop() || cut->load(); });
}
Status PartitionableHubApi::PatchWorkStatus(const std::string& c, const json& s) {
  if (*cut_off_) return CutOff();
  return inner_->PatchWorkStatus(c, s);
}

StatusOr<std::string> JoinHub(const ClientConfig& hub, const std::string& bootstrap_token,
                              const JoinRequest& request) {
  ClientConfig config = hub;
  config.bearer_token = bootstrap_token;
  config.bearer_token_file.clear();
  auto client = RestClient::Create(config);
  if (!client.ok()) return client.status();
  json body = {{"clusterName", request.cluster_name},
               {"agentVersion", kAgentVersion},
               {"backend", request.backend},
               {"labels", request.labels},
               {"region", request.region},
               {"zone", request.zone},
               {"provider", request.provider}};
  if (!request.taints.empty()) {
    json taints = json::array();
    for (const auto& t : request.taints) {
      json taint = {{"key", t.key}, {"effect", t.effect}};
      if (!t.value.empty()) taint["value"] = t.value;
      taints.push_back(std::move(taint));
    }
    body["taints"] = std::move(taints);
  }
  auto reply = (*client)->Post(HubPath("join"), body);
  if (!reply.ok())
    return reply.status().WithContext("join the hub as \"" + request.cluster_name + "\"");
  std::string token = reply->value("token", std::string());
  if (token.empty()) return Status::Internal("join: the hub's reply has no \"token\"");
  return token;
}

}  // namespace berth::agent
