// multiport match revision 1 (xt_multiport.c): up to 15 ports or ranges on source or destination.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/xt_multiport.h>
#include <netinet/in.h>

#include "frontend/xtables/decode/helpers.h"

namespace nfjit::xt {
namespace {

// multiport_mt_check(): a port-carrying protocol, not inverted; known flags; at most 15 ports.
int check(Bytes d, const RuleContext& c) {
  auto m = as<xt_multiport_v1>(d);
  bool proto_ok = (c.proto == IPPROTO_TCP || c.proto == IPPROTO_UDP || c.proto == IPPROTO_UDPLITE ||
                   c.proto == IPPROTO_SCTP || c.proto == IPPROTO_DCCP) &&
                  !c.proto_inverted;
  if (!proto_ok) return EINVAL;
  if (m.flags > XT_MULTIPORT_EITHER || m.count > XT_MULTI_PORTS) return EINVAL;
  return 0;
}

Result<std::vector<ir::Range>> ranges(const xt_multiport_v1& m) {
  std::vector<ir::Range> r;
  if (m.count > XT_MULTI_PORTS) return not_lowerable("multiport with more than 15 ports");
  for (unsigned i = 0; i < m.count; ++i) {
    if (m.pflags[i]) {
      // The kernel reads ports[i + 1] even when it lies past `count`; such a blob has no clear meaning.
      if (i + 1 >= m.count) return not_lowerable("multiport range without an upper bound");
      r.push_back({m.ports[i], m.ports[i + 1]});
      ++i;
    } else {
      r.push_back({m.ports[i], m.ports[i]});
    }
  }
  return r;
}

// multiport_mt() hotdrops a first fragment whose two ports (4 bytes) cannot be read.
Result<std::vector<ir::Match>> decode(Bytes d, const RuleContext& c) {
  auto m = as<xt_multiport_v1>(d);
  if (m.flags == XT_MULTIPORT_EITHER)
    return not_lowerable("multiport --ports (source or destination): the IR has no disjunction of fields");
  if (auto v6 = need_v6_proto_flag(c, "multiport"); !v6) return v6.error();
  auto r = ranges(m);
  if (!r.ok()) return r.error();
  ir::IntMatch im;
  im.field = m.flags == XT_MULTIPORT_SOURCE ? ir::Field::Sport : ir::Field::Dport;
  im.ranges = std::move(r.value());
  std::vector<ir::Match> out{ir::Match{im, m.invert != 0}};
  set_hotdrop(out, {.short_l4 = 4});
  return out;
}

std::string describe(Bytes d, const RuleContext&) {
  auto m = as<xt_multiport_v1>(d);
  const char* opt = m.flags == XT_MULTIPORT_SOURCE ? "--sports" : m.flags == XT_MULTIPORT_DESTINATION ? "--dports"
                                                                                                       : "--ports";
  std::string list;
  for (unsigned i = 0; i < m.count && i < XT_MULTI_PORTS; ++i) {
    list += (list.empty() ? "" : ",") + std::to_string(m.ports[i]);
    if (m.pflags[i] && i + 1 < XT_MULTI_PORTS) list += ":" + std::to_string(m.ports[++i]);
  }
  return "-m multiport " + bang(m.invert) + opt + " " + list;
}

const Extension kExt[] = {
    {false, "multiport", 1, kFamBoth, false, sizeof(xt_multiport_v1), 0, nullptr, 0, 0, check, decode, nullptr,
     describe},
};

}  // namespace

std::span<const Extension> multiport_extensions() { return kExt; }

}  // namespace nfjit::xt
