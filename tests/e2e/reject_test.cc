// REJECT against the kernel (docs/reject.md). The same rules are restored into the kernel's own
// ip_tables in namespace K and into nfjit (iptables-legacy-restore through `nfjit exec`: BPF at NF
// LOCAL_IN, nfjitd sending the replies) in namespace N. A sender S injects byte-identical frames into
// both (AF_PACKET, so the receivers see CHECKSUM_NONE and verify checksums as the kernel does) and
// captures what K and N send back on its two veths. Every reply must equal the kernel's byte for byte,
// except the IPv4 id and header checksum of ICMP errors: icmp_send takes the id from
// ip_select_ident(), a hash keyed per namespace (net->ipv4.ip_id_key), so even two kernels differ there.
// Cases where the kernel sends nothing (RST to a RST, bad checksum, non-first fragment, broadcast, an
// ICMP error) must get nothing from nfjit either; rate limits must cut the same number of errors; the
// rule counters and OUTPUT's policy counter (the replies pass OUTPUT) must be equal.
// Then OUTPUT: a local TCP connect / UDP send rejected at OUTPUT fails with ECONNREFUSED in both.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "iptables_support.h"
#include "oracle.h"
#include "packet.h"
#include "privileged.h"

namespace nfjit::e2e {
namespace {

constexpr const char* kHostMac = "02:00:00:00:01:01";
constexpr const char* kSenderMac = "02:00:00:00:02:02";
constexpr const char* kDev = "veth0";

// S (injects and captures, IPv6 off) and K/N (198.18.0.1/24, 2001:db8::1/64 on veth0, the same MAC).
struct Topology {
  test::Netns s{"rejs"}, k{"rejk"}, n{"rejn"};
  Topology() {
    s.run_ok("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    for (auto [host, sdev] : {std::pair{&k, "vk"}, std::pair{&n, "vn"}}) {
      s.run_ok(std::string("ip link add ") + sdev + " address " + kSenderMac + " type veth peer name p" + sdev +
               " address " + kHostMac);
      s.run_ok(std::string("ip link set p") + sdev + " netns " + host->name());
      host->run_ok(std::string("ip link set p") + sdev + " name " + kDev);
      host->run_ok(std::string("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 ") +
                   "net.ipv6.conf." + kDev + ".accept_dad=0 net.ipv4.conf.all.rp_filter=0 " +
                   "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf." + kDev + ".rp_filter=0 " +
                   "net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 " +
                   "net.ipv6.conf." + kDev + ".router_solicitations=0");
      host->run_ok(std::string("ip addr add 198.18.0.1/24 brd + dev ") + kDev);
      host->run_ok(std::string("ip -6 addr add 2001:db8::1/64 dev ") + kDev + " nodad");
      host->run_ok(std::string("ip link set ") + kDev + " up");
      host->run_ok(std::string("ip neigh replace 198.18.0.2 lladdr ") + kSenderMac + " dev " + kDev + " nud permanent");
      host->run_ok(std::string("ip -6 neigh replace 2001:db8::2 lladdr ") + kSenderMac + " dev " + kDev +
                   " nud permanent");
      s.run_ok(std::string("ip link set ") + sdev + " up");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // MLD/IGMP of the fresh addresses
  }
};

// Frames arriving on one of S's interfaces (what K or N sent), without IPv6 neighbour discovery / MLD.
class Capture {
 public:
  explicit Capture(const std::string& ifname) {
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    EXPECT_GE(fd_, 0) << strerror(errno);
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  }
  ~Capture() {
    if (fd_ >= 0) close(fd_);
  }
  std::vector<std::vector<uint8_t>> drain() {
    std::vector<std::vector<uint8_t>> out;
    for (;;) {
      uint8_t buf[4096];
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING || n < 14) continue;
      std::vector<uint8_t> f(buf, buf + n);
      uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
      if (type == 0x86dd && n >= 55 && f[20] == 58 && f[54] >= 130) continue;  // ND, MLD
      if (type == 0x86dd && n >= 62 && f[20] == 0) continue;                    // MLD behind hop-by-hop
      if (type != 0x0800 && type != 0x86dd) continue;
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

std::string hexs(const std::vector<uint8_t>& f) { return verify::hex(f); }

// The kernel's reply and nfjit's, equal but for the IPv4 id + header checksum of ICMP errors.
void expect_same_reply(const std::vector<uint8_t>& k, const std::vector<uint8_t>& n, const std::string& what) {
  ASSERT_EQ(k.size(), n.size()) << what << "\nK " << hexs(k) << "\nN " << hexs(n);
  std::vector<uint8_t> kk = k, nn = n;
  if (k.size() > 34 && k[12] == 0x08 && k[13] == 0x00 && k[23] == 1) {
    for (size_t i : {18, 19, 24, 25}) kk[i] = nn[i] = 0;
    EXPECT_NE(k[18] | k[19], 0) << what << ": the kernel's ICMP error carries an ip_select_ident id";
    EXPECT_NE(n[18] | n[19], 0) << what << ": nfjit's ICMP error carries an ip_select_ident id";
  }
  if (k.size() >= 54 && k[12] == 0x08 && k[13] == 0x00 && k[23] == 6) {
    // The kernel's IPv4 RST leaves its TCP checksum to offload (CHECKSUM_PARTIAL: the field holds the
    // pseudo-header sum, which a veth never completes); nfjit's raw socket sends it complete. Both are
    // accepted by the receiver; the field is checked on its own.
    kk[50] = kk[51] = nn[50] = nn[51] = 0;
    uint32_t sum = 0;
    auto add16 = [&](const uint8_t* p, size_t n) {
      for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    };
    add16(&n[26], 8);  // addresses
    sum += 6 + 20;     // protocol, TCP length
    add16(&n[34], 20);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    EXPECT_EQ(sum, 0xffffu) << what << ": nfjit's RST checksum verifies";
  }
  EXPECT_EQ(hexs(kk), hexs(nn)) << what;
}

std::vector<uint8_t> frame(const test::PacketSpec& s, const char* dst_mac = kHostMac) {
  return test::build_frame(s, test::parse_mac(dst_mac), test::parse_mac(kSenderMac));
}

test::PacketSpec v4(uint8_t proto, uint16_t dport) {
  test::PacketSpec p;
  p.proto = proto;
  p.dport = dport;
  return p;
}
test::PacketSpec v6(uint8_t proto, uint16_t dport) {
  test::PacketSpec p = v4(proto, dport);
  p.family = 6;
  p.src = "2001:db8::2";
  p.dst = "2001:db8::1";
  return p;
}

struct Case {
  std::string what;
  std::vector<uint8_t> frame;
  size_t replies;  // what the kernel sends (checked, so that the comparison cannot pass vacuously)
};

// Injects each case into K and N, captures, compares.
void run_cases(const Topology& t, const std::vector<Case>& cases) {
  test::EnterNetns in(t.s);
  test::Injector to_k("vk"), to_n("vn");
  Capture from_k("vk"), from_n("vn");
  from_k.drain();
  from_n.drain();
  for (const auto& c : cases) {
    ASSERT_TRUE(to_k.send(c.frame));
    ASSERT_TRUE(to_n.send(c.frame));
    std::vector<std::vector<uint8_t>> rk, rn;
    for (int i = 0; i < 40 && (rk.size() < c.replies || rn.size() < c.replies); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      for (auto& f : from_k.drain()) rk.push_back(std::move(f));
      for (auto& f : from_n.drain()) rn.push_back(std::move(f));
    }
    if (c.replies == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (auto& f : from_k.drain()) rk.push_back(std::move(f));
    for (auto& f : from_n.drain()) rn.push_back(std::move(f));
    EXPECT_EQ(rk.size(), c.replies) << c.what << ": the kernel's replies (test premise)";
    ASSERT_EQ(rn.size(), rk.size()) << c.what << ": replies from nfjit vs the kernel";
    for (size_t i = 0; i < rk.size(); ++i) expect_same_reply(rk[i], rn[i], c.what);
  }
}

void restore_both(const Topology& t, const Nfjitd& d, int family, const std::string& rules) {
  std::string restore = family == 6 ? "ip6tables-legacy-restore" : "iptables-legacy-restore";
  std::string cmd = "sh -c 'printf \"" + rules + "\" | ";
  std::string out;
  ASSERT_EQ(t.k.run(cmd + restore + "' 2>&1", &out), 0) << out;
  ASSERT_EQ(t.n.run(cmd + d.shim() + restore + "' 2>&1", &out), 0) << out << d.log();
  std::string st = d.status();
  std::string fam = family == 6 ? "ip6" : "ip";
  EXPECT_NE(st.find(fam + " filter: BPF at"), std::string::npos) << st;
  EXPECT_NE(st.find("REJECT: userspace"), std::string::npos) << st;
}

std::string counters(const test::Netns& ns, const std::string& prefix, int family) {
  return strip_save_comments(ns.run_ok(prefix + (family == 6 ? "ip6tables-legacy-save -c" : "iptables-legacy-save -c")));
}

const char* kRules4 =
    "*filter\\n"
    "-A INPUT -p tcp --dport 80 -j REJECT --reject-with tcp-reset\\n"
    "-A INPUT -p udp --dport 9 -j REJECT --reject-with icmp-host-prohibited\\n"
    "-A INPUT -p udp --dport 10 -j REJECT --reject-with icmp-net-unreachable\\n"
    "-A INPUT -p udp --dport 11 -j REJECT --reject-with icmp-proto-unreachable\\n"
    "-A INPUT -p icmp -j REJECT --reject-with icmp-admin-prohibited\\n"
    "-A INPUT -p udp -j REJECT\\n"
    "COMMIT\\n";
const char* kRules6 =
    "*filter\\n"
    "-A INPUT -p tcp --dport 80 -j REJECT --reject-with tcp-reset\\n"
    "-A INPUT -p udp --dport 9 -j REJECT --reject-with icmp6-adm-prohibited\\n"
    "-A INPUT -p udp --dport 10 -j REJECT --reject-with icmp6-no-route\\n"
    "-A INPUT -p ipv6-icmp -j REJECT --reject-with icmp6-addr-unreachable\\n"
    "-A INPUT -p udp -j REJECT\\n"
    "COMMIT\\n";

TEST(Reject, Ipv4RepliesEqualTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  restore_both(t, d, 4, kRules4);

  std::vector<Case> cases;
  {
    auto s = v4(6, 80);  // SYN
    s.payload = 0;
    cases.push_back({"TCP SYN -> RST,ACK", frame(s), 1});
    s.tcp_flags = 0x18;  // PSH,ACK with data
    s.tcp_ack = 0x0a0b0c0d;
    s.payload = 100;
    cases.push_back({"TCP ACK with data -> RST seq=ack", frame(s), 1});
    s.tcp_flags = 0x01 | 0x10;  // FIN,ACK
    cases.push_back({"TCP FIN,ACK -> RST", frame(s), 1});
    s.tcp_flags = 0x04;  // RST
    cases.push_back({"TCP RST -> nothing", frame(s), 0});
    s.tcp_flags = 0x02;
    s.payload = 0;
    auto bad = frame(s);
    bad[14 + 20 + 16] ^= 0x55;  // TCP checksum
    cases.push_back({"TCP SYN, bad checksum -> nothing", bad, 0});
  }
  {
    auto u = v4(17, 9);
    u.tos = 0x2d;
    u.payload = 700;  // quoted up to 548 bytes
    cases.push_back({"UDP, TOS 0x2d, 728 bytes -> host-prohibited, 548 quoted", frame(u), 1});
    auto u10 = v4(17, 10);
    u10.ip_options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL: no option the kernel echoes
    cases.push_back({"UDP with IP options -> net-unreachable", frame(u10), 1});
    cases.push_back({"UDP -> proto-unreachable", frame(v4(17, 11)), 1});
    auto bad = frame(v4(17, 12));
    bad.back() ^= 0xff;
    cases.push_back({"UDP, bad checksum -> nothing", bad, 0});
    auto frag = v4(17, 12);
    frag.nonfirst_fragment = true;
    cases.push_back({"UDP non-first fragment -> nothing", frame(frag), 0});
    auto bc = v4(17, 12);
    bc.dst = "198.18.0.255";
    cases.push_back({"UDP to the broadcast address -> nothing", frame(bc, "ff:ff:ff:ff:ff:ff"), 0});
  }
  {
    auto ping = v4(1, 0);
    cases.push_back({"ICMP echo -> admin-prohibited", frame(ping), 1});
    auto err = v4(1, 0);
    err.icmp_type = 3;
    err.icmp_code = 3;
    err.payload_bytes = test::build_l3(v4(17, 5000));
    cases.push_back({"ICMP error -> nothing", frame(err), 0});
  }
  run_cases(t, cases);

  // Per-destination limit (icmp_ratelimit 1000 ms, burst of 6 tokens): 4 errors were sent above within a
  // second; of 6 more datagrams at once, 2 get a reply, in the kernel and in nfjit.
  {
    test::EnterNetns in(t.s);
    test::Injector to_k("vk"), to_n("vn");
    Capture from_k("vk"), from_n("vn");
    auto f = frame(v4(17, 9));
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(to_k.send(f));
      ASSERT_TRUE(to_n.send(f));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto rk = from_k.drain(), rn = from_n.drain();
    EXPECT_LT(rk.size(), 6u) << "the kernel's rate limit (test premise)";
    EXPECT_EQ(rn.size(), rk.size()) << "ICMP errors let through by the rate limit";
  }

  EXPECT_EQ(counters(t.k, "", 4), counters(t.n, d.shim(), 4));
  std::string kl = t.k.run_ok("iptables-legacy -L -v -x -n"), nl = t.n.run_ok(d.shim() + "iptables-legacy -L -v -x -n");
  EXPECT_EQ(kl, nl);
  EXPECT_EQ(kl.find("Chain OUTPUT (policy ACCEPT 0 packets"), std::string::npos) << "the replies pass OUTPUT";
}

TEST(Reject, Ipv6RepliesEqualTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  restore_both(t, d, 6, kRules6);

  std::vector<Case> cases;
  {
    auto s = v6(6, 80);
    s.payload = 0;
    cases.push_back({"TCP SYN -> RST,ACK", frame(s), 1});
    s.tcp_flags = 0x18;
    s.tcp_ack = 0x01020304;
    s.payload = 40;
    cases.push_back({"TCP ACK with data -> RST seq=ack", frame(s), 1});
    s.tcp_flags = 0x14;
    cases.push_back({"TCP RST -> nothing", frame(s), 0});
    s.tcp_flags = 0x02;
    s.ext_headers = {0, 60};
    s.payload = 0;
    cases.push_back({"TCP SYN behind hop-by-hop + destination options -> RST", frame(s), 1});
    s.ext_headers.clear();
    auto bad = frame(s);
    bad[14 + 40 + 16] ^= 0x55;
    cases.push_back({"TCP SYN, bad checksum -> nothing", bad, 0});
  }
  {
    auto u = v6(17, 9);
    u.tos = 0x2d;
    u.payload = 1400;  // quoted up to 1232 bytes
    cases.push_back({"UDP 1448 bytes -> adm-prohibited, 1232 quoted", frame(u), 1});
    cases.push_back({"UDP -> no-route", frame(v6(17, 10)), 1});
    auto frag = v6(17, 12);
    frag.nonfirst_fragment = true;
    cases.push_back({"UDP non-first fragment -> nothing", frame(frag), 0});
    auto bad = frame(v6(17, 12));
    bad.back() ^= 0xff;
    cases.push_back({"UDP, bad checksum -> nothing", bad, 0});
  }
  {
    auto ping = v6(58, 0);
    ping.icmp_type = 128;
    cases.push_back({"ICMPv6 echo -> addr-unreachable", frame(ping), 1});
    auto err = v6(58, 0);
    err.icmp_type = 1;
    err.icmp_code = 4;
    err.payload_bytes = test::build_l3(v6(17, 5000));
    cases.push_back({"ICMPv6 error -> nothing", frame(err), 0});
  }
  run_cases(t, cases);
  EXPECT_EQ(counters(t.k, "", 6), counters(t.n, d.shim(), 6));
  std::string kl = t.k.run_ok("ip6tables-legacy -L -v -x -n"), nl = t.n.run_ok(d.shim() + "ip6tables-legacy -L -v -x -n");
  EXPECT_EQ(kl, nl);
}

// FORWARD: K and N route 198.18.9.0/24 and 2001:db8:9::/64 to a second veth; the RST carries the
// forwarded packet's destination as its source (not an address of the router), the ICMP error the
// route's source toward the sender.
TEST(Reject, ForwardRepliesEqualTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  for (const test::Netns* ns : {&t.k, &t.n}) {
    ns->run_ok("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
    ns->run_ok("ip link add d0 type veth peer name d1");  // no dummy module here
    ns->run_ok("ip link set d1 up");
    ns->run_ok("ip addr add 198.18.9.1/24 dev d0");
    ns->run_ok("ip -6 addr add 2001:db8:9::1/64 dev d0 nodad");
    ns->run_ok("ip link set d0 up");
    ns->run_ok("ip neigh replace 198.18.9.9 lladdr 02:00:00:00:09:09 dev d0 nud permanent");
    ns->run_ok("ip -6 neigh replace 2001:db8:9::9 lladdr 02:00:00:00:09:09 dev d0 nud permanent");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));  // MLD/IGMP of the new device (OUTPUT counts them)
  const char* rules =
      "*filter\n-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n"
      "-A FORWARD -p udp -j REJECT --reject-with icmp-net-prohibited\nCOMMIT\n";
  const char* rules6 =
      "*filter\n-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n"
      "-A FORWARD -p udp -j REJECT --reject-with icmp6-adm-prohibited\nCOMMIT\n";
  restore_both(t, d, 4, rules);
  restore_both(t, d, 6, rules6);
  std::vector<Case> cases;
  for (int fam : {4, 6}) {
    auto s = fam == 4 ? v4(6, 80) : v6(6, 80);
    s.dst = fam == 4 ? "198.18.9.9" : "2001:db8:9::9";
    s.payload = 0;
    std::string f = fam == 4 ? "IPv4 " : "IPv6 ";
    cases.push_back({f + "forwarded TCP SYN -> RST from the destination", frame(s), 1});
    auto u = fam == 4 ? v4(17, 53) : v6(17, 53);
    u.dst = s.dst;
    cases.push_back({f + "forwarded UDP -> ICMP error from the router", frame(u), 1});
  }
  run_cases(t, cases);
  EXPECT_EQ(counters(t.k, "", 4), counters(t.n, d.shim(), 4));
  EXPECT_EQ(counters(t.k, "", 6), counters(t.n, d.shim(), 6));
}

// nft `reject` (inet table: one program per family): tcp reset, icmpx, icmp / icmpv6 codes.
TEST(Reject, NftRejectEqualsTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  const std::string file = d.dir() + "/reject.nft";
  {
    std::ofstream f(file);
    f << "table inet f {\n"
         "  chain input {\n"
         "    type filter hook input priority 0;\n"
         "    tcp dport 80 reject with tcp reset\n"
         "    udp dport 9 reject with icmpx type admin-prohibited\n"
         "    meta nfproto ipv4 udp dport 10 reject with icmp type host-unreachable\n"
         "    meta nfproto ipv6 udp dport 10 reject with icmpv6 type addr-unreachable\n"
         "    udp dport 11 reject\n"
         "  }\n"
         "  chain pre {\n"
         "    type filter hook prerouting priority 0;\n"
         "    udp dport 12 reject with icmpx type port-unreachable\n"
         "  }\n"
         "}\n";
  }
  std::string out;
  ASSERT_EQ(t.k.run("nft -f " + file + " 2>&1", &out), 0) << out;
  ASSERT_EQ(t.n.run(d.shim() + "nft -f " + file + " 2>&1", &out), 0) << out << d.log();
  std::string st = d.status();
  EXPECT_NE(st.find("nf_tables inet f: BPF"), std::string::npos) << st;
  EXPECT_NE(st.find("REJECT: userspace"), std::string::npos) << st;
  std::vector<Case> cases;
  for (int fam : {4, 6}) {
    auto s = fam == 4 ? v4(6, 80) : v6(6, 80);
    s.payload = 0;
    std::string f = fam == 4 ? "IPv4 " : "IPv6 ";
    cases.push_back({f + "TCP SYN -> RST", frame(s), 1});
    for (uint16_t port : {9, 10, 11, 12}) {  // 12: at PRE_ROUTING (nf_reject_fill_skb_dst)
      auto u = fam == 4 ? v4(17, port) : v6(17, port);
      cases.push_back({f + "UDP port " + std::to_string(port), frame(u), 1});
    }
  }
  run_cases(t, cases);
}

// REJECT at OUTPUT: what a local program sees (the error reaches its socket through loopback).
TEST(Reject, OutputRejectFailsLocalConnectsAsTheKernels) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  const std::string rules4 =
      "*filter\\n-A OUTPUT -p tcp --dport 81 -j REJECT --reject-with tcp-reset\\n"
      "-A OUTPUT -p udp --dport 7777 -j REJECT\\nCOMMIT\\n";
  restore_both(t, d, 4, rules4);
  const std::string rules6 =
      "*filter\\n-A OUTPUT -p tcp --dport 81 -j REJECT --reject-with tcp-reset\\n"
      "-A OUTPUT -p udp --dport 7777 -j REJECT\\nCOMMIT\\n";
  restore_both(t, d, 6, rules6);
  for (const test::Netns* ns : {&t.k, &t.n})
    for (const char* addr : {"198.18.0.2", "2001:db8::2"}) {
      std::string out;
      // bash's /dev/tcp: connect() refused by the RST.
      int rc = ns->run(std::string("bash -c 'exec 3<>/dev/tcp/") + addr + "/81' 2>&1", &out);
      EXPECT_NE(rc, 0) << ns->name() << " " << addr;
      EXPECT_NE(out.find("Connection refused"), std::string::npos) << ns->name() << " " << addr << ": " << out;
    }
  // A connected UDP socket learns ECONNREFUSED from the port-unreachable error.
  for (const test::Netns* ns : {&t.k, &t.n})
  for (int fam : {AF_INET, AF_INET6}) {
    test::EnterNetns in(*ns);
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t sl;
    if (fam == AF_INET) {
      auto* to = reinterpret_cast<sockaddr_in*>(&ss);
      to->sin_family = AF_INET;
      to->sin_port = htons(7777);
      inet_pton(AF_INET, "198.18.0.2", &to->sin_addr);
      sl = sizeof *to;
    } else {
      auto* to = reinterpret_cast<sockaddr_in6*>(&ss);
      to->sin6_family = AF_INET6;
      to->sin6_port = htons(7777);
      inet_pton(AF_INET6, "2001:db8::2", &to->sin6_addr);
      sl = sizeof *to;
    }
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&ss), sl), 0);
    send(fd, "x", 1, 0);  // the first send itself fails with EPERM (NF_DROP at OUTPUT)
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    errno = 0;
    EXPECT_EQ(recv(fd, &b, 1, 0), -1) << ns->name() << " family " << fam;
    EXPECT_EQ(errno, ECONNREFUSED) << ns->name() << " family " << fam << ": " << strerror(errno);
    close(fd);
  }
  EXPECT_EQ(counters(t.k, "", 4), counters(t.n, d.shim(), 4));
  EXPECT_EQ(counters(t.k, "", 6), counters(t.n, d.shim(), 6));
}

// nfjitd down: the pinned program still drops (REJECT degrades to DROP); a record left in the ring is
// not answered seconds later by the next nfjitd; new packets are answered again.
TEST(Reject, DaemonDownDropsAndStaleRecordsGetNoLateReply) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  restore_both(t, d, 4, kRules4);
  auto f = frame(v4(17, 9));
  auto replies_to = [&](bool send, int wait_ms) {
    test::EnterNetns in(t.s);
    test::Injector to_n("vn");
    Capture from_n("vn");
    from_n.drain();
    if (send) {
      EXPECT_TRUE(to_n.send(f));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    return from_n.drain().size();
  };
  EXPECT_EQ(replies_to(true, 300), 1u) << d.log();
  d.stop(SIGKILL);
  EXPECT_EQ(replies_to(true, 1500), 0u) << "no daemon: no reply";
  size_t late = 0;
  {
    test::EnterNetns in(t.s);
    Capture from_n("vn");
    d.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    late = from_n.drain().size();
  }
  EXPECT_EQ(late, 0u) << "a record from before the restart was answered late";
  EXPECT_EQ(replies_to(true, 300), 1u) << d.log();
  // Both datagrams were dropped and counted by the rule, daemon or not.
  auto c = test::parse_iptables_save_counters(counters(t.n, d.shim(), 4), "filter");
  EXPECT_EQ(c["INPUT"].rules[1].packets, 3u);
}

// --reject=kernel: the table stays in the kernel's ip_tables, and status says so.
TEST(Reject, KernelModeKeepsTheTableInTheKernel) {
  NFJIT_REQUIRE_ROOT();
  test::Netns n("rejm");
  Nfjitd d(n, "--reject=kernel");
  d.start();
  std::string out;
  ASSERT_EQ(n.run("sh -c 'printf \"" + std::string(kRules4) + "\" | " + d.shim() + "iptables-legacy-restore' 2>&1", &out), 0)
      << out;
  std::string st = d.status();
  EXPECT_NE(st.find("ip filter: kernel ip_tables"), std::string::npos) << st;
  EXPECT_NE(st.find("REJECT: kernel (nfjitd --reject=kernel)"), std::string::npos) << st;
  // The kernel itself holds the rules.
  EXPECT_NE(n.run_ok("iptables-legacy -S INPUT").find("-j REJECT --reject-with icmp-host-prohibited"), std::string::npos);
  // nft too: the table goes to the kernel's nf_tables.
  ASSERT_EQ(n.run(d.shim() + "nft add table inet f 2>&1", &out), 0) << out;
  ASSERT_EQ(n.run(d.shim() + "nft \'add chain inet f input { type filter hook input priority 0; }\' 2>&1", &out), 0) << out;
  ASSERT_EQ(n.run(d.shim() + "nft add rule inet f input tcp dport 80 reject with tcp reset 2>&1", &out), 0) << out;
  st = d.status();
  EXPECT_NE(st.find("nf_tables inet f: kernel nf_tables ("), std::string::npos) << st;
  EXPECT_NE(st.find("REJECT mode: kernel"), std::string::npos) << st;
  EXPECT_NE(n.run_ok("nft list table inet f").find("reject with tcp reset"), std::string::npos);
}

// The kernel's errno for REJECT where xt_REJECT refuses it: the nat table, and tcp-reset without -p tcp.
TEST(Reject, InvalidUsesGetTheKernelsErrors) {
  NFJIT_REQUIRE_ROOT();
  test::Netns k("rejek"), n("rejen");
  Nfjitd d(n);
  d.start();
  for (const char* cmd : {"iptables-legacy -A INPUT -j REJECT --reject-with tcp-reset",
                          "iptables-legacy -t mangle -A INPUT -j REJECT",
                          "iptables-legacy -A INPUT -p udp -j REJECT --reject-with tcp-reset",
                          "ip6tables-legacy -A INPUT -p udp -j REJECT --reject-with tcp-reset"}) {
    std::string ko, no;
    int rk = k.run(std::string(cmd) + " 2>&1", &ko);
    int rn = n.run(d.shim() + cmd + " 2>&1", &no);
    EXPECT_NE(rk, 0) << cmd;
    EXPECT_EQ(rk, rn) << cmd << "\nK: " << ko << "\nN: " << no;
    auto last = [](std::string o) {
      while (!o.empty() && o.back() == '\n') o.pop_back();
      return o.substr(o.rfind('\n') + 1);
    };
    EXPECT_EQ(last(ko), last(no)) << cmd << "\nK: " << ko << "\nN: " << no;
  }
}

}  // namespace
}  // namespace nfjit::e2e
