// payload loads -> register values naming an IR field. Network-header offsets need the rule's l3 family
// (the table's, or the `meta nfproto` nft puts in front of them in inet tables); transport-header
// offsets need the l4 protocols the rule pinned before (nft's `meta l4proto` dependency), because the
// IR's port / tcp flags / icmp fields exist only for those protocols.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

namespace {

bool port_protocols(const std::set<uint32_t>& p) {
  if (p.empty()) return false;
  for (uint32_t v : p)
    if (v != 6 && v != 17 && v != 136 && v != 132 && v != 33) return false;
  return true;
}

RegVal be(ir::Field f, uint32_t len, std::string what) {
  RegVal v;
  v.kind = RegVal::Kind::BigEndianInt;
  v.field = f;
  v.len = len;
  v.what = std::move(what);
  return v;
}

RegVal addr(ir::Field f, uint32_t len, uint8_t alen, std::string what) {
  RegVal v;
  v.kind = RegVal::Kind::Addr;
  v.field = f;
  v.len = len;
  v.addr_len = alen;
  v.what = std::move(what);
  return v;
}

}  // namespace

void RuleLowerer::payload(nftnl_expr* e) {
  if (nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG)) refuse("payload writes ('... set') are not lowered");
  uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
  uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
  uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
  uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG);
  std::string where = std::to_string(len) + "b @ " +
                      (base == NFT_PAYLOAD_NETWORK_HEADER ? "network" : base == NFT_PAYLOAD_TRANSPORT_HEADER ? "transport" : "link-layer") +
                      " header + " + std::to_string(off);
  if (base == NFT_PAYLOAD_NETWORK_HEADER) {
    auto fam = l3_family();
    if (!fam) refuse("network header payload (" + where + ") with no l3 family pinned before it");
    if (*fam == 4) {
      if (off == 9 && len == 1) return store(dreg, be(ir::Field::L4Proto, 1, "ip protocol"));
      if (off == 8 && len == 1) return store(dreg, be(ir::Field::Ttl, 1, "ip ttl"));
      if (off == 1 && len == 1) return store(dreg, be(ir::Field::Tos, 1, "ip dscp/ecn"));
      if (off == 2 && len == 2) return store(dreg, be(ir::Field::Length, 2, "ip length"));
      if (off == 12 && len >= 1 && len <= 4) return store(dreg, addr(ir::Field::Saddr, len, 4, "ip saddr"));
      if (off == 16 && len >= 1 && len <= 4) return store(dreg, addr(ir::Field::Daddr, len, 4, "ip daddr"));
    } else {
      if (off == 6 && len == 1)
        refuse("'ip6 nexthdr' is the first next-header field, not the upper-layer protocol the IR has (meta l4proto)");
      if (off == 7 && len == 1) return store(dreg, be(ir::Field::Ttl, 1, "ip6 hoplimit"));
      if (off == 8 && len >= 1 && len <= 16) return store(dreg, addr(ir::Field::Saddr, len, 16, "ip6 saddr"));
      if (off == 24 && len >= 1 && len <= 16) return store(dreg, addr(ir::Field::Daddr, len, 16, "ip6 daddr"));
    }
    refuse("network header payload " + where + " (IPv" + std::to_string(*fam) + ") has no IR field");
  }
  if (base == NFT_PAYLOAD_TRANSPORT_HEADER) {
    auto l4 = pinned_l4();
    auto fam = l3_family();
    if ((off == 0 || off == 2) && len == 2) {
      if (!port_protocols(l4))
        refuse("transport header ports (" + where + ") without the rule pinning tcp/udp/udplite/sctp/dccp first");
      return store(dreg, be(off == 0 ? ir::Field::Sport : ir::Field::Dport, 2, off == 0 ? "th sport" : "th dport"));
    }
    if (off == 13 && len == 1) {
      if (l4 != std::set<uint32_t>{6}) refuse("tcp flags (" + where + ") without the rule pinning tcp first");
      return store(dreg, be(ir::Field::TcpFlags, 1, "tcp flags"));
    }
    if ((off == 0 || off == 1) && len == 1) {
      bool icmp4 = l4 == std::set<uint32_t>{1} && fam == 4, icmp6 = l4 == std::set<uint32_t>{58} && fam == 6;
      if (!icmp4 && !icmp6)
        refuse("icmp type/code (" + where + ") without the rule pinning icmp (IPv4) or icmpv6 (IPv6) first");
      return store(dreg, be(off == 0 ? ir::Field::IcmpType : ir::Field::IcmpCode, 1, off == 0 ? "icmp type" : "icmp code"));
    }
    refuse("transport header payload " + where + " has no IR field");
  }
  refuse("payload " + where + " (base " + std::to_string(base) + ") is not lowered");
}

}  // namespace nfjit::nft::lower
