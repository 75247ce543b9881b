#include "hub/controller_term.h"

#include <future>

#include <spdlog/spdlog.h>

namespace berth::hub {

namespace {

using nlohmann::json;

// Waits for an ObjectApi write.
StatusOr<json> Wait(const std::function<void(ObjectCallback)>& call) {
  auto promise = std::make_shared<std::promise<StatusOr<json>>>();
  auto result = promise->get_future();
  call([promise](StatusOr<json> r) { promise->set_value(std::move(r)); });
  return result.get();
}

}  // namespace

ControllerTerm::ControllerTerm(Store& store, const api::KindRegistry& registry, Clock& clock, const LeaderTerm* term,
                               ControllerTermOptions options)
    : registry_(registry),
      clock_(clock),
      options_(std::move(options)),
      fenced_(term ? std::make_unique<FencedStore>(store, term->fence) : nullptr),
      objects_(fenced_ ? static_cast<Store&>(*fenced_) : store, clock, &registry),
      holder_(term ? term->identity + "_" + std::to_string(term->fence.create_revision) : "") {}

StatusOr<std::unique_ptr<ControllerTerm>> ControllerTerm::Start(Store& store, const api::KindRegistry& registry,
                                                                Clock& clock, const LeaderTerm* term,
                                                                ControllerTermOptions options) {
  std::unique_ptr<ControllerTerm> t(new ControllerTerm(store, registry, clock, term, std::move(options)));
  if (term) {
    // The record first: if this term is already over, nothing else starts.
    if (Status s = t->WriteRecord(); !s.ok()) return s.WithContext("leader record");
  }
  t->fleet_ = std::make_unique<FleetController>(t->objects_, registry, clock, t->options_.controllers);
  BERTH_RETURN_IF_ERROR(t->fleet_->Start());
  t->namespaces_ = std::make_unique<NamespaceController>(t->objects_, registry, clock);
  BERTH_RETURN_IF_ERROR(t->namespaces_->Start());
  if (term) t->recorder_ = std::thread([raw = t.get()] { raw->RecordLoop(); });
  return t;
}

ControllerTerm::~ControllerTerm() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (recorder_.joinable()) recorder_.join();
  if (fleet_) fleet_->Stop();
  if (namespaces_) namespaces_->Stop();
}

Status ControllerTerm::WriteRecord() {
  const api::KindInfo* leases = registry_.ByKind(api::kApiVersion, "Lease");
  if (!leases) return Status::Internal("the Lease kind is not registered");
  const std::string now = FormatRfc3339Millis(clock_.Now());
  auto renewed = Wait([&](ObjectCallback done) {
    objects_.Modify(
        *leases, "", kLeaderRecordName,
        [&](const json& current) -> StatusOr<json> {
          json next = current;
          json& spec = next["spec"];
          if (spec.value("holderIdentity", "") != holder_) {
            spec["holderIdentity"] = holder_;
            spec["acquireTime"] = now;
            spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
          }
          spec["leaseDurationSeconds"] = options_.lease_seconds;
          spec["renewTime"] = now;
          return next;
        },
        WriteOptions{}, std::move(done));
  });
  if (renewed.ok() || renewed.status().code() != StatusCode::kNotFound) return renewed.status();
  json record = {{"apiVersion", api::kApiVersion},
                 {"kind", "Lease"},
                 {"metadata", {{"name", kLeaderRecordName}}},
                 {"spec",
                  {{"holderIdentity", holder_},
                   {"acquireTime", now},
                   {"renewTime", now},
                   {"leaseDurationSeconds", options_.lease_seconds},
                   {"leaseTransitions", 0}}}};
  auto created = Wait([&](ObjectCallback done) {
    objects_.Create(*leases, "", std::move(record), WriteOptions{}, std::move(done));
  });
  return created.status();
}

void ControllerTerm::RecordLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, options_.record_every, [this] { return stopping_; })) {
    lock.unlock();
    Status s = WriteRecord();
    if (!s.ok()) {
      // Fenced: a successor leads and the election will say so; anything else is retried.
      spdlog::warn("leader record {} not renewed: {}", holder_, s.message());
    }
    lock.lock();
  }
}

}  // namespace berth::hub
