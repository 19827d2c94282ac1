#include "runtime/reject_reply.h"

#include <linux/rtnetlink.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "ir/ir.h"

namespace nfjit::runtime {

namespace {

using codegen::RejectRecord;
constexpr uint8_t kChecksumNone = 0, kChecksumUnnecessary = 1, kChecksumComplete = 2, kChecksumPartial = 3;
constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoIcmp6 = 58;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

uint32_t fold32(uint32_t s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s;
}
// skb->csum as csum_partial left it: 16-bit words read in host (little-endian) order. The sums here
// read words big-endian; a one's complement sum of byte-swapped words is the byte-swapped sum.
uint32_t from_native(uint32_t csum) {
  uint32_t f = fold32(csum);
  return ((f & 0xff) << 8) | (f >> 8);
}
// csum_add of two partial sums.
uint32_t add(uint32_t a, uint32_t b) { return fold32(a) + fold32(b); }

// The sum of a pseudo-header built in memory (the same words csum_tcpudp_nofold / csum_ipv6_magic add).
uint32_t pseudo4(const uint8_t* saddr, const uint8_t* daddr, uint32_t len, uint8_t proto) {
  uint8_t ph[12] = {};
  std::memcpy(ph, saddr, 4);
  std::memcpy(ph + 4, daddr, 4);
  ph[9] = proto;
  put16(ph + 10, static_cast<uint16_t>(len));
  return csum_add_bytes(0, ph);
}
uint32_t pseudo6(const uint8_t* saddr, const uint8_t* daddr, uint32_t len, uint8_t proto) {
  uint8_t ph[40] = {};
  std::memcpy(ph, saddr, 16);
  std::memcpy(ph + 16, daddr, 16);
  put32(ph + 32, len);
  ph[39] = proto;
  return csum_add_bytes(0, ph);
}
// "The checksum verifies": the folded sum is all ones (csum_fold() == 0).
bool sums_to_zero(uint32_t sum) { return csum_fold_neg(sum) == 0; }

enum class Csum { Ok, Bad, Unknown };

// nf_ip_checksum(skb, hook, dataoff, protocol) == 0 (net/netfilter/utils.c). `pkt` holds the whole
// packet whenever the kernel would sum bytes (the program copies all of it then).
Csum nf_ip_checksum(const RejectRecord& h, std::span<const uint8_t> pkt, uint32_t dataoff, uint8_t proto) {
  const bool tcpudp = proto == kProtoTcp || proto == kProtoUdp;
  switch (h.ip_summed) {
    case kChecksumComplete: {
      auto hook = static_cast<ir::Hook>(h.hook);
      if (hook != ir::Hook::Prerouting && hook != ir::Hook::Input) return Csum::Ok;
      if ((!tcpudp && sums_to_zero(from_native(h.csum))) ||
          (tcpudp && sums_to_zero(add(pseudo4(&pkt[12], &pkt[16], h.skb_len - dataoff, proto), from_native(h.csum)))))
        return Csum::Ok;
      [[fallthrough]];
    }
    case kChecksumNone: {
      if (pkt.size() < h.skb_len) return Csum::Unknown;
      uint32_t base = tcpudp ? pseudo4(&pkt[12], &pkt[16], h.skb_len - dataoff, proto) : 0;
      // __skb_checksum_complete sums from skb->data, the network header (whose own sum is zero).
      return sums_to_zero(csum_add_bytes(base, pkt.first(h.skb_len))) ? Csum::Ok : Csum::Bad;
    }
    default: return Csum::Ok;
  }
}

// nf_ip6_checksum(skb, hook, dataoff, protocol) == 0.
Csum nf_ip6_checksum(const RejectRecord& h, std::span<const uint8_t> pkt, uint32_t dataoff, uint8_t proto) {
  switch (h.ip_summed) {
    case kChecksumComplete: {
      auto hook = static_cast<ir::Hook>(h.hook);
      if (hook != ir::Hook::Prerouting && hook != ir::Hook::Input) return Csum::Ok;
      if (pkt.size() < dataoff) return Csum::Unknown;
      // csum_sub(skb->csum, skb_checksum(skb, 0, dataoff, 0)) = skb->csum + ~sum(header bytes)
      uint32_t hdr = fold32(csum_add_bytes(0, pkt.first(dataoff)));
      uint32_t transport = add(from_native(h.csum), static_cast<uint16_t>(~hdr));
      if (sums_to_zero(add(pseudo6(&pkt[8], &pkt[24], h.skb_len - dataoff, proto), transport))) return Csum::Ok;
      [[fallthrough]];
    }
    case kChecksumNone: {
      if (pkt.size() < h.skb_len) return Csum::Unknown;
      uint32_t sum = add(pseudo6(&pkt[8], &pkt[24], h.skb_len - dataoff, proto),
                         csum_add_bytes(0, pkt.subspan(dataoff, h.skb_len - dataoff)));
      return sums_to_zero(sum) ? Csum::Ok : Csum::Bad;
    }
    default: return Csum::Ok;
  }
}

// skb_csum_unnecessary(). For CHECKSUM_PARTIAL the kernel also wants skb_checksum_start_offset() >= 0,
// which holds for every partial-checksum packet at these hooks (csum_start is the transport header).
bool csum_unnecessary(const RejectRecord& h) {
  return h.ip_summed == kChecksumUnnecessary || h.csum_valid || h.ip_summed == kChecksumPartial;
}

// nf_reject_verify_csum(skb, dataoff, proto) (include/net/netfilter/nf_reject.h).
bool verify_csum(std::span<const uint8_t> pkt, uint32_t skb_len, uint32_t dataoff, uint8_t proto) {
  switch (proto) {
    case kProtoUdp:
      if (dataoff + 8 > skb_len || dataoff + 8 > pkt.size()) return true;
      return be16(&pkt[dataoff + 6]) != 0;
    case 47:   // GRE
    case 51:   // AH
    case 50:   // ESP
    case 132:  // SCTP
    case 136:  // UDP-Lite
    case 33:   // DCCP
      return false;
    default: return true;
  }
}

// icmp_pointers[type].error (net/ipv4/icmp.c).
bool icmp4_is_error(uint8_t type) { return type == 3 || type == 4 || type == 5 || type == 11 || type == 12; }

// __ipv6_addr_type(): the checks nf_send_reset6 and icmp6_send make.
bool v6_any(const uint8_t* a) { return std::all_of(a, a + 16, [](uint8_t b) { return b == 0; }); }
bool v6_multicast(const uint8_t* a) { return a[0] == 0xff; }
bool v6_mapped(const uint8_t* a) {
  static const uint8_t p[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, p, 12) == 0;
}
bool v6_unicast(const uint8_t* a) { return !v6_any(a) && !v6_multicast(a) && !v6_mapped(a); }
// __ipv6_addr_needs_scope_id: link-local unicast (fe80::/10) or loopback/link-local-scope multicast.
bool v6_needs_scope(const uint8_t* a) {
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;
  return a[0] == 0xff && ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2);
}

// A "first-last" list as the kernel prints bitmaps (net.ipv6.icmp.ratemask "0-1,3-127").
bool in_bitmap_list(const std::string& text, unsigned bit) {
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    std::string part = text.substr(i, j - i);
    unsigned lo = 0, hi = 0;
    if (size_t d = part.find('-'); d != std::string::npos) {
      lo = static_cast<unsigned>(std::strtoul(part.substr(0, d).c_str(), nullptr, 10));
      hi = static_cast<unsigned>(std::strtoul(part.substr(d + 1).c_str(), nullptr, 10));
    } else if (!part.empty() && part.find_first_not_of(" \n") != std::string::npos) {
      lo = hi = static_cast<unsigned>(std::strtoul(part.c_str(), nullptr, 10));
    } else {
      i = j + 1;
      continue;
    }
    if (bit >= lo && bit <= hi) return true;
    i = j + 1;
  }
  return false;
}

