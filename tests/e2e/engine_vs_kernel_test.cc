// The core engine's acceptance test: one ruleset (a base chain, a user chain reached by jump with a
// return and a fall-through, a user chain reached by goto, interval / concatenated / port sets, ct state,
// limit, log, tcp flags, port ranges, IPv4 and IPv6) runs in the kernel's own netfilter in namespace K
// and as nfjit BPF in namespace N, attached in turn at NF LOCAL_IN, XDP and TCX ingress. A sender S
// injects byte-identical frames into both; after every packet the test compares whether it reached the
// stack (an nft observer chain at input priority 100 in both K and N) and every rule's packet and byte
// counter (kernel: `nft list`; nfjit: Engine::counters). Conntrack flows are created for real: K and N
// each open UDP/ICMP sockets and send to S first, so S's injected replies are ESTABLISHED and ICMP
// errors quoting them RELATED on both sides.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "codegen/log_record.h"
#include "e2e_support.h"
#include "packet.h"
#include "privileged.h"
#include "runtime/conntrack_enabler.h"

namespace nfjit::e2e {
namespace {

constexpr const char* kHostMac = "02:00:00:00:01:01";    // veth0 in K and in N (same MAC: same frames)
constexpr const char* kSenderMac = "02:00:00:00:02:02";  // S's ends of both pairs

// The kernel side. Every rule carries a counter; rule order is the IR's rule order. The two ct rules'
// CT_SCOPE is empty at NF LOCAL_IN; at XDP/TC it is "meta l4proto { tcp, udp } ": there conntrack's state
// comes from the lookup kfuncs, which take TCP/UDP tuples only (docs/codegen.md), so a ct match must be
// restricted to them — the unrestricted rule is refused, see CtStateOutsideTcpUdpIsRefusedAtXdpAndTc.
constexpr const char* kNftRulesetTemplate = R"(table inet t {
  set nets4 { type ipv4_addr; flags interval; elements = { 198.18.4.0/23, 198.18.9.7-198.18.9.9 } }
  set nets6 { type ipv6_addr; flags interval; elements = { 2001:db8:4::/48 } }
  set pairs { type ipv4_addr . inet_service; elements = { 198.18.0.2 . 6001, 198.18.0.3 . 6003 } }
  set svc { type inet_service; elements = { 6001, 6003 } }
  chain input {
    type filter hook input priority 0; policy accept;
    CT_SCOPEct state established,related counter accept
    CT_SCOPEct state new counter
    ip saddr @nets4 counter drop
    ip6 saddr @nets6 counter drop
    ip saddr . udp dport @pairs counter drop
    tcp dport 22 counter log prefix "ssh: "
    tcp dport 22 tcp flags & (fin | syn | rst | ack) == syn counter accept
    icmp type echo-request limit rate 5/minute burst 3 packets counter accept
    icmp type echo-request counter drop
    icmpv6 type echo-request counter accept
    tcp dport 1000-1999 counter jump A
    udp dport 2000-2999 counter goto B
    udp dport @svc counter accept
    meta l4proto { tcp, udp } counter drop
  }
  chain A {
    tcp dport 1000-1099 counter return
    tcp flags & (ecn | cwr) == ecn | cwr counter drop
    tcp dport 1500 counter accept
    ip saddr 198.18.0.0/24 tcp dport 1600-1699 counter drop
  }
  chain B {
    udp dport 2000 counter accept
    udp dport 2001-2099 counter return
    udp sport 53 counter drop
    meta nfproto ipv6 udp dport 2500 counter drop
  }
}
)";

// Whether a packet reached the stack after the filter, in K and in N alike.
constexpr const char* kObserver = R"(table inet obs {
  chain observe {
    type filter hook input priority 100; policy accept;
    counter
  }
}
)";

// The same ruleset as nftables' own lowering would give it: `ip saddr` in an inet table carries
// `meta nfproto ipv4`, `tcp dport` carries `meta l4proto tcp`, and so on.
// A ct rule, restricted to TCP/UDP (as "meta l4proto { tcp, udp } ...") when asked.
Rule ct_rule(bool tcp_udp_only, const std::string& text, Match ct, ActionKind action) {
  if (!tcp_udp_only) return rule(text, {ct}, action);
  Match l4{IntMatch{Field::L4Proto, IntOp::InRanges, 0xffffffffu, {{6, 6}, {17, 17}}}, false};
  return rule("meta l4proto { tcp, udp } " + text, {l4, ct}, action);
}

