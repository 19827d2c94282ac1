// Sets, rate limits, LOG records, conntrack state, marks and interface names.
#include <bpf/libbpf.h>

#include <chrono>
#include <thread>

#include "codegen/kernel_jiffies.h"
#include "codegen/log_record.h"
#include "codegen/sets.h"
#include "codegen/xt_limit_math.h"
#include "prog_harness.h"

namespace nfjit::test {
namespace {

class Features : public ::testing::Test {
 protected:
  void SetUp() override { NFJIT_REQUIRE_ROOT(); }
  Netns ns{"feat"};
};

std::vector<uint8_t> v4key(const std::string& a) {
  auto x = addr(a);
  return {x[0], x[1], x[2], x[3]};
}
std::vector<uint8_t> portkey(uint16_t p) { return {static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p), 0, 0}; }
std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(Features, ConcatenatedHashSet) {
  EnterNetns in(ns);
  Set s;
  s.name = "pairs";
  s.key = {{Field::Saddr, false, 4}, {Field::Dport, false, 2}};
  s.elements = {{cat(v4key("198.18.0.2"), portkey(22)), {}}, {cat(v4key("198.18.0.3"), portkey(80)), {}}};
  for (auto at : {nf_at(4), dev_at(AttachKind::Xdp), dev_at(AttachKind::TcIngress)}) {
    auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("ip saddr . tcp dport @pairs drop", {Match{SetMatch{"pairs"}}},
                                                               ActionKind::Drop)})}, {s});
    auto l = load(t, "INPUT", at);
    ASSERT_TRUE(l);
    auto a = pkt(4, 6);
    a.src = "198.18.0.2";
    a.dport = 22;
    auto b = a;
    b.dport = 80;  // other pair's port, wrong address
    auto c = a;
    c.src = "198.18.0.3";
    c.dport = 80;
    EXPECT_EQ(l->run(a), l->drop());
    EXPECT_EQ(l->run(b), l->accept());
    EXPECT_EQ(l->run(c), l->drop());
    EXPECT_EQ(l->counter("INPUT", 0).first, 2u);
  }
}

TEST_F(Features, IntervalSetsBecomeLpmTries) {
  EnterNetns in(ns);
  Set nets;
  nets.name = "nets";
  nets.interval = true;
  nets.key = {{Field::Saddr, false, 4}};
  nets.elements = {{v4key("198.18.4.0"), v4key("198.18.5.255")}, {v4key("198.18.9.7"), v4key("198.18.9.9")}};
  Set ports;
  ports.name = "ports";
  ports.interval = true;
  ports.key = {{Field::Dport, false, 2}};
  ports.elements = {{portkey(1000), portkey(1999)}};
  auto t = table_of(Family::Ipv4, {base_chain("INPUT", {
      rule("ip saddr @nets drop", {Match{SetMatch{"nets"}}}, ActionKind::Drop),
      rule("udp dport @ports drop", {Match{SetMatch{"ports"}}}, ActionKind::Drop)})}, {nets, ports});
  auto l = load(t, "INPUT", nf_at(4));
  ASSERT_TRUE(l);
  auto p = [](const char* src, uint16_t dport) {
    auto s = pkt(4, 17);
    s.src = src;
    s.dport = dport;
    return s;
  };
  EXPECT_EQ(l->run(p("198.18.4.0", 9)), l->drop());
  EXPECT_EQ(l->run(p("198.18.5.255", 9)), l->drop());
  EXPECT_EQ(l->run(p("198.18.6.0", 9)), l->accept());
  EXPECT_EQ(l->run(p("198.18.3.255", 9)), l->accept());
  EXPECT_EQ(l->run(p("198.18.9.6", 9)), l->accept());
  EXPECT_EQ(l->run(p("198.18.9.8", 9)), l->drop());
  EXPECT_EQ(l->run(p("198.18.9.10", 9)), l->accept());
  EXPECT_EQ(l->run(p("198.18.1.1", 999)), l->accept());
  EXPECT_EQ(l->run(p("198.18.1.1", 1000)), l->drop());
  EXPECT_EQ(l->run(p("198.18.1.1", 1999)), l->drop());
  EXPECT_EQ(l->run(p("198.18.1.1", 2000)), l->accept());
}

