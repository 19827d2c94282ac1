// Two places where xtables is not "the field, or no match": hotdrop and pkttype. The same rules are
// restored into the kernel's own ip_tables in namespace K and into nfjit (iptables-legacy-restore
// through `nfjit exec`, BPF at NF LOCAL_IN) in namespace N; then
//  - Hotdrop: a sender S injects byte-identical frames into K and N — TCP/UDP/ICMP headers cut short,
//    TCP fragments at offset 1, IPv6 extension-header chains that cannot be walked — and the per-rule
//    counters (`iptables-legacy-save -c`) must be equal: the kernel drops such a packet when the rule
//    reaches the match (no counter of that rule, of the catch-all after it, nor of the policy).
//  - Pkttype: K and N each send UDP to multicast and broadcast addresses with loopback on, so their
//    own stack receives the copies as PACKET_LOOPBACK, which xt_pkttype reports as multicast or
//    broadcast; S injects multicast, broadcast and unicast frames too. Counters equal in K and N, and
//    equal to what xt_pkttype must say.
// No conntrack runs in K or N (no rule needs it), so fragments reach INPUT unreassembled.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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

// S (injects, IPv6 off) and K/N (198.18.0.1/24, 2001:db8::1/64 on veth0, the same MAC).
struct Topology {
  test::Netns s{"ipxs"}, k{"ipxk"}, n{"ipxn"};
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
      s.run_ok(std::string("ip link set ") + sdev + " up");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // MLD/IGMP of the fresh addresses
  }
};

