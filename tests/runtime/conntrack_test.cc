// The conntrack enabler makes conntrack track connections in a namespace where no kernel rule needs it,
// with no base chain (so no rule runs per packet), and removing it stops tracking of new connections.
#include <gtest/gtest.h>

#include "netns.h"
#include "privileged.h"
#include "runtime/conntrack_enabler.h"

namespace nfjit::runtime {
namespace {

int conntrack_entries(const test::Netns& ns) {
  std::string out;
  ns.run("cat /proc/sys/net/netfilter/nf_conntrack_count", &out);
  return std::atoi(out.c_str());
}

TEST(ConntrackEnabler, TracksPingsOnlyWhileEnabled) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair v("ct");
  v.a.run_ok("ping -c2 -i0.2 -W1 " + v.b_ip4);
  EXPECT_EQ(conntrack_entries(v.b), 0) << "conntrack must be idle before the enabler runs";
  {
    test::EnterNetns in(v.b);
    auto r = enable_conntrack();
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto again = enable_conntrack();  // idempotent
    ASSERT_TRUE(again.ok()) << again.error().message;
  }
  std::string rules = v.b.run_ok("nft list ruleset");
  EXPECT_NE(rules.find("table inet nfjit_conntrack"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("hook"), std::string::npos) << "the chain must not be a base chain:\n" << rules;
  EXPECT_EQ(rules.find("ct state"), rules.rfind("ct state")) << "one rule only:\n" << rules;

  v.a.run_ok("ping -c2 -i0.2 -W1 " + v.b_ip4);
  v.a.run_ok("ping -6 -c2 -i0.2 -W1 " + v.b_ip6);
  std::string table;
  v.b.run("cat /proc/net/nf_conntrack", &table);
  EXPECT_NE(table.find("src=198.18.0.1 dst=198.18.0.2"), std::string::npos) << table;
  EXPECT_NE(table.find("src=2001:0db8:0000:0000:0000:0000:0000:0001"), std::string::npos) << table;

  {
    test::EnterNetns in(v.b);
    auto r = disable_conntrack();
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(disable_conntrack().ok()) << "disabling twice is fine";
  }
  EXPECT_EQ(v.b.run_ok("nft list ruleset"), "");
  // New flows are no longer tracked: old entries stay until they time out, but a ping with a fresh
  // ICMP id (a new flow) adds none.
  int before = conntrack_entries(v.b);
  v.a.run_ok("ping -c1 -W1 " + v.b_ip4);
  EXPECT_LE(conntrack_entries(v.b), before) << "no new entry once the enabler is gone";
}

}  // namespace
}  // namespace nfjit::runtime