TEST_F(Features, IntervalConcatenationIsRefused) {
  Set s;
  s.name = "x";
  s.interval = true;
  s.key = {{Field::Saddr, false, 4}, {Field::Dport, false, 2}};
  auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("ip saddr . tcp dport @x drop", {Match{SetMatch{"x"}}},
                                                             ActionKind::Drop)})}, {s});
  auto p = codegen::compile(t, "INPUT", nf_at(4), kernel_btf());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().err, EOPNOTSUPP);
  EXPECT_NE(p.error().message.find("ip saddr . tcp dport @x drop"), std::string::npos) << p.error().message;
}

TEST_F(Features, LimitBurstThenRefuse) {
  EnterNetns in(ns);
  LimitMatch lm;
  lm.rate = 1;
  lm.per_ns = 3600ull * 1'000'000'000ull;  // 1/hour: no refill during the test
  lm.burst = 3;
  for (auto at : {nf_at(4), dev_at(AttachKind::Xdp)}) {
    auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("-m limit --limit 1/hour --limit-burst 3 -j ACCEPT",
                                                               {Match{lm}}, ActionKind::Accept)}, Policy::Drop)});
    auto l = load(t, "INPUT", at);
    ASSERT_TRUE(l);
    auto p = pkt(4, 17);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(l->run(p), l->accept()) << i;
    EXPECT_EQ(l->run(p), l->drop());
    EXPECT_EQ(l->run(p), l->drop());
    EXPECT_EQ(l->counter("INPUT", 0).first, 3u);
    EXPECT_EQ(l->counter("INPUT", -1).first, 2u);
  }
}

TEST_F(Features, LimitRefillsAtRate) {
  EnterNetns in(ns);
  LimitMatch lm;
  lm.rate = 10;  // one token per 100 ms
  lm.burst = 1;
  auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("limit rate 10/second burst 1 packets accept",
                                                             {Match{lm}}, ActionKind::Accept)}, Policy::Drop)});
  auto l = load(t, "INPUT", nf_at(4));
  ASSERT_TRUE(l);
  auto p = pkt(4, 17);
  EXPECT_EQ(l->run(p), l->accept());
  EXPECT_EQ(l->run(p), l->drop());
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_EQ(l->run(p), l->accept());
  EXPECT_EQ(l->run(p), l->drop());
}

// An iptables -m limit as the xtables decoder lowers it: xt_limit's jiffies arithmetic.
uint64_t jiffies_now() {
  auto j = codegen::kernel_jiffies();
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return j.ok() ? j.value() : 0;
}

LimitMatch xt_limit(uint32_t avg, uint32_t burst) {
  LimitMatch lm;
  lm.rate = 1;
  lm.per_ns = static_cast<uint64_t>(avg) * 100'000ull;
  lm.burst = burst;
  lm.clock = LimitClock::Jiffies;
  lm.xt_avg = avg;
  return lm;
}

TEST_F(Features, XtLimitBurstThenRefuse) {
  EnterNetns in(ns);
  LimitMatch lm = xt_limit(36'000'000, 3);  // 1/hour: no refill during the test
  for (auto at : {nf_at(4), dev_at(AttachKind::Xdp)}) {
    auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("-m limit --limit 1/hour --limit-burst 3 -j ACCEPT",
                                                               {Match{lm}}, ActionKind::Accept)}, Policy::Drop)});
    auto l = load(t, "INPUT", at);
    ASSERT_TRUE(l);
    auto p = pkt(4, 17);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(l->run(p), l->accept()) << i;
    EXPECT_EQ(l->run(p), l->drop());
    EXPECT_EQ(l->run(p), l->drop());
    EXPECT_EQ(l->counter("INPUT", 0).first, 3u);
    EXPECT_EQ(l->counter("INPUT", -1).first, 2u);
  }
}

