// The fleet dashboard's static files (dashboard/src, bundled by dashboard/build.mjs at build
// time and compiled into berth-hub), and the reply for a GET under /ui. The page reads the
// fleet through the hub's own API with the user's bearer token; the files hold no data, so
// they are served without a credential, like /healthz.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "hub/https_server.h"

namespace berth::hub {

struct DashboardAsset {
  std::string_view path;  // "index.html", "app.js", …
  std::string_view content_type;
  std::string_view body;
};

// Defined in the generated dashboard_assets.cc.
std::span<const DashboardAsset> DashboardAssets();

// True for "/ui" and everything under "/ui/".
bool IsDashboardPath(std::string_view path);

// The reply for `method` on a dashboard path: "/ui" redirects to "/ui/", "/ui/" is
// index.html, "/ui/NAME" the asset NAME; 404 for an unknown file and 405 for anything but
// GET and HEAD. Every reply carries a Content-Security-Policy that allows only the hub's
// own scripts, styles and API (no inline script, no other origin, no framing), nosniff and
// no-referrer; assets are revalidated (no-cache) so an upgraded hub serves its own page.
HttpReply DashboardReply(std::string_view method, std::string_view path);

}  // namespace berth::hub
