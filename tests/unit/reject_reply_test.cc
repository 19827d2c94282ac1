// The REJECT reply builders and decisions (src/runtime/reject_reply.h) against packets the kernel sent:
// the expected bytes below were captured from the kernel's own ipt_REJECT / ip6t_REJECT replies in a
// test namespace (a Linux SYN, a UDP datagram), so the builders must equal nf_reject_ipv{4,6}.c and
// icmp_send / icmp6_send byte for byte. The decisions use a fixed environment (routes, sysctls).
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <string>
#include <vector>

#include "codegen/reject_record.h"
#include "ir/ir.h"
#include "runtime/reject_reply.h"

namespace nfjit::runtime {
namespace {

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> o;
  for (size_t i = 0; i + 1 < h.size(); i += 2) o.push_back(static_cast<uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
  return o;
}
std::string hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}
void fix_ip4_checksum(std::vector<uint8_t>& p) {
  p[10] = p[11] = 0;
  uint16_t c = csum_fold_neg(csum_add_bytes(0, std::span(p).first((p[0] & 15) * 4u)));
  p[10] = static_cast<uint8_t>(c >> 8);
  p[11] = static_cast<uint8_t>(c);
}

// The SYN Linux sent from 198.18.5.1:60384 (seq 0xf666b66f, 20 bytes of options) to 198.18.5.2:80.
std::vector<uint8_t> syn4() {
  std::vector<uint8_t> ip = unhex("4500003c8a1f400040060000c6120501c6120502");
  std::vector<uint8_t> tcp = unhex("ebe00050f666b66f00000000a002faf000000000020405b40402080a000000000000000001030307");
  ip.insert(ip.end(), tcp.begin(), tcp.end());
  fix_ip4_checksum(ip);
  // TCP checksum over the pseudo-header (RFC 793).
  std::vector<uint8_t> ph = {0xc6, 0x12, 0x05, 0x01, 0xc6, 0x12, 0x05, 0x02, 0, 6, 0, 40};
  ph.insert(ph.end(), ip.begin() + 20, ip.end());
  uint16_t c = csum_fold_neg(csum_add_bytes(0, ph));
  ip[36] = static_cast<uint8_t>(c >> 8);
  ip[37] = static_cast<uint8_t>(c);
  return ip;
}

TEST(RejectBuilders, Rst4EqualsTheKernels) {
  auto syn = syn4();
  ASSERT_EQ(syn.size(), 60u);
  // The kernel's RST,ACK: id 0, DF, TTL 64 (ip_default_ttl), ack = seq + 1. The kernel leaves the TCP
  // checksum to offload (CHECKSUM_PARTIAL: the field holds the pseudo-header sum, 0x9642, which a veth
  // never completes); nfjit's raw socket sends it complete, so that field is checked on its own.
  auto rst = build_rst4(syn, 60, 64);
  std::string h = hex(rst);
  EXPECT_EQ(h.substr(0, 72) + "...." + h.substr(76),
            std::string("45000028000040004006a4a8c6120502c61205010050ebe000000000f666b6705014000096420000").substr(0, 72) +
                "....0000");
  std::vector<uint8_t> ph = {0xc6, 0x12, 0x05, 0x02, 0xc6, 0x12, 0x05, 0x01, 0, 6, 0, 20};
  EXPECT_EQ(csum_fold_neg(csum_add_bytes(0, ph)), static_cast<uint16_t>(~0x9642));  // the kernel's partial sum
  ph.insert(ph.end(), rst.begin() + 20, rst.end());
  EXPECT_EQ(csum_fold_neg(csum_add_bytes(0, ph)), 0) << "nfjit's RST checksum verifies";
  // An ACK gets a bare RST with seq = its ack_seq.
  auto ack = syn;
  ack[20 + 13] = 0x10;
  ack[20 + 8] = 0x11, ack[20 + 9] = 0x22, ack[20 + 10] = 0x33, ack[20 + 11] = 0x44;
  auto r = build_rst4(ack, 60, 64);
  EXPECT_EQ(hex(std::vector<uint8_t>(r.begin() + 20, r.begin() + 34)), "0050ebe01122334400000000" "5004");
}

TEST(RejectBuilders, Icmp4EqualsTheKernels) {
  // UDP from 198.18.5.1:51371 to :9999, TOS 0x2d: the kernel's icmp-host-prohibited quotes all 43 bytes.
  auto quote = unhex("452d002b070e400040119d5fc6120501c6120502c8ab270f0017965068656c6c6f68656c6c6f68656c6c6f");
  EXPECT_EQ(hex(build_icmp4(3, 10, quote)), "030a1ceb00000000" + hex(quote));
}

TEST(RejectBuilders, Rst6AndIcmp6EqualTheKernels) {
  auto src = unhex("20010db8000500000000000000000001"), dst = unhex("20010db8000500000000000000000002");
  // SYN 2001:db8:5::1 port 0x88cc -> ::2 port 80, seq 0x8d78970f, 20 bytes of options.
  auto pkt = unhex("600000000028064020010db800050000000000000000000120010db8000500000000000000000002");
  auto tcp = unhex("88cc00508d78970f00000000a002fd2000000000020405a00402080a000000000000000001030307");
  pkt.insert(pkt.end(), tcp.begin(), tcp.end());
  EXPECT_EQ(hex(build_rst6(pkt, 40, static_cast<uint32_t>(pkt.size()))), "005088cc000000008d78971050140000a6ac0000");
  // UDP 2001:db8:5::1 port 0xbc04 -> ::2 port 9999: the kernel's port-unreachable (code 4).
  auto quote = unhex("62df3b7e0017114020010db800050000000000000000000120010db8000500000000000000000002"
                     "bc04270f00175ba768656c6c6f68656c6c6f68656c6c6f");
  EXPECT_EQ(hex(build_icmp6(1, 4, quote, dst.data(), src.data())), "0104ff0c00000000" + hex(quote));
}

TEST(RejectBuilders, SkipExtensionHeaders) {
  // hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP
  std::vector<uint8_t> p(40 + 8 + 16 + 20, 0);
  p[6] = 0;
  p[40] = 60, p[41] = 0;
  p[48] = 6, p[49] = 1;
  uint8_t nh = p[6];
  uint16_t fo = 0;
  bool trunc = false;
  EXPECT_EQ(ipv6_skip_exthdr(p, static_cast<uint32_t>(p.size()), 40, &nh, &fo, &trunc), 64);
  EXPECT_EQ(nh, 6);
  EXPECT_FALSE(trunc);
  // A header beyond the bytes copied (but inside the packet) is reported, never guessed.
  nh = p[6];
  EXPECT_EQ(ipv6_skip_exthdr(std::span(p).first(45), static_cast<uint32_t>(p.size()), 40, &nh, &fo, &trunc), -1);
  EXPECT_TRUE(trunc);
}

// ---- decisions ----

struct FixedEnv : RejectEnv {
  uint8_t type = RTN_LOCAL;
  RouteFacts route4(const uint8_t[4], uint32_t) override {
    RouteFacts r;
    r.found = true;
    r.type = type;
    r.oif = 2;
    r.mtu = 1500;
    return r;
  }
  RouteFacts route6(const uint8_t[16], uint32_t) override {
    RouteFacts r;
    r.found = true;
    r.oif = 2;
    r.mtu = 1500;
    r.dst_len = 64;
    return r;
  }
  bool local6(const uint8_t[16]) override { return true; }
  bool select_addr4(uint32_t, const uint8_t[4], uint8_t[4]) override { return false; }
  int sysctl(const std::string&, int dflt) override { return dflt; }
  std::string sysctl_text(const std::string&, const std::string& dflt) override { return dflt; }
};

// skb->csum of CHECKSUM_COMPLETE as a little-endian host leaves it: 16-bit words read in memory order.
uint32_t native_sum(const std::vector<uint8_t>& p) {
  uint64_t s = 0;
  for (size_t i = 0; i + 1 < p.size(); i += 2) s += static_cast<uint32_t>(p[i] | p[i + 1] << 8);
  if (p.size() & 1) s += p.back();
  while (s >> 32) s = (s & 0xffffffff) + (s >> 32);
  return static_cast<uint32_t>(s);
}

std::vector<uint8_t> record(const std::vector<uint8_t>& pkt, ir::RejectType t, uint8_t ip_summed = 0, int family = 4,
                            uint32_t csum = 0) {
  codegen::RejectRecord h{};
  h.magic = codegen::kRejectRecordMagic;
  h.nfproto = family == 4 ? 2 : 10;
  h.hook = static_cast<uint8_t>(ir::Hook::Input);
  h.reject_type = static_cast<uint8_t>(t);
  h.ip_summed = ip_summed;
  h.csum = csum;
  h.skb_len = h.data_len = static_cast<uint32_t>(pkt.size());
  h.in_ifindex = h.dev_ifindex = 2;
  std::vector<uint8_t> out(sizeof h + pkt.size());
  std::memcpy(out.data(), &h, sizeof h);
  if (!pkt.empty()) std::memcpy(out.data() + sizeof h, pkt.data(), pkt.size());
  return out;
}

// A UDP datagram 198.18.5.1 -> 198.18.5.2 with a correct checksum.
std::vector<uint8_t> udp4(uint16_t frag = 0x4000) {
  auto p = unhex("452d002b070e000040110000c6120501c6120502c8ab270f0017965068656c6c6f68656c6c6f68656c6c6f");
  p[6] = static_cast<uint8_t>(frag >> 8);
  p[7] = static_cast<uint8_t>(frag);
  fix_ip4_checksum(p);
  std::vector<uint8_t> ph = {0xc6, 0x12, 0x05, 0x01, 0xc6, 0x12, 0x05, 0x02, 0, 17, 0, 23};
  p[26] = p[27] = 0;
  ph.insert(ph.end(), p.begin() + 20, p.end());
  uint16_t c = csum_fold_neg(csum_add_bytes(0, ph));
  p[26] = static_cast<uint8_t>(c >> 8);
  p[27] = static_cast<uint8_t>(c);
  return p;
}

TEST(RejectDecisions, Ipv4AsTheKernel) {
  FixedEnv env;
  IcmpRateLimiter lim;
  lim.set_consume_source([]() -> uint32_t { return 1; });
  std::string why;
  // SYN: RST from the packet's destination, TTL 64.
  auto r = build_reject_reply(record(syn4(), ir::RejectType::TcpReset), env, lim, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(hex(r->bytes), hex(build_rst4(syn4(), 60, 64)));
  EXPECT_EQ(hex(std::vector<uint8_t>(r->src, r->src + 4)), "c6120502");
  // A SYN whose checksum is wrong: CHECKSUM_NONE verifies, nothing; CHECKSUM_UNNECESSARY trusts it.
  auto bad = syn4();
  bad[20 + 16] ^= 1;
  EXPECT_FALSE(build_reject_reply(record(bad, ir::RejectType::TcpReset), env, lim, &why));
  EXPECT_EQ(why, "bad TCP checksum");
  EXPECT_TRUE(build_reject_reply(record(bad, ir::RejectType::TcpReset, 1), env, lim, &why)) << why;
  // CHECKSUM_COMPLETE at LOCAL_IN: skb->csum (the device's sum from the network header on) decides; a
  // wrong skb->csum makes the kernel sum the bytes itself (the same verdict from the packet).
  EXPECT_TRUE(build_reject_reply(record(syn4(), ir::RejectType::TcpReset, 2, 4, native_sum(syn4())), env, lim, &why)) << why;
  EXPECT_FALSE(build_reject_reply(record(bad, ir::RejectType::TcpReset, 2, 4, native_sum(bad)), env, lim, &why));
  EXPECT_TRUE(build_reject_reply(record(syn4(), ir::RejectType::TcpReset, 2, 4, 12345), env, lim, &why)) << why;
  // ... and a skb->csum that verifies is trusted, whatever the bytes (nf_ip_checksum never looks at them).
  EXPECT_TRUE(build_reject_reply(record(bad, ir::RejectType::TcpReset, 2, 4, native_sum(syn4())), env, lim, &why));
  // RST for a RST: never.
  auto rst = syn4();
  rst[20 + 13] = 0x04;
  rst[20 + 16] = rst[20 + 17] = 0;
  EXPECT_FALSE(build_reject_reply(record(rst, ir::RejectType::TcpReset, 1), env, lim, &why));
  // UDP: host-prohibited from the local destination, TOS (0x2d & 0x1e) | 0xc0, whole datagram quoted.
  auto u = build_reject_reply(record(udp4(), ir::RejectType::IcmpHostProhibited), env, lim, &why);
  ASSERT_TRUE(u) << why;
  EXPECT_TRUE(u->icmp);
  EXPECT_EQ(u->tos, 0xcc);
  EXPECT_TRUE(u->src_set);
  EXPECT_EQ(u->bytes.size(), 8 + udp4().size());
  // Non-first fragment, broadcast route: nothing.
  EXPECT_FALSE(build_reject_reply(record(udp4(0x0001), ir::RejectType::IcmpPortUnreachable), env, lim, &why));
  env.type = RTN_BROADCAST;
  EXPECT_FALSE(build_reject_reply(record(udp4(), ir::RejectType::IcmpPortUnreachable), env, lim, &why));
  env.type = RTN_LOCAL;
  // Per-destination bucket: 6 tokens for a new peer (one used above), then one per icmp_ratelimit.
  int sent = 0;
  for (int i = 0; i < 10; ++i) sent += build_reject_reply(record(udp4(), ir::RejectType::IcmpPortUnreachable), env, lim, &why) ? 1 : 0;
  EXPECT_EQ(sent, 5);
}

// The SYN of Rst6AndIcmp6EqualTheKernels with its TCP checksum.
std::vector<uint8_t> syn6() {
  auto pkt = unhex("600000000028064020010db800050000000000000000000120010db8000500000000000000000002");
  auto tcp = unhex("88cc00508d78970f00000000a002fd2000000000020405a00402080a000000000000000001030307");
  std::vector<uint8_t> ph(pkt.begin() + 8, pkt.begin() + 40);
  for (uint8_t b : {0, 0, 0, 40, 0, 0, 0, 6}) ph.push_back(b);
  ph.insert(ph.end(), tcp.begin(), tcp.end());
  uint16_t c = csum_fold_neg(csum_add_bytes(0, ph));
  tcp[16] = static_cast<uint8_t>(c >> 8);
  tcp[17] = static_cast<uint8_t>(c);
  pkt.insert(pkt.end(), tcp.begin(), tcp.end());
  return pkt;
}

TEST(RejectDecisions, Ipv6AsTheKernel) {
  FixedEnv env;
  IcmpRateLimiter lim;
  std::string why;
  auto r = build_reject_reply(record(syn6(), ir::RejectType::TcpReset, 0, 6), env, lim, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(hex(r->bytes), "005088cc000000008d78971050140000a6ac0000");  // the kernel's RST, checksum included
  EXPECT_EQ(hex(std::vector<uint8_t>(r->src, r->src + 16)), "20010db8000500000000000000000002");
  auto bad = syn6();
  bad[40 + 17] ^= 1;
  EXPECT_FALSE(build_reject_reply(record(bad, ir::RejectType::TcpReset, 0, 6), env, lim, &why));
  EXPECT_TRUE(build_reject_reply(record(syn6(), ir::RejectType::TcpReset, 2, 6, native_sum(syn6())), env, lim, &why)) << why;
  EXPECT_FALSE(build_reject_reply(record(bad, ir::RejectType::TcpReset, 2, 6, native_sum(bad)), env, lim, &why));
  // ICMPv6 error to a multicast source or for an ICMPv6 error: nothing.
  auto m = syn6();
  m[8] = 0xff;
  EXPECT_FALSE(build_reject_reply(record(m, ir::RejectType::Icmp6PortUnreachable, 1, 6), env, lim, &why));
  auto err = syn6();
  err[6] = 58;
  err[40] = 1;  // destination unreachable
  EXPECT_FALSE(build_reject_reply(record(err, ir::RejectType::Icmp6PortUnreachable, 1, 6), env, lim, &why));
  EXPECT_EQ(why, "no ICMPv6 error for an ICMPv6 error");
  err[40] = 128;  // echo request: answered, 1232 bytes at most quoted
  auto e = build_reject_reply(record(err, ir::RejectType::Icmp6PortUnreachable, 1, 6), env, lim, &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->bytes.size(), 8 + err.size());
  EXPECT_EQ(e->bytes[0], 1);
  EXPECT_EQ(e->bytes[1], 4);
}

TEST(RateLimiter, KernelBuckets) {
  IcmpRateLimiter l;
  uint8_t a[16] = {1, 2, 3, 4};
  int ok = 0;
  for (int i = 0; i < 10; ++i) ok += l.peer_allow(4, a, 100000, 1000);
  EXPECT_EQ(ok, 6);                                // XRLIM_BURST_FACTOR * timeout
  EXPECT_FALSE(l.peer_allow(4, a, 100999, 1000));  // 999 ms refill < 1000
  EXPECT_TRUE(l.peer_allow(4, a, 101000, 1000));
  // Global: burst 50, then msgs_per_sec as time passes (20 ms granularity: HZ / 50).
  l.set_consume_source([]() -> uint32_t { return 2; });
  EXPECT_TRUE(l.global_allow(5000, 1000, 50));
  for (int i = 0; i < 25; ++i) l.global_consume();
  EXPECT_FALSE(l.global_allow(5010, 1000, 50));
  EXPECT_TRUE(l.global_allow(5030, 1000, 50));
}

}  // namespace
}  // namespace nfjit::runtime