uint16_t ip_checksum(const std::vector<uint8_t>& p, size_t off, size_t hl) {
  uint32_t acc = 0;
  for (size_t i = 0; i < hl; i += 2) acc += (p[off + i] << 8) | p[off + i + 1];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

// The frame of `s` with its IP packet cut to `l3_bytes`, lengths and IPv4 checksum fixed.
std::vector<uint8_t> cut(const test::PacketSpec& s, size_t l3_bytes) {
  auto f = test::build_frame(s, test::parse_mac(kHostMac), test::parse_mac(kSenderMac));
  f.resize(14 + l3_bytes);
  if (s.family == 4) {
    f[16] = static_cast<uint8_t>(l3_bytes >> 8);
    f[17] = static_cast<uint8_t>(l3_bytes);
    f[24] = f[25] = 0;
    uint16_t c = ip_checksum(f, 14, 20);
    f[24] = static_cast<uint8_t>(c >> 8);
    f[25] = static_cast<uint8_t>(c);
  } else {
    f[18] = static_cast<uint8_t>((l3_bytes - 40) >> 8);
    f[19] = static_cast<uint8_t>(l3_bytes - 40);
  }
  return f;
}
std::vector<uint8_t> whole(const test::PacketSpec& s) {
  return test::build_frame(s, test::parse_mac(kHostMac), test::parse_mac(kSenderMac));
}

test::PacketSpec spec(int family, uint8_t proto, uint16_t dport) {
  test::PacketSpec p;
  p.family = family;
  p.proto = family == 6 && proto == 1 ? 58 : proto;
  p.dport = dport;
  if (family == 6) {
    p.src = "2001:db8::2";
    p.dst = "2001:db8::1";
  }
  if (proto == 1) p.icmp_type = family == 6 ? 128 : 8;
  return p;
}

void inject(const Topology& t, const std::vector<std::vector<uint8_t>>& frames) {
  test::EnterNetns in(t.s);
  test::Injector to_k("vk"), to_n("vn");
  for (const auto& f : frames) {
    ASSERT_TRUE(to_k.send(f));
    ASSERT_TRUE(to_n.send(f));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

// Restores `rules` in K and through nfjit in N; N's filter table must run as BPF.
void restore_both(const Topology& t, const Nfjitd& d, int family, const std::string& rules) {
  std::string restore = family == 6 ? "ip6tables-legacy-restore" : "iptables-legacy-restore";
  std::string cmd = "sh -c 'printf \"" + rules + "\" | ";  // the rules hold no '%'
  std::string out;
  ASSERT_EQ(t.k.run(cmd + restore + "' 2>&1", &out), 0) << out;
  ASSERT_EQ(t.n.run(cmd + d.shim() + restore + "' 2>&1", &out), 0) << out << d.log();
  std::string st = d.status();
  EXPECT_NE(st.find(std::string(family == 6 ? "ip6" : "ip") + " filter: BPF at"), std::string::npos) << st;
}

std::string save(const test::Netns& ns, const std::string& prefix, int family) {
  return strip_save_comments(ns.run_ok(prefix + (family == 6 ? "ip6tables-legacy-save -c" : "iptables-legacy-save -c")));
}

// Packet counters of INPUT's rules in a save text, in order, then the policy's.
std::vector<uint64_t> input_packets(const std::string& save_text) {
  auto t = test::parse_iptables_save_counters(save_text, "filter");
  std::vector<uint64_t> out;
  for (const auto& r : t["INPUT"].rules) out.push_back(r.packets);
  out.push_back(t["INPUT"].policy.packets);
  return out;
}

TEST(IptablesExactness, HotdropIpv4) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  // IPv4 fragments are reassembled before LOCAL_IN (ip_local_deliver), so they are seen at PREROUTING.
  restore_both(t, d, 4,
               "*mangle\\n:PREROUTING ACCEPT [0:0]\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n"
               ":OUTPUT ACCEPT [0:0]\\n:POSTROUTING ACCEPT [0:0]\\n"
               "-A PREROUTING -p tcp -m tcp --dport 22\\n"
               "-A PREROUTING -s 198.18.0.2/32\\n"
               "COMMIT\\n"
               "*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n"
               "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\\n"
               "-A INPUT -p udp -m multiport --dports 9,10 -j ACCEPT\\n"
               "-A INPUT -p udp -m udp --dport 53 -j ACCEPT\\n"
               "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\\n"
               "-A INPUT -s 198.18.0.2/32\\n"
               "COMMIT\\n");
  std::vector<std::vector<uint8_t>> frames;
  auto tcp22 = spec(4, 6, 22), tcp80 = spec(4, 6, 80), udp9 = spec(4, 17, 9), udp99 = spec(4, 17, 99);
  auto echo = spec(4, 1, 0);
  frames.push_back(cut(tcp22, 20 + 10));  // tcp: hotdrop (the 20-byte header is not there)
  frames.push_back(cut(tcp80, 20 + 19));  // tcp: hotdrop whatever the port
  frames.push_back(whole(tcp22));         // rule 0
  frames.push_back(whole(tcp80));         // catch-all
  auto frag1 = tcp80;
  frag1.nonfirst_fragment = true;         // offset 1: "evil" for xt tcp
  frames.push_back(whole(frag1));         // (dropped in mangle PREROUTING)
  auto frag2 = whole(frag1);              // offset 2: just no ports (PREROUTING; then reassembly waits)
  frag2[14 + 7] = 2;
  frag2[24] = frag2[25] = 0;
  uint16_t c = ip_checksum(frag2, 14, 20);
  frag2[24] = static_cast<uint8_t>(c >> 8);
  frag2[25] = static_cast<uint8_t>(c);
  frames.push_back(frag2);
  frames.push_back(cut(udp9, 20 + 3));    // multiport: hotdrop (no 4 bytes of ports)
  frames.push_back(cut(udp9, 20 + 5));    // multiport: ports readable, dport 9 -> rule 1
  frames.push_back(cut(udp99, 20 + 5));   // multiport: no; udp: hotdrop (8-byte header)
  frames.push_back(whole(udp99));         // catch-all
  frames.push_back(cut(echo, 20 + 4));    // icmp: hotdrop
  frames.push_back(whole(echo));          // rule 3
  inject(t, frames);
  std::string k = save(t.k, "", 4), n = save(t.n, d.shim(), 4);
  EXPECT_EQ(n, k);
  // What the kernel did, so that the comparison is not between two tables that saw nothing.
  EXPECT_EQ(input_packets(k), (std::vector<uint64_t>{1, 1, 0, 1, 2, 2})) << k;
  auto m = test::parse_iptables_save_counters(k, "mangle")["PREROUTING"];
  ASSERT_EQ(m.rules.size(), 2u) << k;
  EXPECT_EQ(m.rules[0].packets, 1u);  // the whole tcp 22; the three TCP hotdrops count nowhere
  EXPECT_EQ(m.rules[1].packets, 9u);
  EXPECT_NE(d.status().find("ip mangle: BPF at"), std::string::npos) << d.status();
}

TEST(IptablesExactness, HotdropIpv6) {
  NFJIT_REQUIRE_ROOT();
  Topology t;
  Nfjitd d(t.n);
  d.start();
  restore_both(t, d, 6,
               "*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n"
               "-A INPUT -s 2001:db8::3/128 -p tcp -j ACCEPT\\n"
               "-A INPUT -s 2001:db8::2/128 -p tcp -m tcp --dport 22 -j ACCEPT\\n"
               "-A INPUT -s 2001:db8::2/128 -p udp -m udp --dport 53 -j ACCEPT\\n"
               "-A INPUT -s 2001:db8::2/128 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\\n"
               "-A INPUT -s 2001:db8::2/128\\n"
               "COMMIT\\n");
  std::vector<std::vector<uint8_t>> frames;
  auto tcp22 = spec(6, 6, 22), tcp80 = spec(6, 6, 80), udp = spec(6, 17, 99), echo = spec(6, 1, 0);
  frames.push_back(cut(tcp80, 40 + 12));  // tcp: hotdrop
  frames.push_back(whole(tcp22));         // rule 1
  frames.push_back(cut(udp, 40 + 6));     // udp: hotdrop
  frames.push_back(cut(echo, 40 + 4));    // icmp6: hotdrop
  frames.push_back(whole(echo));          // rule 3
  auto opts = tcp80;
  opts.ext_headers = {60};
  frames.push_back(cut(opts, 41));        // destination options cut to 1 byte: the walk fails, -p hotdrops
  frames.push_back(whole(opts));          // catch-all
  auto nf = spec(6, 60, 0);
  nf.nonfirst_fragment = true;            // non-first fragment followed by an extension header
  frames.push_back(whole(nf));
  auto nf_tcp = tcp80;
  nf_tcp.nonfirst_fragment = true;        // an ordinary non-first fragment: no ports, no hotdrop
  frames.push_back(whole(nf_tcp));
  inject(t, frames);
  std::string k = save(t.k, "", 6), n = save(t.n, d.shim(), 6);
  EXPECT_EQ(n, k);
  EXPECT_EQ(input_packets(k), (std::vector<uint64_t>{0, 1, 0, 1, 2, 2})) << k;
}

// UDP datagrams to `dst` from the calling thread's namespace, out of kDev with loopback on.
void send_udp(int family, const std::string& dst, int count) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  sockaddr_storage to{};
  socklen_t len;
  bool local = dst == "198.18.0.1" || dst == "2001:db8::1";
  if (!local) ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, kDev, strlen(kDev)), 0);
  if (family == 6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&to);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(5555);
    inet_pton(AF_INET6, dst.c_str(), &a->sin6_addr);
    if (!local) a->sin6_scope_id = if_nametoindex(kDev);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&to);
    a->sin_family = AF_INET;
    a->sin_port = htons(5555);
    inet_pton(AF_INET, dst.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  char payload[32] = {};
  for (int i = 0; i < count; ++i)
    ASSERT_EQ(sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), len), 32) << dst;
  close(fd);
}

