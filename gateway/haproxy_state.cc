#include "gateway/haproxy_state.h"

#include <charconv>
#include <sstream>
#include <vector>

namespace berth::gateway {

namespace {

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool ToInt(const std::string& s, int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Status ParseServersState(std::string_view text, ObservedHaproxy* out) {
  bool version_seen = false;
  for (auto line : Lines(text)) {
    auto w = Words(line);
    if (w.empty() || w[0].starts_with("#")) continue;
    if (!version_seen) {
      if (w.size() != 1 || w[0] != "1") {
        return Status::BadRequest("show servers state: unsupported format \"" + std::string(line) +
                                  "\"");
      }
      version_seen = true;
      continue;
    }
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
    // srv_iweight srv_time_since_last_change srv_check_status srv_check_result
    // srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id
    // srv_fqdn srv_port ...
    if (w.size() < 19) {
      return Status::BadRequest("show servers state: short line \"" + std::string(line) + "\"");
    }
    ObservedServer s;
    s.name = w[3];
    s.addr = w[4];
    bool ok = ToInt(w[5], &s.op_state) && ToInt(w[6], &s.admin_state) && ToInt(w[7], &s.weight) &&
              ToInt(w[13], &s.check_state) && ToInt(w[18], &s.port);
    if (!ok)
      return Status::BadRequest("show servers state: bad number in \"" + std::string(line) + "\"");
    out->backends[w[1]][s.name] = s;
  }
  if (!version_seen && !text.empty() && text.find_first_not_of(" \r\n") != std::string_view::npos) {
    return Status::BadRequest("show servers state: no format version line");
  }
  return Status::Ok();
}

Status ParseServersConn(std::string_view text, ObservedHaproxy* out) {
  for (auto line : Lines(text)) {
    auto w = Words(line);
    if (w.empty() || w[0].starts_with("#")) continue;
    // bkname/svname bkid/svid addr port - purge_delay used_cur ...
    if (w.size() < 7) continue;
    auto slash = w[0].find('/');
    if (slash == std::string::npos) continue;
    auto be = out->backends.find(w[0].substr(0, slash));
    if (be == out->backends.end()) continue;
    auto srv = be->second.find(w[0].substr(slash + 1));
    if (srv == be->second.end()) continue;
    int used = 0;
    if (!ToInt(w[6], &used))
      return Status::BadRequest("show servers conn: bad used_cur in \"" + std::string(line) + "\"");
    srv->second.used_connections = used;
  }
  return Status::Ok();
}

Status ParseMap(std::string_view text, ObservedHaproxy* out) {
  for (auto line : Lines(text)) {
    auto w = Words(line);
    if (w.empty()) continue;
    if (w.size() != 3)
      return Status::BadRequest("show map: unexpected line \"" + std::string(line) + "\"");
    out->model_map[w[1]] = w[2];
  }
  return Status::Ok();
}

}  // namespace berth::gateway
