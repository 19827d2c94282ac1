// REJECT (ipt_REJECT.c, ip6t_REJECT.c) and LOG (xt_LOG.c) targets.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter.h>
#include <linux/netfilter/xt_LOG.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
#include <netinet/in.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

constexpr uint32_t kRejectHooks = (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) | (1u << NF_INET_LOCAL_OUT);

int reject4_check(Bytes d, const RuleContext& c) {
  uint32_t with = as<uint32_t>(d);  // the enum field read as the u32 it is: any value may arrive
  if (with == IPT_ICMP_ECHOREPLY) return EINVAL;
  if (with == IPT_TCP_RESET && (c.proto != IPPROTO_TCP || c.proto_inverted)) return EINVAL;
  return 0;
}
int reject6_check(Bytes d, const RuleContext& c) {
  uint32_t with = as<uint32_t>(d);
  if (with == IP6T_ICMP6_ECHOREPLY) return EINVAL;
  if (with == IP6T_TCP_RESET && (!c.v6_proto_flag || c.proto != IPPROTO_TCP || c.proto_inverted)) return EINVAL;
  return 0;
}

const char* reject4_name(uint32_t w) {
  static const char* n[] = {"icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable",
                            "icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited",
                            "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited"};
  return w < std::size(n) ? n[w] : "?";
}
const char* reject6_name(uint32_t w) {
  static const char* n[] = {"icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour", "icmp6-addr-unreachable",
                            "icmp6-port-unreachable", "echo-reply", "tcp-reset", "icmp6-policy-fail",
                            "icmp6-reject-route"};
  return w < std::size(n) ? n[w] : "?";
}

Result<ir::Action> reject_action(ir::RejectType t) {
  ir::Action a;
  a.kind = ir::ActionKind::Reject;
  a.reject = t;
  return a;
}

Result<ir::Action> reject4_decode(Bytes d, const RuleContext&) {
  using T = ir::RejectType;
  switch (as<uint32_t>(d)) {
    case IPT_ICMP_NET_UNREACHABLE: return reject_action(T::IcmpNetUnreachable);
    case IPT_ICMP_HOST_UNREACHABLE: return reject_action(T::IcmpHostUnreachable);
    case IPT_ICMP_PROT_UNREACHABLE: return reject_action(T::IcmpProtUnreachable);
    case IPT_ICMP_PORT_UNREACHABLE: return reject_action(T::IcmpPortUnreachable);
    case IPT_ICMP_NET_PROHIBITED: return reject_action(T::IcmpNetProhibited);
    case IPT_ICMP_HOST_PROHIBITED: return reject_action(T::IcmpHostProhibited);
    case IPT_ICMP_ADMIN_PROHIBITED: return reject_action(T::IcmpAdminProhibited);
    case IPT_TCP_RESET: return reject_action(T::TcpReset);
    default: return not_lowerable("REJECT with an unknown type (the kernel drops silently)");
  }
}
Result<ir::Action> reject6_decode(Bytes d, const RuleContext&) {
  using T = ir::RejectType;
  switch (as<uint32_t>(d)) {
    case IP6T_ICMP6_NO_ROUTE: return reject_action(T::Icmp6NoRoute);
    case IP6T_ICMP6_ADM_PROHIBITED: return reject_action(T::Icmp6AdmProhibited);
    case IP6T_ICMP6_ADDR_UNREACH: return reject_action(T::Icmp6AddrUnreachable);
    case IP6T_ICMP6_PORT_UNREACH: return reject_action(T::Icmp6PortUnreachable);
    case IP6T_TCP_RESET: return reject_action(T::TcpReset);
    case IP6T_ICMP6_NOT_NEIGHBOUR: return not_lowerable("REJECT --reject-with icmp6-not-neighbour: not an IR reject type");
    case IP6T_ICMP6_POLICY_FAIL: return not_lowerable("REJECT --reject-with icmp6-policy-fail: not an IR reject type");
    case IP6T_ICMP6_REJECT_ROUTE: return not_lowerable("REJECT --reject-with icmp6-reject-route: not an IR reject type");
    default: return not_lowerable("REJECT with an unknown type (the kernel drops silently)");
  }
}
std::string reject4_describe(Bytes d, const RuleContext&) {
  return std::string("-j REJECT --reject-with ") + reject4_name(as<uint32_t>(d));
}
std::string reject6_describe(Bytes d, const RuleContext&) {
  return std::string("-j REJECT --reject-with ") + reject6_name(as<uint32_t>(d));
}

int log_check(Bytes d, const RuleContext&) {
  auto l = as<xt_log_info>(d);
  if (l.level >= 8) return EINVAL;
  if (l.prefix[sizeof(l.prefix) - 1] != '\0') return EINVAL;
  return 0;
}
Result<ir::Action> log_decode(Bytes d, const RuleContext&) {
  auto l = as<xt_log_info>(d);
  if (l.logflags & ~XT_LOG_MASK) return not_lowerable("LOG with unknown flags " + hex(l.logflags));
  ir::Action a;
  a.kind = ir::ActionKind::Log;
  a.log.prefix = fixed_name(reinterpret_cast<const uint8_t*>(l.prefix), sizeof(l.prefix));
  a.log.level = l.level;
  a.log.flags = l.logflags;
  return a;
}
std::string log_describe(Bytes d, const RuleContext&) {
  auto l = as<xt_log_info>(d);
  std::string o = "-j LOG";
  std::string p = fixed_name(reinterpret_cast<const uint8_t*>(l.prefix), sizeof(l.prefix));
  if (!p.empty()) o += " --log-prefix \"" + p + "\"";
  if (l.level != 4) o += " --log-level " + std::to_string(l.level);
  if (l.logflags & XT_LOG_TCPSEQ) o += " --log-tcp-sequence";
  if (l.logflags & XT_LOG_TCPOPT) o += " --log-tcp-options";
  if (l.logflags & XT_LOG_IPOPT) o += " --log-ip-options";
  if (l.logflags & XT_LOG_UID) o += " --log-uid";
  if (l.logflags & XT_LOG_MACDECODE) o += " --log-macdecode";
  return o;
}

const Extension kExt[] = {
    {true, "REJECT", 0, kFamV4, false, sizeof(ipt_reject_info), 0, "filter", kRejectHooks, 0, reject4_check, nullptr,
     reject4_decode, reject4_describe},
    {true, "REJECT", 0, kFamV6, false, sizeof(ip6t_reject_info), 0, "filter", kRejectHooks, 0, reject6_check,
     nullptr, reject6_decode, reject6_describe},
    {true, "LOG", 0, kFamBoth, false, sizeof(xt_log_info), 0, nullptr, 0, 0, log_check, nullptr, log_decode,
     log_describe},
};

}  // namespace

std::span<const Extension> verdict_target_extensions() { return kExt; }

}  // namespace nfjit::xt