std::optional<RejectReply> none(std::string* why, const char* reason) {
  if (why) *why = reason;
  return std::nullopt;
}

uint8_t icmp4_code(ir::RejectType t) {
  using T = ir::RejectType;
  switch (t) {
    case T::IcmpNetUnreachable: return 0;
    case T::IcmpHostUnreachable: return 1;
    case T::IcmpProtUnreachable: return 2;
    case T::IcmpPortUnreachable: return 3;
    case T::IcmpNetProhibited: return 9;
    case T::IcmpHostProhibited: return 10;
    case T::IcmpAdminProhibited: return 13;
    default: return 255;
  }
}
uint8_t icmp6_code(ir::RejectType t) {
  using T = ir::RejectType;
  switch (t) {
    case T::Icmp6NoRoute: return 0;
    case T::Icmp6AdmProhibited: return 1;
    case T::Icmp6AddrUnreachable: return 3;
    case T::Icmp6PortUnreachable: return 4;
    default: return 255;
  }
}

std::optional<RejectReply> reply4(const RejectRecord& h, std::span<const uint8_t> pkt, RejectEnv& env,
                                  IcmpRateLimiter& limits, std::string* why) {
  if (pkt.size() < 20) return none(why, "record shorter than an IPv4 header");
  const uint32_t ihl = (pkt[0] & 0x0f) * 4u;
  const bool later_fragment = be16(&pkt[6]) & 0x1fff;
  const uint8_t proto = pkt[9];
  const uint8_t* saddr = &pkt[12];
  const uint8_t* daddr = &pkt[16];
  const auto hook = static_cast<ir::Hook>(h.hook);
  const uint32_t mark = env.sysctl("ipv4/fwmark_reflect", 0) ? h.mark : 0;  // IP4_REPLY_MARK
  // skb_rtable(skb): the packet's own route; at PRE_ROUTING nf_reject_fill_skb_dst routes to the source.
  RouteFacts own = hook == ir::Hook::Prerouting ? env.route4(saddr, 0) : env.route4(daddr, h.mark);
  const bool bcast = own.type == RTN_BROADCAST || own.type == RTN_MULTICAST;

  RejectReply r;
  r.family = 4;
  r.mark = mark;
  std::memcpy(r.dst, saddr, 4);
  if (static_cast<ir::RejectType>(h.reject_type) == ir::RejectType::TcpReset) {
    // nf_send_reset -> nf_reject_ip_tcphdr_get
    if (later_fragment) return none(why, "non-first fragment");
    if (proto != kProtoTcp) return none(why, "not TCP");
    if (h.skb_len < ihl + 20) return none(why, "no complete TCP header");
    if (pkt.size() < ihl + 20) return none(why, "TCP header not copied");
    if (pkt[ihl + 13] & 0x04) return none(why, "no RST for a RST");
    Csum c = nf_ip_checksum(h, pkt, ihl, kProtoTcp);
    if (c == Csum::Unknown) return none(why, "packet longer than the copy, checksum unverifiable");
    if (c == Csum::Bad) return none(why, "bad TCP checksum");
    if (own.found && bcast) return none(why, "broadcast/multicast route");
    // ip4_dst_hoplimit(skb_dst(oldskb)): the packet's own route's hoplimit metric, else ip_default_ttl.
    int ttl = own.hoplimit ? static_cast<int>(own.hoplimit) : env.sysctl("ipv4/ip_default_ttl", 64);
    r.bytes = build_rst4(pkt, h.skb_len, static_cast<uint8_t>(ttl));
    std::memcpy(r.src, daddr, 4);
    r.src_set = true;
    return r;
  }
  // nf_send_unreach
  const uint8_t code = icmp4_code(static_cast<ir::RejectType>(h.reject_type));
  if (code == 255) return none(why, "not an IPv4 reject type");
  if (later_fragment) return none(why, "non-first fragment");
  if (!csum_unnecessary(h) && verify_csum(pkt, h.skb_len, ihl, proto)) {
    Csum c = nf_ip_checksum(h, pkt, ihl, proto);
    if (c == Csum::Unknown) return none(why, "packet longer than the copy, checksum unverifiable");
    if (c == Csum::Bad) return none(why, "bad checksum");
  }
  // __icmp_send
  if (h.pkt_type != 0) return none(why, "not PACKET_HOST");
  if (own.found && bcast) return none(why, "broadcast/multicast route");
  if (proto == kProtoIcmp) {
    if (h.skb_len <= ihl || pkt.size() <= ihl) return none(why, "no ICMP type to check");
    uint8_t inner = pkt[ihl];
    if (inner > 18 || icmp4_is_error(inner)) return none(why, "no ICMP error for an ICMP error");
  }
  const uint8_t type = 3;
  bool apply = false;
  const bool dev_loopback = h.dev_ifindex == 1;  // the loopback device is ifindex 1 in every namespace
  if (!dev_loopback) {
    // icmpv4_global_allow -> icmpv4_mask_allow
    bool masked = (1u << type) & static_cast<uint32_t>(env.sysctl("ipv4/icmp_ratemask", 6168));
    if (code == 4) masked = false;  // ICMP_FRAG_NEEDED is never limited
    if (masked) {
      if (!limits.global_allow(now_ms(), env.sysctl("ipv4/icmp_msgs_per_sec", 1000),
                               env.sysctl("ipv4/icmp_msgs_burst", 50)))
        return none(why, "global ICMP rate limit (icmp_msgs_per_sec)");
      apply = true;
    }
  }
  // Source: the packet's destination when its route is local (RTCF_LOCAL), else the inbound
  // interface's address with icmp_errors_use_inbound_ifaddr on an input route, else the route's choice.
  if (own.found && own.type == RTN_LOCAL) {
    std::memcpy(r.src, daddr, 4);
    r.src_set = true;
  } else if ((hook == ir::Hook::Input || hook == ir::Hook::Forward) &&
             env.sysctl("ipv4/icmp_errors_use_inbound_ifaddr", 0)) {
    uint32_t dev = h.in_ifindex ? h.in_ifindex : h.dev_ifindex;
    if (dev && env.select_addr4(dev, saddr, r.src)) r.src_set = true;
  }
  r.tos = static_cast<uint8_t>((pkt[1] & 0x1e) | 0xc0);  // RT_TOS(iph->tos) | IPTOS_PREC_INTERNETCONTROL
  RouteFacts back = env.route4(saddr, mark);  // icmp_route_lookup
  if (!back.found) return none(why, "no route back to the source");
  if (apply) {
    // icmpv4_xrlim_allow: no limit when the reply leaves through loopback; a message sent consumes.
    bool ok = back.oif_loopback ||
              limits.peer_allow(4, saddr, now_ms(), env.sysctl("ipv4/icmp_ratelimit", 1000));
    if (!ok) return none(why, "per-destination ICMP rate limit (icmp_ratelimit)");
    limits.global_consume();
  }
  // RFC 1812: at most 576 bytes in all.
  int room = static_cast<int>(std::min<uint32_t>(back.mtu ? back.mtu : 1500, 576)) - 20 - 8;
  if (room <= 20) return none(why, "route MTU too small for an ICMP error");
  uint32_t quote = std::min<uint32_t>(h.skb_len, static_cast<uint32_t>(room));
  if (pkt.size() < quote) return none(why, "quoted bytes not copied");
  r.icmp = true;
  r.bytes = build_icmp4(type, code, pkt.first(quote));
  return r;
}

