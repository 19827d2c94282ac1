// Conntrack state and mark at XDP and TC (hook_ct.cc): real connections are made in a fresh namespace
// (conntrack enabled, UDP over lo so both directions pass conntrack, and one-way UDP out of a veth
// device), then crafted packets run through XDP / TCX programs with BPF_PROG_TEST_RUN, whose context
// device is that namespace's loopback, so the kfunc lookups see the namespace's conntrack table.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "prog_harness.h"
#include "runtime/conntrack_enabler.h"

namespace nfjit::test {
namespace {


Match l4(std::initializer_list<uint32_t> protos) {
  IntMatch im;
  im.field = Field::L4Proto;
  for (uint32_t p : protos) im.ranges.push_back({p, p});
  return Match{im, false};
}

// Sends one UDP datagram from src:sport to dst:dport (family AF_INET/AF_INET6) in the current netns.
void udp_send(int fam, const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage l{}, r{};
  socklen_t len;
  if (fam == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&l);
    auto* b = reinterpret_cast<sockaddr_in*>(&r);
    a->sin_family = b->sin_family = AF_INET;
    a->sin_port = htons(sport);
    b->sin_port = htons(dport);
    inet_pton(AF_INET, src, &a->sin_addr);
    inet_pton(AF_INET, dst, &b->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&l);
    auto* b = reinterpret_cast<sockaddr_in6*>(&r);
    a->sin6_family = b->sin6_family = AF_INET6;
    a->sin6_port = htons(sport);
    b->sin6_port = htons(dport);
    inet_pton(AF_INET6, src, &a->sin6_addr);
    inet_pton(AF_INET6, dst, &b->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&l), len), 0) << strerror(errno);
  ASSERT_EQ(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&r), len), 1) << strerror(errno);
  close(fd);
}

