// Rules attached at every kind of hook in fresh namespaces, with real UDP traffic across veth: the rule
// that drops drops, the rule that accepts accepts, and every counter is exact.
#include <gtest/gtest.h>

#include "codegen_rules.h"
#include "netns.h"
#include "privileged.h"
#include "runtime/engine.h"
#include "udp_flow.h"

namespace nfjit::runtime {
namespace {

using ir::ActionKind;
using ir::Hook;

constexpr size_t kDropPayload = 100, kAcceptPayload = 200, kOtherPayload = 300;
constexpr int kDropN = 20, kAcceptN = 30, kOtherN = 5;

struct HookCase {
  const char* name;
  bool on_sender;           // attach in the sending namespace (egress side) or the receiving one
  ir::Family family;
  Hook hook;
  bool xdp = false;         // place the chain at XDP instead
  bool exact_policy = true; // netfilter IPv4 hooks see only our datagrams; XDP/TC also see IPv6 chatter
};

class AttachAt : public ::testing::TestWithParam<HookCase> {};

TEST_P(AttachAt, DropsAcceptsAndCountsExactly) {
  NFJIT_REQUIRE_ROOT();
  const HookCase& hc = GetParam();
  test::VethPair v("att");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5000);
  const uint32_t drop_len = flow.l3_len(kDropPayload), acc_len = flow.l3_len(kAcceptPayload);
  std::vector<std::string> devs;
  if (hc.hook == Hook::Ingress || hc.hook == Hook::Egress) devs = {v.dev};
  ir::Table t = test::length_table("t", hc.family, hc.hook, 10, ir::Policy::Accept,
                                   {test::length_rule(drop_len, ActionKind::Drop),
                                    test::length_rule(acc_len, ActionKind::Accept)},
                                   devs);
  Placement pl;
  if (hc.xdp) pl.overrides.push_back({"c", codegen::AttachKind::Xdp, {v.dev}});