std::string nft_ruleset(bool ct_tcp_udp_only) {
  std::string s = kNftRulesetTemplate;
  const std::string scope = ct_tcp_udp_only ? "meta l4proto { tcp, udp } " : "";
  for (size_t at; (at = s.find("CT_SCOPE")) != std::string::npos;) s.replace(at, 8, scope);
  return s;
}

Table make_table(bool ct_tcp_udp_only = false) {
  const Match v4 = m_eq(Field::NfProto, 4), v6 = m_eq(Field::NfProto, 6);
  const Match tcp = m_eq(Field::L4Proto, 6), udp = m_eq(Field::L4Proto, 17);
  Table t;
  t.name = "t";
  t.family = Family::Inet;

  Set nets4;
  nets4.name = "nets4";
  nets4.interval = true;
  nets4.key = {{Field::Saddr, false, 4}};
  nets4.elements = {{key_v4("198.18.4.0"), key_v4("198.18.5.255")}, {key_v4("198.18.9.7"), key_v4("198.18.9.9")}};
  Set nets6;
  nets6.name = "nets6";
  nets6.interval = true;
  nets6.key = {{Field::Saddr, false, 16}};
  nets6.elements = {{key_v6("2001:db8:4::"), key_v6("2001:db8:4:ffff:ffff:ffff:ffff:ffff")}};
  Set pairs;
  pairs.name = "pairs";
  pairs.key = {{Field::Saddr, false, 4}, {Field::Dport, false, 2}};
  pairs.elements = {{cat(key_v4("198.18.0.2"), key_port(6001)), {}}, {cat(key_v4("198.18.0.3"), key_port(6003)), {}}};
  Set svc;
  svc.name = "svc";
  svc.key = {{Field::Dport, false, 2}};
  svc.elements = {{key_port(6001), {}}, {key_port(6003), {}}};
  t.sets = {nets4, nets6, pairs, svc};

  LimitMatch lim;
  lim.rate = 5;
  lim.per_ns = 60'000'000'000ull;
  lim.burst = 3;
  Rule log = rule("tcp dport 22 counter log prefix \"ssh: \"", {tcp, m_eq(Field::Dport, 22)}, ActionKind::Log);
  log.action.log.prefix = "ssh: ";

  Chain input;
  input.name = "input";
  input.base = BaseChain{Hook::Input, 0, Policy::Accept, {}};
  input.rules = {
      ct_rule(ct_tcp_udp_only, "ct state established,related counter accept",
              m_anybit(Field::CtState, kCtEstablished | kCtRelated), ActionKind::Accept),
      ct_rule(ct_tcp_udp_only, "ct state new counter", m_anybit(Field::CtState, kCtNew), ActionKind::Continue),
      rule("ip saddr @nets4 counter drop", {v4, m_set("nets4")}, ActionKind::Drop),
      rule("ip6 saddr @nets6 counter drop", {v6, m_set("nets6")}, ActionKind::Drop),
      rule("ip saddr . udp dport @pairs counter drop", {v4, udp, m_set("pairs")}, ActionKind::Drop),
      log,
      rule("tcp dport 22 tcp flags & (fin | syn | rst | ack) == syn counter accept",
           {tcp, m_eq(Field::Dport, 22), m_masked(Field::TcpFlags, 0x17, 0x02)}, ActionKind::Accept),
      rule("icmp type echo-request limit rate 5/minute burst 3 packets counter accept",
           {v4, m_eq(Field::L4Proto, 1), m_eq(Field::IcmpType, 8), Match{lim, false}}, ActionKind::Accept),
      rule("icmp type echo-request counter drop", {v4, m_eq(Field::L4Proto, 1), m_eq(Field::IcmpType, 8)},
           ActionKind::Drop),
      rule("icmpv6 type echo-request counter accept", {v6, m_eq(Field::L4Proto, 58), m_eq(Field::IcmpType, 128)},
           ActionKind::Accept),
      rule("tcp dport 1000-1999 counter jump A", {tcp, m_range(Field::Dport, 1000, 1999)}, ActionKind::Jump, "A"),
      rule("udp dport 2000-2999 counter goto B", {udp, m_range(Field::Dport, 2000, 2999)}, ActionKind::Goto, "B"),
      rule("udp dport @svc counter accept", {udp, m_set("svc")}, ActionKind::Accept),
      rule("meta l4proto { tcp, udp } counter drop", {m_int(Field::L4Proto, {{6, 6}, {17, 17}})}, ActionKind::Drop),
  };
  Chain a;
  a.name = "A";
  a.rules = {
      rule("tcp dport 1000-1099 counter return", {tcp, m_range(Field::Dport, 1000, 1099)}, ActionKind::Return),
      rule("tcp flags & (ecn | cwr) == ecn | cwr counter drop", {tcp, m_masked(Field::TcpFlags, 0xc0, 0xc0)},
           ActionKind::Drop),
      rule("tcp dport 1500 counter accept", {tcp, m_eq(Field::Dport, 1500)}, ActionKind::Accept),
      rule("ip saddr 198.18.0.0/24 tcp dport 1600-1699 counter drop",
           {v4, m_prefix(Field::Saddr, "198.18.0.0", 24), tcp, m_range(Field::Dport, 1600, 1699)}, ActionKind::Drop),
  };
  Chain b;
  b.name = "B";
  b.rules = {
      rule("udp dport 2000 counter accept", {udp, m_eq(Field::Dport, 2000)}, ActionKind::Accept),
      rule("udp dport 2001-2099 counter return", {udp, m_range(Field::Dport, 2001, 2099)}, ActionKind::Return),
      rule("udp sport 53 counter drop", {udp, m_eq(Field::Sport, 53)}, ActionKind::Drop),
      rule("meta nfproto ipv6 udp dport 2500 counter drop", {v6, udp, m_eq(Field::Dport, 2500)}, ActionKind::Drop),
  };
  t.chains = {input, a, b};
  return t;
}