std::optional<RejectReply> reply6(const RejectRecord& h, std::span<const uint8_t> pkt, RejectEnv& env,
                                  IcmpRateLimiter& limits, std::string* why) {
  if (pkt.size() < 40) return none(why, "record shorter than an IPv6 header");
  const uint8_t* saddr = &pkt[8];
  const uint8_t* daddr = &pkt[24];
  const auto hook = static_cast<ir::Hook>(h.hook);
  const uint32_t mark = env.sysctl("ipv6/fwmark_reflect", 0) ? h.mark : 0;  // IP6_REPLY_MARK
  RejectReply r;
  r.family = 6;
  r.mark = mark;
  std::memcpy(r.dst, saddr, 16);
  uint32_t iif = h.in_ifindex ? h.in_ifindex : h.dev_ifindex;
  if (v6_needs_scope(saddr)) r.scope_ifindex = iif;
  uint8_t proto = pkt[6];
  uint16_t fo = 0;
  bool truncated = false;
  if (static_cast<ir::RejectType>(h.reject_type) == ir::RejectType::TcpReset) {
    // nf_send_reset6 -> nf_reject_ip6_tcphdr_get
    if (!v6_unicast(saddr) || !v6_unicast(daddr)) return none(why, "address not unicast");
    int thoff = ipv6_skip_exthdr(pkt, h.skb_len, 40, &proto, &fo, &truncated);
    if (truncated) return none(why, "extension headers longer than the copy");
    if (thoff < 0 || static_cast<uint32_t>(thoff) > h.skb_len) return none(why, "no TCP header");
    uint32_t otcplen = h.skb_len - static_cast<uint32_t>(thoff);
    if (proto != kProtoTcp || otcplen < 20) return none(why, "not TCP, or too short");
    if (pkt.size() < static_cast<uint32_t>(thoff) + 20) return none(why, "TCP header not copied");
    if (pkt[thoff + 13] & 0x04) return none(why, "no RST for a RST");
    Csum c = nf_ip6_checksum(h, pkt, static_cast<uint32_t>(thoff), kProtoTcp);
    if (c == Csum::Unknown) return none(why, "packet longer than the copy, checksum unverifiable");
    if (c == Csum::Bad) return none(why, "bad TCP checksum");
    if (!env.route6(saddr, mark).found) return none(why, "no route back to the source");
    r.bytes = build_rst6(pkt, static_cast<uint32_t>(thoff), h.skb_len);
    std::memcpy(r.src, daddr, 16);
    r.src_set = true;
    // The checksum covers the reply's addresses: source = the packet's destination.
    return r;
  }
  // nf_send_unreach6 -> reject6_csum_ok
  const uint8_t code = icmp6_code(static_cast<ir::RejectType>(h.reject_type));
  if (code == 255) return none(why, "not an IPv6 reject type");
  if (!csum_unnecessary(h)) {
    int thoff = ipv6_skip_exthdr(pkt, h.skb_len, 40, &proto, &fo, &truncated);
    if (truncated) return none(why, "extension headers longer than the copy");
    if (thoff < 0 || static_cast<uint32_t>(thoff) >= h.skb_len || (fo & ~0x7)) return none(why, "no transport header to verify");
    if (verify_csum(pkt, h.skb_len, static_cast<uint32_t>(thoff), proto)) {
      Csum c = nf_ip6_checksum(h, pkt, static_cast<uint32_t>(thoff), proto);
      if (c == Csum::Unknown) return none(why, "packet longer than the copy, checksum unverifiable");
      if (c == Csum::Bad) return none(why, "bad checksum");
    }
  }
  uint32_t dev = h.dev_ifindex;
  if (hook == ir::Hook::Output && dev == 0) dev = 1;  // skb_in->dev = net->loopback_dev
  // icmp6_send
  if (!dev) return none(why, "no device");
  bool src_is_dst = env.local6(daddr);
  if (v6_multicast(daddr) || h.pkt_type != 0) return none(why, "multicast destination or not PACKET_HOST");
  if (v6_any(saddr) || v6_multicast(saddr)) return none(why, "unspecified or multicast source");
  {
    // is_ineligible(): never answer an ICMPv6 error.
    uint8_t nh = pkt[6];
    uint16_t f = 0;
    bool trunc = false;
    int ptr = ipv6_skip_exthdr(pkt, h.skb_len, 40, &nh, &f, &trunc);
    if (trunc) return none(why, "extension headers longer than the copy");
    if (ptr >= 0 && nh == kProtoIcmp6) {
      bool have = static_cast<uint32_t>(ptr) < h.skb_len;
      if (have && static_cast<uint32_t>(ptr) >= pkt.size()) return none(why, "ICMPv6 type not copied");
      if (!have && f != 0) {
        // a fragment without the ICMPv6 header: eligible
      } else if (!have || !(pkt[ptr] & 0x80)) {
        return none(why, "no ICMPv6 error for an ICMPv6 error");
      }
    }
  }
  const uint8_t type = 1;
  bool apply = false;
  if (dev != 1) {
    // icmpv6_global_allow -> icmpv6_mask_allow (net.ipv6.icmp.ratemask)
    if (in_bitmap_list(env.sysctl_text("ipv6/icmp/ratemask", "0-1,3-127"), type)) {
      if (!limits.global_allow(now_ms(), env.sysctl("ipv4/icmp_msgs_per_sec", 1000),
                               env.sysctl("ipv4/icmp_msgs_burst", 50)))
        return none(why, "global ICMP rate limit (icmp_msgs_per_sec)");
      apply = true;
    }
  }
  if (src_is_dst) {
    std::memcpy(r.src, daddr, 16);
    r.src_set = true;
  }
  RouteFacts back = env.route6(saddr, mark);
  if (!back.found) return none(why, "no route back to the source");
  if (apply) {
    // icmpv6_xrlim_allow: wider prefixes get more bandwidth; loopback is not limited.
    bool ok = back.oif_loopback;
    if (!ok) {
      int64_t tmo = env.sysctl("ipv6/icmp/ratelimit", 1000);
      if (back.dst_len < 128) tmo >>= ((128 - back.dst_len) >> 5);
      ok = limits.peer_allow(6, saddr, now_ms(), tmo);
    }
    if (!ok) return none(why, "per-destination ICMPv6 rate limit (icmp/ratelimit)");
    limits.global_consume();
  }
  uint32_t len = std::min<uint32_t>(h.skb_len, 1280 - 40 - 8);
  if (pkt.size() < len) return none(why, "quoted bytes not copied");
  r.icmp = true;
  r.bytes = build_icmp6(type, code, pkt.first(len), r.src, r.dst);
  return r;
}

}  // namespace

