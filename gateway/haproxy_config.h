// The haproxy.cfg berth-gateway runs HAProxy with (or prints for an HAProxy the user runs):
// one client frontend routing by model through a map file, a pool of pre-declared backend
// "slots" the runtime API fills with servers, the model catalog backend and an optional
// Prometheus frontend. Pure: rendering reads no files. See docs/GATEWAY.md.
#pragma once

#include <string>
#include <vector>

#include "api/status.h"

namespace berth::gateway {

// Everything the rendered configuration and the runtime plan depend on.
struct GatewayLayout {
  std::string listen = "127.0.0.1:8080";  // client frontend bind address
  std::string tls_cert;        // PEM (cert + key) → "bind … ssl crt"; empty = plain HTTP
  std::string model_domain;    // "<model>.<domain>" Host routing; empty = off
  std::string metrics_listen;  // Prometheus frontend; empty = none
  std::string catalog_listen = "127.0.0.1:8079";  // berth-gateway's own loopback listener
  std::string runtime_socket;                     // HAProxy stats socket (admin level)
  std::string map_file;                           // model name → backend
  int backend_slots = 64;
  std::string balance = "roundrobin";  // roundrobin | leastconn (both allow dynamic servers)
  int buffer_size = 65536;             // tune.bufsize: largest request body routed by its "model"
  // Health checks of every upstream server (added with the server, see runtime_plan.h).
  int check_interval_ms = 2000;
  int check_fall = 3;
  int check_rise = 2;
  // Timeouts (ms). Generation can stream for minutes: the server timeout is long.
  int timeout_connect_ms = 5000;
  int timeout_client_ms = 600000;
  int timeout_server_ms = 600000;
};

// Backend names: "berth_slot_000" … (zero-padded to 3 digits), one per slot.
std::string SlotBackendName(int slot);
std::vector<std::string> SlotBackendNames(const GatewayLayout& layout);
// The backend a model is mapped to while no slot is free: answers 503.
inline constexpr const char* kNoSlotBackend = "berth_no_slot";
// The backend serving GET /v1/models from berth-gateway's catalog listener.
inline constexpr const char* kCatalogBackend = "berth_catalog";

// Invalid naming the field for a layout HAProxy would reject or that cannot work
// (bad HOST:PORT, slots outside 1..1000, unknown balance, an empty socket or map path).
Status ValidateLayout(const GatewayLayout& layout);

// The configuration text. `layout` must be valid.
std::string RenderHaproxyConfig(const GatewayLayout& layout);

}  // namespace berth::gateway
