// The tuple-space classifier (src/codegen/classify.h) against linear evaluation: random tables compiled
// twice — every classifiable run as hash lookups, and every rule as linear code — must give the same
// verdict for every packet and the same counter on every rule and policy. Linear code is itself checked
// against the kernel elsewhere (tests/e2e), so agreement here carries that to the classifier.
#include <random>

#include "prog_harness.h"

namespace nfjit::test {
namespace {

codegen::CompileOptions classified() {
  codegen::CompileOptions o;
  o.disasm = true;
  o.classify.min_rules = 4;        // classify even short runs, so that segments start and end often
  o.classify.rules_per_tuple = 0;  // whatever the tuple count
  return o;
}
codegen::CompileOptions linear() {
  codegen::CompileOptions o;
  o.disasm = true;
  o.classify.min_rules = 0;
  return o;
}

// Random rules over a small pool of values, so that packets drawn from the same pool hit them.
struct Gen {
  std::mt19937 rng;
  int family;
  bool nf;            // netfilter: metadata (ct state, mark, interface names) is read at run time
  bool mixed = false;  // an inet table at XDP/TC: each rule and packet picks its family
  Gen(uint32_t seed, int fam, bool netfilter) : rng(seed), family(fam), nf(netfilter) {}

  uint32_t pick(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); }
  bool chance(uint32_t pct) { return pick(100) < pct; }

  std::string host(bool src) {
    static const char* v4[] = {"198.18.0.1", "198.18.0.2", "198.18.1.7", "198.19.4.5", "198.19.4.200"};
    // The last two IPv6 addresses start with the bytes of 198.18.0.1 and 198.19.4.5: in an inet table
    // an IPv4 prefix must still not match them.
    static const char* v6[] = {"2001:db8::1", "2001:db8::2", "2001:db8:1::7", "2001:db8:4:5::5", "2001:db8:4:5::c8",
                               "c612:1::5", "c613:405::1"};
    (void)src;
    return family == 4 ? v4[pick(5)] : v6[pick(7)];
  }
  int plen() {
    static const int p4[] = {8, 16, 24, 32, 32, 0};
    static const int p6[] = {32, 48, 64, 128, 128, 0};
    return family == 4 ? p4[pick(6)] : p6[pick(6)];
  }
  uint8_t icmp_proto() const { return family == 4 ? 1 : 58; }

  Match ports(Field f) {
    static const uint16_t pool[] = {22, 53, 80, 443, 5000, 40000};
    IntMatch im;
    im.field = f;
    switch (pick(4)) {
      case 0: im.ranges = {{1000, 2000}}; break;
      case 1: im.ranges = {{0, 1023}}; break;
      case 2: im.ranges = {{22, 22}, {80, 80}, {443, 443}}; break;  // multiport
      default: {
        uint16_t p = pool[pick(6)];
        im.ranges = {{p, p}};
      }
    }
    return Match{im, chance(5)};
  }