// One packet of the corpus and the verdict the kernel is expected to give it (checked too, so that the
// corpus really exercises what its description says).
struct Probe {
  std::string what;
  test::PacketSpec spec;
  bool delivered;
};

test::PacketSpec v4(uint8_t proto, uint16_t dport, uint8_t flags = 0x02) {
  test::PacketSpec s;
  s.family = 4;
  s.src = "198.18.0.2";
  s.dst = "198.18.0.1";
  s.proto = proto;
  s.dport = dport;
  s.tcp_flags = flags;
  return s;
}
test::PacketSpec v6(uint8_t proto, uint16_t dport, uint8_t flags = 0x02) {
  auto s = v4(proto, dport, flags);
  s.family = 6;
  s.src = "2001:db8::2";
  s.dst = "2001:db8::1";
  return s;
}
test::PacketSpec from(test::PacketSpec s, const std::string& src) {
  s.src = src;
  return s;
}

// The flows K and N open towards S before the corpus is sent (see Flows).
constexpr uint16_t kFlowLocalPort = 7000, kFlowRemotePort = 5353;

std::vector<Probe> corpus() {
  std::vector<Probe> c;
  // Established / related: replies to the flows the filtering host opened.
  auto reply4 = v4(17, kFlowLocalPort);
  reply4.sport = kFlowRemotePort;
  c.push_back({"udp reply to the host's own flow (ct established)", reply4, true});
  test::PacketSpec orig4 = v4(17, kFlowRemotePort);
  orig4.src = "198.18.0.1";
  orig4.dst = "198.18.0.2";
  orig4.sport = kFlowLocalPort;
  auto q4 = test::build_l3(orig4);
  q4.resize(28);
  auto err4 = v4(1, 0);
  err4.icmp_type = 3;
  err4.icmp_code = 3;
  err4.payload_bytes = q4;
  c.push_back({"icmp port-unreachable quoting the host's udp flow (ct related)", err4, true});
  auto echo_reply = v4(1, 0);
  echo_reply.icmp_type = 0;
  c.push_back({"icmp echo-reply to the host's own ping (ct established)", echo_reply, true});
  // Sets.
  c.push_back({"udp from 198.18.4.7 (@nets4 prefix)", from(v4(17, 9), "198.18.4.7"), false});
  c.push_back({"udp from 198.18.5.255 (@nets4 prefix end)", from(v4(17, 9), "198.18.5.255"), false});
  c.push_back({"udp from 198.18.9.8 (@nets4 range)", from(v4(17, 9), "198.18.9.8"), false});
  c.push_back({"udp from 198.18.9.10 to 6001 (outside @nets4, in @svc)", from(v4(17, 6001), "198.18.9.10"), true});
  c.push_back({"udp 198.18.0.2 -> 6001 (@pairs)", v4(17, 6001), false});
  c.push_back({"udp 198.18.0.2 -> 6003 (@svc, not a pair)", v4(17, 6003), true});
  c.push_back({"udp 198.18.0.3 -> 6003 (@pairs)", from(v4(17, 6003), "198.18.0.3"), false});
  // tcp flags and log.
  c.push_back({"tcp syn -> 22 (log, then accept)", v4(6, 22), true});
  c.push_back({"tcp syn|ece|cwr -> 22 (flags mask ignores ece/cwr)", v4(6, 22, 0xc2), true});
  c.push_back({"tcp ack -> 22 (log, not a syn: dropped by the tcp/udp rule)", v4(6, 22, 0x10), false});
  // jump A: return, drop, accept, fall off its end.
  c.push_back({"tcp syn -> 1050 (jump A, return, then dropped in input)", v4(6, 1050), false});
  c.push_back({"tcp syn|ece|cwr -> 1200 (A drops on flags)", v4(6, 1200, 0xc2), false});
  c.push_back({"tcp syn -> 1500 (A accepts)", v4(6, 1500), true});
  c.push_back({"tcp syn 198.18.0.2 -> 1650 (A drops by prefix)", v4(6, 1650), false});
  c.push_back({"tcp syn 198.18.1.5 -> 1650 (falls off A, dropped in input)", from(v4(6, 1650), "198.18.1.5"), false});
  c.push_back({"tcp syn -> 1800 (falls off A, dropped in input)", v4(6, 1800), false});
  // goto B: accept, return (= input's policy, not its later rules), drop, fall off its end.
  c.push_back({"udp -> 2000 (goto B, accepted)", v4(17, 2000), true});
  c.push_back({"udp -> 2050 (goto B returns: input's policy accepts)", v4(17, 2050), true});
  auto dns = v4(17, 2200);
  dns.sport = 53;
  c.push_back({"udp sport 53 -> 2200 (B drops)", dns, false});
  c.push_back({"udp -> 2300 (falls off B: input's policy accepts)", v4(17, 2300), true});
  c.push_back({"udp -> 2500 over IPv4 (B's rule is IPv6 only)", v4(17, 2500), true});
  // limit: burst 3 of 5/minute, from distinct sources so that each is a new conntrack flow.
  for (int i = 0; i < 5; ++i) {
    auto e = from(v4(1, 0), "198.18.0." + std::to_string(10 + i));
    e.icmp_type = 8;
    c.push_back({"icmp echo-request #" + std::to_string(i + 1) + " (limit burst 3)", e, i < 3});
  }
  c.push_back({"udp -> 9 (dropped by the tcp/udp rule)", v4(17, 9), false});
  c.push_back({"tcp syn -> 80 (dropped by the tcp/udp rule)", v4(6, 80), false});
  c.push_back({"icmp timestamp request (no rule: policy accept)", [] { auto s = v4(1, 0); s.icmp_type = 13; s.payload = 12; return s; }(), true});

  // IPv6.
  auto reply6 = v6(17, kFlowLocalPort);
  reply6.sport = kFlowRemotePort;
  c.push_back({"udp6 reply to the host's own flow (ct established)", reply6, true});
  test::PacketSpec orig6 = v6(17, kFlowRemotePort);
  orig6.src = "2001:db8::1";
  orig6.dst = "2001:db8::2";
  orig6.sport = kFlowLocalPort;
  auto q6 = test::build_l3(orig6);
  q6.resize(48);
  auto err6 = v6(58, 0);
  err6.icmp_type = 1;
  err6.icmp_code = 4;
  err6.payload_bytes = q6;
  c.push_back({"icmpv6 port-unreachable quoting the host's udp6 flow (ct related)", err6, true});
  c.push_back({"udp6 from 2001:db8:4::5 (@nets6)", from(v6(17, 9), "2001:db8:4::5"), false});
  auto echo6 = v6(58, 0);
  echo6.icmp_type = 128;
  c.push_back({"icmpv6 echo-request (accepted)", echo6, true});
  c.push_back({"tcp6 syn -> 22 (log, then accept)", v6(6, 22), true});
  c.push_back({"tcp6 syn -> 1500 (A accepts)", v6(6, 1500), true});
  c.push_back({"tcp6 syn -> 1650 (A's prefix rule is IPv4 only: falls off A)", v6(6, 1650), false});
  c.push_back({"udp6 -> 2000 (goto B, accepted)", v6(17, 2000), true});
  c.push_back({"udp6 -> 2500 (B drops IPv6)", v6(17, 2500), false});
  c.push_back({"udp6 -> 6003 (@svc; @pairs is IPv4 only)", v6(17, 6003), true});
  c.push_back({"udp6 -> 9 (dropped by the tcp/udp rule)", v6(17, 9), false});

  // Every other flow gets its own source port: no packet of the corpus is part of another one's flow.
  uint16_t sport = 41000;
  for (auto& p : c)
    if ((p.spec.proto == 6 || p.spec.proto == 17) && p.spec.sport == 40000) p.spec.sport = sport++;
  return c;
}