// A limit whose cost is one jiffy of credits (--limit HZ/s: avg = 10000 / HZ): after draining the
// bucket and sleeping, the packets admitted are exactly what xt_limit's integer arithmetic allows
// between the jiffies read before the drain's last packet (ja) and after the last packet (j2), and at
// least what accrued between the end of the drain (j0) and the start of the next burst (j1).
TEST_F(Features, XtLimitRefillsWholeJiffies) {
  EnterNetns in(ns);
  auto hz = codegen::kernel_hz();
  ASSERT_TRUE(hz.ok()) << hz.error().message;
  const uint32_t avg = codegen::kXtLimitScale / *hz, burst = 100;
  const auto xp = codegen::xt_limit_params(*hz, avg, burst);
  ASSERT_FALSE(xp.overflow);
  LimitMatch lm = xt_limit(avg, burst);
  for (auto at : {nf_at(4), dev_at(AttachKind::Xdp)}) {
    auto t = table_of(Family::Ipv4, {base_chain("INPUT", {rule("-m limit --limit " + std::to_string(*hz) +
                                                                   "/sec --limit-burst 100 -j ACCEPT",
                                                               {Match{lm}}, ActionKind::Accept)}, Policy::Drop)});
    auto l = load(t, "INPUT", at);
    ASSERT_TRUE(l);
    auto p = pkt(4, 17);
    uint64_t ja = 0;
    for (int i = 0; i < 10'000; ++i) {
      ja = jiffies_now();
      if (l->run(p) == l->drop()) break;
    }
    const uint64_t j0 = jiffies_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    const uint64_t j1 = jiffies_now();
    uint64_t admitted = 0;
    for (uint32_t i = 0; i < burst + 20; ++i) admitted += l->run(p) == l->accept();
    const uint64_t j2 = jiffies_now();
    const uint64_t least = std::min<uint64_t>(xp.cap, (j1 - j0) * xp.credits_per_jiffy) / xp.cost;
    const uint64_t most = (xp.cost - 1 + (j2 - ja) * xp.credits_per_jiffy) / xp.cost;
    EXPECT_GE(admitted, least) << "HZ " << *hz << " j0 " << j0 << " j1 " << j1;
    EXPECT_LE(admitted, most) << "HZ " << *hz << " ja " << ja << " j2 " << j2;
    EXPECT_GT(least, 0u);
  }
}

struct Records {
  std::vector<codegen::LogRecord> v;
};
int on_record(void* ctx, void* data, size_t size) {
  if (size >= sizeof(codegen::LogRecord)) {
    codegen::LogRecord r;
    std::memcpy(&r, data, sizeof r);
    static_cast<Records*>(ctx)->v.push_back(r);
  }
  return 0;
}

TEST_F(Features, LogWritesRecords) {
  EnterNetns in(ns);
  for (auto [at, fam] : {std::pair{nf_at(6), Family::Ipv6}, std::pair{dev_at(AttachKind::TcIngress), Family::Ipv6}}) {
    Rule lr = rule("-j LOG --log-prefix 'in: '", {m_eq(Field::L4Proto, 6)}, ActionKind::Log);
    lr.action.log.prefix = "in: ";
    auto t = table_of(fam, {base_chain("INPUT", {lr, rule("-j ACCEPT", {}, ActionKind::Accept)})});
    auto l = load(t, "INPUT", at);
    ASSERT_TRUE(l);
    ASSERT_GE(l->prog.log_map, 0);
    ASSERT_EQ(l->prog.logs.size(), 1u);
    EXPECT_EQ(l->prog.logs[0].prefix, "in: ");
    auto p = pkt(6, 6);
    p.dport = 22;
    EXPECT_EQ(l->run(p), l->accept());  // LOG is not terminal: the next rule accepts
    EXPECT_EQ(l->run(pkt(6, 17)), l->accept());
    Records recs;
    ring_buffer* rb = ring_buffer__new(l->lp.maps[l->prog.log_map].get(), on_record, &recs, nullptr);
    ASSERT_NE(rb, nullptr);
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
    ASSERT_EQ(recs.v.size(), 1u);
    const auto& r = recs.v[0];
    auto l3 = build_l3(p);
    EXPECT_EQ(r.log_id, 0u);
    EXPECT_EQ(r.counter_slot, 0u);
    EXPECT_EQ(r.nfproto, 10);
    EXPECT_EQ(r.pkt_len, l3.size());
    ASSERT_EQ(r.hdr_len, std::min<size_t>(l3.size(), codegen::kLogHeaderBytes));
    EXPECT_EQ(std::vector<uint8_t>(r.hdr, r.hdr + r.hdr_len), std::vector<uint8_t>(l3.begin(), l3.begin() + r.hdr_len));
    if (at.kind == AttachKind::TcIngress) {
      EXPECT_EQ(r.mac_len, 14);
      EXPECT_STREQ(r.in_name, "veth0");
      EXPECT_EQ(r.in_ifindex, 7u);
    } else {
      EXPECT_EQ(r.mac_len, 0);
    }
    EXPECT_EQ(l->counter("INPUT", 0).first, 1u);
  }
}

