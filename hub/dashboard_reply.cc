#include <string>

#include "hub/dashboard_assets.h"

namespace berth::hub {

namespace {

HttpHeaders SecurityHeaders() {
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"},
          {"Cache-Control", "no-cache"}};
}

HttpReply Text(int code, std::string body) {
  return {code, "text/plain; charset=utf-8", std::move(body), SecurityHeaders()};
}

}  // namespace

bool IsDashboardPath(std::string_view path) {
  return path == "/ui" || path.starts_with("/ui/");
}

HttpReply DashboardReply(std::string_view method, std::string_view path) {
  if (method != "GET" && method != "HEAD") {
    HttpReply r = Text(405, "the dashboard's files are read with GET\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path == "/ui") {
    HttpReply r = Text(301, "moved to /ui/\n");
    r.headers.emplace_back("Location", "/ui/");
    return r;
  }
  std::string_view name = path.substr(4);  // after "/ui/"
  if (name.empty()) name = "index.html";
  for (const auto& asset : DashboardAssets()) {
    if (asset.path == name) {
      return {200, std::string(asset.content_type), std::string(asset.body), SecurityHeaders()};
    }
  }
  return Text(404, "no dashboard file " + std::string(name) + " (the page is at /ui/)\n");
}

}  // namespace berth::hub
