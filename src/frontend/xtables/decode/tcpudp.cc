// tcp and udp matches (xt_tcpudp.c): port ranges, TCP flags and options.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/xt_tcpudp.h>
#include <netinet/in.h>

#include <cstdlib>
#include <string>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

// Port ranges as IR matches. A full range that is not inverted is still emitted once (as the source
// port) because the kernel's tcp/udp match is false on non-first fragments and header-less packets,
// exactly as an IR port match on an absent field.
void ports(std::vector<ir::Match>& out, const uint16_t spts[2], const uint16_t dpts[2], bool sinv, bool dinv) {
  bool sany = spts[0] == 0 && spts[1] == 0xffff && !sinv;
  bool dany = dpts[0] == 0 && dpts[1] == 0xffff && !dinv;
  if (!sany || dany) out.push_back(int_match(ir::Field::Sport, spts[0], spts[1], sinv));
  if (!dany) out.push_back(int_match(ir::Field::Dport, dpts[0], dpts[1], dinv));
  // TEST HOOK, owned by `nfjit verify` (tests/verify/verify_test.cc, VerifyOracle.*): with
  // NFJIT_DEBUG_MISLOWER=port-range-off-by-one in nfjitd's environment, every destination port range
  // lo:hi (lo < hi < 65535) is lowered as lo:hi+1 — a deliberately wrong lowering that proves the
  // differential can fail. Never set in production; `nfjit verify` passes it to its own nfjitd only.
  static const bool mislower = [] {
    const char* e = std::getenv("NFJIT_DEBUG_MISLOWER");
    return e && std::string(e) == "port-range-off-by-one";
  }();
  if (mislower && !dany && dpts[0] < dpts[1] && dpts[1] < 0xffff) out.back().m = std::get<ir::IntMatch>(
      int_match(ir::Field::Dport, dpts[0], dpts[1] + 1, dinv).m);
}

std::string port_opts(const char* s, const char* d, const uint16_t spts[2], const uint16_t dpts[2], bool sinv,
                      bool dinv) {
  std::string o;
  if (spts[0] != 0 || spts[1] != 0xffff || sinv) o += " " + bang(sinv) + s + " " + range_text(spts[0], spts[1]);
  if (dpts[0] != 0 || dpts[1] != 0xffff || dinv) o += " " + bang(dinv) + d + " " + range_text(dpts[0], dpts[1]);
  return o;
}

std::string tcp_flag_names(uint8_t f) {
  static const std::pair<const char*, uint8_t> names[] = {{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
                                                          {"ACK", 0x10}, {"URG", 0x20}, {"ECE", 0x40}, {"CWR", 0x80}};
  if (f == 0xff) return "ALL";
  std::string s;
  for (auto& [n, b] : names)
    if (f & b) s += (s.empty() ? "" : ",") + std::string(n);
  return s.empty() ? "NONE" : s;
}

int tcp_check(Bytes d, const RuleContext&) { return (as<xt_tcp>(d).invflags & ~XT_TCP_INV_MASK) ? EINVAL : 0; }
int udp_check(Bytes d, const RuleContext&) { return (as<xt_udp>(d).invflags & ~XT_UDP_INV_MASK) ? EINVAL : 0; }

// tcp_mt() hotdrops a first fragment whose 20-byte header cannot be read, and (IPv4 only: ip6tables'
// fragment offset is in bytes, a multiple of 8) a fragment at offset 1.
Result<std::vector<ir::Match>> tcp_decode(Bytes d, const RuleContext& c) {
  auto t = as<xt_tcp>(d);
  if (t.option) return not_lowerable("tcp --tcp-option: the IR has no TCP option field");
  if (auto r = need_v6_proto_flag(c, "tcp"); !r) return r.error();
  std::vector<ir::Match> out;
  ports(out, t.spts, t.dpts, t.invflags & XT_TCP_INV_SRCPT, t.invflags & XT_TCP_INV_DSTPT);
  bool finv = t.invflags & XT_TCP_INV_FLAGS;
  if (t.flg_mask != 0 || t.flg_cmp != 0 || finv)
    out.push_back(int_match(ir::Field::TcpFlags, t.flg_cmp, t.flg_cmp, finv, t.flg_mask));
  set_hotdrop(out, {.short_l4 = 20, .frag_offset_one = c.family != ir::Family::Ipv6});
  return out;
}

std::string tcp_describe(Bytes d, const RuleContext&) {
  auto t = as<xt_tcp>(d);
  std::string o = "-m tcp" + port_opts("--sport", "--dport", t.spts, t.dpts, t.invflags & XT_TCP_INV_SRCPT,
                                       t.invflags & XT_TCP_INV_DSTPT);
  if (t.flg_mask || t.flg_cmp || (t.invflags & XT_TCP_INV_FLAGS))
    o += " " + bang(t.invflags & XT_TCP_INV_FLAGS) + "--tcp-flags " + tcp_flag_names(t.flg_mask) + " " +
         tcp_flag_names(t.flg_cmp);
  if (t.option) o += " " + bang(t.invflags & XT_TCP_INV_OPTION) + "--tcp-option " + std::to_string(t.option);
  return o;
}

// udp_mt() hotdrops a first fragment whose 8-byte header cannot be read.
Result<std::vector<ir::Match>> udp_decode(Bytes d, const RuleContext& c) {
  auto u = as<xt_udp>(d);
  if (auto r = need_v6_proto_flag(c, "udp"); !r) return r.error();
  std::vector<ir::Match> out;
  ports(out, u.spts, u.dpts, u.invflags & XT_UDP_INV_SRCPT, u.invflags & XT_UDP_INV_DSTPT);
  set_hotdrop(out, {.short_l4 = 8});
  return out;
}

std::string udp_describe(Bytes d, const RuleContext&) {
  auto u = as<xt_udp>(d);
  return "-m udp" + port_opts("--sport", "--dport", u.spts, u.dpts, u.invflags & XT_UDP_INV_SRCPT,
                              u.invflags & XT_UDP_INV_DSTPT);
}

// xt_tcpudp registers each match once per family (not NFPROTO_UNSPEC).
const Extension kExt[] = {
    {false, "tcp", 0, kFamBoth, false, sizeof(xt_tcp), 0, nullptr, 0, IPPROTO_TCP, tcp_check, tcp_decode, nullptr,
     tcp_describe},
    {false, "udp", 0, kFamBoth, false, sizeof(xt_udp), 0, nullptr, 0, IPPROTO_UDP, udp_check, udp_decode, nullptr,
     udp_describe},
};

}  // namespace

std::span<const Extension> tcpudp_extensions() { return kExt; }

}  // namespace nfjit::xt
