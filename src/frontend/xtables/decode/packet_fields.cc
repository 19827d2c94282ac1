// Matches on one header field: length (xt_length.c), ttl / hl (xt_hl.c), dscp / tos (xt_dscp.c),
// mac (xt_mac.c).
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_dscp.h>
#include <linux/netfilter/xt_length.h>
#include <linux/netfilter/xt_mac.h>
#include <linux/netfilter_ipv4/ipt_ttl.h>
#include <linux/netfilter_ipv6/ip6t_hl.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

Result<std::vector<ir::Match>> length_decode(Bytes d, const RuleContext&) {
  auto l = as<xt_length_info>(d);
  return std::vector<ir::Match>{int_match(ir::Field::Length, l.min, l.max, l.invert)};
}
std::string length_describe(Bytes d, const RuleContext&) {
  auto l = as<xt_length_info>(d);
  return "-m length " + bang(l.invert) + "--length " + range_text(l.min, l.max);
}

// ttl and hl share the layout and the modes EQ 0, NE 1, LT 2, GT 3.
static_assert(sizeof(ipt_ttl_info) == sizeof(ip6t_hl_info));
Result<std::vector<ir::Match>> ttl_decode(Bytes d, const RuleContext&) {
  auto t = as<ipt_ttl_info>(d);
  ir::IntMatch m;
  m.field = ir::Field::Ttl;
  bool inv = false;
  switch (t.mode) {
    case IPT_TTL_EQ: m.ranges = {{t.ttl, t.ttl}}; break;
    case IPT_TTL_NE: m.ranges = {{t.ttl, t.ttl}}; inv = true; break;
    case IPT_TTL_LT: if (t.ttl > 0) m.ranges = {{0, t.ttl - 1u}}; break;   // LT 0: no range, never true
    case IPT_TTL_GT: if (t.ttl < 255) m.ranges = {{t.ttl + 1u, 255}}; break;
    default: return not_lowerable("ttl/hl mode " + std::to_string(t.mode) + " is unknown");
  }
  return std::vector<ir::Match>{ir::Match{m, inv}};
}
std::string ttl_describe_common(const char* m, const char* pfx, Bytes d) {
  auto t = as<ipt_ttl_info>(d);
  static const char* modes[] = {"eq", "eq", "lt", "gt"};
  std::string o = std::string("-m ") + m + " ";
  if (t.mode == IPT_TTL_NE) o += "! ";
  return o + pfx + (t.mode < 4 ? modes[t.mode] : "?") + " " + std::to_string(t.ttl);
}
std::string ttl_describe(Bytes d, const RuleContext&) { return ttl_describe_common("ttl", "--ttl-", d); }
std::string hl_describe(Bytes d, const RuleContext&) { return ttl_describe_common("hl", "--hl-", d); }

int dscp_check(Bytes d, const RuleContext&) { return as<xt_dscp_info>(d).dscp > XT_DSCP_MAX ? EDOM : 0; }
Result<std::vector<ir::Match>> dscp_decode(Bytes d, const RuleContext&) {
  auto i = as<xt_dscp_info>(d);
  return std::vector<ir::Match>{int_match(ir::Field::Dscp, i.dscp, i.dscp, i.invert)};
}
std::string dscp_describe(Bytes d, const RuleContext&) {
  auto i = as<xt_dscp_info>(d);
  return "-m dscp " + bang(i.invert) + "--dscp " + hex(i.dscp);
}

Result<std::vector<ir::Match>> tos_decode(Bytes d, const RuleContext&) {
  auto i = as<xt_tos_match_info>(d);
  return std::vector<ir::Match>{int_match(ir::Field::Tos, i.tos_value, i.tos_value, i.invert, i.tos_mask)};
}
std::string tos_describe(Bytes d, const RuleContext&) {
  auto i = as<xt_tos_match_info>(d);
  return "-m tos " + bang(i.invert) + "--tos " + hex(i.tos_value) + "/" + hex(i.tos_mask);
}

Result<std::vector<ir::Match>> mac_decode(Bytes d, const RuleContext&) {
  auto i = as<xt_mac_info>(d);
  ir::MacMatch m;
  std::memcpy(m.addr.data(), i.srcaddr, 6);
  return std::vector<ir::Match>{ir::Match{m, i.invert != 0}};
}
std::string mac_describe(Bytes d, const RuleContext&) {
  auto i = as<xt_mac_info>(d);
  char b[24];
  std::snprintf(b, sizeof b, "%02X:%02X:%02X:%02X:%02X:%02X", i.srcaddr[0], i.srcaddr[1], i.srcaddr[2], i.srcaddr[3],
                i.srcaddr[4], i.srcaddr[5]);
  return "-m mac " + bang(i.invert) + "--mac-source " + b;
}

constexpr uint32_t kMacHooks = (1u << NF_INET_PRE_ROUTING) | (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD);

const Extension kExt[] = {
    {false, "length", 0, kFamBoth, false, sizeof(xt_length_info), 0, nullptr, 0, 0, nullptr, length_decode, nullptr,
     length_describe},
    {false, "ttl", 0, kFamV4, false, sizeof(ipt_ttl_info), 0, nullptr, 0, 0, nullptr, ttl_decode, nullptr,
     ttl_describe},
    {false, "hl", 0, kFamV6, false, sizeof(ip6t_hl_info), 0, nullptr, 0, 0, nullptr, ttl_decode, nullptr,
     hl_describe},
    {false, "dscp", 0, kFamBoth, false, sizeof(xt_dscp_info), 0, nullptr, 0, 0, dscp_check, dscp_decode, nullptr,
     dscp_describe},
    {false, "tos", 1, kFamBoth, false, sizeof(xt_tos_match_info), 0, nullptr, 0, 0, nullptr, tos_decode, nullptr,
     tos_describe},
    {false, "mac", 0, kFamBoth, true, sizeof(xt_mac_info), 0, nullptr, kMacHooks, 0, nullptr, mac_decode, nullptr,
     mac_describe},
};

}  // namespace

std::span<const Extension> packet_field_extensions() { return kExt; }

}  // namespace nfjit::xt