// Flows the filtering host opens towards S (which has no addresses and never answers): a connected UDP
// socket per family and a raw ICMP socket that sends one echo request (id 0, seq 0, as the corpus's reply).
struct Flows {
  std::vector<int> fds;
  ~Flows() {
    for (int fd : fds) close(fd);
  }
};

uint16_t icmp_csum(const uint8_t* p, size_t n) {
  uint32_t acc = 0;
  for (size_t i = 0; i + 1 < n; i += 2) acc += (p[i] << 8) | p[i + 1];
  if (n & 1) acc += p[n - 1] << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

void open_flows(const test::Netns& ns, Flows& f) {
  test::EnterNetns in(ns);
  for (int fam : {AF_INET, AF_INET6}) {
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    f.fds.push_back(fd);
    sockaddr_storage local{}, remote{};
    socklen_t len;
    if (fam == AF_INET) {
      auto* l = reinterpret_cast<sockaddr_in*>(&local);
      auto* r = reinterpret_cast<sockaddr_in*>(&remote);
      l->sin_family = r->sin_family = AF_INET;
      l->sin_port = htons(kFlowLocalPort);
      r->sin_port = htons(kFlowRemotePort);
      inet_pton(AF_INET, "198.18.0.1", &l->sin_addr);
      inet_pton(AF_INET, "198.18.0.2", &r->sin_addr);
      len = sizeof(sockaddr_in);
    } else {
      auto* l = reinterpret_cast<sockaddr_in6*>(&local);
      auto* r = reinterpret_cast<sockaddr_in6*>(&remote);
      l->sin6_family = r->sin6_family = AF_INET6;
      l->sin6_port = htons(kFlowLocalPort);
      r->sin6_port = htons(kFlowRemotePort);
      inet_pton(AF_INET6, "2001:db8::1", &l->sin6_addr);
      inet_pton(AF_INET6, "2001:db8::2", &r->sin6_addr);
      len = sizeof(sockaddr_in6);
    }
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), len), 0) << strerror(errno);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&remote), len), 0) << strerror(errno);
    ASSERT_EQ(send(fd, "hello", 5, 0), 5) << strerror(errno);
  }
  int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  ASSERT_GE(raw, 0);
  f.fds.push_back(raw);
  uint8_t echo[24] = {8, 0};
  for (int i = 8; i < 24; ++i) echo[i] = static_cast<uint8_t>(i);
  uint16_t c = icmp_csum(echo, sizeof echo);
  echo[2] = c >> 8;
  echo[3] = c & 0xff;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  inet_pton(AF_INET, "198.18.0.2", &to.sin_addr);
  ASSERT_EQ(sendto(raw, echo, sizeof echo, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 24) << strerror(errno);
}