void pkttype_case(int family) {
  Topology t;
  Nfjitd d(t.n);
  d.start();
  std::string p = "-p udp -m udp --dport 5555";
  restore_both(t, d, family,
               "*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n"
               "-A INPUT " + p + " -m pkttype --pkt-type multicast\\n"
               "-A INPUT " + p + " -m pkttype --pkt-type broadcast\\n"
               "-A INPUT " + p + " -m pkttype --pkt-type unicast\\n"
               "-A INPUT " + p + " -m pkttype ! --pkt-type unicast\\n"
               "COMMIT\\n");
  // Looped back in each of K and N by their own stack.
  for (const test::Netns* ns : {&t.k, &t.n}) {
    test::EnterNetns in(*ns);
    if (family == 4) {
      send_udp(4, "224.0.0.1", 3);        // multicast, looped back: MULTICAST
      send_udp(4, "255.255.255.255", 2);  // limited broadcast, looped back: BROADCAST
      send_udp(4, "198.18.0.255", 1);     // subnet broadcast, looped back: BROADCAST
      send_udp(4, "198.18.0.1", 1);       // own address, through lo: HOST
    } else {
      send_udp(6, "ff02::1", 3);          // all-nodes, looped back: MULTICAST
      send_udp(6, "2001:db8::1", 1);      // own address, through lo: HOST
    }
  }
  // From the wire: multicast, broadcast (IPv4) and unicast frames as the device classifies them.
  auto frame = [&](const std::string& dst, const char* mac) {
    auto s = spec(family, 17, 5555);
    s.dst = dst;
    return test::build_frame(s, test::parse_mac(mac), test::parse_mac(kSenderMac));
  };
  std::vector<std::vector<uint8_t>> frames;
  if (family == 4) {
    frames.push_back(frame("224.0.0.1", "01:00:5e:00:00:01"));
    frames.push_back(frame("198.18.0.255", "ff:ff:ff:ff:ff:ff"));
    frames.push_back(frame("198.18.0.1", kHostMac));
  } else {
    frames.push_back(frame("ff02::1", "33:33:00:00:00:01"));
    frames.push_back(frame("2001:db8::1", kHostMac));
  }
  inject(t, frames);
  std::string k = save(t.k, "", family), n = save(t.n, d.shim(), family);
  EXPECT_EQ(n, k);
  // The rules' counts (the policy also sees the ICMP errors K sends itself for the unicast datagrams).
  auto rules = input_packets(k);
  rules.pop_back();
  if (family == 4) EXPECT_EQ(rules, (std::vector<uint64_t>{4, 4, 2, 8})) << k;
  else EXPECT_EQ(rules, (std::vector<uint64_t>{4, 0, 2, 4})) << k;
}

TEST(IptablesExactness, PkttypeOfLoopedBackPacketsIpv4) {
  NFJIT_REQUIRE_ROOT();
  pkttype_case(4);
}

TEST(IptablesExactness, PkttypeOfLoopedBackPacketsIpv6) {
  NFJIT_REQUIRE_ROOT();
  pkttype_case(6);
}

}  // namespace
}  // namespace nfjit::e2e