TEST_F(Features, CtStateWithoutConntrackIsInvalidAtNetfilter) {
  EnterNetns in(ns);
  auto t = table_of(Family::Ipv4, {base_chain("INPUT", {
      rule("ct state established,related accept", {m_anybit(Field::CtState, kCtEstablished | kCtRelated)}, ActionKind::Accept),
      rule("ct state invalid drop", {m_anybit(Field::CtState, kCtInvalid)}, ActionKind::Drop)})});
  auto l = load(t, "INPUT", nf_at(4));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->run(pkt(4, 17)), l->drop());
  EXPECT_EQ(l->counter("INPUT", 0).first, 0u);
  EXPECT_EQ(l->counter("INPUT", 1).first, 1u);
}

TEST_F(Features, MarkIsWrittenAtTcAndRefusedElsewhere) {
  EnterNetns in(ns);
  Rule mark = rule("-j MARK --set-xmark 0x5/0xff", {}, ActionKind::SetMark);
  mark.action.mark_value = 5;
  mark.action.mark_mask = 0xff;
  auto t = table_of(Family::Inet, {base_chain("INPUT", {mark,
      rule("-m mark --mark 5 -j DROP", {m_eq(Field::Mark, 5)}, ActionKind::Drop)})});
  auto l = load(t, "INPUT", dev_at(AttachKind::TcIngress));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->run(pkt(4, 17)), l->drop());
  auto nf = codegen::compile(table_of(Family::Ipv4, {base_chain("INPUT", {mark})}), "INPUT", nf_at(4), kernel_btf());
  ASSERT_FALSE(nf.ok());
  EXPECT_EQ(nf.error().err, EOPNOTSUPP);
  EXPECT_NE(nf.error().message.find("-j MARK --set-xmark 0x5/0xff"), std::string::npos);
  auto xdp = codegen::compile(table_of(Family::Ipv4, {base_chain("INPUT", {mark})}), "INPUT", dev_at(AttachKind::Xdp), kernel_btf());
  EXPECT_FALSE(xdp.ok());
  // REJECT runs at netfilter hooks (a record for nfjitd, then DROP: docs/reject.md), never at XDP/TC.
  Rule rej = rule("-A INPUT -j REJECT", {}, ActionKind::Reject);
  auto rn = codegen::compile(table_of(Family::Ipv4, {base_chain("INPUT", {rej})}), "INPUT", nf_at(4), kernel_btf());
  EXPECT_TRUE(rn.ok()) << rn.error().message;
  auto lr = load(table_of(Family::Ipv4, {base_chain("INPUT", {rej})}), "INPUT", nf_at(4));
  ASSERT_TRUE(lr) << "the verifier accepts the REJECT record";
  EXPECT_EQ(lr->run(pkt(4, 17)), lr->drop());
  auto r = codegen::compile(table_of(Family::Ipv4, {base_chain("INPUT", {rej})}), "INPUT", dev_at(AttachKind::Xdp), kernel_btf());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EOPNOTSUPP);
  EXPECT_NE(r.error().message.find("rule '-A INPUT -j REJECT': REJECT is not lowered at XDP/TC"), std::string::npos)
      << r.error().message;
}

