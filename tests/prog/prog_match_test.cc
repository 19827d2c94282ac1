// Every match kind on every hook flavour: one rule "match -> DROP", policy accept; a packet that
// matches is dropped, a packet that misses by one field passes. Inverted matches and absent fields.
#include "prog_harness.h"

namespace nfjit::test {
namespace {

class Matches : public ::testing::TestWithParam<Flavour> {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Family fam() const {
    const auto& f = GetParam();
    if (f.at.kind != AttachKind::Netfilter) return Family::Inet;
    return f.family == 6 ? Family::Ipv6 : Family::Ipv4;
  }
  // Loads "matches -> DROP" and returns whether each packet was dropped.
  std::vector<bool> dropped(std::vector<Match> ms, const std::vector<PacketSpec>& pkts) {
    EnterNetns in(ns);
    auto t = table_of(fam(), {base_chain("INPUT", {rule("test rule", std::move(ms), ActionKind::Drop)})});
    auto l = load(t, "INPUT", GetParam().at);
    std::vector<bool> out;
    if (!l) return out;
    for (const auto& p : pkts) {
      uint32_t v = l->run(p);
      EXPECT_TRUE(v == l->accept() || v == l->drop()) << v;
      out.push_back(v == l->drop());
    }
    // The counter saw exactly the dropped packets.
    uint64_t n = 0, bytes = 0;
    for (size_t i = 0; i < pkts.size(); ++i)
      if (out[i]) n++, bytes += l3_len(pkts[i]);
    EXPECT_EQ(l->counter("INPUT", 0), std::make_pair(n, bytes));
    return out;
  }
  int v() const { return GetParam().family; }
  std::string net(const char* v4, const char* v6) const { return v() == 6 ? v6 : v4; }
  Netns ns{"match"};
};

using B = std::vector<bool>;

TEST_P(Matches, SourcePrefixEdges) {
  auto a = pkt(v(), 17), b = a, c = a;
  a.src = net("198.18.5.255", "2001:db8:5::ffff");
  b.src = net("198.18.6.0", "2001:db8:6::");   // just outside the /24 (/48)
  c.src = net("198.18.5.0", "2001:db8:5::");
  int plen = v() == 6 ? 48 : 24;
  EXPECT_EQ(dropped({m_addr(Field::Saddr, net("198.18.5.0", "2001:db8:5::"), plen)}, {a, b, c}), (B{true, false, true}));
  EXPECT_EQ(dropped({m_addr(Field::Saddr, net("198.18.5.0", "2001:db8:5::"), plen, true)}, {a, b, c}), (B{false, true, false}));
}

TEST_P(Matches, DestinationHostAndOtherFamilyIsAbsent) {
  auto a = pkt(v(), 17);
  // An address of the other family never matches, inverted or not (the field does not exist).
  std::string other = v() == 6 ? "198.18.0.1" : "2001:db8::1";
  EXPECT_EQ(dropped({m_addr(Field::Daddr, net("198.18.0.1", "2001:db8::1"), v() == 6 ? 128 : 32)}, {a}), B{true});
  if (GetParam().at.kind != AttachKind::Netfilter) {
    EXPECT_EQ(dropped({m_addr(Field::Daddr, other, v() == 6 ? 32 : 128)}, {a}), B{false});
    EXPECT_EQ(dropped({m_addr(Field::Daddr, other, v() == 6 ? 32 : 128, true)}, {a}), B{false});
  }
}

TEST_P(Matches, AddressRange) {
  auto a = pkt(v(), 17), b = a, c = a, d = a;
  a.src = net("198.18.1.10", "2001:db8::1:10");
  b.src = net("198.18.1.20", "2001:db8::1:20");
  c.src = net("198.18.1.9", "2001:db8::1:9");
  d.src = net("198.18.1.21", "2001:db8::1:21");
  auto m = m_range(Field::Saddr, net("198.18.1.10", "2001:db8::1:10"), net("198.18.1.20", "2001:db8::1:20"));
  EXPECT_EQ(dropped({m}, {a, b, c, d}), (B{true, true, false, false}));
  m.invert = true;
  EXPECT_EQ(dropped({m}, {a, b, c, d}), (B{false, false, true, true}));
}

TEST_P(Matches, PortRangeEdges) {
  std::vector<PacketSpec> ps;
  for (uint16_t port : {999, 1000, 2000, 2001}) {
    auto p = pkt(v(), 6);
    p.dport = port;
    ps.push_back(p);
  }
  EXPECT_EQ(dropped({m_int(Field::Dport, 1000, 2000)}, ps), (B{false, true, true, false}));
  EXPECT_EQ(dropped({m_int(Field::Dport, 1000, 2000, true)}, ps), (B{true, false, false, true}));
  auto sp = pkt(v(), 17);
  sp.sport = 53;
  EXPECT_EQ(dropped({m_eq(Field::Sport, 53)}, {sp, ps[0]}), (B{true, false}));
}

TEST_P(Matches, SctpPortsToo) {
  auto s = pkt(v(), 132);
  s.dport = 5000;
  EXPECT_EQ(dropped({m_eq(Field::Dport, 5000)}, {s}), B{true});
}

TEST_P(Matches, TcpFlags) {
  // --tcp-flags SYN,ACK,RST SYN  (mask 0x16, value 0x02)
  auto syn = pkt(v(), 6), synack = syn, ack = syn;
  syn.tcp_flags = 0x02;
  synack.tcp_flags = 0x12;
  ack.tcp_flags = 0x10;
  EXPECT_EQ(dropped({m_int(Field::TcpFlags, 0x02, 0x02, false, 0x16)}, {syn, synack, ack}), (B{true, false, false}));
  EXPECT_EQ(dropped({m_int(Field::TcpFlags, 0x02, 0x02, true, 0x16)}, {syn, synack, ack}), (B{false, true, true}));
  // UDP has no TCP flags: absent, so false even inverted.
  EXPECT_EQ(dropped({m_int(Field::TcpFlags, 0x02, 0x02, true, 0x16)}, {pkt(v(), 17)}), B{false});
}

TEST_P(Matches, IcmpTypeCode) {
  auto echo = pkt(v(), 1), reply = echo;
  echo.icmp_type = v() == 6 ? 128 : 8;
  reply.icmp_type = v() == 6 ? 129 : 0;
  EXPECT_EQ(dropped({m_eq(Field::IcmpType, echo.icmp_type), m_eq(Field::IcmpCode, 0)}, {echo, reply}), (B{true, false}));
  EXPECT_EQ(dropped({m_eq(Field::IcmpType, echo.icmp_type, true)}, {echo, reply, pkt(v(), 6)}), (B{false, true, false}));
}

TEST_P(Matches, NonFirstFragmentHasNoPorts) {
  auto frag = pkt(v(), 17);
  frag.dport = 9;
  frag.nonfirst_fragment = true;
  auto first = pkt(v(), 17);
  first.first_fragment = true;
  EXPECT_EQ(dropped({m_eq(Field::Dport, 9)}, {frag, first}), (B{false, true}));
  EXPECT_EQ(dropped({m_eq(Field::Dport, 9, true)}, {frag}), B{false});
  EXPECT_EQ(dropped({m_eq(Field::Fragment, 1)}, {frag, first}), (B{true, false}));
  // The protocol is still known for a non-first fragment.
  EXPECT_EQ(dropped({m_eq(Field::L4Proto, 17)}, {frag}), B{true});
}

TEST_P(Matches, HeaderOptionsAndExtensionHeaders) {
  auto p = pkt(v(), 6);
  p.dport = 443;
  if (v() == 4) p.ip_options = {0x01, 0x01, 0x01, 0x01, 0x94, 0x04, 0x00, 0x00};  // NOPs + router alert
  else p.ext_headers = {0, 60, 43};
  auto q = p;
  q.dport = 444;
  EXPECT_EQ(dropped({m_eq(Field::L4Proto, 6), m_eq(Field::Dport, 443)}, {p, q}), (B{true, false}));
}

TEST_P(Matches, TtlTosLength) {
  auto p = pkt(v(), 17);
  p.ttl = 3;
  p.tos = 0xb8;  // DSCP 46 (EF)
  auto q = pkt(v(), 17);
  EXPECT_EQ(dropped({m_int(Field::Ttl, 0, 3)}, {p, q}), (B{true, false}));
  EXPECT_EQ(dropped({m_eq(Field::Dscp, 46)}, {p, q}), (B{true, false}));
  EXPECT_EQ(dropped({m_eq(Field::Tos, 0xb8)}, {p, q}), (B{true, false}));
  auto len = static_cast<uint32_t>(l3_len(p));
  EXPECT_EQ(dropped({m_int(Field::Length, len, len)}, {p}), B{true});
  EXPECT_EQ(dropped({m_int(Field::Length, len + 1, 65535)}, {p}), B{false});
}

TEST_P(Matches, MultipleValuesAndAnyBit) {
  IntMatch im;
  im.field = Field::Dport;
  im.ranges = {{22, 22}, {80, 80}, {8000, 8100}};
  std::vector<PacketSpec> ps;
  for (uint16_t port : {22, 80, 8050, 81}) {
    auto p = pkt(v(), 6);
    p.dport = port;
    ps.push_back(p);
  }
  EXPECT_EQ(dropped({Match{im, false}}, ps), (B{true, true, true, false}));
  EXPECT_EQ(dropped({m_anybit(Field::TcpFlags, 0x04 | 0x01)}, ps), (B{false, false, false, false}));
}

INSTANTIATE_TEST_SUITE_P(Hooks, Matches, ::testing::ValuesIn(flavours()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nfjit::test