uint32_t csum_add_bytes(uint32_t sum, std::span<const uint8_t> b) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < b.size(); i += 2) s += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
  if (i < b.size()) s += static_cast<uint32_t>(b[i] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

uint16_t csum_fold_neg(uint32_t sum) { return static_cast<uint16_t>(~fold32(sum)); }

std::vector<uint8_t> build_rst4(std::span<const uint8_t> pkt, uint32_t skb_len, uint8_t ttl) {
  const uint32_t ihl = (pkt[0] & 0x0f) * 4u;
  const uint8_t* oth = &pkt[ihl];
  std::vector<uint8_t> o(40, 0);
  // nf_reject_iphdr_put: version 4, ihl 5, tos 0, id 0, DF, ttl, TCP, saddr <- daddr, daddr <- saddr
  o[0] = 0x45;
  put16(&o[2], 40);
  put16(&o[6], 0x4000);
  o[8] = ttl;
  o[9] = kProtoTcp;
  std::memcpy(&o[12], &pkt[16], 4);
  std::memcpy(&o[16], &pkt[12], 4);
  put16(&o[10], csum_fold_neg(csum_add_bytes(0, std::span(o).first(20))));
  // nf_reject_ip_tcphdr_put
  uint8_t* t = &o[20];
  std::memcpy(&t[0], &oth[2], 2);  // source <- dest
  std::memcpy(&t[2], &oth[0], 2);  // dest <- source
  t[12] = 5 << 4;
  const bool ack = oth[13] & 0x10, syn = oth[13] & 0x02, fin = oth[13] & 0x01;
  if (ack) {
    std::memcpy(&t[4], &oth[8], 4);  // seq <- ack_seq
    t[13] = 0x04;
  } else {
    uint32_t doff = (oth[12] >> 4) * 4u;
    put32(&t[8], be32(&oth[4]) + syn + fin + skb_len - ihl - doff);
    t[13] = 0x14;
  }
  put16(&t[16], csum_fold_neg(add(pseudo4(&o[12], &o[16], 20, kProtoTcp), csum_add_bytes(0, std::span(o).subspan(20)))));
  return o;
}

std::vector<uint8_t> build_rst6(std::span<const uint8_t> pkt, uint32_t tcphoff, uint32_t skb_len) {
  const uint8_t* oth = &pkt[tcphoff];
  const uint32_t otcplen = skb_len - tcphoff;
  std::vector<uint8_t> t(20, 0);
  t[12] = 5 << 4;
  std::memcpy(&t[0], &oth[2], 2);
  std::memcpy(&t[2], &oth[0], 2);
  const bool ack = oth[13] & 0x10, syn = oth[13] & 0x02, fin = oth[13] & 0x01;
  if (ack) {
    std::memcpy(&t[4], &oth[8], 4);
  } else {
    uint32_t doff = (oth[12] >> 4) * 4u;
    put32(&t[8], be32(&oth[4]) + syn + fin + otcplen - doff);
  }
  t[13] = static_cast<uint8_t>(0x04 | (ack ? 0 : 0x10));
  // reply source = the packet's destination (pkt+24), destination = its source (pkt+8)
  put16(&t[16], csum_fold_neg(add(pseudo6(&pkt[24], &pkt[8], 20, kProtoTcp), csum_add_bytes(0, t))));
  return t;
}

std::vector<uint8_t> build_icmp4(uint8_t type, uint8_t code, std::span<const uint8_t> quote) {
  std::vector<uint8_t> o(8 + quote.size(), 0);
  o[0] = type;
  o[1] = code;
  std::copy(quote.begin(), quote.end(), o.begin() + 8);
  put16(&o[2], csum_fold_neg(csum_add_bytes(0, o)));
  return o;
}

std::vector<uint8_t> build_icmp6(uint8_t type, uint8_t code, std::span<const uint8_t> quote, const uint8_t src[16],
                                 const uint8_t dst[16]) {
  std::vector<uint8_t> o(8 + quote.size(), 0);
  o[0] = type;
  o[1] = code;
  std::copy(quote.begin(), quote.end(), o.begin() + 8);
  put16(&o[2], csum_fold_neg(add(pseudo6(src, dst, static_cast<uint32_t>(o.size()), kProtoIcmp6), csum_add_bytes(0, o))));
  return o;
}

int ipv6_skip_exthdr(std::span<const uint8_t> pkt, uint32_t skb_len, int start, uint8_t* nexthdrp, uint16_t* frag_offp,
                     bool* truncated) {
  uint8_t nexthdr = *nexthdrp;
  *frag_offp = 0;
  *truncated = false;
  auto avail = [&](int off, int n) -> int {  // 1 = readable, 0 = beyond skb_len, -1 = beyond the copy
    if (off < 0 || static_cast<uint32_t>(off + n) > skb_len) return 0;
    if (static_cast<uint32_t>(off + n) > pkt.size()) return -1;
    return 1;
  };
  // ipv6_ext_hdr(): hop-by-hop 0, routing 43, fragment 44, AH 51, none 59, destination options 60
  while (nexthdr == 0 || nexthdr == 43 || nexthdr == 44 || nexthdr == 51 || nexthdr == 59 || nexthdr == 60) {
    if (nexthdr == 59) return -1;
    int a = avail(start, 2);
    if (a < 0) *truncated = true;
    if (a <= 0) return -1;
    int hdrlen;
    if (nexthdr == 44) {
      int b = avail(start + 2, 2);
      if (b < 0) *truncated = true;
      if (b <= 0) return -1;
      *frag_offp = be16(&pkt[start + 2]);
      if (*frag_offp & ~0x7) break;
      hdrlen = 8;
    } else if (nexthdr == 51) {
      hdrlen = (pkt[start + 1] + 2) << 2;
    } else {
      hdrlen = (pkt[start + 1] + 1) << 3;
    }
    nexthdr = pkt[start];
    start += hdrlen;
  }
  *nexthdrp = nexthdr;
  return start;
}

std::optional<RejectReply> build_reject_reply(std::span<const uint8_t> record, RejectEnv& env, IcmpRateLimiter& limits,
                                              std::string* why) {
  if (record.size() < sizeof(RejectRecord)) return none(why, "short record");
  RejectRecord h;
  std::memcpy(&h, record.data(), sizeof h);
  if (h.magic != codegen::kRejectRecordMagic) return none(why, "not a REJECT record");
  auto pkt = record.subspan(sizeof h, std::min<size_t>(h.data_len, record.size() - sizeof h));
  if (h.ktime_ns) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    if (now > h.ktime_ns && now - h.ktime_ns > kRejectMaxAgeNs) return none(why, "record too old (nfjitd was behind or down)");
  }
  if (h.nfproto == 2) return reply4(h, pkt, env, limits, why);
  if (h.nfproto == 10) return reply6(h, pkt, env, limits, why);
  return none(why, "unknown family");
}

}  // namespace nfjit::runtime