// S, K and N: S has no addresses (IPv6 off, so it sends nothing by itself) and injects frames; K and N
// both own 198.18.0.1/24 and 2001:db8::1/64 on "veth0" with the same MAC, and know S's MAC statically.
struct Topology {
  test::Netns s{"e2s"}, k{"e2k"}, n{"e2n"};
  Topology() {
    s.run_ok("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    for (auto [host, sdev] : {std::pair{&k, "vk"}, std::pair{&n, "vn"}}) {
      s.run_ok(std::string("ip link add ") + sdev + " address " + kSenderMac + " type veth peer name p" + sdev +
               " address " + kHostMac);
      s.run_ok(std::string("ip link set p") + sdev + " netns " + host->name());
      host->run_ok(std::string("ip link set p") + sdev + " name veth0");
      host->run_ok("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "
                   "net.ipv6.conf.veth0.accept_dad=0 net.ipv4.conf.all.rp_filter=0 "
                   "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.veth0.rp_filter=0");
      host->run_ok("ip addr add 198.18.0.1/24 dev veth0");
      host->run_ok("ip -6 addr add 2001:db8::1/64 dev veth0 nodad");
      host->run_ok("ip link set veth0 up");
      host->run_ok(std::string("ip neigh replace 198.18.0.2 lladdr ") + kSenderMac + " dev veth0 nud permanent");
      host->run_ok(std::string("ip -6 neigh replace 2001:db8::2 lladdr ") + kSenderMac + " dev veth0 nud permanent");
      s.run_ok(std::string("ip link set ") + sdev + " up");
    }
  }
};