  const test::Netns& where = hc.on_sender ? v.a : v.b;
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  {
    test::EnterNetns in(where);
    auto r = engine.install("t", t, pl);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  int sent_drop = kDropN;  // the program sees every attempt, even when LOCAL_OUT makes sendto fail
  flow.send(kDropN, kDropPayload);
  int sent_acc = flow.send(kAcceptN, kAcceptPayload);
  int sent_other = flow.send(kOtherN, kOtherPayload);
  EXPECT_EQ(sent_acc, kAcceptN);
  EXPECT_EQ(sent_other, kOtherN);
  EXPECT_EQ(flow.receive(), kAcceptN + kOtherN) << "exactly the dropped length must be missing";

  auto c = engine.counters("t");
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto& m = *c;
  EXPECT_EQ((m[{"c", 0}].packets), static_cast<uint64_t>(sent_drop));
  EXPECT_EQ((m[{"c", 0}].bytes), static_cast<uint64_t>(sent_drop) * drop_len);
  EXPECT_EQ((m[{"c", 1}].packets), static_cast<uint64_t>(kAcceptN));
  EXPECT_EQ((m[{"c", 1}].bytes), static_cast<uint64_t>(kAcceptN) * acc_len);
  if (hc.exact_policy) {
    EXPECT_EQ((m[{"c", -1}].packets), static_cast<uint64_t>(kOtherN));
  } else {
    EXPECT_GE((m[{"c", -1}].packets), static_cast<uint64_t>(kOtherN));
  }

  // Removing the table detaches it: the once-dropped length goes through.
  {
    test::EnterNetns in(where);
    auto r = engine.remove("t");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  flow.send(kDropN, kDropPayload);
  EXPECT_EQ(flow.receive(), kDropN);
}

INSTANTIATE_TEST_SUITE_P(
    Hooks, AttachAt,
    ::testing::Values(HookCase{"xdp", false, ir::Family::Ipv4, Hook::Input, true, false},
                      HookCase{"tcx_ingress", false, ir::Family::Netdev, Hook::Ingress, false, false},
                      HookCase{"tcx_egress", true, ir::Family::Netdev, Hook::Egress, false, false},
                      HookCase{"nf_prerouting", false, ir::Family::Ipv4, Hook::Prerouting},
                      HookCase{"nf_input", false, ir::Family::Ipv4, Hook::Input},
                      HookCase{"nf_output", true, ir::Family::Ipv4, Hook::Output},
                      HookCase{"nf_postrouting", true, ir::Family::Ipv4, Hook::Postrouting},
                      HookCase{"nf_inet_input", false, ir::Family::Inet, Hook::Input}),
    [](const auto& info) { return std::string(info.param.name); });

// FORWARD needs a router between two hosts: a (198.18.1.1) - r - b (198.18.2.1).
TEST(AttachForward, DropsAcceptsAndCountsExactly) {
  NFJIT_REQUIRE_ROOT();
  test::Netns a("fwa"), r("fwr"), b("fwb");
  r.run_ok("ip link add ra type veth peer name va");
  r.run_ok("ip link add rb type veth peer name vb");
  r.run_ok("ip link set va netns " + a.name());
  r.run_ok("ip link set vb netns " + b.name());
  r.run_ok("ip addr add 198.18.1.2/24 dev ra");
  r.run_ok("ip addr add 198.18.2.2/24 dev rb");
  r.run_ok("ip link set ra up");
  r.run_ok("ip link set rb up");
  r.run_ok("sysctl -qw net.ipv4.ip_forward=1");
  a.run_ok("ip addr add 198.18.1.1/24 dev va");
  a.run_ok("ip link set va up");
  a.run_ok("ip route add default via 198.18.1.2");
  b.run_ok("ip addr add 198.18.2.1/24 dev vb");
  b.run_ok("ip link set vb up");
  b.run_ok("ip route add default via 198.18.2.2");
  a.run_ok("ping -c1 -W2 198.18.2.1");  // resolves neighbours on both legs before counting

  test::UdpFlow flow(a, b, "198.18.2.1", 5001);
  const uint32_t drop_len = flow.l3_len(kDropPayload), acc_len = flow.l3_len(kAcceptPayload);
  ir::Table t = test::length_table("t", ir::Family::Ipv4, Hook::Forward, 0, ir::Policy::Drop,
                                   {test::length_rule(drop_len, ActionKind::Drop),
                                    test::length_rule(acc_len, ActionKind::Accept)});
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  {
    test::EnterNetns in(r);
    auto res = engine.install("fw", t);
    ASSERT_TRUE(res.ok()) << res.error().message;
  }
  flow.send(kDropN, kDropPayload);
  flow.send(kAcceptN, kAcceptPayload);
  flow.send(kOtherN, kOtherPayload);  // policy drop
  EXPECT_EQ(flow.receive(), kAcceptN);
  auto c = engine.counters("fw");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(((*c)[{"c", 0}].packets), static_cast<uint64_t>(kDropN));
  EXPECT_EQ(((*c)[{"c", 1}].packets), static_cast<uint64_t>(kAcceptN));
  EXPECT_EQ(((*c)[{"c", 1}].bytes), static_cast<uint64_t>(kAcceptN) * acc_len);
  EXPECT_EQ(((*c)[{"c", -1}].packets), static_cast<uint64_t>(kOtherN));
}

// The kernel allows one BPF netfilter program per family/hook/priority; a second table there is refused
// with EBUSY and a message that says why, and the first keeps working.
TEST(AttachConflict, SameNetfilterPriorityIsRefusedClearly) {
  NFJIT_REQUIRE_ROOT();
  test::VethPair v("cfl");
  test::UdpFlow flow(v.a, v.b, v.b_ip4, 5002);
  Engine engine(EngineOptions{test::codegen_compiler(), nullptr, ""});
  test::EnterNetns in(v.b);
  auto t1 = test::length_table("t1", ir::Family::Ipv4, Hook::Input, 5, ir::Policy::Accept,
                               {test::length_rule(flow.l3_len(kDropPayload), ActionKind::Drop)});
  auto t2 = test::length_table("t2", ir::Family::Ipv4, Hook::Input, 5, ir::Policy::Accept, {});
  ASSERT_TRUE(engine.install("one", t1).ok());
  auto r = engine.install("two", t2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EBUSY);
  EXPECT_NE(r.error().message.find("priority 5"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("already attached"), std::string::npos) << r.error().message;
  flow.send(3, kDropPayload);
  flow.send(4, kAcceptPayload);
  EXPECT_EQ(flow.receive(), 4);
}

}  // namespace
}  // namespace nfjit::runtime
