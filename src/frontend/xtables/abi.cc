#include "frontend/xtables/abi.h"

#include <netinet/in.h>

namespace nfjit::xt {

static_assert(sizeof(ipt_entry) == 112 && sizeof(ip6t_entry) == 168, "x86-64 xt ABI expected");
static_assert(sizeof(xt_entry_match) == 32 && sizeof(xt_entry_target) == 32);
static_assert(sizeof(ipt_replace) == sizeof(ip6t_replace) && sizeof(ipt_getinfo) == sizeof(ip6t_getinfo));

const FamilyAbi& abi_ipv4() {
  static const FamilyAbi a{ir::Family::Ipv4, NFPROTO_IPV4, SOL_IP, "iptables", sizeof(ipt_entry), sizeof(ipt_ip),
                           offsetof(ipt_entry, target_offset), offsetof(ipt_entry, next_offset),
                           offsetof(ipt_entry, comefrom), offsetof(ipt_entry, counters),
                           IPT_F_MASK, IPT_INV_MASK, IPT_F_GOTO};
  return a;
}

const FamilyAbi& abi_ipv6() {
  static const FamilyAbi a{ir::Family::Ipv6, NFPROTO_IPV6, SOL_IPV6, "ip6tables", sizeof(ip6t_entry),
                           sizeof(ip6t_ip6), offsetof(ip6t_entry, target_offset),
                           offsetof(ip6t_entry, next_offset), offsetof(ip6t_entry, comefrom),
                           offsetof(ip6t_entry, counters), IP6T_F_MASK, IP6T_INV_MASK, IP6T_F_GOTO};
  return a;
}

const FamilyAbi* abi_for_level(int level) {
  if (level == SOL_IP) return &abi_ipv4();
  if (level == SOL_IPV6) return &abi_ipv6();
  return nullptr;
}

const FamilyAbi& abi_for(ir::Family f) { return f == ir::Family::Ipv6 ? abi_ipv6() : abi_ipv4(); }

}  // namespace nfjit::xt
