// The dashboard's files as the hub serves them: the redirect that makes relative URLs work,
// each bundled asset with its type, and the security headers on every reply.
#include <gtest/gtest.h>

#include <algorithm>

#include "hub/dashboard_assets.h"

namespace berth::hub {
namespace {

std::string Header(const HttpReply& r, const std::string& name) {
  auto it = std::find_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return h.first == name; });
  return it == r.headers.end() ? "" : it->second;
}

TEST(DashboardReply, ServesTheBundledPageUnderUi) {
  EXPECT_TRUE(IsDashboardPath("/ui"));
  EXPECT_TRUE(IsDashboardPath("/ui/app.js"));
  EXPECT_FALSE(IsDashboardPath("/uix"));
  EXPECT_FALSE(IsDashboardPath("/api/v1/ui"));

  HttpReply moved = DashboardReply("GET", "/ui");
  EXPECT_EQ(moved.code, 301);
  EXPECT_EQ(Header(moved, "Location"), "/ui/");

  HttpReply index = DashboardReply("GET", "/ui/");
  ASSERT_EQ(index.code, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<script type=\"module\" src=\"app.js\">"), std::string::npos);
  // The bundle holds uPlot (the pinned chart library), not a link to a CDN.
  HttpReply app = DashboardReply("GET", "/ui/app.js");
  ASSERT_EQ(app.code, 200);
  EXPECT_EQ(app.content_type, "text/javascript; charset=utf-8");
  EXPECT_GT(app.body.size(), 20000u);
  EXPECT_EQ(app.body.find("https://cdn"), std::string::npos);
  EXPECT_EQ(DashboardReply("HEAD", "/ui/style.css").code, 200);
  for (const auto& asset : DashboardAssets()) EXPECT_FALSE(asset.body.empty()) << asset.path;
}

TEST(DashboardReply, EveryReplyForbidsForeignScriptsAndFraming) {
  for (const auto& r : {DashboardReply("GET", "/ui/"), DashboardReply("GET", "/ui/nope.js"),
                        DashboardReply("POST", "/ui/")}) {
    const std::string csp = Header(r, "Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  }
  EXPECT_EQ(DashboardReply("GET", "/ui/nope.js").code, 404);
  EXPECT_EQ(DashboardReply("GET", "/ui/../etc/passwd").code, 404);
  HttpReply post = DashboardReply("POST", "/ui/");
  EXPECT_EQ(post.code, 405);
  EXPECT_EQ(Header(post, "Allow"), "GET, HEAD");
}

}  // namespace
}  // namespace berth::hub