class CtAtXdpTc : public ::testing::Test {
 protected:
  void SetUp() override {
    NFJIT_REQUIRE_ROOT();
    ns.run_ok("ip link add d0 type veth peer name d1");
    ns.run_ok("ip link set d1 up");
    ns.run_ok("ip addr add 198.18.0.1/24 dev d0");
    ns.run_ok("ip -6 addr add 2001:db8::1/64 dev d0 nodad");
    ns.run_ok("ip link set d0 up");
    ns.run_ok("ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent");
    ns.run_ok("ip -6 neigh replace 2001:db8::2 lladdr 02:00:00:00:00:02 dev d0 nud permanent");
    // Connections to 5353 get ct mark 42 (set by the kernel on the first packet).
    ns.run_ok("nft 'add table ip m; add chain ip m out { type filter hook output priority 0; }; "
              "add rule ip m out udp dport 5353 ct mark set 42'");
    EnterNetns in(ns);
    auto ct = runtime::enable_conntrack();
    ASSERT_TRUE(ct.ok()) << ct.error().message;
    // Unreplied: 198.18.0.1:7000 -> 198.18.0.2:5353 (and IPv6), sent out of d0 to a peer without the address.
    udp_send(AF_INET, "198.18.0.1", 7000, "198.18.0.2", 5353);
    udp_send(AF_INET6, "2001:db8::1", 7000, "2001:db8::2", 5353);
    // Replied: 127.0.0.1:7100 <-> 127.0.0.1:5400 over lo, both directions seen by conntrack.
    udp_send(AF_INET, "127.0.0.1", 7100, "127.0.0.1", 5400);
    udp_send(AF_INET, "127.0.0.1", 5400, "127.0.0.1", 7100);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Netns ns{"ct"};
};

PacketSpec udp(int fam, const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  PacketSpec s = pkt(fam, 17);
  s.src = src;
  s.dst = dst;
  s.sport = sport;
  s.dport = dport;
  return s;
}
PacketSpec tcp(uint8_t flags) {
  PacketSpec s = pkt(4, 6);
  s.sport = 40001;
  s.dport = 80;
  s.tcp_flags = flags;
  return s;
}

// Rules: 0 established -> accept; 1 new -> drop; 2 "not new, not established" (so INVALID here) -> count;
// then policy accept. A packet whose state is unknown (non-first fragment) hits none of them.
Table ct_table() {
  return table_of(Family::Inet, {base_chain("INPUT", {
      rule("-p udp/tcp ct state established accept", {l4({6, 17}), m_anybit(Field::CtState, kCtEstablished)},
           ActionKind::Accept),
      rule("-p udp/tcp ct state new drop", {l4({6, 17}), m_anybit(Field::CtState, kCtNew)}, ActionKind::Drop),
      rule("-p udp/tcp ct state != new,established", {l4({6, 17}), m_anybit(Field::CtState, kCtNew | kCtEstablished, true)},
           ActionKind::Continue)})});
}

enum class Want { Established, New, Invalid, Unknown };

void expect_state(const Loaded& l, const PacketSpec& s, Want w, const std::string& what) {
  auto before = std::array{l.counter("INPUT", 0).first, l.counter("INPUT", 1).first, l.counter("INPUT", 2).first};
  uint32_t v = l.run(s);
  auto after = std::array{l.counter("INPUT", 0).first, l.counter("INPUT", 1).first, l.counter("INPUT", 2).first};
  std::array<uint64_t, 3> want{};
  if (w == Want::Established) want[0] = 1;
  if (w == Want::New) want[1] = 1;
  if (w == Want::Invalid) want[2] = 1;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(after[i] - before[i], want[i]) << what << ": rule " << i;
  EXPECT_EQ(v, w == Want::New ? l.drop() : l.accept()) << what;
}

TEST_F(CtAtXdpTc, StateFromTheConntrackTable) {
  EnterNetns in(ns);
  for (auto kind : {AttachKind::Xdp, AttachKind::TcIngress}) {
    SCOPED_TRACE(kind == AttachKind::Xdp ? "xdp" : "tc ingress");
    auto l = load(ct_table(), "INPUT", dev_at(kind));
    ASSERT_TRUE(l);
    expect_state(*l, udp(4, "198.18.0.2", 5353, "198.18.0.1", 7000), Want::Established, "first reply (reply direction)");
    expect_state(*l, udp(6, "2001:db8::2", 5353, "2001:db8::1", 7000), Want::Established, "ipv6 reply");
    expect_state(*l, udp(4, "198.18.0.1", 7000, "198.18.0.2", 5353), Want::New, "original direction, no reply yet");
    expect_state(*l, udp(4, "127.0.0.1", 7100, "127.0.0.1", 5400), Want::Established,
                 "original direction after a reply (IPS_SEEN_REPLY)");
    expect_state(*l, udp(4, "198.18.0.9", 1234, "198.18.0.1", 53), Want::New, "unknown udp flow");
    expect_state(*l, tcp(0x02), Want::New, "tcp syn without connection");
    expect_state(*l, tcp(0x10), Want::New, "tcp ack without connection (tcp_loose picks it up)");
    expect_state(*l, tcp(0x12), Want::Invalid, "tcp syn|ack without connection");
    expect_state(*l, tcp(0x04), Want::Invalid, "tcp rst without connection");
    expect_state(*l, tcp(0x11), Want::Invalid, "tcp fin|ack without connection");
    expect_state(*l, tcp(0x00), Want::Invalid, "tcp without flags");
    auto frag = udp(4, "198.18.0.2", 5353, "198.18.0.1", 7000);
    frag.nonfirst_fragment = true;
    expect_state(*l, frag, Want::Unknown, "non-first fragment (conntrack sees the reassembled datagram)");
  }
}

TEST_F(CtAtXdpTc, EgressSeesPacketsConntrackAlreadyTracked) {
  EnterNetns in(ns);
  auto at = dev_at(AttachKind::TcEgress);
  at.hook = Hook::Egress;
  auto l = load(ct_table(), "INPUT", at);
  ASSERT_TRUE(l);
  expect_state(*l, udp(4, "198.18.0.1", 7000, "198.18.0.2", 5353), Want::New, "egress, first packet already tracked");
  expect_state(*l, udp(4, "198.18.0.2", 5353, "198.18.0.1", 7000), Want::Established, "egress, reply direction");
  // Conntrack saw and confirmed every packet it tracks before egress: no entry means it did not.
  expect_state(*l, udp(4, "198.18.0.1", 7777, "198.18.0.2", 53), Want::Invalid, "egress, untracked by conntrack");
}

TEST_F(CtAtXdpTc, CtMark) {
  EnterNetns in(ns);
  for (auto kind : {AttachKind::Xdp, AttachKind::TcIngress}) {
    auto t = table_of(Family::Inet, {base_chain("INPUT", {
        rule("-p udp -m connmark --mark 42 -j DROP", {l4({17}), m_eq(Field::CtMark, 42)}, ActionKind::Drop),
        rule("-p udp -m connmark ! --mark 42", {l4({17}), m_eq(Field::CtMark, 42, true)}, ActionKind::Continue)})});
    auto l = load(t, "INPUT", dev_at(kind));
    ASSERT_TRUE(l);
    EXPECT_EQ(l->run(udp(4, "198.18.0.2", 5353, "198.18.0.1", 7000)), l->drop());
    EXPECT_EQ(l->counter("INPUT", 0).first, 1u);
    // A new connection has mark 0: the inverted match holds.
    EXPECT_EQ(l->run(udp(4, "198.18.0.9", 1234, "198.18.0.1", 53)), l->accept());
    EXPECT_EQ(l->counter("INPUT", 1).first, 1u);
    // Not tracked in a way conntrack would create (tcp rst): no connection, no mark; neither holds.
    EXPECT_EQ(l->run(tcp(0x04)), l->accept());
    EXPECT_EQ(l->counter("INPUT", 0).first + l->counter("INPUT", 1).first, 2u);
  }
}

TEST_F(CtAtXdpTc, RefusedWhereNotExact) {
  EnterNetns in(ns);
  struct Case {
    Rule r;
    const char* why;
  };
  std::vector<Case> cases = {
      {rule("ct state established,related accept", {m_anybit(Field::CtState, kCtEstablished | kCtRelated)},
            ActionKind::Accept), "TCP and UDP"},
      {rule("-p icmp ct state new accept", {l4({1}), m_anybit(Field::CtState, kCtNew)}, ActionKind::Accept),
       "TCP and UDP"},
      {rule("-p tcp ! -p udp ct state new", {Match{std::get<IntMatch>(l4({6, 17}).m), true},
                                             m_anybit(Field::CtState, kCtNew)}, ActionKind::Accept), "TCP and UDP"},
      {rule("-p tcp ct state invalid drop", {l4({6}), m_anybit(Field::CtState, kCtInvalid)}, ActionKind::Drop),
       "INVALID/UNTRACKED"},
      {rule("-p tcp ct state untracked accept", {l4({6}), m_anybit(Field::CtState, kCtUntracked)}, ActionKind::Accept),
       "INVALID/UNTRACKED"},
  };
  for (auto kind : {AttachKind::Xdp, AttachKind::TcIngress, AttachKind::TcEgress})
    for (const auto& c : cases) {
      std::string err;
      auto l = load(table_of(Family::Inet, {base_chain("INPUT", {c.r})}), "INPUT", dev_at(kind), &err);
      EXPECT_FALSE(l) << c.r.origin;
      EXPECT_NE(err.find(c.r.origin), std::string::npos) << err;
      EXPECT_NE(err.find(c.why), std::string::npos) << err;
    }
  // The same rules are exact at a netfilter hook (skb->_nfct).
  for (const auto& c : cases) EXPECT_TRUE(load(table_of(Family::Ipv4, {base_chain("INPUT", {c.r})}), "INPUT", nf_at(4)));
}

}  // namespace
}  // namespace nfjit::test