  Rule rule(int i, int n_user) {
    if (mixed) family = chance(50) ? 4 : 6;
    Rule r;
    r.origin = "rule " + std::to_string(i);
    uint8_t proto = 0;
    if (chance(40)) r.matches.push_back(m_addr(Field::Saddr, host(true), plen(), chance(5)));
    if (chance(30)) r.matches.push_back(m_addr(Field::Daddr, host(false), plen()));
    if (chance(60)) {
      static const uint8_t ps[] = {6, 17, 0};
      proto = ps[pick(3)];
      if (!proto) proto = icmp_proto();
      r.matches.push_back(m_eq(Field::L4Proto, proto));
    }
    if (proto == 6 || proto == 17) {
      Hotdrop hd;
      hd.short_l4 = proto == 6 ? 20 : 8;
      hd.frag_offset_one = proto == 6 && family == 4;
      if (chance(50)) {
        Match m = ports(Field::Dport);
        if (chance(50)) m.hotdrop = hd;  // as the xtables tcp/udp match carries it
        r.matches.push_back(m);
      }
      if (chance(20)) r.matches.push_back(ports(Field::Sport));
      if (proto == 6 && chance(30)) r.matches.push_back(m_int(Field::TcpFlags, 0x02, 0x02, false, 0x17));
    } else if (proto && chance(50)) {
      r.matches.push_back(m_eq(Field::IcmpType, family == 4 ? 8 : 128));
    }
    if (chance(10)) r.matches.push_back(m_int(Field::Ttl, 60, 70));
    if (family == 4 && chance(8)) r.matches.push_back(m_range(Field::Saddr, "198.18.0.0", "198.18.1.10"));
    if (nf && chance(8)) r.matches.push_back(m_anybit(Field::CtState, ir::kCtInvalid | ir::kCtNew));
    if (nf && chance(5)) r.matches.push_back(m_iface("eth", chance(50), true));
    if (nf && chance(5)) r.matches.push_back(m_eq(Field::Mark, pick(2)));
    const uint32_t a = pick(100);
    if (a < 35) r.action.kind = ActionKind::Accept;
    else if (a < 70) r.action.kind = ActionKind::Drop;
    else if (a < 80) r.action.kind = ActionKind::Return;
    else if (a < 90 && n_user) {
      r.action.kind = ActionKind::Goto;
      r.action.target = "U" + std::to_string(pick(n_user));
    } else if (a < 95 && n_user) {
      r.action.kind = ActionKind::Jump;
      r.action.target = "U" + std::to_string(pick(n_user));
    } else {
      r.action.kind = ActionKind::Continue;
    }
    return r;
  }

  Table table(int n_rules) {
    std::vector<Chain> chains;
    std::vector<Rule> base;
    for (int i = 0; i < n_rules; ++i) base.push_back(rule(i, 2));
    chains.push_back(base_chain("INPUT", base, chance(50) ? Policy::Accept : Policy::Drop));
    for (int u = 0; u < 2; ++u) {
      std::vector<Rule> rs;
      for (int i = 0; i < 40; ++i) rs.push_back(rule(i, 0));
      chains.push_back(user_chain("U" + std::to_string(u), rs));
    }
    return table_of(mixed ? Family::Inet : family == 4 ? Family::Ipv4 : Family::Ipv6, chains);
  }

  PacketSpec packet() {
    if (mixed) family = chance(50) ? 4 : 6;
    PacketSpec s = pkt(family);
    s.src = host(true);
    s.dst = host(false);
    static const uint8_t ps[] = {6, 17, 0, 6, 17};
    s.proto = ps[pick(5)];
    if (!s.proto) s.proto = icmp_proto();
    static const uint16_t pool[] = {22, 53, 80, 443, 5000, 40000, 1500, 7};
    s.sport = pool[pick(8)];
    s.dport = pool[pick(8)];
    s.tcp_flags = static_cast<uint8_t>(pick(256));
    s.icmp_type = chance(50) ? (family == 4 ? 8 : 128) : 3;
    static const uint8_t ttls[] = {1, 64, 65, 255};
    s.ttl = ttls[pick(4)];
    if (chance(8)) s.nonfirst_fragment = true;
    else if (chance(5)) s.first_fragment = true;
    return s;
  }
};

// IPv4 frame whose transport header is cut to `keep` bytes (IP total length adjusted): the xtables
// hotdrop case (a port match on a packet too short for its header).
std::vector<uint8_t> truncated_v4(const PacketSpec& s, size_t keep) {
  auto f = build_frame(s, {0x02, 0, 0, 0, 0, 1}, {0x02, 0, 0, 0, 0, 2});
  const size_t ihl = (f[14] & 0x0f) * 4u;
  f.resize(14 + ihl + keep);
  const uint16_t tot = static_cast<uint16_t>(ihl + keep);
  f[16] = static_cast<uint8_t>(tot >> 8);
  f[17] = static_cast<uint8_t>(tot);
  return f;
}

void compare(const Flavour& fl, uint32_t seed, int n_rules, int n_packets, bool mixed = false) {
  Gen gen(seed, fl.family, fl.at.kind == AttachKind::Netfilter);
  gen.mixed = mixed;
  Table t = gen.table(n_rules);
  auto cls = load(t, "INPUT", fl.at, nullptr, classified());
  auto lin = load(t, "INPUT", fl.at, nullptr, linear());
  ASSERT_TRUE(cls && lin);
  size_t cls_maps = 0;
  for (const auto& m : cls->prog.maps) cls_maps += m.name.rfind("nfjit_cls_", 0) == 0;
  EXPECT_GT(cls_maps, 0u) << "no rule run was classified: the test would compare linear with linear";
  for (int i = 0; i < n_packets; ++i) {
    PacketSpec s = gen.packet();
    uint32_t a, b;
    if (s.family == 4 && (s.proto == 6 || s.proto == 17) && gen.chance(10)) {
      auto f = truncated_v4(s, 1 + gen.pick(s.proto == 6 ? 19 : 7));
      a = cls->run_frame(f, 4);
      b = lin->run_frame(f, 4);
    } else {
      a = cls->run(s);
      b = lin->run(s);
    }
    ASSERT_EQ(a, b) << fl.name << " seed " << seed << ": verdicts differ for " << describe(s);
  }
  for (size_t slot = 0; slot < cls->prog.counters.size(); ++slot) {
    const auto& c = cls->prog.counters[slot];
    EXPECT_EQ(cls->counter(c.chain, c.rule), lin->counter(c.chain, c.rule))
        << fl.name << " seed " << seed << ": counter of " << c.chain << " rule " << c.rule;
  }
}

TEST(ProgClassify, MatchesLinearOnRandomTables) {
  NFJIT_REQUIRE_ROOT();
  for (const auto& fl : flavours())
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      SCOPED_TRACE(std::string(fl.name) + " seed " + std::to_string(seed));
      compare(fl, seed * 7919 + fl.family, 120, 400);
      if (HasFatalFailure()) return;
    }
}

