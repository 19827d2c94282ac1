// xtables hotdrop (ir::Hotdrop) on every hook flavour: a packet whose header an xt match cannot read is
// dropped when the rule reaches that match, before any counter, even though a later rule would accept
// it; when an earlier match of the rule fails first, nothing happens and the next rule runs. Packets:
// TCP/UDP/ICMP first fragments cut short, an IPv4 TCP fragment at offset 1, IPv6 extension-header
// chains that cannot be walked; and a frame padded past its IP length at XDP/TC (the padding is not
// header). The rules are what the xtables decoders produce for `-p tcp --dport 22`, `-m udp`, ...
#include "prog_harness.h"

namespace nfjit::test {
namespace {

const std::array<uint8_t, 6> kDstMac{0x02, 0, 0, 0, 0, 1}, kSrcMac{0x02, 0, 0, 0, 0, 2};

uint16_t ip_checksum(const std::vector<uint8_t>& p, size_t hl) {
  uint32_t acc = 0;
  for (size_t i = 0; i < hl; i += 2) acc += (p[i] << 8) | p[i + 1];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

// A frame whose IP packet is the one of `s` cut to `l3_bytes` bytes, its IP length fields (and the IPv4
// header checksum) saying so; padded with zeros to `frame_bytes` when larger (Ethernet minimum size).
std::vector<uint8_t> cut_frame(const PacketSpec& s, size_t l3_bytes, size_t frame_bytes = 0) {
  auto l3 = build_l3(s);
  l3.resize(l3_bytes);
  if (s.family == 4) {
    l3[2] = static_cast<uint8_t>(l3_bytes >> 8);
    l3[3] = static_cast<uint8_t>(l3_bytes);
    l3[10] = l3[11] = 0;
    uint16_t c = ip_checksum(l3, (l3[0] & 0xf) * 4u);
    l3[10] = static_cast<uint8_t>(c >> 8);
    l3[11] = static_cast<uint8_t>(c);
  } else {
    l3[4] = static_cast<uint8_t>((l3_bytes - 40) >> 8);
    l3[5] = static_cast<uint8_t>(l3_bytes - 40);
  }
  auto f = build_frame(s, kDstMac, kSrcMac);
  f.resize(14);
  f.insert(f.end(), l3.begin(), l3.end());
  if (f.size() < frame_bytes) f.resize(frame_bytes, 0);
  return f;
}

std::vector<uint8_t> whole(const PacketSpec& s) { return build_frame(s, kDstMac, kSrcMac); }

Match hd(Match m, uint8_t short_l4, bool frag1 = false) {
  m.hotdrop.short_l4 = short_l4;
  m.hotdrop.frag_offset_one = frag1;
  return m;
}

class Hotdrop : public ::testing::TestWithParam<Flavour> {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Family fam() const {
    const auto& f = GetParam();
    if (f.at.kind != AttachKind::Netfilter) return Family::Inet;
    return f.family == 6 ? Family::Ipv6 : Family::Ipv4;
  }
  int v() const { return GetParam().family; }
  bool link_layer() const { return GetParam().at.kind != AttachKind::Netfilter; }
  // -p <proto> as the decoders lower it: ip6tables walks the extension headers for it (no_l4proto).
  Match proto(uint8_t p, bool invert = false) const {
    auto m = m_eq(Field::L4Proto, p, invert);
    m.hotdrop.no_l4proto = v() == 6;
    return m;
  }
  uint8_t icmp() const { return v() == 6 ? 58 : 1; }
  // -p tcp -m tcp --dport 22
  std::vector<Match> tcp22() const { return {proto(6), hd(m_eq(Field::Dport, 22), 20, v() == 4)}; }

  // INPUT: [rule] -> ACCEPT; -j ACCEPT (counts what gets past); policy DROP. Returns the verdicts and
  // leaves the program in `l` for counter checks.
  std::vector<uint32_t> run(std::vector<Match> ms, const std::vector<std::vector<uint8_t>>& frames,
                            uint32_t per_block = 128) {
    auto t = table_of(fam(), {base_chain("INPUT",
                                         {rule("hotdrop rule", std::move(ms), ActionKind::Accept),
                                          rule("-j ACCEPT", {}, ActionKind::Accept)},
                                         Policy::Drop)});
    l = load(t, "INPUT", GetParam().at, nullptr, opts(per_block));
    std::vector<uint32_t> out;
    if (!l) return out;
    for (const auto& f : frames) out.push_back(l->run_frame(f, v()));
    return out;
  }
  uint64_t count(int rule) const { return l->counter("INPUT", rule).first; }
  // The hook's drop / accept codes (not from `l`: EXPECT_EQ may evaluate them before run()).
  uint32_t D() const { return Loaded{{}, {}, GetParam().at}.drop(); }
  uint32_t A() const { return Loaded{{}, {}, GetParam().at}.accept(); }

  Netns ns{"hotdrop"};
  std::optional<Loaded> l;
};

using V = std::vector<uint32_t>;

TEST_P(Hotdrop, ShortTcpHeaderDropsBeforeAnyCounter) {
  EnterNetns in(ns);
  auto s = pkt(v(), 6);
  s.dport = 80;
  size_t ip = v() == 6 ? 40 : 20;
  // 10 bytes of TCP header: the ports are there, the 20-byte header is not. 19 bytes: one short.
  auto verdicts = run(tcp22(), {cut_frame(s, ip + 10), cut_frame(s, ip + 19), whole(s), cut_frame(s, ip + 2)});
  ASSERT_EQ(verdicts.size(), 4u);
  EXPECT_EQ(verdicts, (V{D(), D(), A(), D()}));
  EXPECT_EQ(count(0), 0u);
  EXPECT_EQ(count(1), 1u);  // only the whole packet reached the catch-all
  EXPECT_EQ(count(-1), 0u);
}

TEST_P(Hotdrop, EarlierMatchFailingFirstMeansNoHotdrop) {
  EnterNetns in(ns);
  auto s = pkt(v(), 6);
  size_t ip = v() == 6 ? 40 : 20;
  // Another source: the address test (evaluated before the tcp match) fails, the next rule accepts.
  auto ms = tcp22();
  ms.insert(ms.begin(), m_addr(Field::Saddr, v() == 6 ? "2001:db8:99::" : "198.18.99.0", v() == 6 ? 48 : 24));
  EXPECT_EQ(run(ms, {cut_frame(s, ip + 10)}), (V{A()}));
  EXPECT_EQ(count(0), 0u);
  EXPECT_EQ(count(1), 1u);
  // A UDP packet cut short never reaches the tcp match (-p tcp fails first).
  auto u = pkt(v(), 17);
  EXPECT_EQ(run(tcp22(), {cut_frame(u, ip + 3)}), (V{A()}));
  EXPECT_EQ(count(1), 1u);
  // Matching source: the hotdrop happens.
  ms[0] = m_addr(Field::Saddr, s.src, v() == 6 ? 128 : 32);
  EXPECT_EQ(run(ms, {cut_frame(s, ip + 10)}), (V{D()}));
  EXPECT_EQ(count(1), 0u);
}

TEST_P(Hotdrop, UdpIcmpAndMultiportLengths) {
  EnterNetns in(ns);
  size_t ip = v() == 6 ? 40 : 20;
  auto u = pkt(v(), 17);
  auto udp = std::vector<Match>{proto(17), hd(m_int(Field::Sport, 0, 65535), 8)};  // -p udp -m udp
  EXPECT_EQ(run(udp, {cut_frame(u, ip + 7), cut_frame(u, ip + 4), cut_frame(u, ip + 8)}), (V{D(), D(), A()}));
  EXPECT_EQ(count(0), 1u);
  EXPECT_EQ(count(1), 0u);
  // -p udp -m multiport --dports 9: needs only the 4 bytes of ports.
  auto mp = std::vector<Match>{proto(17), hd(m_eq(Field::Dport, 9), 4)};
  EXPECT_EQ(run(mp, {cut_frame(u, ip + 3), cut_frame(u, ip + 4)}), (V{D(), A()}));
  EXPECT_EQ(count(0), 1u);
  // -p icmp -m icmp --icmp-type echo-request: the 8-byte ICMP header.
  auto e = pkt(v(), icmp());
  e.icmp_type = v() == 6 ? 128 : 8;
  auto ic = std::vector<Match>{proto(icmp()), hd(m_eq(Field::IcmpType, e.icmp_type), 8)};
  EXPECT_EQ(run(ic, {cut_frame(e, ip + 4), cut_frame(e, ip + 8), whole(e)}), (V{D(), A(), A()}));
  EXPECT_EQ(count(0), 2u);
  EXPECT_EQ(count(1), 0u);
}

TEST_P(Hotdrop, Fragments) {
  EnterNetns in(ns);
  // IPv4: offset 1 is "evil" for xt tcp; a later non-first fragment just has no ports. IPv6 fragment
  // offsets are bytes (never 1): a non-first fragment has no ports either.
  auto f1 = pkt(v(), 6);
  f1.nonfirst_fragment = true;  // IPv4: offset 1 (8 bytes); IPv6: offset 8 bytes
  auto later = whole(f1);
  if (v() == 4) {
    later[14 + 6] = 0x00;
    later[14 + 7] = 0x02;  // offset 2 (16 bytes)
    later[14 + 10] = later[14 + 11] = 0;
    std::vector<uint8_t> l3(later.begin() + 14, later.end());
    uint16_t c = ip_checksum(l3, 20);
    later[14 + 10] = static_cast<uint8_t>(c >> 8);
    later[14 + 11] = static_cast<uint8_t>(c);
  }
  auto verdicts = run(tcp22(), {whole(f1), later});
  EXPECT_EQ(verdicts, (V{v() == 4 ? D() : A(), A()}));
  EXPECT_EQ(count(1), v() == 4 ? 1u : 2u);
  // A udp match does not care about offset 1.
  auto u1 = pkt(v(), 17);
  u1.nonfirst_fragment = true;
  EXPECT_EQ(run({proto(17), hd(m_int(Field::Sport, 0, 65535), 8)}, {whole(u1)}), (V{A()}));
  EXPECT_EQ(count(1), 1u);
  // A first fragment whose TCP header is cut short is a short header like any other.
  auto first = pkt(v(), 6);
  first.first_fragment = true;
  size_t ip = v() == 6 ? 48 : 20;  // IPv6: the fragment header comes first
  EXPECT_EQ(run(tcp22(), {cut_frame(first, ip + 12)}), (V{D()}));
}

TEST_P(Hotdrop, Ipv6ExtensionHeaderWalkFailure) {
  if (v() != 6) GTEST_SKIP() << "IPv6 only";
  EnterNetns in(ns);
  // Destination options header cut to 1 byte: ipv6_find_hdr fails (-EBADMSG).
  auto s = pkt(6, 6);
  s.ext_headers = {60};
  auto cut = cut_frame(s, 41);
  // A non-first fragment followed by another extension header: -ENOENT with fragment offset 0.
  auto nf = pkt(6, 60);
  nf.nonfirst_fragment = true;
  // Routing header with only 3 bytes: the kernel reads 4 (struct ipv6_rt_hdr).
  auto rt = pkt(6, 6);
  rt.ext_headers = {43};
  auto rt3 = cut_frame(rt, 43);
  EXPECT_EQ(run(tcp22(), {cut, whole(nf), rt3, whole(s)}), (V{D(), D(), D(), A()}));
  EXPECT_EQ(count(1), 1u);
  // -p all and ! -p udp walk too; without -p nothing is walked (a rule on the address only).
  auto all = m_int(Field::L4Proto, 0, 255);
  all.hotdrop.no_l4proto = true;
  EXPECT_EQ(run({all}, {cut, whole(s)}), (V{D(), A()}));
  EXPECT_EQ(count(0), 1u);
  EXPECT_EQ(run({proto(17, true)}, {cut, whole(s)}), (V{D(), A()}));
  EXPECT_EQ(run({m_addr(Field::Saddr, s.src, 128)}, {cut}), (V{A()}));
  EXPECT_EQ(count(0), 1u);
  // nft's `meta l4proto != 17` (no hotdrop): the protocol is absent, the rule does not match.
  EXPECT_EQ(run({m_eq(Field::L4Proto, 17, true)}, {cut, whole(s)}), (V{A(), A()}));
  EXPECT_EQ(count(0), 1u);
  EXPECT_EQ(count(1), 1u);
}

TEST_P(Hotdrop, InOrderFormAndNeverMatchingRule) {
  EnterNetns in(ns);
  auto s = pkt(v(), 6);
  size_t ip = v() == 6 ? 40 : 20;
  // A match without a branch-free form (MAC source) before the tcp match: evaluated in rule order.
  Match mac{MacMatch{kSrcMac}, false};
  Match other_mac{MacMatch{{0x02, 9, 9, 9, 9, 9}}, false};
  if (GetParam().at.kind == AttachKind::Netfilter) {
    // BPF_PROG_TEST_RUN's netfilter skb sits on the loopback device (not Ethernet): -m mac never holds.
    EXPECT_EQ(run({mac, proto(6), hd(m_eq(Field::Dport, 22), 20, v() == 4)}, {cut_frame(s, ip + 10)}), (V{A()}));
  } else {
    auto ms = std::vector<Match>{mac, proto(6), hd(m_eq(Field::Dport, 22), 20, v() == 4)};
    EXPECT_EQ(run(ms, {cut_frame(s, ip + 10), whole(s)}), (V{D(), A()}));
    ms[0] = other_mac;
    EXPECT_EQ(run(ms, {cut_frame(s, ip + 10)}), (V{A()}));
  }
  // An interface match after the tcp match that can never hold here (nft may order them so): the rule
  // never matches, but still hotdrops first.
  auto ms = tcp22();
  ms.push_back(m_iface("nosuchdev"));
  EXPECT_EQ(run(ms, {cut_frame(s, ip + 10), whole(s)}), (V{D(), A()}));
  EXPECT_EQ(count(0), 0u);
  EXPECT_EQ(count(1), 1u);
}

TEST_P(Hotdrop, InsideUserChainsAndBlocks) {
  EnterNetns in(ns);
  auto s = pkt(v(), 6);
  size_t ip = v() == 6 ? 40 : 20;
  for (uint32_t per_block : {128u, 1u}) {
    SCOPED_TRACE("rules_per_block " + std::to_string(per_block));
    auto t = table_of(fam(), {base_chain("INPUT",
                                         {rule("-j A", {}, ActionKind::Jump, "A"),
                                          rule("-j ACCEPT", {}, ActionKind::Accept)},
                                         Policy::Drop),
                              user_chain("A", {rule("-p udp -j RETURN", {proto(17)}, ActionKind::Return),
                                               rule("tcp 22", tcp22(), ActionKind::Accept),
                                               rule("-j RETURN", {}, ActionKind::Return)})});
    auto ld = load(t, "INPUT", GetParam().at, nullptr, opts(per_block));
    ASSERT_TRUE(ld);
    EXPECT_EQ(ld->run_frame(cut_frame(s, ip + 10), v()), ld->drop());
    EXPECT_EQ(ld->run_frame(whole(s), v()), ld->accept());
    // The jump was counted before the chain hotdropped (ipt_do_table counts a rule before its target).
    EXPECT_EQ(ld->counter("INPUT", 0).first, 2u);
    EXPECT_EQ(ld->counter("A", 1).first, 0u);
    EXPECT_EQ(ld->counter("A", 2).first, 1u);
    EXPECT_EQ(ld->counter("INPUT", 1).first, 1u);
    EXPECT_EQ(ld->counter("INPUT", -1).first, 0u);
  }
}

// XDP and TC see Ethernet padding after a short IP packet; netfilter's skb is trimmed to the IP length.
// The padding must not pass for header bytes: not for the hotdrop test, nor for fields nft reads.
TEST_P(Hotdrop, PaddingIsNotHeader) {
  if (!link_layer()) GTEST_SKIP() << "netfilter skbs carry no link-layer padding";
  EnterNetns in(ns);
  auto s = pkt(v(), 6);
  s.tcp_flags = 0x02;
  size_t ip = v() == 6 ? 40 : 20;
  auto padded = cut_frame(s, ip + 10, 14 + ip + 40);  // the rest of the TCP header sits in the padding
  EXPECT_EQ(run(tcp22(), {padded}), (V{D()}));
  // nft `tcp flags syn` (no hotdrop): the flags byte is padding, the rule does not match.
  EXPECT_EQ(run({proto(6), m_eq(Field::TcpFlags, 0x02)}, {padded, whole(s)}), (V{A(), A()}));
  EXPECT_EQ(count(0), 1u);
  EXPECT_EQ(count(1), 1u);
}

INSTANTIATE_TEST_SUITE_P(Hooks, Hotdrop, ::testing::ValuesIn(flavours()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nfjit::test
