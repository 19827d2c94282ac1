// icmp (ip_tables.c) and icmp6 (ip6_tables.c) matches: type and code range.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

static_assert(sizeof(ipt_icmp) == sizeof(ip6t_icmp));

int icmp_check(Bytes d, const RuleContext&) { return (as<ipt_icmp>(d).invflags & ~IPT_ICMP_INV) ? EINVAL : 0; }
int icmp6_check(Bytes d, const RuleContext&) { return (as<ip6t_icmp>(d).invflags & ~IP6T_ICMP_INV) ? EINVAL : 0; }

// icmp_type_code_match(): (type == 0xFF || (type matches && code in range)) ^ invert, and false without
// an ICMP header (non-first fragments), which is what an IR match on IcmpType does.
Result<std::vector<ir::Match>> type_code(Bytes d) {
  auto i = as<ipt_icmp>(d);
  bool inv = i.invflags & IPT_ICMP_INV;
  std::vector<ir::Match> out;
  if (i.type == 0xff) {
    out.push_back(int_match(ir::Field::IcmpType, 0, 255, inv));
  } else if (i.code[0] == 0 && i.code[1] == 0xff) {
    out.push_back(int_match(ir::Field::IcmpType, i.type, i.type, inv));
  } else if (!inv) {
    out.push_back(int_match(ir::Field::IcmpType, i.type, i.type, false));
    out.push_back(int_match(ir::Field::IcmpCode, i.code[0], i.code[1], false));
  } else {
    return not_lowerable("inverted icmp type with a code range: the IR cannot invert a conjunction");
  }
  return out;
}

// icmp_match() and icmp6_match() hotdrop a first fragment whose 8-byte struct icmphdr / icmp6hdr cannot
// be read.
Result<std::vector<ir::Match>> decode(Bytes d, const RuleContext& c) {
  if (auto r = need_v6_proto_flag(c, "icmp6"); !r) return r.error();
  auto out = type_code(d);
  if (out.ok()) set_hotdrop(out.value(), {.short_l4 = 8});
  return out;
}

std::string describe_common(const char* m, const char* opt, Bytes d) {
  auto i = as<ipt_icmp>(d);
  std::string o = std::string("-m ") + m + " " + bang(i.invflags & IPT_ICMP_INV) + opt + " ";
  if (i.type == 0xff) return o + "any";
  o += std::to_string(i.type);
  if (i.code[0] != 0 || i.code[1] != 0xff) o += "/" + std::to_string(i.code[0]);
  return o;
}
std::string icmp_describe(Bytes d, const RuleContext&) { return describe_common("icmp", "--icmp-type", d); }
std::string icmp6_describe(Bytes d, const RuleContext&) { return describe_common("icmp6", "--icmpv6-type", d); }

const Extension kExt[] = {
    {false, "icmp", 0, kFamV4, false, sizeof(ipt_icmp), 0, nullptr, 0, IPPROTO_ICMP, icmp_check, decode, nullptr,
     icmp_describe},
    {false, "icmp6", 0, kFamV6, false, sizeof(ip6t_icmp), 0, nullptr, 0, IPPROTO_ICMPV6, icmp6_check, decode,
     nullptr, icmp6_describe},
};

}  // namespace

std::span<const Extension> icmp_extensions() { return kExt; }

}  // namespace nfjit::xt
