#include "frontend/xtables/decode/ip_header.h"

#include <arpa/inet.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

// Fields both families share, read from their own struct.
struct IpPart {
  uint8_t len;  // address length
  const uint8_t *src, *dst, *smsk, *dmsk;
  const char *iniface, *outiface;
  const uint8_t *inmask, *outmask;
  uint16_t proto;
  uint8_t flags, invflags;
};

IpPart view(const FamilyAbi& abi, Bytes b) {
  if (abi.family == ir::Family::Ipv6) {
    auto* ip = reinterpret_cast<const ip6t_ip6*>(b.data());
    return {16, ip->src.s6_addr, ip->dst.s6_addr, ip->smsk.s6_addr, ip->dmsk.s6_addr, ip->iniface, ip->outiface,
            ip->iniface_mask, ip->outiface_mask, ip->proto, ip->flags, ip->invflags};
  }
  auto* ip = reinterpret_cast<const ipt_ip*>(b.data());
  return {4, reinterpret_cast<const uint8_t*>(&ip->src), reinterpret_cast<const uint8_t*>(&ip->dst),
          reinterpret_cast<const uint8_t*>(&ip->smsk), reinterpret_cast<const uint8_t*>(&ip->dmsk), ip->iniface,
          ip->outiface, ip->iniface_mask, ip->outiface_mask, ip->proto, ip->flags, ip->invflags};
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

// ip_packet_match() tests (saddr & smsk) != src without masking src: a src with bits outside its
// mask never matches. ip6_packet_match() masks both sides.
Result<std::vector<ir::Match>> addr(ir::Field f, const IpPart& p, const uint8_t* a, const uint8_t* m, bool inv,
                                    std::vector<ir::Match>& out) {
  if (all_zero(m, p.len) && all_zero(a, p.len) && !inv) return out;
  if (p.len == 4)
    for (int i = 0; i < 4; ++i)
      if (a[i] & ~m[i]) return not_lowerable("address has bits outside its mask (never matches in the kernel)");
  ir::AddrMatch am;
  am.field = f;
  am.len = p.len;
  std::memcpy(am.value.data(), a, p.len);
  std::memcpy(am.mask.data(), m, p.len);
  out.push_back(ir::Match{am, inv});
  return out;
}

// ifname_compare_aligned(): (dev ^ name) & mask == 0 over IFNAMSIZ bytes. iptables writes 0xff over
// the name plus its NUL (exact name) or over the part before '+' (prefix); other masks are refused.
Result<std::vector<ir::Match>> iface(bool out_dir, const char* name, const uint8_t* mask, bool inv,
                                     std::vector<ir::Match>& out) {
  size_t n = 0;
  while (n < IFNAMSIZ && mask[n] == 0xff) ++n;
  if (!all_zero(mask + n, IFNAMSIZ - n)) return not_lowerable("interface mask is not a name or a prefix");
  if (n == 0 && !inv) return out;
  size_t len = strnlen(name, IFNAMSIZ);
  ir::IfaceMatch im;
  im.out = out_dir;
  if (n > len) {
    // The mask covers the NUL (and maybe zero bytes after it): the exact name.
    if (!all_zero(reinterpret_cast<const uint8_t*>(name) + len, n - len))
      return not_lowerable("interface name has bytes after its NUL under the mask");
    im.name.assign(name, len);
  } else {
    if (n == IFNAMSIZ) return not_lowerable("interface name without a NUL never matches");
    im.name.assign(name, n);
    im.wildcard = true;
  }
  out.push_back(ir::Match{im, inv});
  return out;
}

std::string proto_name(uint16_t p, bool v6) {
  switch (p) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP: return "icmp";
    case IPPROTO_ICMPV6: return v6 ? "ipv6-icmp" : "ipv6-icmp";
    case IPPROTO_ESP: return "esp";
    case IPPROTO_AH: return "ah";
    case IPPROTO_SCTP: return "sctp";
    case IPPROTO_UDPLITE: return "udplite";
    case IPPROTO_GRE: return "gre";
    default: return std::to_string(p);
  }
}

int prefix_len(const uint8_t* m, size_t len) {
  int n = 0;
  for (size_t i = 0; i < len; ++i) {
    for (int b = 7; b >= 0; --b) {
      if (m[i] & (1 << b)) ++n;
      else {
        // Contiguous only if the rest is zero.
        for (int bb = b; bb >= 0; --bb)
          if (m[i] & (1 << bb)) return -1;
        for (size_t j = i + 1; j < len; ++j)
          if (m[j]) return -1;
        return n;
      }
    }
  }
  return n;
}