// Per-rule counters of chains input, A, B from either side, plus the observer.
struct Snapshot {
  test::TableCounts rules;
  uint64_t observed = 0;
};

uint64_t observer_count(const test::TableCounts& c) {
  auto it = c.find("observe");
  return it == c.end() || it->second.rules.empty() ? UINT64_MAX : it->second.rules[0].packets;
}

Snapshot kernel_snapshot(const test::Netns& k) {
  auto all = test::parse_nft_counters(k.run_ok("nft list ruleset"));
  Snapshot s;
  s.observed = observer_count(all);
  for (const char* c : {"input", "A", "B"}) s.rules[c] = all[c];
  return s;
}

Snapshot nfjit_snapshot(const test::Netns& n, const runtime::Engine& engine, const Table& t) {
  Snapshot s;
  s.observed = observer_count(test::parse_nft_counters(n.run_ok("nft list table inet obs")));
  auto c = engine.counters("t");
  EXPECT_TRUE(c.ok()) << c.error().message;
  for (const auto& ch : t.chains) {
    auto& out = s.rules[ch.name];
    for (size_t i = 0; i < ch.rules.size(); ++i) {
      codegen::CounterValue v{};
      if (c.ok())
        if (auto it = c->find({ch.name, static_cast<int32_t>(i)}); it != c->end()) v = it->second;
      out.rules.push_back({v.packets, v.bytes});
    }
  }
  return s;
}

