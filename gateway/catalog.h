// What berth-gateway answers itself (through HAProxy, from its loopback catalog listener):
// GET /v1/models in OpenAI's list shape, GET /v1/models/<id>, and GET /metrics/berth with
// the slot → model mapping Prometheus needs to read HAProxy's per-backend metrics per
// model. Pure rendering plus a thread-safe holder of the latest state.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "gateway/route_table.h"

namespace berth::gateway {

struct CatalogState {
  RouteTable routes;
  std::map<std::string, std::string> model_backends;  // model → HAProxy backend
};

struct CatalogReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Routes one request. GET only; everything else is 405, unknown paths 404 (OpenAI's error
// shape). /v1/models lists every model with at least one server that is not Down, sorted
// by name; each entry carries OpenAI's fields (id, object "model", created 0, owned_by
// "berth") and `berth.servers`/`berth.serving` counts.
CatalogReply HandleCatalogRequest(const CatalogState& state, const std::string& method,
                                  const std::string& path);

// Thread-safe holder: the sync loop sets, the listener reads.
class Catalog {
 public:
  void Set(CatalogState state);
  CatalogReply Handle(const std::string& method, const std::string& path) const;

 private:
  mutable std::mutex mu_;
  CatalogState state_;  // guarded by mu_
};

}  // namespace berth::gateway
