// What HAProxy currently runs, parsed from runtime API answers: `show servers state`,
// `show servers conn` and `show map <file>`. Pure parsing; no sockets.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/status.h"

namespace berth::gateway {

// srv_admin_state bits (HAProxy's SRV_ADMF_*): only the forced ones are berth-gateway's.
inline constexpr int kAdminForcedMaint =
    0x01;  // set server … state maint (and new dynamic servers)
inline constexpr int kAdminForcedDrain = 0x08;  // set server … state drain
// srv_check_state bit: health checks running (after `enable health`).
inline constexpr int kCheckEnabled = 0x04;

struct ObservedServer {
  std::string name;
  std::string addr;
  int port = 0;
  int op_state = 0;     // 0 stopped, 1 starting, 2 running, 3 stopping
  int admin_state = 0;  // SRV_ADMF_* bits
  int weight = 0;       // user weight
  int check_state = 0;
  int used_connections = -1;  // from `show servers conn`; -1 = unknown
  bool InMaint() const { return admin_state & kAdminForcedMaint; }
  bool InDrain() const { return admin_state & kAdminForcedDrain; }
  bool operator==(const ObservedServer&) const = default;
};

struct ObservedHaproxy {
  // backend name → server name → server.
  std::map<std::string, std::map<std::string, ObservedServer>> backends;
  // model name → backend name, the map file's runtime contents.
  std::map<std::string, std::string> model_map;
};

// Parses `show servers state` (format version 1, all backends). Backends without servers
// do not appear. BadRequest for an unknown format version or a short line.
Status ParseServersState(std::string_view text, ObservedHaproxy* out);
// Fills used_connections from `show servers conn` ("be/srv bkid/svid addr port - purge
// used_cur …"). Lines for servers not already known are ignored.
Status ParseServersConn(std::string_view text, ObservedHaproxy* out);
// Parses `show map FILE` lines "<ref> <key> <value>".
Status ParseMap(std::string_view text, ObservedHaproxy* out);

}  // namespace berth::gateway