TEST_F(Features, InterfaceNames) {
  EnterNetns in(ns);
  // BPF_PROG_TEST_RUN of a netfilter program sets state->out = loopback and state->in = NULL whatever
  // the hook (net/bpf/test_run.c switches on its default state's hook, NF_INET_LOCAL_OUT).
  auto nf = [&](Match m) {
    auto l = load(table_of(Family::Ipv4, {base_chain("INPUT", {rule("iface", {m}, ActionKind::Drop)})}), "INPUT", nf_at(4));
    return l && l->run(pkt(4, 17)) == l->drop();
  };
  EXPECT_TRUE(nf(m_iface("lo", true)));
  EXPECT_FALSE(nf(m_iface("lo", true, false, true)));
  EXPECT_TRUE(nf(m_iface("l", true, true)));
  EXPECT_FALSE(nf(m_iface("l", true)));
  EXPECT_FALSE(nf(m_iface("lo0", true)));
  EXPECT_FALSE(nf(m_iface("eth", true, true)));
  EXPECT_FALSE(nf(m_iface("lo")));                    // no input device: an all-zero name
  EXPECT_TRUE(nf(m_iface("lo", false, false, true)));  // so "! -i lo" holds, as in the kernel
  EXPECT_TRUE(nf(m_iface("", false, true)));           // iptables "-i +"
  // At XDP the device is known at compile time.
  auto xdp = [&](Match m) {
    auto l = load(table_of(Family::Ipv4, {base_chain("INPUT", {rule("iface", {m}, ActionKind::Drop)})}), "INPUT",
                  dev_at(AttachKind::Xdp, "veth0"));
    return l && l->run(pkt(4, 17)) == l->drop();
  };
  EXPECT_TRUE(xdp(m_iface("veth0")));
  EXPECT_TRUE(xdp(m_iface("veth", false, true)));
  EXPECT_FALSE(xdp(m_iface("veth1")));
  EXPECT_TRUE(xdp(m_iface("veth1", false, false, true)));
  auto out = codegen::compile(table_of(Family::Ipv4, {base_chain("INPUT", {rule("-o eth0", {m_iface("eth0", true)}, ActionKind::Drop)})}),
                              "INPUT", dev_at(AttachKind::Xdp), kernel_btf());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().err, EOPNOTSUPP);
}

TEST_F(Features, SourceMacAtXdp) {
  EnterNetns in(ns);
  MacMatch mm;
  mm.addr = {0x02, 0, 0, 0, 0, 2};  // the harness's source MAC
  MacMatch other = mm;
  other.addr[5] = 3;
  auto l = load(table_of(Family::Ipv4, {base_chain("INPUT", {rule("-m mac --mac-source 02:00:00:00:00:03", {Match{other}}, ActionKind::Accept),
                                                             rule("-m mac --mac-source 02:00:00:00:00:02", {Match{mm}}, ActionKind::Drop)})}),
                "INPUT", dev_at(AttachKind::Xdp));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->run(pkt(4, 17)), l->drop());
  EXPECT_EQ(l->counter("INPUT", 0).first, 0u);
}

TEST_F(Features, TenThousandRuleChainLoadsAndRuns) {
  EnterNetns in(ns);
  std::vector<Rule> rules;
  for (int i = 0; i < 10000; ++i)
    rules.push_back(rule("-s 198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250) + " -p udp --dport " +
                             std::to_string(1000 + i) + " -j DROP",
                         {m_addr(Field::Saddr, "198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250), 32),
                          m_eq(Field::Dport, static_cast<uint32_t>(1000 + i))},
                         ActionKind::Drop));
  auto t = table_of(Family::Ipv4, {base_chain("INPUT", rules)});
  auto t0 = std::chrono::steady_clock::now();
  auto p = codegen::compile(t, "INPUT", nf_at(4), kernel_btf());
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto t1 = std::chrono::steady_clock::now();
  auto lp = runtime::load_program(*p);
  ASSERT_TRUE(lp.ok()) << lp.error().message.substr(0, 2000);
  auto t2 = std::chrono::steady_clock::now();
  Loaded l{std::move(*p), std::move(*lp), nf_at(4)};
  uint32_t ns_per = 0;
  auto miss = pkt(4, 17);
  EXPECT_EQ(l.run(miss, 1000, &ns_per), l.accept());
  auto hit = pkt(4, 17);
  hit.src = "198.19.39.249";  // rule 9999
  hit.dport = 10999;
  EXPECT_EQ(l.run(hit), l.drop());
  EXPECT_EQ(l.counter("INPUT", 9999).first, 1u);
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("10000 rules: %zu insns, compile %.1f ms, load+verify %.1f ms, %u ns/packet (no match)\n",
              l.prog.insns.size(), ms(t0, t1), ms(t1, t2), ns_per);
}

}  // namespace
}  // namespace nfjit::test
