// Rules of several matches, evaluated branch-free into one mismatch value (match_branch_free.cc,
// rule_test.cc): every combination of inverted / not inverted, fields present / absent, on every hook
// flavour. The expected verdict is computed from the IR's semantics (a match on an absent field is
// false whether inverted or not), not from the generated code.
#include "prog_harness.h"

namespace nfjit::test {
namespace {

class BranchFree : public ::testing::TestWithParam<Flavour> {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Family fam() const {
    const auto& f = GetParam();
    if (f.at.kind != AttachKind::Netfilter) return Family::Inet;
    return f.family == 6 ? Family::Ipv6 : Family::Ipv4;
  }
  int v() const { return GetParam().family; }
  std::string net(const char* v4, const char* v6) const { return v() == 6 ? v6 : v4; }
  Netns ns{"bfree"};
};

struct Probe {
  PacketSpec p;
  bool src_in, port_in, proto_udp, has_ports;
};

// "saddr in prefix [inv] + dport in 1000-1999 or 22 [inv] + l4proto 17 [inv] -> DROP" for the four
// inversion combinations of the first two and both of the third.
TEST_P(BranchFree, InversionAndAbsenceCombinations) {
  EnterNetns in(ns);
  auto mk = [&](const char* src, uint8_t proto, uint16_t dport) {
    auto s = pkt(v(), proto);
    s.src = src;
    s.dport = dport;
    return s;
  };
  const char* in_net = v() == 6 ? "2001:db8:7::5" : "198.18.7.5";
  const char* out_net = v() == 6 ? "2001:db8:8::5" : "198.18.8.5";
  std::vector<Probe> probes = {
      {mk(in_net, 17, 1000), true, true, true, true},    {mk(in_net, 17, 1999), true, true, true, true},
      {mk(in_net, 17, 2000), true, false, true, true},   {mk(in_net, 17, 999), true, false, true, true},
      {mk(in_net, 17, 22), true, true, true, true},      {mk(out_net, 17, 1500), false, true, true, true},
      {mk(out_net, 17, 23), false, false, true, true},   {mk(in_net, 6, 1500), true, true, false, true},
      {mk(in_net, 1, 0), true, false, false, false},      {mk(out_net, 1, 0), false, false, false, false},
  };
  for (bool inv_src : {false, true})
    for (bool inv_port : {false, true})
      for (bool inv_proto : {false, true}) {
        SCOPED_TRACE(std::string("inverted: src ") + (inv_src ? "y" : "n") + " port " + (inv_port ? "y" : "n") +
                     " proto " + (inv_proto ? "y" : "n"));
        IntMatch ports;
        ports.field = Field::Dport;
        ports.ranges = {{1000, 1999}, {22, 22}};
        auto t = table_of(fam(), {base_chain("INPUT", {rule("combo", {
            m_addr(Field::Saddr, net("198.18.7.0", "2001:db8:7::"), v() == 6 ? 48 : 24, inv_src),
            Match{ports, inv_port}, m_eq(Field::L4Proto, 17, inv_proto)}, ActionKind::Drop)})});
        auto l = load(t, "INPUT", GetParam().at);
        ASSERT_TRUE(l);
        uint64_t n = 0;
        for (size_t i = 0; i < probes.size(); ++i) {
          const auto& pr = probes[i];
          bool want = (pr.src_in != inv_src) && pr.has_ports && (pr.port_in != inv_port) && (pr.proto_udp != inv_proto);
          EXPECT_EQ(l->run(pr.p), want ? l->drop() : l->accept()) << "probe " << i;
          n += want;
        }
        EXPECT_EQ(l->counter("INPUT", 0).first, n);
      }
}

// AnyBit (TCP flags) and a multi-range match, inverted or not, on TCP, UDP (no flags) and a non-first
// fragment (no transport header at all).
TEST_P(BranchFree, AnyBitAndRangesWithAbsentFields) {
  EnterNetns in(ns);
  auto syn = pkt(v(), 6);
  syn.tcp_flags = 0x02;
  syn.sport = 5000;
  auto ack = syn;
  ack.tcp_flags = 0x10;
  auto udp = pkt(v(), 17);
  udp.sport = 5000;
  auto frag = syn;
  frag.nonfirst_fragment = true;
  for (bool inv_flags : {false, true})
    for (bool inv_sport : {false, true}) {
      SCOPED_TRACE(std::string("inverted: flags ") + (inv_flags ? "y" : "n") + " sport " + (inv_sport ? "y" : "n"));
      IntMatch sp;
      sp.field = Field::Sport;
      sp.ranges = {{1, 10}, {4000, 6000}};
      auto t = table_of(fam(), {base_chain("INPUT", {rule("flags+sport",
          {m_anybit(Field::TcpFlags, 0x02, inv_flags), Match{sp, inv_sport}}, ActionKind::Drop)})});
      auto l = load(t, "INPUT", GetParam().at);
      ASSERT_TRUE(l);
      // sport 5000 is in range for every packet with ports.
      EXPECT_EQ(l->run(syn), (!inv_flags && !inv_sport) ? l->drop() : l->accept());
      EXPECT_EQ(l->run(ack), (inv_flags && !inv_sport) ? l->drop() : l->accept());
      EXPECT_EQ(l->run(udp), l->accept());   // no TCP flags: false, inverted or not
      EXPECT_EQ(l->run(frag), l->accept());  // no transport header
    }
}

// IPv4 address ranges (branch-free) with inversion; and an address of the other family at XDP/TC
// (inet table: the family is checked at run time), which never matches.
TEST_P(BranchFree, AddressRangeAndFamily) {
  EnterNetns in(ns);
  if (v() != 4) GTEST_SKIP() << "IPv6 ranges keep their branches";
  auto a = pkt(4, 17), b = a, c = a;
  a.src = "198.18.3.255";
  b.src = "198.18.4.0";
  c.src = "198.18.9.1";
  for (bool inv : {false, true}) {
    auto t = table_of(fam(), {base_chain("INPUT", {rule("range",
        {m_range(Field::Saddr, "198.18.4.0", "198.18.9.1", inv), m_eq(Field::Dport, 9)}, ActionKind::Drop)})});
    auto l = load(t, "INPUT", GetParam().at);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->run(a), inv ? l->drop() : l->accept());
    EXPECT_EQ(l->run(b), inv ? l->accept() : l->drop());
    EXPECT_EQ(l->run(c), inv ? l->accept() : l->drop());
    if (GetParam().at.kind != AttachKind::Netfilter) {
      auto six = pkt(6, 17);  // an IPv6 packet: an IPv4 range is absent
      EXPECT_EQ(l->run(six), l->accept());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Hooks, BranchFree, ::testing::ValuesIn(flavours()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nfjit::test
