// limit, log and reject statements.
#include <arpa/inet.h>  // before linux/netfilter.h: glibc's netinet/in.h must come first
#include <linux/netfilter/nf_tables.h>

#include "frontend/nftables/lower/rule_lowerer.h"

namespace nfjit::nft::lower {

namespace {

std::optional<ir::RejectType> icmp4(uint32_t code) {
  switch (code) {
    case 0: return ir::RejectType::IcmpNetUnreachable;
    case 1: return ir::RejectType::IcmpHostUnreachable;
    case 2: return ir::RejectType::IcmpProtUnreachable;
    case 3: return ir::RejectType::IcmpPortUnreachable;
    case 9: return ir::RejectType::IcmpNetProhibited;
    case 10: return ir::RejectType::IcmpHostProhibited;
    case 13: return ir::RejectType::IcmpAdminProhibited;
  }
  return std::nullopt;
}

std::optional<ir::RejectType> icmp6(uint32_t code) {
  switch (code) {
    case 0: return ir::RejectType::Icmp6NoRoute;
    case 1: return ir::RejectType::Icmp6AdmProhibited;
    case 3: return ir::RejectType::Icmp6AddrUnreachable;
    case 4: return ir::RejectType::Icmp6PortUnreachable;
  }
  return std::nullopt;
}

// nft_reject_icmp_code() / nft_reject_icmpv6_code(): icmpx codes per family.
std::optional<ir::RejectType> icmpx(uint32_t code, int fam) {
  switch (code) {
    case NFT_REJECT_ICMPX_NO_ROUTE: return fam == 4 ? ir::RejectType::IcmpNetUnreachable : ir::RejectType::Icmp6NoRoute;
    case NFT_REJECT_ICMPX_PORT_UNREACH: return fam == 4 ? ir::RejectType::IcmpPortUnreachable : ir::RejectType::Icmp6PortUnreachable;
    case NFT_REJECT_ICMPX_HOST_UNREACH: return fam == 4 ? ir::RejectType::IcmpHostUnreachable : ir::RejectType::Icmp6AddrUnreachable;
    case NFT_REJECT_ICMPX_ADMIN_PROHIBITED: return fam == 4 ? ir::RejectType::IcmpAdminProhibited : ir::RejectType::Icmp6AdmProhibited;
  }
  return std::nullopt;
}

ir::Match nfproto_is(uint32_t fam) {
  ir::IntMatch m;
  m.field = ir::Field::NfProto;
  m.ranges = {{fam, fam}};
  return ir::Match{m, false};
}

}  // namespace

void RuleLowerer::limit(nftnl_expr* e) {
  uint64_t rate = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
  uint64_t unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
  uint32_t burst = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST);
  uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE);
  uint32_t flags = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS);
  // Byte limits size their bucket as unit * (rate + burst) / rate in the kernel, which the IR's byte mode
  // does not state; not lowered until that is pinned down.
  if (type != NFT_LIMIT_PKTS) refuse("byte-rate limits are not lowered");
  if (rate == 0 || unit == 0 || unit > 18'000'000'000ull) refuse("limit with a zero rate or unit");
  ir::LimitMatch m;
  m.rate = rate;
  m.per_ns = unit * 1'000'000'000ull;
  m.burst = burst ? burst : 5;  // NFT_LIMIT_PKT_BURST_DEFAULT
  add_match(ir::Match{m, static_cast<bool>(flags & NFT_LIMIT_F_INV)});
}

void RuleLowerer::log(nftnl_expr* e) {
  if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_GROUP)) refuse("log group (nflog) is not lowered");
  ir::Action a;
  a.kind = ir::ActionKind::Log;
  if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)) a.log.prefix = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);
  if (a.log.prefix.size() > 29) refuse("log prefix longer than 29 characters (the IR's LOG limit)");
  uint32_t level = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_LEVEL) ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL) : 4;
  if (level > 7) refuse("log level audit is not lowered");
  a.log.level = static_cast<uint8_t>(level);
  uint32_t flags = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_FLAGS) ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_FLAGS) : 0;
  // NF_LOG_* flags share xt_LOG's values; NF_LOG_F_COPY_LEN (0x10) is nflog's.
  if (flags & ~0x2fu) refuse("log flags " + std::to_string(flags) + " are not lowered");
  a.log.flags = static_cast<uint8_t>(flags);
  emit(a);
}

void RuleLowerer::reject(nftnl_expr* e) {
  uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
  uint32_t code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);
  ir::Action a;
  a.kind = ir::ActionKind::Reject;
  if (type == NFT_REJECT_TCP_RST) {
    if (pinned_l4() != std::set<uint32_t>{6}) refuse("reject with tcp reset without the rule pinning tcp first");
    a.reject = ir::RejectType::TcpReset;
    emit(a);
    terminated_ = true;
    return;
  }
  if (type != NFT_REJECT_ICMP_UNREACH && type != NFT_REJECT_ICMPX_UNREACH) refuse("reject type " + std::to_string(type));
  auto for_family = [&](int fam) {
    std::optional<ir::RejectType> t = type == NFT_REJECT_ICMPX_UNREACH ? icmpx(code, fam) : fam == 4 ? icmp4(code) : icmp6(code);
    if (!t) refuse("reject code " + std::to_string(code) + " has no IR reject type");
    return *t;
  };
  if (auto fam = l3_family()) {
    a.reject = for_family(*fam);
    emit(a);
  } else {
    // inet without a pinned family: the kernel picks the ICMP flavour per packet; one IR rule per family.
    ir::Action a6 = a;
    a.reject = for_family(4);
    a6.reject = for_family(6);
    emit(a, {nfproto_is(4)});
    emit(a6, {nfproto_is(6)});
  }
  terminated_ = true;
}

}  // namespace nfjit::nft::lower