test::Count delta(const test::TableCounts& after, const test::TableCounts& before, const std::string& chain, size_t i) {
  test::Count a, b;
  if (auto it = after.find(chain); it != after.end() && i < it->second.rules.size()) a = it->second.rules[i];
  if (auto it = before.find(chain); it != before.end() && i < it->second.rules.size()) b = it->second.rules[i];
  return {a.packets - b.packets, a.bytes - b.bytes};
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

struct PlacementCase {
  const char* name;
  std::optional<codegen::AttachKind> kind;  // empty: the default, a BPF_NETFILTER link at LOCAL_IN
};

void PrintTo(const PlacementCase& c, std::ostream* os) { *os << c.name; }

class EngineVsKernel : public ::testing::TestWithParam<PlacementCase> {};

TEST_P(EngineVsKernel, SameVerdictsAndCountersAsNetfilter) {
  NFJIT_REQUIRE_ROOT();
  const PlacementCase& pc = GetParam();
  Topology topo;
  const bool ct_tcp_udp_only = pc.kind.has_value();  // XDP/TC: see nft_ruleset()
  const Table table = make_table(ct_tcp_udp_only);

  // Kernel side.
  std::string err = nft_load(topo.k, nft_ruleset(ct_tcp_udp_only) + kObserver);
  ASSERT_EQ(err, "") << "the kernel refused the reference ruleset";
  // nfjit side: the observer only, plus the table as BPF.
  err = nft_load(topo.n, kObserver);
  ASSERT_EQ(err, "");
  runtime::Engine engine(runtime::EngineOptions{real_compiler(), nullptr, ""});
  {
    test::EnterNetns in(topo.n);
    // No conntrack set-up here: Engine::install turns conntrack on in N for a table that reads it.
    runtime::Placement pl;
    if (pc.kind) pl.overrides.push_back({"input", *pc.kind, {"veth0"}});
    auto r = engine.install("t", table, pl);
    ASSERT_TRUE(r.ok()) << "nfjit could not install the table at " << pc.name << ": " << r.error().message;
  }

  Flows kflows, nflows;
  open_flows(topo.k, kflows);
  open_flows(topo.n, nflows);
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  std::unique_ptr<test::Injector> to_k, to_n;
  {
    test::EnterNetns in(topo.s);
    to_k = std::make_unique<test::Injector>("vk");
    to_n = std::make_unique<test::Injector>("vn");
  }
  const auto host_mac = test::parse_mac(kHostMac), sender_mac = test::parse_mac(kSenderMac);

  Snapshot k0 = kernel_snapshot(topo.k), n0 = nfjit_snapshot(topo.n, engine, table);
  ASSERT_NE(k0.observed, UINT64_MAX);
  ASSERT_NE(n0.observed, UINT64_MAX);
  const Snapshot kstart = k0, nstart = n0;
  int mismatches = 0;
  std::vector<std::vector<uint8_t>> logged;  // L3 bytes of the packets the kernel's log rule counted
  const auto probes = corpus();
  for (const auto& p : probes) {
    auto frame = test::build_frame(p.spec, host_mac, sender_mac);
    ASSERT_TRUE(to_k->send(frame));
    ASSERT_TRUE(to_n->send(frame));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Snapshot k1 = kernel_snapshot(topo.k), n1 = nfjit_snapshot(topo.n, engine, table);
    const bool k_delivered = k1.observed - k0.observed == 1, n_delivered = n1.observed - n0.observed == 1;
    EXPECT_LE(k1.observed - k0.observed, 1u) << "stray traffic in K while sending: " << p.what;
    EXPECT_LE(n1.observed - n0.observed, 1u) << "stray traffic in N while sending: " << p.what;
    EXPECT_EQ(k_delivered, p.delivered) << "the kernel's verdict is not the one this probe was written for: " << p.what
                                        << "\n  packet: " << test::describe(p.spec);
    std::ostringstream diff;
    if (k_delivered != n_delivered)
      diff << "  verdict: kernel " << (k_delivered ? "accepted" : "dropped") << ", nfjit "
           << (n_delivered ? "accepted" : "dropped") << "\n";
    for (const auto& ch : table.chains)
      for (size_t i = 0; i < ch.rules.size(); ++i) {
        auto kd = delta(k1.rules, k0.rules, ch.name, i), nd = delta(n1.rules, n0.rules, ch.name, i);
        if (ch.name == "input" && i == 5 && kd.packets) logged.push_back(test::build_l3(p.spec));
        if (kd == nd) continue;
        diff << "  rule " << ch.name << "#" << i << " '" << ch.rules[i].origin << "': kernel +" << kd.packets << " pkts +"
             << kd.bytes << " bytes, nfjit +" << nd.packets << " pkts +" << nd.bytes << " bytes\n";
      }
    if (!diff.str().empty()) {
      ++mismatches;
      ADD_FAILURE() << "MISMATCH at " << pc.name << " for " << p.what << "\n  packet: " << test::describe(p.spec) << "\n"
                    << diff.str();
    }
    k0 = std::move(k1);
    n0 = std::move(n1);
  }
  // Totals over the whole corpus, and the corpus really went through both.
  EXPECT_EQ(test::to_string(k0.rules), test::to_string(n0.rules)) << "per-rule totals: kernel (left) vs nfjit (right)";
  int expect_delivered = 0;
  for (const auto& p : probes) expect_delivered += p.delivered;
  EXPECT_EQ(k0.observed - kstart.observed, static_cast<uint64_t>(expect_delivered));
  EXPECT_EQ(n0.observed - nstart.observed, k0.observed - kstart.observed);
  EXPECT_EQ(mismatches, 0);

  // The log rule's records in nfjit's ring: one per packet the kernel's log rule counted, with that
  // packet's bytes and the rule's prefix.
  Records recs;
  for (const auto& ring : engine.log_rings()) {
    Records here;
    ring_buffer* rb = ring_buffer__new(ring.map_fd, on_record, &here, nullptr);
    ASSERT_NE(rb, nullptr);
    ring_buffer__consume(rb);
    ring_buffer__free(rb);
    for (auto& r : here.v) {
      ASSERT_LT(r.log_id, ring.logs->size());
      EXPECT_EQ((*ring.logs)[r.log_id].prefix, "ssh: ");
      ASSERT_LT(r.counter_slot, ring.slots->size());
      EXPECT_EQ((*ring.slots)[r.counter_slot].chain, "input");
      EXPECT_EQ((*ring.slots)[r.counter_slot].rule, 5);
      recs.v.push_back(r);
    }
  }
  ASSERT_EQ(recs.v.size(), logged.size()) << "one log record per packet the kernel's log rule counted";
  ASSERT_EQ(logged.size(), 4u);
  for (size_t i = 0; i < logged.size(); ++i) {
    bool found = false;
    for (const auto& r : recs.v) {
      size_t n = std::min<size_t>(logged[i].size(), codegen::kLogHeaderBytes);
      if (r.pkt_len == logged[i].size() && r.hdr_len == n &&
          std::equal(logged[i].begin(), logged[i].begin() + static_cast<long>(n), r.hdr))
        found = true;
    }
    EXPECT_TRUE(found) << "no log record carries logged packet #" << i;
  }

  {
    test::EnterNetns in(topo.n);
    EXPECT_TRUE(engine.remove("t").ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Placements, EngineVsKernel,
                         ::testing::Values(PlacementCase{"nf_local_in", std::nullopt},
                                           PlacementCase{"xdp", codegen::AttachKind::Xdp},
                                           PlacementCase{"tcx_ingress", codegen::AttachKind::TcIngress}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nfjit::e2e

namespace nfjit::e2e {
namespace {

// At XDP and TC conntrack's state comes from the lookup kfuncs, which only take TCP/UDP tuples: a ct
// match that could see ICMP (echo replies ESTABLISHED, errors RELATED) cannot be answered exactly there
// and must be refused, naming the rule, rather than guessed. The same table loads at NF LOCAL_IN.
TEST(EngineVsKernelRefusals, CtStateOutsideTcpUdpIsRefusedAtXdpAndTc) {
  NFJIT_REQUIRE_ROOT();
  Topology topo;
  const ir::Table table = make_table(/*ct_tcp_udp_only=*/false);
  runtime::Engine engine(runtime::EngineOptions{real_compiler(), nullptr, ""});
  test::EnterNetns in(topo.n);
  for (auto kind : {codegen::AttachKind::Xdp, codegen::AttachKind::TcIngress}) {
    runtime::Placement pl;
    pl.overrides.push_back({"input", kind, {"veth0"}});
    auto r = engine.install("t", table, pl);
    ASSERT_FALSE(r.ok()) << codegen::to_string(kind) << " accepted a ct match it cannot answer exactly";
    EXPECT_EQ(r.error().err, EOPNOTSUPP);
    EXPECT_NE(r.error().message.find("ct state established,related counter accept"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("TCP and UDP"), std::string::npos) << r.error().message;
  }
  auto nf = engine.install("t", table);
  EXPECT_TRUE(nf.ok()) << nf.error().message;
  if (nf.ok()) EXPECT_TRUE(engine.remove("t").ok());
}

}  // namespace
}  // namespace nfjit::e2e
