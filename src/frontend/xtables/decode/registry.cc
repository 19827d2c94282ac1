// The registry: every extension table joined, plus the two targets ip_tables/ip6_tables build in.
#include <netinet/in.h>  // before any linux/ header: glibc and uapi then agree on in_addr
#include <linux/netfilter/x_tables.h>

#include <map>

#include "frontend/xtables/decode/extension.h"

namespace nfjit::xt {
namespace {

// ipt_builtin_tg / ip6t_builtin_tg: the standard verdict target and the ERROR target (chain heads and
// the table's end). Both are registered per family.
const Extension kBuiltin[] = {
    {true, XT_STANDARD_TARGET, 0, kFamBoth, false, sizeof(int), 0},
    {true, XT_ERROR_TARGET, 0, kFamBoth, false, XT_FUNCTION_MAXNAMELEN, 0},
};

const std::vector<const Extension*>& all() {
  static const std::vector<const Extension*> v = [] {
    std::vector<const Extension*> r;
    for (auto span : {std::span<const Extension>(kBuiltin), tcpudp_extensions(), icmp_extensions(),
                      multiport_extensions(), iprange_extensions(), conntrack_extensions(), mark_extensions(),
                      packet_field_extensions(), misc_match_extensions(), verdict_target_extensions()})
      for (const auto& e : span) r.push_back(&e);
    return r;
  }();
  return v;
}

uint8_t fam_bit(ir::Family f) { return f == ir::Family::Ipv6 ? kFamV6 : kFamV4; }

}  // namespace

const Extension* find_extension(bool target, std::string_view name, uint8_t revision, ir::Family family) {
  for (const Extension* e : all())
    if (e->target == target && e->revision == revision && (e->families & fam_bit(family)) && name == e->name)
      return e;
  return nullptr;
}

bool has_extension_name(bool target, std::string_view name, ir::Family family) {
  for (const Extension* e : all())
    if (e->target == target && (e->families & fam_bit(family)) && name == e->name) return true;
  return false;
}

std::string unsupported_reason(bool target, std::string_view name, uint8_t revision) {
  static const std::map<std::string, std::string, std::less<>> matches = {
      {"hashlimit", "per-flow buckets: the IR's limit is one global bucket"},
      {"addrtype", "the IR has no address-type (local/broadcast/...) field"},
      {"set", "ipset sets live in the kernel; nfjit does not read them"},
      {"recent", "needs per-source state tables the IR does not have"},
      {"owner", "socket owner match is not lowered (IR SkUid covers --uid-owner only on OUTPUT)"},
      {"rt", "IPv6 routing header match: no IR field"},
      {"connlimit", "per-key connection counting: no IR equivalent"},
  };
  static const std::map<std::string, std::string, std::less<>> targets = {
      {"CONNMARK", "the IR has no action that writes the conntrack mark"},
      {"NFLOG", "the IR's log action is the LOG target; NFLOG groups are not lowered"},
      {"TCPMSS", "the IR has no action that rewrites TCP options"},
      {"CT", "the IR has no conntrack template action"},
      {"NOTRACK", "the IR has no action that marks a packet untracked"},
      {"CHECKSUM", "the IR has no checksum-fill action"},
  };
  const auto& m = target ? targets : matches;
  auto it = m.find(name);
  std::string what = std::string(target ? "target " : "match ") + std::string(name) + " (revision " +
                     std::to_string(revision) + ")";
  if (it != m.end()) return what + ": " + it->second;
  return what + " is not one nfjit lowers";
}

}  // namespace nfjit::xt
