#include "gateway/haproxy_state.h"

#include <gtest/gtest.h>

namespace berth::gateway {
namespace {

// Captured from HAProxy 2.6.12 (Debian bookworm).
constexpr const char* kServersState =
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl "
    "srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "4 berth_slot_000 1 c1_ml_phi 127.0.0.1 2 8 10 10 0 15 3 2 6 0 0 0 - 19001 - 0 0 - - 0\n"
    "4 berth_slot_000 2 c2_ml_phi 127.0.0.1 0 1 10 10 0 1 0 0 2 0 0 0 - 19002 - 0 0 - - 0\n"
    "3 berth_catalog 1 catalog 127.0.0.1 2 0 1 1 5 1 0 0 0 0 0 0 - 8079 - 0 0 - - 0\n\n";

constexpr const char* kServersConn =
    "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb "
    "safe_nb idle_lim idle_cur idle_per_thr[2]\n"
    "berth_slot_000/c1_ml_phi 4/1 127.0.0.1 19001 - 0 3 0 0 0 0 0 0\n"
    "berth_slot_000/c2_ml_phi 4/2 127.0.0.1 19002 - 0 0 0 0 0 0 0 0\n"
    "berth_slot_009/gone 9/1 127.0.0.1 1 - 0 7 0 0 0 0 0 0\n";

TEST(ParseServersState, ReadsAddressStateWeightAndChecks) {
  ObservedHaproxy h;
  ASSERT_TRUE(ParseServersState(kServersState, &h).ok());
  ASSERT_EQ(h.backends.size(), 2u);
  const auto& s1 = h.backends["berth_slot_000"]["c1_ml_phi"];
  EXPECT_EQ(s1.addr, "127.0.0.1");
  EXPECT_EQ(s1.port, 19001);
  EXPECT_EQ(s1.weight, 10);
  EXPECT_TRUE(s1.InDrain());
  EXPECT_FALSE(s1.InMaint());
  EXPECT_TRUE(s1.check_state & kCheckEnabled);
  const auto& s2 = h.backends["berth_slot_000"]["c2_ml_phi"];
  EXPECT_TRUE(s2.InMaint());
  EXPECT_FALSE(s2.check_state & kCheckEnabled);
}

TEST(ParseServersState, RejectsAnotherFormat) {
  ObservedHaproxy h;
  EXPECT_FALSE(ParseServersState("2\n", &h).ok());
  EXPECT_FALSE(ParseServersState("1\n4 be 1 s\n", &h).ok());
  EXPECT_TRUE(ParseServersState("", &h).ok());
}

TEST(ParseServersConn, FillsUsedConnectionsOfKnownServers) {
  ObservedHaproxy h;
  ASSERT_TRUE(ParseServersState(kServersState, &h).ok());
  ASSERT_TRUE(ParseServersConn(kServersConn, &h).ok());
  EXPECT_EQ(h.backends["berth_slot_000"]["c1_ml_phi"].used_connections, 3);
  EXPECT_EQ(h.backends["berth_slot_000"]["c2_ml_phi"].used_connections, 0);
  EXPECT_EQ(h.backends.count("berth_slot_009"), 0u);
}

TEST(ParseMap, KeyAndValue) {
  ObservedHaproxy h;
  ASSERT_TRUE(ParseMap("0x55609a7a1470 phi berth_slot_000\n0x1 llama berth_no_slot\n", &h).ok());
  EXPECT_EQ(h.model_map.at("phi"), "berth_slot_000");
  EXPECT_EQ(h.model_map.at("llama"), "berth_no_slot");
  EXPECT_FALSE(ParseMap("Unknown map identifier. Please use #<id> or <file>.\n", &h).ok());
}

}  // namespace
}  // namespace berth::gateway
