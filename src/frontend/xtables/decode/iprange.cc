// iprange match revision 1 (xt_iprange.c): address ranges on source and/or destination.
#include <arpa/inet.h>
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/xt_iprange.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

ir::Match range(ir::Field f, const nf_inet_addr& lo, const nf_inet_addr& hi, uint8_t len, bool inv) {
  ir::AddrRangeMatch r;
  r.field = f;
  r.len = len;
  std::memcpy(r.lo.data(), &lo, len);
  std::memcpy(r.hi.data(), &hi, len);
  return ir::Match{r, inv};
}

Result<std::vector<ir::Match>> decode(Bytes d, const RuleContext& c) {
  auto m = as<xt_iprange_mtinfo>(d);
  uint8_t len = c.family == ir::Family::Ipv6 ? 16 : 4;
  std::vector<ir::Match> out;
  if (m.flags & IPRANGE_SRC) out.push_back(range(ir::Field::Saddr, m.src_min, m.src_max, len, m.flags & IPRANGE_SRC_INV));
  if (m.flags & IPRANGE_DST) out.push_back(range(ir::Field::Daddr, m.dst_min, m.dst_max, len, m.flags & IPRANGE_DST_INV));
  return out;
}

std::string addr(const nf_inet_addr& a, const RuleContext& c) {
  char b[INET6_ADDRSTRLEN];
  inet_ntop(c.family == ir::Family::Ipv6 ? AF_INET6 : AF_INET, &a, b, sizeof b);
  return b;
}

std::string describe(Bytes d, const RuleContext& c) {
  auto m = as<xt_iprange_mtinfo>(d);
  std::string o = "-m iprange";
  if (m.flags & IPRANGE_SRC)
    o += " " + bang(m.flags & IPRANGE_SRC_INV) + "--src-range " + addr(m.src_min, c) + "-" + addr(m.src_max, c);
  if (m.flags & IPRANGE_DST)
    o += " " + bang(m.flags & IPRANGE_DST_INV) + "--dst-range " + addr(m.dst_min, c) + "-" + addr(m.dst_max, c);
  return o;
}

const Extension kExt[] = {
    {false, "iprange", 1, kFamBoth, false, sizeof(xt_iprange_mtinfo), 0, nullptr, 0, 0, nullptr, decode, nullptr,
     describe},
};

}  // namespace

std::span<const Extension> iprange_extensions() { return kExt; }

}  // namespace nfjit::xt
