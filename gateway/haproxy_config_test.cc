#include "gateway/haproxy_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace berth::gateway {
namespace {

GatewayLayout Layout() {
  GatewayLayout l;
  l.runtime_socket = "/tmp/berth-gw/haproxy.sock";
  l.map_file = "/tmp/berth-gw/models.map";
  l.backend_slots = 2;
  return l;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RenderHaproxyConfig, RoutesByPathHostAndBodyThroughTheMap) {
  GatewayLayout l = Layout();
  l.model_domain = "models.example.com";
  std::string cfg = RenderHaproxyConfig(l);
  EXPECT_TRUE(Contains(cfg, "stats socket /tmp/berth-gw/haproxy.sock mode 600 level admin\n"));
  EXPECT_TRUE(Contains(cfg, "  bind 127.0.0.1:8080\n"));
  EXPECT_TRUE(Contains(cfg, "option http-buffer-request"));
  EXPECT_TRUE(Contains(cfg, "option http-no-delay"));  // streamed first tokens are not held back
  EXPECT_TRUE(Contains(cfg, "req.body,json_query('$.model')"));
  EXPECT_TRUE(Contains(cfg, "path,field(3,/),url_dec if { path_beg /models/ }"));
  EXPECT_TRUE(Contains(cfg, "regsub(\\.models\\.example\\.com$,)"));
  EXPECT_TRUE(Contains(cfg, "var(txn.model),map(/tmp/berth-gw/models.map)"));
  EXPECT_TRUE(Contains(cfg, "return status 400"));
  EXPECT_TRUE(Contains(cfg, "return status 404"));
  EXPECT_TRUE(Contains(cfg, "\"code\":\"model_not_found\""));
  EXPECT_TRUE(Contains(cfg, "use_backend %[var(txn.backend)]"));
  // Path routing is evaluated before the body: explicit routing wins.
  EXPECT_LT(cfg.find("path_beg /models/"), cfg.find("json_query"));
  EXPECT_FALSE(Contains(cfg, "prometheus-exporter"));
  EXPECT_FALSE(Contains(cfg, " ssl crt "));
}

TEST(RenderHaproxyConfig, SlotsAllowDynamicServersAndRetry) {
  std::string cfg = RenderHaproxyConfig(Layout());
  EXPECT_TRUE(Contains(cfg,
                       "backend berth_slot_000\n  balance roundrobin\n  retries 3\n"
                       "  retry-on conn-failure empty-response response-timeout 503\n"
                       "  option redispatch 1\n  option httpchk GET /health\n"
                       "  http-check expect status 200\n"));
  EXPECT_TRUE(
      Contains(cfg, "\"code\":\"model_unavailable\"}}' hdr Retry-After 5 if { nbsrv eq 0 }\n"));
  EXPECT_TRUE(Contains(cfg, "backend berth_slot_001\n"));
  EXPECT_FALSE(Contains(cfg, "backend berth_slot_002\n"));
  EXPECT_TRUE(Contains(cfg, "backend berth_no_slot\n  http-request return status 503"));
  EXPECT_TRUE(Contains(
      cfg, "backend berth_catalog\n  option http-server-close\n  server catalog 127.0.0.1:8079\n"));
}

TEST(RenderHaproxyConfig, TlsAndMetrics) {
  GatewayLayout l = Layout();
  l.tls_cert = "/etc/berth/gw.pem";
  l.metrics_listen = "127.0.0.1:9101";
  std::string cfg = RenderHaproxyConfig(l);
  EXPECT_TRUE(Contains(cfg, "bind 127.0.0.1:8080 ssl crt /etc/berth/gw.pem alpn h2,http/1.1\n"));
  EXPECT_TRUE(Contains(cfg,
                       "frontend berth_metrics\n  bind 127.0.0.1:9101\n"
                       "  http-request use-service prometheus-exporter if { path /metrics }\n"));
}

TEST(ValidateLayout, RejectsWhatHaproxyWouldNot) {
  EXPECT_TRUE(ValidateLayout(Layout()).ok());
  GatewayLayout l = Layout();
  l.listen = "8080";
  EXPECT_FALSE(ValidateLayout(l).ok());
  l = Layout();
  l.balance = "source";
  EXPECT_FALSE(ValidateLayout(l).ok());
  l = Layout();
  l.backend_slots = 0;
  EXPECT_FALSE(ValidateLayout(l).ok());
  l = Layout();
  l.model_domain = "a b";
  EXPECT_FALSE(ValidateLayout(l).ok());
  l = Layout();
  l.map_file = "/x y";
  EXPECT_FALSE(ValidateLayout(l).ok());
}

// The rendered configuration passes `haproxy -c` (skipped when HAProxy is not installed).
TEST(RenderHaproxyConfig, RealHaproxyAcceptsIt) {
  const char* haproxy = "/usr/sbin/haproxy";
  if (access(haproxy, X_OK) != 0) GTEST_SKIP() << "no " << haproxy;
  auto dir =
      std::filesystem::temp_directory_path() / ("berth-gw-config-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  GatewayLayout l = Layout();
  l.runtime_socket = (dir / "haproxy.sock").string();
  l.map_file = (dir / "models.map").string();
  l.model_domain = "models.local";
  l.metrics_listen = "127.0.0.1:9101";
  l.balance = "leastconn";
  std::ofstream(dir / "haproxy.cfg") << RenderHaproxyConfig(l);
  std::ofstream(dir / "models.map") << "";
  std::string cmd = std::string(haproxy) + " -c -f " + (dir / "haproxy.cfg").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0) << cmd;
}

}  // namespace
}  // namespace berth::gateway