std::string addr_text(const IpPart& p, const uint8_t* a, const uint8_t* m) {
  char buf[INET6_ADDRSTRLEN];
  int af = p.len == 16 ? AF_INET6 : AF_INET;
  inet_ntop(af, a, buf, sizeof buf);
  std::string s = buf;
  int pl = prefix_len(m, p.len);
  if (pl >= 0) return s + "/" + std::to_string(pl);
  inet_ntop(af, m, buf, sizeof buf);
  return s + "/" + buf;
}

}  // namespace

bool ip_part_goto(const FamilyAbi& abi, Bytes ip) { return view(abi, ip).flags & abi.goto_flag; }

Result<std::vector<ir::Match>> decode_ip_part(const FamilyAbi& abi, Bytes b) {
  IpPart p = view(abi, b);
  bool v6 = abi.family == ir::Family::Ipv6;
  std::vector<ir::Match> out;
  // IPT_INV_* and IP6T_INV_* share their values for these bits.
  if (auto r = addr(ir::Field::Saddr, p, p.src, p.smsk, p.invflags & IPT_INV_SRCIP, out); !r.ok()) return r.error();
  if (auto r = addr(ir::Field::Daddr, p, p.dst, p.dmsk, p.invflags & IPT_INV_DSTIP, out); !r.ok()) return r.error();
  if (auto r = iface(false, p.iniface, p.inmask, p.invflags & IPT_INV_VIA_IN, out); !r.ok()) return r.error();
  if (auto r = iface(true, p.outiface, p.outmask, p.invflags & IPT_INV_VIA_OUT, out); !r.ok()) return r.error();
  bool pinv = p.invflags & XT_INV_PROTO;
  if (!v6) {
    if (p.proto) out.push_back(int_match(ir::Field::L4Proto, p.proto, p.proto, pinv));
    if (p.flags & IPT_F_FRAG) out.push_back(int_match(ir::Field::Fragment, 1, 1, p.invflags & IPT_INV_FRAG));
    else if (p.invflags & IPT_INV_FRAG) return not_lowerable("'! -f' without -f never matches in the kernel");
  } else if (p.flags & IP6T_F_PROTO) {
    // ip6_packet_match() walks the extension headers (ipv6_find_hdr) for every rule with a protocol, -p
    // all included, and hotdrops the packet when the walk fails; on success `-p all` (proto 0) holds,
    // inverted or not (no walk ends on protocol 0).
    if (p.proto == 0) out.push_back(int_match(ir::Field::L4Proto, 0, 255, false));
    else out.push_back(int_match(ir::Field::L4Proto, p.proto, p.proto, pinv));
    out.back().hotdrop.no_l4proto = true;
  }
  return out;
}

std::string describe_ip_part(const FamilyAbi& abi, Bytes b) {
  IpPart p = view(abi, b);
  bool v6 = abi.family == ir::Family::Ipv6;
  std::string o;
  if (!all_zero(p.smsk, p.len) || (p.invflags & IPT_INV_SRCIP))
    o += " " + bang(p.invflags & IPT_INV_SRCIP) + "-s " + addr_text(p, p.src, p.smsk);
  if (!all_zero(p.dmsk, p.len) || (p.invflags & IPT_INV_DSTIP))
    o += " " + bang(p.invflags & IPT_INV_DSTIP) + "-d " + addr_text(p, p.dst, p.dmsk);
  if (p.iniface[0] || (p.invflags & IPT_INV_VIA_IN))
    o += " " + bang(p.invflags & IPT_INV_VIA_IN) + "-i " + std::string(p.iniface, strnlen(p.iniface, IFNAMSIZ));
  if (p.outiface[0] || (p.invflags & IPT_INV_VIA_OUT))
    o += " " + bang(p.invflags & IPT_INV_VIA_OUT) + "-o " + std::string(p.outiface, strnlen(p.outiface, IFNAMSIZ));
  if (p.proto || (v6 && (p.flags & IP6T_F_PROTO)))
    o += " " + bang(p.invflags & XT_INV_PROTO) + "-p " + (p.proto ? proto_name(p.proto, v6) : "all");
  if (!v6 && (p.flags & IPT_F_FRAG)) o += " " + bang(p.invflags & IPT_INV_FRAG) + "-f";
  return o;
}

}  // namespace nfjit::xt