// An inet table at XDP and TC: one program for both families, so address rules also key the family
// (an IPv4 prefix must not match the first bytes of an IPv6 address).
TEST(ProgClassify, MatchesLinearOnRandomInetTables) {
  NFJIT_REQUIRE_ROOT();
  for (const auto& fl : flavours()) {
    if (fl.at.kind == AttachKind::Netfilter || fl.family != 4) continue;
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      SCOPED_TRACE(std::string(fl.name) + " inet seed " + std::to_string(seed));
      compare(fl, seed * 104729, 120, 400, /*mixed=*/true);
      if (HasFatalFailure()) return;
    }
  }
}

// The bench's shape at 10,000 rules becomes one tuple: a small program whatever the rule count, the
// last rule still found first-match, and its counter counted.
TEST(ProgClassify, TenThousandRulesAreOneLookup) {
  NFJIT_REQUIRE_ROOT();
  std::vector<Rule> rs;
  for (int i = 0; i < 10000; ++i) {
    const std::string src = "198.19." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250);
    Match dport = m_eq(Field::Dport, static_cast<uint32_t>(20000 + i));
    dport.hotdrop.short_l4 = 8;
    rs.push_back(rule("-A INPUT -s " + src + " -p udp --dport " + std::to_string(20000 + i) + " -j DROP",
                      {m_addr(Field::Saddr, src, 32), m_eq(Field::L4Proto, 17), dport}, ActionKind::Drop));
  }
  Table t = table_of(Family::Ipv4, {base_chain("INPUT", rs)});
  auto l = load(t, "INPUT", nf_at(4), nullptr, codegen::CompileOptions{});
  ASSERT_TRUE(l);
  EXPECT_LT(l->prog.insns.size(), 400u) << "10,000 rules should be a handful of lookups";
  PacketSpec s = pkt(4);
  s.src = "198.19.39.250";  // rule 9999
  s.dport = 29999;
  EXPECT_EQ(l->run(s), l->drop());
  s.dport = 29998;  // rule 9998 has another source
  EXPECT_EQ(l->run(s), l->accept());
  EXPECT_EQ(l->counter("INPUT", 9999).first, 1u);
  EXPECT_EQ(l->counter("INPUT", 9998).first, 0u);
  EXPECT_EQ(l->counter("INPUT", -1).first, 1u);
}

}  // namespace
}  // namespace nfjit::test
